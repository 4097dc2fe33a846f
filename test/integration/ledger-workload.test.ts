// Billing tested like a ledger (DESIGN.md "How we test"). A seeded random workload — calls with and
// without max_tokens, streams read to the end, streams cut by the caller or broken by the upstream,
// upstream failures, callers who give up early, calls that outlive their hold, keys with their own
// quota, manual top-ups and deductions (some replayed, some fired twice at once) — runs with
// bounded concurrency against the real service (two server instances sharing the database on
// PostgreSQL and MySQL) through the official `openai` client. A small model of the money rules
// then computes, from what each operation observably returned, what every wallet and key must
// hold, and the books are audited:
//   - each wallet's cash − arrears equals its top-ups and adjustments minus the cost of every call
//     it was charged for (exact, integer micro-USD); its arrears equal what was booked minus what
//     top-ups say they repaid; each quota key used exactly the cost of its calls;
//   - every usage record's charge is recomputed from its tokens and the price (independently of
//     server/src/billing/pricing.ts); every request id has exactly one usage record (none when
//     refused) and at most one hold; every hold is posted, voided or expired, none pending, none
//     expired before its deadline; failed calls are charged nothing and voided;
//   - every bucket equals the sum of its ledger entries, every entry's balance_after is the running
//     sum, no bucket is negative and no available balance below zero (also sampled during the run);
//   - an idempotency key moves money at most once; arrears block calls until a top-up pays them.
// A failure prints its seed: run again with LEDGER_SEED=<seed> (LEDGER_OPS, LEDGER_CONCURRENCY
// change the size of the run).
import { randomInt } from 'node:crypto';
import { countTokens } from 'gpt-tokenizer';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../../server/src/accounts/keys.js';
import { setGroup } from '../../server/src/billing/prices.js';
import { formatMicros } from '../../server/src/lib/money.js';
import { CLI_ACTOR } from '../../server/src/audit/index.js';
import { ApiClient, type ApiResponse } from '../support/api.js';
import { bookProblems, chatPromptTokens, closedPort, expectedCost, usdToMicros, type TestPrice } from '../support/books.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SEED = process.env.LEDGER_SEED ? Number(process.env.LEDGER_SEED) >>> 0 : randomInt(1, 2 ** 31);
const OPS = Number(process.env.LEDGER_OPS ?? 600);
const CONCURRENCY = Number(process.env.LEDGER_CONCURRENCY ?? 24);
const SEED_MSG = `seed ${SEED} (replay with LEDGER_SEED=${SEED})`;

const DEFAULT_MAX_OUT = 24;
/** The legacy completions endpoint's own default max_tokens. */
const LEGACY_DEFAULT_MAX = 16;
const HOLD_TTL_MS = 2_000;
const SWEEP_MS = 250;
/** How late the sweeper may be before a pending hold past its deadline counts as left open. */
const SWEEP_SLACK_MS = 4_000;

const PRICES: Record<string, TestPrice> = {
  'm-int': { input: '1', output: '2' },
  'm-frac': { input: '2.5', output: '10.3', cached: '1.25', perRequest: '0.000021' },
  'm-down': { input: '1', output: '1' },
};
const GROUPS: Record<string, { multiplier: string; ppm: number }> = { reseller: { multiplier: '1.333333', ppm: 1_333_333 } };

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (mulberry32)
// ---------------------------------------------------------------------------------------------

class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed | 0;
  }
  float(): number {
    this.#a = (this.#a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#a ^ (this.#a >>> 15), 1 | this.#a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** lo..hi inclusive */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.float() * xs.length)]!;
  }
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    const total = table.reduce((n, [, w]) => n + w, 0);
    let x = this.float() * total;
    for (const [v, w] of table) if ((x -= w) < 0) return v;
    return table[table.length - 1]![0];
  }
}

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

type CallKind =
  | 'chat' // non-stream, max_tokens
  | 'chat_over' // non-stream, no max_tokens: may run over its hold (drawn, or arrears)
  | 'stream' // streamed to the end, include_usage
  | 'stream_plain' // streamed to the end, no include_usage (the client counts chunks)
  | 'stream_cut' // the caller hangs up after a few chunks
  | 'stream_broken' // the upstream drops the connection / sends garbage after a few chunks
  | 'upstream_error' // the upstream answers 4xx/5xx before anything is delivered
  | 'down' // the only channel cannot be reached
  | 'early_abort' // the caller gives up before the upstream answers
  | 'slow_stream' // a stream that outlives its hold (HOLD_TTL_MS): the sweeper expires the hold
  | 'completion' // legacy /v1/completions (its own default of 16 max tokens), whole or streamed
  | 'embedding'; // /v1/embeddings: prompt tokens only

interface KeySpec {
  quota: number | null;
  group: string | null;
}
interface UserSpec {
  initial: number;
  group: string;
  keys: KeySpec[];
}

interface CallOp {
  i: number;
  kind: CallKind;
  endpoint: 'chat' | 'completions' | 'embeddings';
  server: number;
  user: number;
  key: number;
  model: string;
  contents: string[];
  maxTokens: number | null;
  stream: boolean;
  includeUsage: boolean;
  /** The upstream reports no usage: the gateway counts what it delivered. */
  omitUsage: boolean;
  /** Completion tokens the fake upstream produces (before max_tokens). */
  completion: number;
  cached: number;
  cutAfter: number;
  faultAfter: number;
  fault: 'drop' | 'malformed' | null;
  upstreamStatus: number | null;
}
interface AdjOp {
  i: number;
  kind: 'adjust';
  server: number;
  user: number;
  amount: number;
  idem: string;
  replay: 'none' | 'concurrent' | 'after';
}
interface ProbeOp {
  i: number;
  kind: 'probe';
}
type Op = CallOp | AdjOp | ProbeOp;

const WORDS = ['ledger', 'hold', 'settle', 'void', 'stream', 'micro', 'dollar', 'arrears', 'quota', 'relay', 'upstream', 'token', 'wallet', 'cash', 'seed', 'model', 'price', 'batch', 'commit', 'sweep'];

