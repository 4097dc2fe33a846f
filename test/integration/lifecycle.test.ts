// The life of a server process as an operator sees it, on every database: the health check a load
// balancer polls, a process dying mid-call (its hold is expired by the sweeper of another process,
// and nothing is charged), a hold outliving its deadline on a live call, and a graceful SIGTERM
// (the call in flight finishes and is billed, new connections are refused, exit code 0).
import { once } from 'node:events';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, REDIS_TEST_URL, testDialect, type TestDatabase } from '../support/db.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { serverEnv, startChildServer, type ChildServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { bookProblems, chatPromptTokens, expectedCost, ledgerSumsOf, pendingHolds, until, walletRow } from '../support/books.js';
import { loadConfig } from '../../server/src/config/index.js';
import { createContext, type AppContext } from '../../server/src/context.js';
import { formatMicros } from '../../server/src/lib/money.js';

const dialect = testDialect();
const MODEL = 'gpt-4o-mini';
const PRICE = { input: '1', output: '3' };

let tdb: TestDatabase;
let up: FakeUpstream;
/** The database seen as the CLI sees it (no listener, no jobs): for seeding and reading the books. */
let ctx: AppContext;
const db = () => ctx.db.kysely;
const children: ChildServer[] = [];

async function child(extra: Record<string, string | undefined> = {}): Promise<ChildServer> {
  const s = await startChildServer(serverEnv(tdb.url, extra));
  children.push(s);
  return s;
}

const sdk = (s: ChildServer, key: string, timeout = 60_000) => new OpenAI({ baseURL: s.url + '/v1', apiKey: key, maxRetries: 0, timeout });
const health = async (s: ChildServer) => {
  const r = await fetch(s.url + '/healthz');
  return { status: r.status, body: (await r.json()) as Record<string, any> };
};

/** Read a stream in the background; `text()` is what arrived so far. */
function reader(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  let finish: string | null = null;
  const done = (async () => {
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    return { text, finish };
  })();
  done.catch(() => {}); // awaited (or expected to fail) by the test
  return { done, text: () => text };
}

/** Does a brand-new TCP connection to the port get refused? */
function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function holdsOf(walletId: number) {
  return db().selectFrom('holds').selectAll().where('wallet_id', '=', walletId).orderBy('id').execute();
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  up = await startFakeUpstream();
  ctx = await createContext(loadConfig(serverEnv(tdb.url) as NodeJS.ProcessEnv), { log: pino({ level: 'silent' }) });
  await addChannel(ctx, up.url);
  await addPrice(ctx, MODEL, PRICE);
});
afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) await c.stop('SIGKILL');
  await ctx?.close();
  await up?.close();
  await tdb?.drop();
});

