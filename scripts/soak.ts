/**
 * `npm run soak` — does the server's memory stay flat over a million calls?
 *
 * Starts the fake upstream and Tollgate as separate processes (SQLite in a temp folder), seeds one
 * channel per upstream behaviour, then drives SOAK_CALLS gateway calls from this process with a
 * fixed mix: whole answers and streams, streams and answers the caller cuts, calls whose upstream
 * reports no usage (counted locally), an upstream that answers 500, and streams the upstream breaks.
 * Every few seconds it reads the server's resident memory from /proc/<pid>/status. At the end it
 * prints the curve (warm-up, max, final, growth after warm-up) and checks the books: cash equals
 * the ledger, nothing pending, no open hold, one usage record per call. The samples are kept in
 * .tmp/soak-last.json.
 *
 * Options (env): SOAK_CALLS (default 1,000,000), SOAK_CONCURRENCY (32), SOAK_SAMPLE_MS (5000),
 * SOAK_WARMUP (fraction of the calls counted as warm-up, 0.1), SOAK_NODE_OPTIONS (the server's NODE_OPTIONS,
 * e.g. `--heapsnapshot-signal=SIGUSR2` to compare heap snapshots, `--max-semi-space-size=…`).
 * Goal (issue #6): growth ≤ 20 MB after warm-up and RSS ≤ 200 MB; exits 1 when missed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createKey } from '../server/src/accounts/keys.js';
import { createUser } from '../server/src/accounts/users.js';
import { setPrice } from '../server/src/billing/prices.js';
import { adjustCash, ledgerSums } from '../server/src/billing/wallets.js';
import { loadConfig } from '../server/src/config/index.js';
import { createContext } from '../server/src/context.js';
import { CLI_ACTOR } from '../server/src/audit/index.js';

const CALLS = Number(process.env.SOAK_CALLS ?? 1_000_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 32);
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 5000);
const WARMUP = Number(process.env.SOAK_WARMUP ?? 0.1);
const GROWTH_LIMIT_MB = 20;
const RSS_LIMIT_MB = 200;
const ROOT = new URL('../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'tollgate-soak-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});
process.on('SIGINT', () => process.exit(130));

/** Upstream behaviour per channel key (fake-upstream --behaviors). */
const BEHAVIORS = {
  'sk-soak-ok': {},
  'sk-soak-nousage': { omitUsage: true, completionTokens: 40 },
  'sk-soak-down': { status: 500, errorMessage: 'The server had an error while processing your request.' },
  'sk-soak-broken': { dropAfterChunks: 3 },
};
const CHANNELS = [
  { key: 'sk-soak-ok', model: 'gpt-4o-mini' },
  { key: 'sk-soak-nousage', model: 'soak-nousage' },
  { key: 'sk-soak-down', model: 'soak-down' },
  { key: 'sk-soak-broken', model: 'soak-broken' },
];

type Kind = 'json' | 'stream' | 'stream-cut' | 'json-cut' | 'nousage-json' | 'nousage-stream' | 'down' | 'broken';
/** The mix, one entry per 5% of calls. */
const MIX: Kind[] = [
  ...Array<Kind>(6).fill('json'),
  ...Array<Kind>(6).fill('stream'),
  'stream-cut', 'stream-cut', 'json-cut',
  'nousage-json', 'nousage-stream',
  'down', 'broken', 'broken',
];