function generate(seed: number) {
  const rng = new Rng(seed);
  const users: UserSpec[] = [
    { initial: rng.int(500, 6000), group: 'default', keys: [{ quota: null, group: null }, { quota: rng.int(3000, 12000), group: 'reseller' }] },
    { initial: rng.int(500, 6000), group: 'default', keys: [{ quota: null, group: null }] },
    { initial: rng.int(500, 6000), group: 'reseller', keys: [{ quota: null, group: null }, { quota: rng.int(2000, 8000), group: 'default' }] },
    { initial: rng.int(500, 6000), group: 'default', keys: [{ quota: rng.int(2500, 10000), group: null }, { quota: null, group: null }] },
  ];
  const kinds = [
    ['chat', 18],
    ['chat_over', 12],
    ['stream', 10],
    ['stream_plain', 6],
    ['stream_cut', 8],
    ['stream_broken', 6],
    ['upstream_error', 8],
    ['down', 3],
    ['early_abort', 3],
    ['slow_stream', 2],
    ['completion', 7],
    ['embedding', 4],
    ['topup', 10],
    ['deduct', 6],
    ['probe', 4],
  ] as const;
  const ops: Op[] = [];
  for (let i = 0; i < OPS; i++) {
    const kind = rng.weighted(kinds);
    const server = rng.int(0, 1);
    const user = rng.int(0, users.length - 1);
    if (kind === 'probe') {
      ops.push({ i, kind: 'probe' });
      continue;
    }
    if (kind === 'topup' || kind === 'deduct') {
      const r = rng.float();
      ops.push({
        i,
        kind: 'adjust',
        server,
        user,
        amount: kind === 'topup' ? rng.int(300, 4000) : -rng.int(100, 3000),
        idem: `ledger-${seed}-${i}`,
        replay: r < 0.2 ? 'concurrent' : r < 0.35 ? 'after' : 'none',
      });
      continue;
    }
    const key = rng.int(0, users[user]!.keys.length - 1);
    const model = kind === 'down' ? 'm-down' : rng.pick(['m-int', 'm-frac']);
    const words = Array.from({ length: rng.int(2, 18) }, () => rng.pick(WORDS)).join(' ');
    const op: CallOp = {
      i, kind, endpoint: kind === 'completion' ? 'completions' : kind === 'embedding' ? 'embeddings' : 'chat', server, user, key, model,
      contents: [], maxTokens: null, stream: false, includeUsage: false, omitUsage: false,
      completion: rng.int(1, 60), cached: rng.chance(0.3) ? rng.int(1, 8) : 0, cutAfter: 0, faultAfter: 0, fault: null, upstreamStatus: null,
    };
    const d: string[] = [];
    switch (kind) {
      case 'chat':
        op.maxTokens = rng.int(1, 50);
        op.omitUsage = rng.chance(0.15);
        break;
      case 'chat_over':
        op.completion = rng.int(1, 160);
        break;
      case 'stream':
        op.stream = op.includeUsage = true;
        op.maxTokens = rng.chance(0.5) ? rng.int(1, 50) : null;
        op.omitUsage = rng.chance(0.15);
        break;
      case 'stream_plain':
        op.stream = true;
        op.cached = 0; // the client would not see what the cache saved
        op.maxTokens = rng.chance(0.5) ? rng.int(1, 50) : null;
        op.omitUsage = rng.chance(0.25);
        break;
      case 'stream_cut':
        op.stream = true;
        op.includeUsage = rng.chance(0.5);
        op.cached = 0;
        op.completion = 40;
        op.maxTokens = rng.chance(0.5) ? rng.int(40, 60) : null;
        op.cutAfter = rng.int(1, 5);
        d.push('chunkDelayMs=20');
        break;
      case 'stream_broken':
        op.stream = true;
        op.includeUsage = rng.chance(0.5);
        op.cached = 0;
        op.fault = rng.pick(['drop', 'malformed'] as const);
        op.faultAfter = rng.int(1, 6);
        op.completion = op.faultAfter + rng.int(2, 20);
        op.maxTokens = rng.chance(0.5) ? op.completion + rng.int(0, 10) : null;
        d.push(`${op.fault === 'drop' ? 'dropAfterChunks' : 'malformedAfterChunks'}=${op.faultAfter}`);
        break;
      case 'upstream_error':
        op.stream = rng.chance(0.5);
        op.upstreamStatus = rng.pick([500, 503, 429, 400]);
        op.maxTokens = rng.chance(0.5) ? rng.int(1, 50) : null;
        d.push(`status=${op.upstreamStatus}`);
        if (op.upstreamStatus === 429) d.push('errorCode=rate_limit_exceeded');
        if (op.upstreamStatus === 400) d.push('errorCode=context_length_exceeded');
        break;
      case 'down':
        op.stream = rng.chance(0.5);
        op.maxTokens = rng.chance(0.5) ? rng.int(1, 50) : null;
        break;
      case 'early_abort':
        op.stream = rng.chance(0.5);
        op.maxTokens = rng.int(1, 50);
        d.push('delayMs=700');
        break;
      case 'slow_stream':
        op.stream = op.includeUsage = true;
        op.completion = 24;
        op.maxTokens = rng.int(24, 30);
        d.push('chunkDelayMs=110');
        break;
      case 'completion':
        op.stream = op.includeUsage = rng.chance(0.4);
        op.completion = rng.int(1, 100);
        op.maxTokens = rng.chance(0.5) ? rng.int(1, 50) : null;
        break;
      case 'embedding':
        op.completion = 0;
        op.cached = 0;
        break;
    }
    if (op.omitUsage) {
      op.cached = 0;
      d.push('omitUsage');
    }
    d.push(`completionTokens=${op.completion}`);
    if (op.cached > 0) d.push(`cachedTokens=${op.cached}`);
    const text = `#${i} ${words} [[fake:${d.join(',')}]]`;
    op.contents = op.endpoint === 'chat' && rng.chance(0.3) ? [`You are assistant ${rng.int(1, 99)}.`, text] : [text];
    ops.push(op);
  }
  return { users, ops };
}

// ---------------------------------------------------------------------------------------------
// The model's helpers: prices, estimates
// ---------------------------------------------------------------------------------------------

/** The gateway's own prompt estimate (behind the hold; and the usage when the upstream reports none):
 * chat 3 + Σ (3 + tokens of each message); a legacy prompt or embeddings input, its tokens. */
const gatewayPrompt = (op: CallOp) =>
  op.endpoint === 'chat' ? 3 + op.contents.reduce((n, c) => n + 3 + countTokens(c), 0) : countTokens(op.contents[0]!);
/** What the (fake) upstream reports. */
const upstreamPrompt = (op: CallOp) => (op.endpoint === 'chat' ? chatPromptTokens(op.contents) : countTokens(op.contents[0]!));
/** Completion tokens the upstream produces; and the output the hold reserves. */
const plannedCompletion = (op: CallOp) => (op.endpoint === 'embeddings' ? 0 : Math.min(op.completion, op.maxTokens ?? Infinity));
const heldCompletion = (op: CallOp) => (op.endpoint === 'embeddings' ? 0 : (op.maxTokens ?? (op.endpoint === 'completions' ? LEGACY_DEFAULT_MAX : DEFAULT_MAX_OUT)));

interface Usage {
  prompt: number;
  completion: number;
  cached: number;
}

interface CallObs {
  op: CallOp;
  rid: string | null;
  /** charged: delivered something; refused: 402 before any hold; failed: nothing delivered; anon: no answer seen. */
  result: 'charged' | 'refused' | 'failed' | 'anon' | 'unknown';
  status: number;
  code: string | null;
  /** The usage the client saw (whole answers, streams with usage, or counted chunks). */
  usage: Usage | null;
  /** A cut stream: at least this many completion tokens were delivered. */
  minCompletion: number;
}

interface AdjResponse {
  status: number;
  body: any;
}
interface AdjObs {
  op: AdjOp;
  responses: AdjResponse[];
}

// ---------------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------------

let up: FakeUpstream;
let servers: TestServer[] = [];
let apis: ApiClient[] = [];
const world = generate(SEED);
/** Per user: id, wallet id, keys. */
const people: { userId: number; walletId: number; keys: { id: number; secret: string; quota: number | null; ppm: number }[] }[] = [];
/** OpenAI clients per server, per user, per key. */
let clients: OpenAI[][][] = [];
const db = () => servers[0]!.ctx.db.kysely;