describe(`server lifecycle on ${dialect}`, () => {
  it('/healthz answers 200 with the database check, and Redis when REDIS_URL is set', async () => {
    const [plain, withRedis] = await Promise.all([child(), child({ REDIS_URL: REDIS_TEST_URL })]);
    const [h1, h2] = await Promise.all([health(plain), health(withRedis)]);
    expect(h1.status).toBe(200);
    expect(h1.body).toMatchObject({ status: 'ok', role: 'all', database: { dialect, status: 'ok' }, redis: 'off', inflight: 0 });
    expect(h1.body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(h2.status).toBe(200);
    expect(h2.body).toMatchObject({ status: 'ok', role: 'all', database: { dialect, status: 'ok' }, redis: 'ok', inflight: 0 });
    expect(await Promise.all([plain.stop(), withRedis.stop()])).toEqual([0, 0]);
  });

  it('a process killed (SIGKILL) mid-stream leaves a pending hold; the sweeper of another process expires it, nothing is charged', async () => {
    const content = 'Crash mid-stream. [[fake:hangAfterChunks=3]]';
    const estimate = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 50 });
    // the hold of the doomed call takes the whole balance: while it is pending nothing else fits
    const u = await addUserWithKey(ctx, { balanceUsd: formatMicros(estimate) });
    const ttlMs = 4_000;
    // PostgreSQL/MySQL: the sweeping process runs alongside; SQLite: one process after the other
    const together = dialect !== 'sqlite';
    const sweeperEnv = { SWEEP_INTERVAL_MS: '200' };
    let sweeper = together ? await child(sweeperEnv) : undefined;
    const doomed = await child({ HOLD_TTL_MS: String(ttlMs), SWEEP_INTERVAL_MS: '200' });

    const s = await sdk(doomed, u.key).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 50, stream: true });
    const r = reader(s);
    await until(() => r.text() === 'hello hello hello', 10_000, 10);
    expect(await doomed.stop('SIGKILL')).toBeNull();
    expect(doomed.proc.signalCode).toBe('SIGKILL');
    await expect(r.done).rejects.toThrow(); // the caller sees the connection die

    // nothing settled: the hold is pending and reserves the whole balance
    const [hold] = await holdsOf(u.wallet.id);
    expect(hold).toMatchObject({ status: 'pending', amount_micros: estimate, settled_at: null });
    let w = await walletRow(db(), u.wallet.id);
    expect(w).toMatchObject({ cash_micros: estimate, pending_micros: estimate });
    expect(await db().selectFrom('usage_records').select('id').where('request_id', '=', hold!.request_id).execute()).toEqual([]);

    sweeper ??= await child(sweeperEnv);
    const client = sdk(sweeper, u.key);
    // before the deadline the held money is not available to another process (on SQLite the
    // second process may only be up once the deadline has passed)
    if (together || Date.now() < hold!.expires_at - 500) {
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Me too?' }], max_tokens: 5 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ status: 402, code: 'insufficient_funds' });
    }
    const expired = await until(async () => {
      const [h] = await holdsOf(u.wallet.id);
      return h!.status === 'expired' ? h : null;
    }, ttlMs + 10_000, 50);
    expect(expired.settled_at).toBeGreaterThanOrEqual(hold!.expires_at);

    w = await walletRow(db(), u.wallet.id);
    expect(w).toMatchObject({ cash_micros: estimate, pending_micros: 0, arrears_micros: 0 });
    const entries = await db().selectFrom('ledger_entries').selectAll().where('wallet_id', '=', u.wallet.id).execute();
    expect(entries.map((e) => [e.type, e.amount_micros])).toEqual([['topup', estimate]]); // only the top-up moved money
    expect(await db().selectFrom('usage_records').select('id').where('request_id', '=', hold!.request_id).execute()).toEqual([]);
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);

    // the released money can be spent again, through the process that swept it
    const after = 'After the sweep.';
    const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: after }], max_tokens: 50 });
    expect(res.choices[0]!.message.content).toBe('hello' + ' hello'.repeat(9));
    const cost = expectedCost(PRICE, { prompt: chatPromptTokens([after]), completion: 10 });
    w = await walletRow(db(), u.wallet.id);
    expect(w).toMatchObject({ cash_micros: estimate - cost, pending_micros: 0 });
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);
    expect(await sweeper.stop()).toBe(0);
  });

  it('a hold past its deadline on a live call: the sweeper releases it once; the call is still billed exactly (or not at all)', async () => {
    const srv = await child({ HOLD_TTL_MS: '1000', SWEEP_INTERVAL_MS: '200' });
    // a call the upstream never answers; and a slow stream that outlives its hold
    const silent = await addUserWithKey(ctx, { balanceUsd: '0.01' });
    const slow = await addUserWithKey(ctx, { balanceUsd: '0.01' });
    const quiet = 'Anyone there? [[fake:delayMs=60000]]';
    const streamed = 'Take your time. [[fake:chunkDelayMs=400]]';
    const ac = new AbortController();
    const hanging = sdk(srv, silent.key).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: quiet }], max_tokens: 5 }, { signal: ac.signal });
    hanging.catch(() => {});
    const r = reader(await sdk(srv, slow.key).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: streamed }], max_tokens: 20, stream: true }));

    // the sweeper of this running server expires both holds at their deadline, calls still in flight
    await until(async () => (await holdsOf(silent.wallet.id))[0]?.status === 'expired' && (await holdsOf(slow.wallet.id))[0]?.status === 'expired', 8_000, 50);
    expect((await health(srv)).body.inflight).toBe(2);
    expect(await walletRow(db(), silent.wallet.id)).toMatchObject({ cash_micros: 10_000, pending_micros: 0 });

    // the slow stream completes and is charged for what it delivered, drawn from what is available
    expect(await r.done).toEqual({ text: 'hello' + ' hello'.repeat(9), finish: 'stop' });
    const cost = expectedCost(PRICE, { prompt: chatPromptTokens([streamed]), completion: 10 });
    const slowUsage = await db().selectFrom('usage_records').selectAll().where('wallet_id', '=', slow.wallet.id).execute();
    expect(slowUsage).toHaveLength(1);
    expect(slowUsage[0]).toMatchObject({ status_code: 200, completion_tokens: 10, charged_micros: cost, stream: 1 });
    expect(await walletRow(db(), slow.wallet.id)).toMatchObject({ cash_micros: 10_000 - cost, pending_micros: 0, arrears_micros: 0 });
    expect((await ledgerSumsOf(db(), slow.wallet.id)).cash).toBe(10_000 - cost);

    // the caller of the silent one gives up: the release finds the hold already expired (no double release)
    ac.abort();
    await expect(hanging).rejects.toThrow();
    const silentUsage = await until(async () => (await db().selectFrom('usage_records').selectAll().where('wallet_id', '=', silent.wallet.id).execute())[0], 5_000, 25);
    expect(silentUsage).toMatchObject({ status_code: 499, charged_micros: 0, error_code: 'client_closed' });
    expect((await holdsOf(silent.wallet.id)).map((h) => h.status)).toEqual(['expired']);
    expect(await walletRow(db(), silent.wallet.id)).toMatchObject({ cash_micros: 10_000, pending_micros: 0 });

    for (const id of [silent.wallet.id, slow.wallet.id]) expect(await bookProblems(db(), id)).toEqual([]);
    expect(await pendingHolds(db())).toBe(0);
    expect(await srv.stop()).toBe(0);
  });

  it('SIGTERM with calls in flight: they complete and are billed, new connections are refused, exit code 0', async () => {
    const srv = await child();
    const u = await addUserWithKey(ctx, { balanceUsd: '0.01' });
    const client = sdk(srv, u.key);
    const tokens = 25;
    const streamed = `Finish what you started. [[fake:chunkDelayMs=100,completionTokens=${tokens}]]`;
    const whole = 'Answer slowly. [[fake:delayMs=1500]]';
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: streamed }], max_tokens: 50, stream: true })
      .withResponse();
    const streamId = response.headers.get('x-request-id')!;
    const r = reader(data);
    const answer = client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: whole }], max_tokens: 5 }).withResponse();
    answer.catch(() => {});
    await until(() => r.text().length > 0 && up.requests.some((q) => q.body?.messages?.[0]?.content === whole), 10_000, 10);
    expect((await health(srv)).body).toMatchObject({ status: 'ok', inflight: 2, redis: 'off' });

    // a connection opened and not used yet (browsers and HTTP clients keep such spares)
    const spare = connect(Number(new URL(srv.url).port), '127.0.0.1');
    await once(spare, 'connect');
    const spareClosed = once(spare, 'close');

    let streamEnded = false;
    void r.done.finally(() => (streamEnded = true)).catch(() => {});
    const exited = new Promise<number | null>((resolve) => srv.proc.once('exit', (code) => resolve(code)));
    srv.proc.kill('SIGTERM');
    // the listener closes at once; the calls in flight go on
    await until(() => connectionRefused(srv.url), 5_000, 20);
    expect(streamEnded, 'new connections are refused while the stream is still running').toBe(false);

    const [got, whole2] = await Promise.all([r.done, answer]);
    const lastByte = performance.now();
    expect(got).toEqual({ text: 'hello' + ' hello'.repeat(tokens - 1), finish: 'stop' });
    expect(whole2.data.choices[0]).toMatchObject({ message: { content: 'hello' + ' hello'.repeat(4) }, finish_reason: 'length' });
    expect(await exited).toBe(0);
    console.log(`[lifecycle ${dialect}] SIGTERM: exited ${(performance.now() - lastByte).toFixed(0)} ms after the last call in flight ended`);
    await spareClosed; // closed by the server, not left to hold the exit

    const streamCost = expectedCost(PRICE, { prompt: chatPromptTokens([streamed]), completion: tokens });
    const wholeCost = expectedCost(PRICE, { prompt: chatPromptTokens([whole]), completion: 5 });
    const usage = await db().selectFrom('usage_records').selectAll().where('request_id', 'in', [streamId, whole2.response.headers.get('x-request-id')!]).orderBy('id').execute();
    expect(usage).toHaveLength(2);
    expect(usage.find((x) => x.request_id === streamId)).toMatchObject({ status_code: 200, stream: 1, completion_tokens: tokens, charged_micros: streamCost, error_code: null, usage_source: 'upstream' });
    expect(usage.find((x) => x.request_id !== streamId)).toMatchObject({ status_code: 200, stream: 0, completion_tokens: 5, charged_micros: wholeCost, error_code: null });
    expect((await holdsOf(u.wallet.id)).map((h) => h.status)).toEqual(['posted', 'posted']);
    expect(await walletRow(db(), u.wallet.id)).toMatchObject({ cash_micros: 10_000 - streamCost - wholeCost, pending_micros: 0 });
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);
  });
});