async function startProcess(args: string[], env: Record<string, string>, ready: RegExp, logFile: string): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const err = openSync(logFile, 'w');
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', err] });
  children.push(proc);
  let buf = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${args.join(' ')} did not start; see ${logFile}`)), 60_000);
    const onData = (d: Buffer) => {
      buf += d;
      const m = ready.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (c) => reject(new Error(`${args.join(' ')} exited ${c}; see ${logFile}`)));
  });
  proc.stdout!.removeAllListeners('data');
  proc.stdout!.resume(); // drain the server's log lines so its pipe never blocks
  return { proc, match };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main() {
  const env = {
    DATABASE_URL: `sqlite:${join(work, 'soak.db')}`,
    TOLLGATE_SECRET: 'soak-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    TOLLGATE_ADMIN_PASSWORD: 'soak-admin-password',
    TOLLGATE_DATA_DIR: work,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    // The failing channel stays in rotation: each of its calls reaches the upstream.
    CHANNEL_COOLDOWN_MS: '0',
  };
  const up = await startProcess(
    ['bin/run-ts.mjs', 'test/support/fake-upstream.ts', '--port', '0', '--record-limit', '0', '--behaviors', JSON.stringify(BEHAVIORS)],
    {},
    /"url":"([^"]+)"/,
    join(work, 'upstream.log'),
  );
  const upstreamUrl = up.match[1]!;

  const ctx = await createContext(loadConfig(env as NodeJS.ProcessEnv), { live: false });
  for (const c of CHANNELS) {
    await ctx.health.create({ name: `soak ${c.model}`, base_url: upstreamUrl, key: c.key, models: [c.model] }, CLI_ACTOR);
    await setPrice(ctx.db, ctx.feed, c.model, { input: '0.15', output: '0.6' }, CLI_ACTOR);
  }
  const { user, wallet } = await createUser(ctx.db, { email: `soak-${Date.now()}@example.com` });
  const funds = 1_000_000_000_000;
  await adjustCash(ctx.db, { walletId: wallet.id, userId: user.id, amount: funds, type: 'topup', reason: 'soak', actorId: null });
  const { key } = await createKey(ctx.db, ctx.feed, user.id, { name: 'soak' });
  await ctx.close();

  const srv = await startProcess(['bin/tollgate.mjs', 'start', '--port', '0'], { ...env, NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS ?? '' }, /Tollgate is running at (http:\/\/\S+)/, join(work, 'tollgate.log'));
  const base = srv.match[1]!;
  const pid = srv.proc.pid!;

  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const bodies = new Map<Kind, string>();
  const chat = (model: string, stream: boolean) =>
    JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello in ten words.' }], max_tokens: 20, stream });
  for (const k of MIX) {
    const model = k.startsWith('nousage') ? 'soak-nousage' : k === 'down' ? 'soak-down' : k === 'broken' ? 'soak-broken' : 'gpt-4o-mini';
    bodies.set(k, chat(model, k.includes('stream') || k === 'broken'));
  }

  const statuses = new Map<string, number>();
  const count = (label: string) => statuses.set(label, (statuses.get(label) ?? 0) + 1);

  async function call(kind: Kind): Promise<void> {
    const ac = new AbortController();
    try {
      const res = await request(`${base}/v1/chat/completions`, { method: 'POST', headers, body: bodies.get(kind)!, dispatcher: agent, signal: ac.signal });
      if (kind === 'stream-cut' || kind === 'json-cut') {
        // Hang up after the first bytes (a stream) or before reading the answer.
        if (kind === 'stream-cut') for await (const _ of res.body) break;
        ac.abort();
        count(`${res.statusCode} (cut by caller)`);
        return;
      }
      await res.body.dump({ limit: 1 << 20 });
      count(String(res.statusCode));
    } catch (err) {
      if (ac.signal.aborted) return;
      count(`error ${(err as Error).message}`);
    }
  }

  const samples: { at: number; calls: number; rss: number; heap: number }[] = [];
  /** The server's own heap figure (prom-client default metrics): tells a leak from a lazy GC. */
  const heapMb = async () => {
    try {
      const text = await (await fetch(`${base}/metrics`)).text();
      const m = /^tollgate_nodejs_heap_size_used_bytes (\S+)/m.exec(text);
      return m ? Number(m[1]) / 2 ** 20 : NaN;
    } catch {
      return NaN;
    }
  };
  const started = Date.now();
  let done = 0;
  let next = 0;
  const sample = async () => {
    const at = (Date.now() - started) / 1000;
    const calls = done;
    const rss = rssMb(pid);
    samples.push({ at, calls, rss, heap: await heapMb() });
  };
  await sample();
  const timer = setInterval(() => {
    void sample().then(() => {
      const s = samples.at(-1)!;
      process.stdout.write(`  ${fmt(s.at)} s  ${fmt(s.calls)} calls  RSS ${fmt(s.rss, 1)} MB  heap used ${fmt(s.heap, 1)} MB\n`);
    });
  }, SAMPLE_MS);
  console.log(`Soak: ${fmt(CALLS)} calls, ${CONCURRENCY} at a time, against ${base} (SQLite, pid ${pid}); RSS every ${SAMPLE_MS / 1000} s`);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        const i = next++;
        await call(MIX[i % MIX.length]!);
        done++;
      }
    }),
  );
  clearInterval(timer);
  await sample();
  const seconds = (Date.now() - started) / 1000;
  await agent.close();

  const warmCalls = Math.round(CALLS * WARMUP);
  const afterWarm = samples.filter((s) => s.calls >= warmCalls);
  const warm = afterWarm[0] ?? samples.at(-1)!;
  const max = Math.max(...samples.map((s) => s.rss));
  const maxAfterWarm = Math.max(...afterWarm.map((s) => s.rss));
  const final = samples.at(-1)!.rss;
  const growth = maxAfterWarm - warm.rss;

  console.log(`\n${fmt(done)} calls in ${fmt(seconds)} s (${fmt(done / seconds)} calls/s). Answers:`);
  for (const [label, n] of [...statuses].sort((a, b) => b[1] - a[1])) console.log(`  ${label.padEnd(24)} ${fmt(n)}`);
  console.log('\nServer memory (MB) by calls done:       RSS   heap used');
  const step = Math.max(1, Math.ceil(samples.length / 20));
  const row = (s: (typeof samples)[number]) => console.log(`  ${fmt(s.calls).padStart(11)}  ${fmt(s.rss, 1).padStart(26)}  ${fmt(s.heap, 1).padStart(9)}`);
  for (let i = 0; i < samples.length; i += step) row(samples[i]!);
  if ((samples.length - 1) % step !== 0) row(samples.at(-1)!);
  console.log(
    `\nRSS: start ${fmt(samples[0]!.rss, 1)} MB, after warm-up (${fmt(warm.calls)} calls) ${fmt(warm.rss, 1)} MB, max ${fmt(max, 1)} MB, ` +
      `final ${fmt(final, 1)} MB; growth after warm-up ${fmt(growth, 1)} MB (goal ≤ ${GROWTH_LIMIT_MB}), max ≤ ${RSS_LIMIT_MB}`,
  );
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  writeFileSync(join(ROOT, '.tmp', 'soak-last.json'), JSON.stringify({ calls: done, seconds, statuses: Object.fromEntries(statuses), samples }, null, 1));

  srv.proc.kill('SIGTERM');
  await once(srv.proc, 'exit');
  up.proc.kill('SIGTERM');

  const check = await createContext(loadConfig(env as NodeJS.ProcessEnv), { live: false });
  const w = await check.db.kysely.selectFrom('wallets').selectAll().where('id', '=', wallet.id).executeTakeFirstOrThrow();
  const sums = await ledgerSums(check.db.kysely, wallet.id);
  const records = await check.db.kysely.selectFrom('usage_records').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user.id).executeTakeFirst();
  const charged = await check.db.kysely.selectFrom('usage_records').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user.id).where('charged_micros', '>', 0).executeTakeFirst();
  const pending = await check.db.kysely.selectFrom('holds').select((eb) => eb.fn.countAll().as('n')).where('status', '=', 'pending').executeTakeFirst();
  await check.close();
  const okBooks = sums.cash === w.cash_micros && w.pending_micros === 0 && Number(pending?.n) === 0 && Number(records?.n) === done;
  console.log(
    `Books: ${fmt(Number(records?.n))} usage records for ${fmt(done)} calls (${fmt(Number(charged?.n))} charged), $${((funds - w.cash_micros) / 1e6).toFixed(6)} spent; ` +
      `cash ${w.cash_micros} = ledger ${sums.cash}; pending ${w.pending_micros}; open holds ${pending?.n} → ${okBooks ? 'consistent' : 'INCONSISTENT'}`,
  );
  const okMemory = growth <= GROWTH_LIMIT_MB && max <= RSS_LIMIT_MB;
  console.log(`Memory: ${okMemory ? 'within the goal' : 'GOAL MISSED'}`);
  rmSync(work, { recursive: true, force: true });
  if (!okBooks || !okMemory) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