beforeAll(async () => {
  up = await startFakeUpstream({ recordLimit: 0 });
  const env = {
    DEFAULT_MAX_OUTPUT_TOKENS: String(DEFAULT_MAX_OUT),
    HOLD_TTL_MS: String(HOLD_TTL_MS),
    SWEEP_INTERVAL_MS: String(SWEEP_MS),
    CHANNEL_COOLDOWN_MS: '0',
    GATEWAY_RETRIES: '1',
    DB_POOL_SIZE: '10',
  };
  const first = await startTestServer({ env });
  servers = [first];
  const ctx = first.ctx;
  for (const [name, g] of Object.entries(GROUPS)) await setGroup(ctx.db, ctx.feed, name, { multiplier: g.multiplier }, CLI_ACTOR);
  for (const [model, p] of Object.entries(PRICES)) {
    await addPrice(ctx, model, { input: p.input, output: p.output, cached_input: p.cached ?? null, per_request: p.perRequest ?? '0' });
  }
  const groups = ['default', ...Object.keys(GROUPS)];
  // two channels to the same upstream (a failure is retried once on the other), one that is down
  await addChannel(ctx, up.url, { name: 'up-a', models: ['m-int', 'm-frac'], groups });
  await addChannel(ctx, up.url, { name: 'up-b', models: ['m-int', 'm-frac'], groups });
  await addChannel(ctx, `http://127.0.0.1:${await closedPort()}/v1`, { name: 'down', models: ['m-down'], groups });
  for (const [u, spec] of world.users.entries()) {
    const k0 = spec.keys[0]!;
    const made = await addUserWithKey(ctx, {
      email: `ledger-${SEED}-${u}@example.com`,
      group: spec.group,
      balanceUsd: formatMicros(spec.initial),
      key: { name: 'k0', quotaMicros: k0.quota, group: k0.group },
    });
    const keys = [{ id: made.keyView.id, secret: made.key, quota: k0.quota, ppm: 0 }];
    for (const [k, ks] of spec.keys.slice(1).entries()) {
      const { key, view } = await createKey(ctx.db, ctx.feed, made.user.id, { name: `k${k + 1}`, quotaMicros: ks.quota, group: ks.group });
      keys.push({ id: view.id, secret: key, quota: ks.quota, ppm: 0 });
    }
    spec.keys.forEach((ks, k) => {
      const g = ks.group ?? spec.group;
      keys[k]!.ppm = GROUPS[g]?.ppm ?? 1_000_000;
    });
    people.push({ userId: made.user.id, walletId: made.wallet.id, keys });
  }
  await ctx.feed.pollNow();
  // PostgreSQL / MySQL: a second instance on the same database, as a scaled deployment runs
  if (first.db.dialect !== 'sqlite') servers.push(await startTestServer({ db: first.db, env }));
  const api = new ApiClient(first.url);
  await api.signIn();
  apis = servers.map((s) => {
    const a = new ApiClient(s.url);
    a.cookie = api.cookie;
    return a;
  });
  clients = servers.map((s) => people.map((p) => p.keys.map((k) => new OpenAI({ baseURL: s.url + '/v1', apiKey: k.secret, maxRetries: 0, timeout: 30_000 }))));
}, 60_000);

afterAll(async () => {
  for (const s of servers.slice(1).reverse()) await s.stop();
  await servers[0]?.stop();
  await up?.close();
});

// ---------------------------------------------------------------------------------------------
// Running the operations
// ---------------------------------------------------------------------------------------------

const problems: string[] = [];
const callObs: CallObs[] = [];
const adjObs: AdjObs[] = [];
let probes = 0;

type ApiErr = InstanceType<typeof OpenAI.APIError>;
const REFUSALS = new Set(['insufficient_funds', 'key_quota_exceeded', 'account_in_arrears']);

function toUsage(u: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null | undefined): Usage | null {
  if (!u) return null;
  return { prompt: u.prompt_tokens, completion: u.completion_tokens, cached: u.prompt_tokens_details?.cached_tokens ?? 0 };
}

/** Iterate a stream, counting content chunks and keeping the usage event; stops at `stopAfter` chunks. */
async function readStream(
  stream: AsyncIterable<{ choices: { delta?: { content?: string | null }; text?: string }[]; usage?: Parameters<typeof toUsage>[0] }>,
  stopAfter: number,
  ac: AbortController,
) {
  let chunks = 0;
  let usage: Usage | null = null;
  let err: unknown = null;
  try {
    for await (const c of stream) {
      const piece = c.choices[0]?.delta?.content ?? c.choices[0]?.text;
      if (piece) {
        chunks++;
        if (chunks === stopAfter) {
          ac.abort();
          break;
        }
      }
      if (c.usage) usage = toUsage(c.usage);
    }
  } catch (e) {
    err = e;
  }
  return { chunks, usage, err };
}

const answerText = (tokens: number) => (tokens > 0 ? 'hello' + ' hello'.repeat(tokens - 1) : '');

async function runCall(op: CallOp): Promise<CallObs> {
  const client = clients[op.server % clients.length]![op.user]![op.key]!;
  const obs: CallObs = { op, rid: null, result: 'unknown', status: 0, code: null, usage: null, minCompletion: 0 };
  const tag = `op #${op.i} ${op.kind}`;
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (op.kind === 'early_abort') timer = setTimeout(() => ac.abort(), 60);
  const planned = plannedCompletion(op);
  const wantsSuccess = ['chat', 'chat_over', 'stream', 'stream_plain', 'slow_stream', 'completion', 'embedding'].includes(op.kind);
  const maxTokens = op.maxTokens !== null ? { max_tokens: op.maxTokens } : {};
  const streamed = { stream: true as const, ...(op.includeUsage ? { stream_options: { include_usage: true } } : {}) };
  const opts = { signal: ac.signal };
  /** What the client can tell about usage when the upstream (hence the answer) carried none. */
  const counted = (completion: number): Usage => ({ prompt: gatewayPrompt(op), completion, cached: 0 });
  try {
    if (op.endpoint === 'embeddings') {
      const { data, response } = await client.embeddings.create({ model: op.model, input: op.contents[0]! }, opts).withResponse();
      obs.rid = response.headers.get('x-request-id');
      obs.status = response.status;
      obs.result = 'charged';
      obs.usage = { prompt: data.usage.prompt_tokens, completion: 0, cached: 0 };
      if (data.data.length !== 1) problems.push(`${tag}: ${data.data.length} embeddings`);
      return obs;
    }
    if (!op.stream) {
      let text: string;
      let usage: Usage | null;
      if (op.endpoint === 'completions') {
        const { data, response } = await client.completions.create({ model: op.model, prompt: op.contents[0]!, ...maxTokens }, opts).withResponse();
        obs.rid = response.headers.get('x-request-id');
        obs.status = response.status;
        text = data.choices[0]?.text ?? '';
        usage = toUsage(data.usage);
      } else {
        const messages = op.contents.map((content, n) => ({ role: n === 0 && op.contents.length > 1 ? ('system' as const) : ('user' as const), content }));
        const { data, response } = await client.chat.completions.create({ model: op.model, messages, ...maxTokens }, opts).withResponse();
        obs.rid = response.headers.get('x-request-id');
        obs.status = response.status;
        text = data.choices[0]?.message.content ?? '';
        usage = toUsage(data.usage);
      }
      obs.result = 'charged';
      if (!wantsSuccess) problems.push(`${tag}: expected a failure, got ${obs.status}`);
      if (text !== answerText(planned)) problems.push(`${tag}: unexpected answer ${JSON.stringify(text)}`);
      // the caller always sees usage in its own format: the upstream's, or the gateway's own count
      if (!usage) problems.push(`${tag}: no usage in the answer`);
      const own = counted(countTokens(text));
      if (op.omitUsage && usage && (usage.prompt !== own.prompt || usage.completion !== own.completion)) {
        problems.push(`${tag}: usage ${JSON.stringify(usage)} in the answer is not the gateway's count ${JSON.stringify(own)}`);
      }
      obs.usage = usage ?? own;
      return obs;
    }
    let read: Awaited<ReturnType<typeof readStream>>;
    if (op.endpoint === 'completions') {
      const { data, response } = await client.completions.create({ model: op.model, prompt: op.contents[0]!, ...maxTokens, ...streamed }, opts).withResponse();
      obs.rid = response.headers.get('x-request-id');
      obs.status = response.status;
      read = await readStream(data, Infinity, ac);
    } else {
      const messages = op.contents.map((content, n) => ({ role: n === 0 && op.contents.length > 1 ? ('system' as const) : ('user' as const), content }));
      const { data, response } = await client.chat.completions.create({ model: op.model, messages, ...maxTokens, ...streamed }, opts).withResponse();
      obs.rid = response.headers.get('x-request-id');
      obs.status = response.status;
      read = await readStream(data, op.kind === 'stream_cut' ? op.cutAfter : Infinity, ac);
    }
    const { chunks, usage, err } = read;
    if (op.kind === 'stream_cut') {
      obs.result = 'charged';
      obs.minCompletion = chunks;
      if (chunks !== op.cutAfter) problems.push(`${tag}: saw ${chunks} chunks before hanging up, wanted ${op.cutAfter}`);
      return obs;
    }
    if (op.kind === 'stream_broken') {
      obs.result = 'charged';
      const code = err instanceof OpenAI.APIError ? err.code : null;
      const want = op.fault === 'drop' ? 'upstream_broken' : 'upstream_malformed';
      if (code !== want) problems.push(`${tag}: the stream ended with ${String(err)} (code ${code}), wanted ${want}`);
      if (chunks !== op.faultAfter) problems.push(`${tag}: ${chunks} chunks before the fault, wanted ${op.faultAfter}`);
      if (usage) problems.push(`${tag}: a usage event in a broken stream`);
      obs.usage = counted(chunks);
      return obs;
    }
    obs.result = 'charged';
    if (!wantsSuccess) problems.push(`${tag}: expected a failure, got a stream`);
    if (err) problems.push(`${tag}: the stream failed: ${String(err)}`);
    if (chunks !== planned) problems.push(`${tag}: ${chunks} chunks, wanted ${planned}`);
    if (op.includeUsage) {
      // asked for: the upstream's usage event, or the gateway's own count when the upstream sent none
      if (!usage) problems.push(`${tag}: no usage event although include_usage was asked`);
      const own = counted(chunks);
      if (op.omitUsage && usage && (usage.prompt !== own.prompt || usage.completion !== own.completion)) {
        problems.push(`${tag}: usage event ${JSON.stringify(usage)} is not the gateway's count ${JSON.stringify(own)}`);
      }
      obs.usage = usage ?? (op.omitUsage ? own : null);
    } else {
      if (usage) problems.push(`${tag}: a usage event the caller did not ask for`);
      // counted by the client: the upstream's own count when it reported one, else the gateway's
      obs.usage = op.omitUsage ? counted(chunks) : { prompt: upstreamPrompt(op), completion: chunks, cached: 0 };
    }
    return obs;
  } catch (e) {
    if (e instanceof OpenAI.APIUserAbortError || (ac.signal.aborted && !(e instanceof OpenAI.APIError && e.status))) {
      obs.result = 'anon';
      if (op.kind !== 'early_abort') problems.push(`${tag}: aborted unexpectedly: ${String(e)}`);
      return obs;
    }
    if (!(e instanceof OpenAI.APIError) || !e.status) {
      problems.push(`${tag}: unexpected error ${String(e)}`);
      return obs;
    }
    const err = e as ApiErr;
    obs.rid = err.headers?.get('x-request-id') ?? null;
    obs.status = err.status!;
    obs.code = (err.code as string | null | undefined) ?? null;
    if (err.status === 402) {
      obs.result = 'refused';
      if (!obs.code || !REFUSALS.has(obs.code)) problems.push(`${tag}: 402 with code ${obs.code}`);
      if (err.type !== 'insufficient_quota' && obs.code === 'insufficient_funds') problems.push(`${tag}: 402 of type ${err.type}`);
      return obs;
    }
    obs.result = 'failed';
    const wanted =
      op.kind === 'down' ? [502] : op.kind === 'upstream_error' ? [op.upstreamStatus === 429 ? 429 : op.upstreamStatus === 400 ? 400 : 502] : [];
    if (!wanted.includes(err.status!)) {
      obs.result = 'unknown';
      problems.push(`${tag}: unexpected ${err.status} ${obs.code}: ${err.message}`);
    }
    return obs;
  } finally {
    clearTimeout(timer);
  }
}

async function postAdjustment(op: AdjOp): Promise<AdjResponse> {
  const api = apis[op.server % apis.length]!;
  const r: ApiResponse = await api.post(
    `/api/admin/users/${people[op.user]!.userId}/balance-adjustments`,
    { amount: formatMicros(op.amount), reason: `ledger workload op ${op.i}` },
    { 'idempotency-key': op.idem },
  );
  return { status: r.status, body: r.body };
}

async function runAdjust(op: AdjOp): Promise<AdjObs> {
  const obs: AdjObs = { op, responses: [] };
  if (op.replay === 'concurrent') {
    // the same key on both servers (or twice on one) at the same moment
    const other = { ...op, server: op.server + 1 };
    obs.responses.push(...(await Promise.all([postAdjustment(op), postAdjustment(other)])));
  } else {
    obs.responses.push(await postAdjustment(op));
    if (op.replay === 'after') obs.responses.push(await postAdjustment({ ...op, server: op.server + 1 }));
  }
  return obs;
}

/** During the run: no bucket negative, no available balance below zero, no hold open past its deadline. */
async function probe() {
  probes++;
  const now = Date.now();
  const wallets = await db().selectFrom('wallets').selectAll().execute();
  for (const w of wallets) {
    for (const k of ['cash_micros', 'gift_micros', 'plan_micros', 'credit_used_micros', 'pending_micros', 'arrears_micros'] as const) {
      if (Number(w[k]) < 0) problems.push(`probe: wallet ${w.id} ${k} = ${w[k]}`);
    }
    const funds = Number(w.plan_micros) + Number(w.gift_micros) + Number(w.cash_micros) + Number(w.credit_limit_micros) - Number(w.credit_used_micros);
    if (funds - Number(w.pending_micros) < 0) problems.push(`probe: wallet ${w.id} available below zero (funds ${funds}, pending ${w.pending_micros})`);
  }
  const keys = await db().selectFrom('api_keys').select(['id', 'quota_pending_micros', 'quota_used_micros']).execute();
  for (const k of keys) if (Number(k.quota_pending_micros) < 0 || Number(k.quota_used_micros) < 0) problems.push(`probe: key ${k.id} quota negative`);
  const late = await db().selectFrom('holds').select(['id', 'request_id', 'expires_at']).where('status', '=', 'pending').where('expires_at', '<', now - SWEEP_SLACK_MS).execute();
  for (const h of late) problems.push(`probe: hold ${h.id} (${h.request_id}) still pending ${now - Number(h.expires_at)} ms past its deadline`);
}

async function runWorkload(ops: Op[]) {
  let next = 0;
  const worker = async () => {
    while (next < ops.length) {
      const op = ops[next++]!;
      try {
        if (op.kind === 'probe') await probe();
        else if (op.kind === 'adjust') adjObs.push(await runAdjust(op));
        else callObs.push(await runCall(op));
      } catch (e) {
        problems.push(`op #${op.i} ${op.kind}: threw ${String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Wait until every server has finished its calls and no hold is pending (or give up and let the audit say so). */
async function settleDown(timeoutMs = 15_000) {
  const t0 = Date.now();
  for (;;) {
    await Promise.all(servers.map((s) => s.ctx.money.idle()));
    const inflight = servers.reduce((n, s) => n + s.ctx.relay.inflight, 0);
    const pending = await db().selectFrom('holds').select('id').where('status', '=', 'pending').execute();
    if (inflight === 0 && pending.length === 0) return;
    if (Date.now() - t0 > timeoutMs) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// The audit: the model against the books
// ---------------------------------------------------------------------------------------------

interface Expectation {
  net: Map<number, number>;
  arrears: Map<number, number>;
  keyUsed: Map<number, number>;
}

async function audit(phase: string): Promise<{ problems: string[]; expected: Expectation; stats: Record<string, number> }> {
  const out: string[] = [];
  const p = (s: string) => out.push(`[${phase}] ${s}`);
  const stats: Record<string, number> = {};
  const count = (k: string, n = 1) => (stats[k] = (stats[k] ?? 0) + n);

  const usageRows = await db().selectFrom('usage_records').selectAll().execute();
  const holdRows = await db().selectFrom('holds').selectAll().execute();
  const ledgerRows = await db().selectFrom('ledger_entries').selectAll().orderBy('id').execute();
  const usageBy = new Map<string, (typeof usageRows)[number][]>();
  for (const u of usageRows) usageBy.set(u.request_id, [...(usageBy.get(u.request_id) ?? []), u]);
  const holdBy = new Map<string, (typeof holdRows)[number][]>();
  for (const h of holdRows) holdBy.set(h.request_id, [...(holdBy.get(h.request_id) ?? []), h]);
  const reqLedger = new Map<string, (typeof ledgerRows)[number][]>();
  for (const e of ledgerRows) if (e.ref_type === 'request') reqLedger.set(e.ref_id!, [...(reqLedger.get(e.ref_id!) ?? []), e]);

  const walletIds = people.map((x) => x.walletId);
  const net = new Map(walletIds.map((id, u) => [id, world.users[u]!.initial]));
  const booked = new Map(walletIds.map((id) => [id, 0]));
  const repaid = new Map(walletIds.map((id) => [id, 0]));
  const overrun = new Map(walletIds.map((id) => [id, 0]));
  const keyUsed = new Map<number, number>();
  const keyOverrun = new Map<number, number>();
  for (const person of people) for (const k of person.keys) (keyUsed.set(k.id, 0), keyOverrun.set(k.id, 0));

  // --- calls ---
  const seen = new Set<string>();
  let anonymous = 0;
  for (const o of callObs) {
    const op = o.op;
    const person = people[op.user]!;
    const key = person.keys[op.key]!;
    const price = PRICES[op.model]!;
    const tag = `op #${op.i} ${op.kind} ${o.rid ?? '(no request id)'}`;
    count(`call:${o.result}${o.result === 'refused' ? ':' + o.code : ''}`);
    if (o.result === 'anon') {
      anonymous++;
      continue;
    }
    if (!o.rid) {
      p(`${tag}: no x-request-id (${o.result} ${o.status})`);
      continue;
    }
    if (seen.has(o.rid)) p(`${tag}: request id seen twice`);
    seen.add(o.rid);
    const records = usageBy.get(o.rid) ?? [];
    const holds = holdBy.get(o.rid) ?? [];
    const entries = reqLedger.get(o.rid) ?? [];
    if (holds.length > 1) p(`${tag}: ${holds.length} holds`);
    if (o.result === 'refused') {
      // A refusal is on the record (status and code, at no cost), and moved no money.
      const rec = records[0];
      if (records.length !== 1 || holds.length || entries.length) p(`${tag}: refused (${o.code}) but left ${records.length} usage records (wanted one), ${holds.length} holds, ${entries.length} ledger entries`);
      else if (Number(rec!.status_code) !== o.status || rec!.error_code !== o.code || Number(rec!.charged_micros) !== 0 || Number(rec!.arrears_micros) !== 0) {
        p(`${tag}: refused (${o.status} ${o.code}) but recorded as ${rec!.status_code} ${rec!.error_code}, charged ${rec!.charged_micros} + ${rec!.arrears_micros}`);
      }
      if (o.code === 'key_quota_exceeded' && key.quota === null) p(`${tag}: key_quota_exceeded on a key without quota`);
      continue;
    }
    if (records.length !== 1) {
      p(`${tag}: ${records.length} usage records, wanted exactly one`);
      continue;
    }
    const rec = records[0]!;
    const hold = holds[0];
    if (!hold) p(`${tag}: no hold`);
    if (Number(rec.wallet_id) !== person.walletId || Number(rec.key_id) !== key.id) p(`${tag}: usage record on wallet ${rec.wallet_id} / key ${rec.key_id}`);
    // the price and multiplier the record says it used are the configured ones
    const priceOf = (s: string | undefined) => Number(usdToMicros(s ?? '0'));
    if (Number(rec.input_price) !== priceOf(price.input) || Number(rec.output_price) !== priceOf(price.output) ||
        Number(rec.cached_input_price) !== priceOf(price.cached ?? price.input) || Number(rec.request_price) !== priceOf(price.perRequest) ||
        Number(rec.multiplier_ppm) !== key.ppm) {
      p(`${tag}: usage record prices ${rec.input_price}/${rec.output_price}/${rec.cached_input_price}/${rec.request_price} ×${rec.multiplier_ppm}, wanted ${JSON.stringify(price)} ×${key.ppm}`);
    }
    const recUsage = { prompt: Number(rec.prompt_tokens), completion: Number(rec.completion_tokens), cached: Number(rec.cached_tokens) };
    const recCost = expectedCost(price, recUsage, key.ppm);
    const charged = Number(rec.charged_micros);
    const arrears = Number(rec.arrears_micros);
    const drawnEntries = entries.filter((e) => e.bucket !== 'arrears');
    const arrearsEntries = entries.filter((e) => e.bucket === 'arrears');
    const drawn = -drawnEntries.reduce((n, e) => n + Number(e.amount_micros), 0);
    const bookedArrears = arrearsEntries.reduce((n, e) => n + Number(e.amount_micros), 0);
    if (drawn !== charged) p(`${tag}: charged ${charged} but its ledger entries draw ${drawn}`);
    if (bookedArrears !== arrears) p(`${tag}: arrears ${arrears} but its ledger books ${bookedArrears}`);
    if (entries.some((e) => Number(e.wallet_id) !== person.walletId)) p(`${tag}: a ledger entry on another wallet`);

    if (o.result === 'failed' || o.result === 'unknown') {
      if (o.result === 'failed') {
        if (charged !== 0 || arrears !== 0 || entries.length) p(`${tag}: a failed call (${o.status}) was charged ${charged} + ${arrears} arrears, ${entries.length} entries`);
        if (Number(rec.status_code) !== o.status) p(`${tag}: usage record status ${rec.status_code}, the client saw ${o.status}`);
        if (hold && hold.status !== 'voided' && hold.status !== 'expired') p(`${tag}: the hold of a failed call is ${hold.status}`);
      }
      // the model: a failed call costs nothing; an outcome it could not classify (already a
      // problem) is taken from the record so that one surprise does not hide the others
      if (o.result === 'unknown') {
        net.set(person.walletId, net.get(person.walletId)! - charged - arrears);
        booked.set(person.walletId, booked.get(person.walletId)! + arrears);
        if (key.quota !== null) keyUsed.set(key.id, keyUsed.get(key.id)! + charged + arrears);
      }
      continue;
    }

    // --- a charged call: what did it cost, from what the client saw? ---
    count('calls charged');
    let cost: number;
    if (o.usage) {
      cost = expectedCost(price, o.usage, key.ppm);
      if (recUsage.prompt !== o.usage.prompt || recUsage.completion !== o.usage.completion || recUsage.cached !== o.usage.cached) {
        p(`${tag}: usage record ${JSON.stringify(recUsage)} but the client saw ${JSON.stringify(o.usage)}`);
      }
    } else {
      // a stream the caller cut: what was delivered is on the record; it is at least what the caller read
      cost = recCost;
      const planned = plannedCompletion(op);
      if (recUsage.completion < o.minCompletion || recUsage.completion > planned) p(`${tag}: ${recUsage.completion} completion tokens charged, the caller read ${o.minCompletion} of ${planned}`);
      if (recUsage.prompt !== gatewayPrompt(op) && recUsage.prompt !== upstreamPrompt(op)) p(`${tag}: prompt tokens ${recUsage.prompt}`);
      if (![499, 200].includes(Number(rec.status_code))) p(`${tag}: status ${rec.status_code} for a stream the caller cut`);
      if (Number(rec.status_code) === 499) count('cut streams settled as 499');
    }
    if (charged + arrears !== recCost) p(`${tag}: charged ${charged} + arrears ${arrears} ≠ ${recCost}, the price of its tokens`);
    if (cost !== recCost) p(`${tag}: the client's usage costs ${cost}, the record's ${recCost}`);
    if (cost <= 0) p(`${tag}: a call that delivered costs ${cost}`);
    if (o.op.kind !== 'stream_cut' && op.kind !== 'stream_broken' && Number(rec.status_code) !== 200) p(`${tag}: status ${rec.status_code}`);
    if (op.kind === 'stream_broken' && rec.error_code !== (op.fault === 'drop' ? 'upstream_broken' : 'upstream_malformed')) p(`${tag}: error_code ${rec.error_code}`);
    let effectiveHold = 0;
    if (hold) {
      const estimate = expectedCost(price, { prompt: gatewayPrompt(op), completion: heldCompletion(op) }, key.ppm);
      if (Number(hold.amount_micros) !== estimate) p(`${tag}: hold of ${hold.amount_micros}, wanted ${estimate}`);
      if (hold.status === 'posted') effectiveHold = Number(hold.amount_micros);
      else if (hold.status === 'expired') count('holds expired before settlement');
      else p(`${tag}: the hold of a charged call is ${hold.status}`);
      if ((Number(hold.key_quota) === 1) !== (key.quota !== null)) p(`${tag}: hold key_quota=${hold.key_quota}`);
    }
    const over = Math.max(0, recCost - effectiveHold);
    if (over > 0) count('calls over their hold');
    // what a posted hold covered can never become arrears
    if (arrears > over) p(`${tag}: arrears ${arrears} > ${over}, the part of the cost its hold did not cover`);
    if (arrears > 0) count('calls into arrears');
    overrun.set(person.walletId, overrun.get(person.walletId)! + over);
    if (key.quota !== null) keyOverrun.set(key.id, keyOverrun.get(key.id)! + over);
    net.set(person.walletId, net.get(person.walletId)! - cost);
    booked.set(person.walletId, booked.get(person.walletId)! + arrears);
    if (key.quota !== null) keyUsed.set(key.id, keyUsed.get(key.id)! + cost);
  }

  // --- records and holds nobody asked for ---
  const strays = usageRows.filter((u) => !seen.has(u.request_id));
  const unansweredRefusals = new Set<string>();
  if (strays.length > anonymous) p(`${strays.length} usage records of unknown requests, only ${anonymous} callers gave up unanswered`);
  for (const u of strays) {
    const h = holdBy.get(u.request_id)?.[0];
    // A caller who hung up while its call was being refused: the refusal is on the record anyway.
    if (!h && Number(u.attempts) === 0 && Number(u.status_code) === 402 && Number(u.charged_micros) === 0 && Number(u.arrears_micros) === 0 && !reqLedger.has(u.request_id)) {
      unansweredRefusals.add(u.request_id);
      continue;
    }
    if (Number(u.charged_micros) !== 0 || Number(u.arrears_micros) !== 0 || reqLedger.has(u.request_id) || Number(u.status_code) !== 499 || u.error_code !== 'client_closed') {
      p(`unanswered call ${u.request_id}: status ${u.status_code} ${u.error_code}, charged ${u.charged_micros} + ${u.arrears_micros}`);
    }
    if (!h || (h.status !== 'voided' && h.status !== 'expired')) p(`unanswered call ${u.request_id}: hold ${h?.status}`);
  }
  count('unanswered callers recorded', strays.length - unansweredRefusals.size);
  count('unanswered refusals recorded', unansweredRefusals.size);
  for (const h of holdRows) {
    if (!usageBy.has(h.request_id)) p(`hold ${h.id} (${h.request_id}, ${h.status}) has no usage record`);
    if (!['posted', 'voided', 'expired'].includes(h.status)) p(`hold ${h.id} (${h.request_id}) is ${h.status}`);
    if (h.settled_at === null) p(`hold ${h.id} (${h.request_id}) has no settled_at`);
    if (h.status === 'expired' && Number(h.settled_at) <= Number(h.expires_at)) p(`hold ${h.id} expired at ${h.settled_at}, before its deadline ${h.expires_at}`);
  }
  for (const rid of reqLedger.keys()) if (!usageBy.has(rid)) p(`ledger entries for request ${rid} without a usage record`);

  // --- adjustments ---
  const entryByIdem = new Map(ledgerRows.filter((e) => e.idempotency_key).map((e) => [e.idempotency_key!, e]));
  for (const a of adjObs) {
    const op = a.op;
    const walletId = people[op.user]!.walletId;
    const tag = `adjustment op #${op.i} (${formatMicros(op.amount)}, ${op.replay}, key ${op.idem})`;
    const ok = a.responses.filter((r) => r.status === 200);
    const fresh = ok.filter((r) => r.body.replayed === false);
    for (const r of a.responses) {
      if (r.status === 200) {
        const v = r.body.user;
        if (v.cash_micros < 0 || v.pending_micros < 0 || v.arrears_micros < 0 || v.cash_micros < v.pending_micros) p(`${tag}: answered with wallet ${JSON.stringify(v)}`);
        if (r.body.entry.amount_micros !== op.amount) p(`${tag}: entry of ${r.body.entry.amount_micros}`);
      } else if (!(r.status === 409 && r.body?.error?.code === 'insufficient_funds' && op.amount < 0)) {
        p(`${tag}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    count(`adjust:${op.amount > 0 ? 'topup' : 'deduct'}:${fresh.length ? 'applied' : 'refused'}`);
    if (a.responses.length > 1) count(`adjust:replays answered ${ok.length - fresh.length}`);
    if (fresh.length > 1) p(`${tag}: applied ${fresh.length} times`);
    // once a key has moved money, a later request with that key is answered with that result; of
    // two sent at once, one may legitimately have been refused before the other was applied
    const firstFresh = a.responses.findIndex((r) => r.status === 200 && r.body.replayed === false);
    if (firstFresh >= 0) {
      for (const r of a.responses.slice(op.replay === 'concurrent' ? 0 : firstFresh + 1)) {
        if (r.status === 200) continue;
        if (op.replay === 'concurrent') count('adjust:concurrent duplicate refused while the other applied');
        else p(`${tag}: applied, but the retry after it was answered ${r.status} ${r.body?.error?.code}`);
      }
    }
    const entry = entryByIdem.get(`adj:${op.idem}`);
    if (fresh.length === 0 && ok.length > 0) p(`${tag}: only replays answered`);
    if (ok.length > 0) {
      if (!entry) p(`${tag}: no ledger entry`);
      for (const r of ok) if (entry && r.body.entry.id !== Number(entry.id)) p(`${tag}: answered with entry ${r.body.entry.id}, the ledger has ${entry.id}`);
      net.set(walletId, net.get(walletId)! + op.amount);
      for (const r of fresh) {
        const paid = r.body.arrears_repaid_micros as number;
        if (op.amount < 0 && paid !== 0) p(`${tag}: a deduction repaid ${paid}`);
        // a top-up pays arrears from all free cash, not only from its own amount
        if (paid < 0) p(`${tag}: repaid ${paid}`);
        repaid.set(walletId, repaid.get(walletId)! + paid);
        if (paid > 0) {
          count('top-ups that repaid arrears');
          const rep = ledgerRows.filter((e) => e.ref_type === 'ledger' && e.ref_id === String(r.body.entry.id));
          const sums = Object.fromEntries(rep.map((e) => [e.bucket, Number(e.amount_micros)]));
          if (rep.length !== 2 || sums.cash !== -paid || sums.arrears !== -paid) p(`${tag}: repayment entries ${JSON.stringify(sums)} for ${paid}`);
        }
      }
    } else if (entry) {
      p(`${tag}: refused, but the ledger has entry ${entry.id}`);
    }
  }

  // --- arrears the gateway paid from the account's own free cash, when it refused a call for
  // arrears: each repayment is a cash entry and an arrears entry of the same amount ---
  for (const person of people) {
    const auto = ledgerRows.filter((e) => Number(e.wallet_id) === person.walletId && e.type === 'arrears_repayment' && e.ref_type === 'wallet');
    const cashSide = auto.filter((e) => e.bucket === 'cash');
    const arrearsSide = auto.filter((e) => e.bucket === 'arrears');
    const sum = (rows: typeof auto) => rows.reduce((n, e) => n + Number(e.amount_micros), 0);
    if (cashSide.length !== arrearsSide.length || sum(cashSide) !== sum(arrearsSide) || auto.some((e) => Number(e.amount_micros) >= 0)) {
      p(`wallet ${person.walletId}: repayments from free cash do not pair up: ${JSON.stringify(auto.map((e) => [e.bucket, e.amount_micros]))}`);
    }
    if (cashSide.length > 0) count('repayments of arrears from free cash');
    repaid.set(person.walletId, repaid.get(person.walletId)! - sum(arrearsSide));
  }

  // --- wallets: the model against the columns, the columns against the ledger ---
  const arrearsExpected = new Map<number, number>();
  for (const person of people) {
    const id = person.walletId;
    const w = await db().selectFrom('wallets').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const cash = Number(w.cash_micros);
    const arr = Number(w.arrears_micros);
    const wantArrears = booked.get(id)! - repaid.get(id)!;
    arrearsExpected.set(id, wantArrears);
    if (cash - arr !== net.get(id)) p(`wallet ${id}: cash ${cash} − arrears ${arr} = ${cash - arr}, the model says ${net.get(id)}`);
    if (arr !== wantArrears) p(`wallet ${id}: arrears ${arr}, the model says ${wantArrears} (booked ${booked.get(id)}, repaid ${repaid.get(id)})`);
    if (booked.get(id)! > overrun.get(id)!) p(`wallet ${id}: ${booked.get(id)} booked as arrears, more than the ${overrun.get(id)} that holds did not cover`);
    if (cash > 0 && arr > 0) {
      // in arrears while holding cash (freed by holds that settled for less after the arrears
      // were booked): the next call pays them from it, or the next top-up does
      count('wallets blocked by arrears while holding cash');
      if (cash >= arr) count('… with cash enough to pay them');
    }
    for (const s of await bookProblems(db(), id)) p(s);
    // every entry's balance_after is the running sum of its bucket, in order
    const run: Record<string, number> = {};
    for (const e of ledgerRows.filter((x) => Number(x.wallet_id) === id)) {
      run[e.bucket] = (run[e.bucket] ?? 0) + Number(e.amount_micros);
      if (Number(e.balance_after_micros) !== run[e.bucket]) {
        p(`wallet ${id}: entry ${e.id} (${e.bucket} ${e.type} ${e.amount_micros}) says balance ${e.balance_after_micros}, the running sum is ${run[e.bucket]}`);
      }
    }
  }
  for (const person of people) {
    for (const k of person.keys) {
      const row = await db().selectFrom('api_keys').selectAll().where('id', '=', k.id).executeTakeFirstOrThrow();
      if (Number(row.quota_pending_micros) !== 0) p(`key ${k.id}: ${row.quota_pending_micros} quota still pending`);
      const used = Number(row.quota_used_micros);
      if (k.quota === null) {
        if (used !== 0) p(`key ${k.id} without quota: quota_used ${used}`);
        continue;
      }
      if (used !== keyUsed.get(k.id)) p(`key ${k.id}: quota used ${used}, the model says ${keyUsed.get(k.id)}`);
      if (used > k.quota + keyOverrun.get(k.id)!) p(`key ${k.id}: used ${used} of a ${k.quota} quota, beyond what overruns (${keyOverrun.get(k.id)}) explain`);
    }
  }
  const pending = holdRows.filter((h) => h.status === 'pending').length;
  if (pending) p(`${pending} holds still pending`);
  // every call that got past admission has one hold and one record; a refused one only its record
  const refusedIds = new Set(callObs.filter((o) => o.result === 'refused').map((o) => o.rid));
  const admitted = usageRows.filter((u) => !refusedIds.has(u.request_id) && !unansweredRefusals.has(u.request_id));
  if (holdRows.length !== admitted.length) p(`${holdRows.length} holds but ${admitted.length} usage records of admitted calls`);
  return { problems: out, expected: { net, arrears: arrearsExpected, keyUsed }, stats };
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

describe(`ledger workload (${OPS} operations, ${CONCURRENCY} in flight)`, () => {
  it(`keeps exact books under a concurrent random workload — ${SEED_MSG}`, async () => {
    const t0 = Date.now();
    console.log(`[ledger] ${SEED_MSG}, database ${servers[0]!.db.dialect}, ${servers.length} server(s), ${OPS} operations, ${CONCURRENCY} in flight`);
    await runWorkload(world.ops);
    await settleDown();
    const tRun = Date.now() - t0;
    const first = await audit('after the run');
    console.log(`[ledger] ${SEED_MSG}: ran in ${tRun} ms, ${probes} probes; ${JSON.stringify(first.stats)}`);
    expect([...problems, ...first.problems].slice(0, 60), SEED_MSG).toEqual([]);

    // --- sequential drain: arrears block until paid; every idempotency key replays without moving money ---
    let n = OPS;
    const drainCall = (u: number, server: number, over: Partial<CallOp> = {}): CallOp => ({
      i: n++, kind: 'chat', endpoint: 'chat', omitUsage: false, server, user: u, key: people[u]!.keys.findIndex((k) => k.quota === null), model: 'm-int',
      contents: [`#${n} drain [[fake:completionTokens=3]]`], maxTokens: 3, stream: false, includeUsage: false, completion: 3, cached: 0,
      cutAfter: 0, faultAfter: 0, fault: null, upstreamStatus: null, ...over,
    });
    const call = async (op: CallOp) => {
      const o = await runCall(op);
      callObs.push(o);
      return o;
    };
    const adjust = async (op: AdjOp) => {
      const a = await runAdjust(op);
      adjObs.push(a);
      return a.responses[0]!;
    };
    const walletNow = (u: number) => db().selectFrom('wallets').selectAll().where('id', '=', people[u]!.walletId).executeTakeFirstOrThrow();
    /**
     * In arrears (nothing is held now): the next call first pays them from the account's own cash;
     * while any remain it is refused. Then a top-up pays what is left first and leaves 2000 of cash.
     */
    const unblock = async (u: number, why: string) => {
      const w0 = await walletNow(u);
      const [cash0, arrears0] = [Number(w0.cash_micros), Number(w0.arrears_micros)];
      if (arrears0 > 0) {
        const o = await call(drainCall(u, u));
        const w1 = await walletNow(u);
        const paid = Math.min(cash0, arrears0);
        const tag = `${SEED_MSG}: user ${u} in arrears ${arrears0} with cash ${cash0} (${why})`;
        if (paid < arrears0) {
          expect([o.status, o.code], tag).toEqual([402, 'account_in_arrears']);
          expect([Number(w1.cash_micros), Number(w1.arrears_micros)], tag).toEqual([0, arrears0 - paid]);
        } else {
          // paid off from its own cash: the call goes through if what is left covers its hold
          expect(Number(w1.arrears_micros), tag).toBe(0);
          expect(o.status === 200 || (o.status === 402 && o.code === 'insufficient_funds'), `${tag}: ${o.status} ${o.code}`).toBe(true);
        }
      }
      const arrears = Number((await walletNow(u)).arrears_micros);
      const r = await adjust({ i: n++, kind: 'adjust', server: u, user: u, amount: arrears + 2000, idem: `ledger-${SEED}-drain-${n}`, replay: 'none' });
      expect(r, `${SEED_MSG}: user ${u} paying ${arrears} of arrears (${why})`).toMatchObject({ status: 200, body: { replayed: false, arrears_repaid_micros: arrears, user: { arrears_micros: 0 } } });
      return r.body.user.cash_micros as number;
    };
    for (const u of people.keys()) {
      const cash = await unblock(u, 'after the run');
      // the same deduction sent three times at once (to both servers): applied once, and every
      // duplicate is answered with that result — even though a second application would not fit
      const dup: AdjOp = { i: n++, kind: 'adjust', server: u, user: u, amount: -(cash - 500), idem: `ledger-${SEED}-dup-${u}`, replay: 'concurrent' };
      const rs = await Promise.all([0, 1, 2].map((k) => postAdjustment({ ...dup, server: u + k })));
      adjObs.push({ op: dup, responses: rs });
      expect(rs.map((r) => `${r.status} ${r.body?.replayed ?? r.body?.error?.code}`).sort(), `${SEED_MSG}: user ${u}, three identical deductions of ${cash - 500} at once`).toEqual(['200 false', '200 true', '200 true']);
      expect(Number((await walletNow(u)).cash_micros), SEED_MSG).toBe(500);
      if (u === 0) {
        // arrears booked while another call of the account holds money: the cash under that hold
        // stays covered, and a top-up repays arrears only from what is not held
        const slow = call(drainCall(u, u, { kind: 'slow_stream', stream: true, includeUsage: true, maxTokens: 30, completion: 8, contents: [`#${n} drain slow [[fake:chunkDelayMs=100,completionTokens=8]]`] }));
        let held = 0;
        for (let t = 0; t < 200 && held === 0; t++) {
          held = Number((await walletNow(u)).pending_micros);
          if (!held) await new Promise((r) => setTimeout(r, 5));
        }
        expect(held, `${SEED_MSG}: the slow call holds money`).toBeGreaterThan(0);
        const big = await call(drainCall(u, u + 1, { kind: 'chat_over', maxTokens: null, completion: 400, contents: [`#${n} drain big [[fake:completionTokens=400]]`] }));
        expect([big.status, big.result], SEED_MSG).toEqual([200, 'charged']);
        const mid = await walletNow(u);
        expect([Number(mid.cash_micros), Number(mid.pending_micros)], `${SEED_MSG}: the run-over draws all but the other call's hold`).toEqual([held, held]);
        expect(Number(mid.arrears_micros), SEED_MSG).toBeGreaterThan(100);
        const part = await adjust({ i: n++, kind: 'adjust', server: u + 1, user: u, amount: 100, idem: `ledger-${SEED}-part-${u}`, replay: 'none' });
        expect(part, `${SEED_MSG}: a top-up while money is held`).toMatchObject({
          status: 200,
          body: { arrears_repaid_micros: 100, user: { cash_micros: held, pending_micros: held, arrears_micros: Number(mid.arrears_micros) - 100 } },
        });
        const s = await slow;
        expect([s.status, s.result], SEED_MSG).toEqual([200, 'charged']);
        await unblock(u, 'after a run-over next to a held call');
      }
      const o = await call(drainCall(u, u + 1));
      expect([o.status, o.result], `${SEED_MSG}: user ${u} after paying the arrears`).toEqual([200, 'charged']);
    }
    // every key that moved money replays to the same entry and moves nothing
    const before = await db().selectFrom('wallets').select(['id', 'cash_micros', 'arrears_micros']).orderBy('id').execute();
    const applied = adjObs.filter((a) => a.responses.some((r) => r.status === 200 && r.body.replayed === false));
    for (const a of applied) {
      const fresh = a.responses.find((r) => r.status === 200 && r.body.replayed === false)!;
      const r = await postAdjustment({ ...a.op, server: a.op.server + 1 });
      expect([r.status, r.body.replayed, r.body.entry?.id], `${SEED_MSG}: replay of ${a.op.idem}`).toEqual([200, true, fresh.body.entry.id]);
    }
    // the same key with another amount is refused, not applied
    if (applied[0]) {
      const r = await postAdjustment({ ...applied[0].op, amount: applied[0].op.amount + 1 });
      expect([r.status, r.body?.error?.code], SEED_MSG).toEqual([409, 'idempotency_conflict']);
    }
    expect(await db().selectFrom('wallets').select(['id', 'cash_micros', 'arrears_micros']).orderBy('id').execute(), SEED_MSG).toEqual(before);

    await settleDown();
    const last = await audit('after the drain');
    expect([...problems, ...last.problems].slice(0, 60), SEED_MSG).toEqual([]);
    // the operator's view shows the same numbers
    for (const person of people) {
      const v = await apis[0]!.get(`/api/admin/users/${person.userId}`);
      const want = last.expected.net.get(person.walletId)! + last.expected.arrears.get(person.walletId)!;
      expect([v.body.cash_micros, v.body.arrears_micros, v.body.pending_micros], SEED_MSG).toEqual([want, last.expected.arrears.get(person.walletId), 0]);
    }
    console.log(`[ledger] ${SEED_MSG}: done in ${Date.now() - t0} ms`);
  }, 180_000);
});
