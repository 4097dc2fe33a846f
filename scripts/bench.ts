/**
 * `npm run bench` — throughput and added latency of the gateway with billing and logging on.
 *
 * Starts the fake upstream and Tollgate as separate processes (SQLite in a temp folder, or the
 * database in DATABASE_URL), seeds a channel, a price, a user with a large balance and a key, then
 * drives load from a third process (wrk, or autocannon when wrk is missing):
 *   - non-streaming and streaming chat completions at 32 and 256 connections (req/s, p50, p99);
 *   - the same loads against a bare relay (scripts/bench-bare-relay.mjs: Fastify + undici.request, no
 *     auth, no billing, no logging), alternately with Tollgate, and Tollgate's ratio to it;
 *   - added latency: one connection, Tollgate and the bare relay vs the upstream called directly;
 *   - every figure BENCH_RUNS times, printed as median [min–max].
 * At the end it checks the books: every bucket equals the sum of its ledger entries, no hold is
 * left open, and the number of usage records matches the requests served.
 *
 * Then it runs scripts/bench-lists.ts: the back office's first pages with 1,000,000 usage records.
 *
 * It starts with scripts/bench-startup.mjs: the compiled command's and server's start-up times.
 *
 * Options (env): BENCH_SECONDS (default 8), BENCH_CONNECTIONS ("32,256"), DATABASE_URL, REDIS_URL,
 * BENCH_SKIP_LISTS=1, BENCH_ROWS (records seeded for the list bench), BENCH_SKIP_STARTUP=1,
 * BENCH_STARTUP_RUNS (default 7), BENCH_RUNS (default 3), BENCH_CPU_PROF=<dir> (CPU profile of the server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadConfig } from '../server/src/config/index.js';
import { createContext } from '../server/src/context.js';
import { createUser } from '../server/src/accounts/users.js';
import { createKey } from '../server/src/accounts/keys.js';
import { adjustCash } from '../server/src/billing/wallets.js';
import { setPrice } from '../server/src/billing/prices.js';
import { CLI_ACTOR } from '../server/src/audit/index.js';
import { ledgerSums } from '../server/src/billing/wallets.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '32,256').split(',').map(Number);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const ROOT = new URL('../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const children: ChildProcess[] = [];

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

async function startProcess(args: string[], env: Record<string, string>, ready: RegExp, logFile: string): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  // stdout goes straight to a file, not through a pipe to this process: the load tools run with
  // spawnSync, which stops this process's event loop, and a pipe nobody drains would stall the
  // server's log writes and measure that instead of the server.
  const outFile = logFile + '.stdout';
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', openSync(outFile, 'w'), openSync(logFile, 'w')] });
  children.push(proc);
  let exited: number | null = null;
  proc.once('exit', (c) => (exited = c ?? -1));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = ready.exec(readFileSync(outFile, 'utf8'));
    if (m) return { proc, match: m };
    if (exited !== null) throw new Error(`${args.join(' ')} exited ${exited}; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`${args.join(' ')} did not start; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  requests: number;
}

const haveWrk = spawnSync('wrk', ['--version']).error === undefined;

function wrkScript(body: string) {
  const file = join(work, `req-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(
    file,
    `wrk.method = "POST"\nwrk.body = [[${body}]]\nwrk.headers["Content-Type"] = "application/json"\n` +
      `done = function(summary, latency, requests)\n` +
      `  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, latency:percentile(50), latency:percentile(99), summary.duration))\n` +
      `end\n`,
  );
  return file;
}

async function load(url: string, key: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
  if (haveWrk) {
    const script = wrkScript(body);
    const threads = Math.min(2, connections);
    const r = spawnSync('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '30s', '-s', script, '-H', `Authorization: Bearer ${key}`, url], { encoding: 'utf8' });
    const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(r.stdout);
    if (!m) throw new Error(`wrk failed: ${r.stdout} ${r.stderr}`);
    const [, requests, non2xx, errors, p50, p99, durUs] = m.map(Number) as number[];
    return { requests: requests!, non2xx: non2xx!, errors: errors!, p50: p50! / 1000, p99: p99! / 1000, rps: requests! / (durUs! / 1e6) };
  }
  const r = spawnSync(
    process.execPath,
    ['node_modules/autocannon/autocannon.js', '-j', '-c', String(connections), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-H', `authorization=Bearer ${key}`, '-b', body, url],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1e8 },
  );
  const j = JSON.parse(r.stdout);
  return { requests: j.requests.total, non2xx: j.non2xx, errors: j.errors, p50: j.latency.p50, p99: j.latency.p99, rps: j.requests.average };
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main() {
  if (process.env.BENCH_SKIP_STARTUP !== '1') {
    const r = spawnSync(process.execPath, ['scripts/bench-startup.mjs'], { cwd: ROOT, stdio: 'inherit', env: process.env });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(work, 'bench.db')}`;
  const env = {
    DATABASE_URL: databaseUrl,
    TOLLGATE_SECRET: process.env.TOLLGATE_SECRET ?? 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    TOLLGATE_ADMIN_PASSWORD: 'bench-admin-password',
    TOLLGATE_DATA_DIR: work,
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };

  const up = await startProcess(['bin/run-ts.mjs', 'test/support/fake-upstream.ts', '--port', '0', '--record-limit', '0'], {}, /"url":"([^"]+)"/, join(work, 'upstream.log'));
  const upstreamUrl = up.match[1]!;

  // Seed through the same services the CLI uses.
  const ctx = await createContext(loadConfig(env as NodeJS.ProcessEnv), { live: false });
  await ctx.health.create({ name: 'bench-upstream', base_url: upstreamUrl, key: 'sk-bench-upstream', models: ['gpt-4o-mini'] }, CLI_ACTOR);
  await setPrice(ctx.db, ctx.feed, 'gpt-4o-mini', { input: '0.15', output: '0.6' }, CLI_ACTOR);
  const { user, wallet } = await createUser(ctx.db, { email: `bench-${Date.now()}@example.com` });
  await adjustCash(ctx.db, { walletId: wallet.id, userId: user.id, amount: 1_000_000_000_000, type: 'topup', reason: 'bench', actorId: null });
  const { key } = await createKey(ctx.db, ctx.feed, user.id, { name: 'bench' });
  await ctx.close();

  // BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops (scripts/cpuprofile-top.mjs reads it).
  const profArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const srv = await startProcess([...profArgs, 'bin/tollgate.mjs', 'start', '--port', '0'], env, /Tollgate is running at (http:\/\/\S+)/, join(work, 'tollgate.log'));
  const base = srv.match[1]!;

  const chat = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in ten words.' }], max_tokens: 10 });
  const chatStream = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in ten words.' }], max_tokens: 10, stream: true });

  // Warm up both paths (JIT, connection pools, caches).
  await load(`${base}/v1/chat/completions`, key, chat, 8, 2);
  await load(`${base}/v1/chat/completions`, key, chatStream, 8, 2);

  const bare = await startProcess(['scripts/bench-bare-relay.mjs', '--upstream', upstreamUrl], {}, /"url":"([^"]+)"/, join(work, 'bare.log'));
  const bareBase = bare.match[1]!;
  await load(`${bareBase}/v1/chat/completions`, 'none', chat, 8, 2);
  await load(`${bareBase}/v1/chat/completions`, 'none', chatStream, 8, 2);

  const load1 = loadAverage();
  console.log(`\nTollgate gateway benchmark — ${ctx.db.dialect}${process.env.REDIS_URL ? ' + Redis' : ''}, billing and logging on, ${SECONDS}s per run, ${RUNS} runs, load by ${haveWrk ? 'wrk' : 'autocannon'}`);
  console.log(`(fake upstream, bare relay, Tollgate and the load generator share this machine's ${cpus().length} cores; load average ${load1} at start)`);
  console.log('"bare relay" = Fastify + undici.request, no auth/billing/logging (scripts/bench-bare-relay.mjs), measured alternately with Tollgate in each run.');
  console.log('Figures: median [min–max] over the runs; ratio = Tollgate req/s ÷ bare relay req/s, per run.\n');
  let served = 0;
  const scenarios = [['chat, non-streaming', chat], ['chat, streaming', chatStream]] as const;
  const thr = new Map<string, { bare: LoadResult[]; via: LoadResult[] }>();
  const lats = new Map<string, { direct: LoadResult[]; bare: LoadResult[]; via: LoadResult[] }>();
  for (let run = 0; run < RUNS; run++) {
    for (const [label, body] of scenarios) {
      for (const c of CONNECTIONS) {
        const k = `${label}\t${c}`;
        const e = thr.get(k) ?? { bare: [], via: [] };
        thr.set(k, e);
        e.bare.push(await load(`${bareBase}/v1/chat/completions`, 'none', body, c, SECONDS));
        const r = await load(`${base}/v1/chat/completions`, key, body, c, SECONDS);
        served += r.requests - r.non2xx - r.errors;
        e.via.push(r);
      }
    }
    // Added latency: one connection, sequential requests, upstream direct vs bare relay vs Tollgate.
    for (const [label, body] of [['non-streaming', chat], ['streaming', chatStream]] as const) {
      const e = lats.get(label) ?? { direct: [], bare: [], via: [] };
      lats.set(label, e);
      const secs = Math.max(3, SECONDS / 2);
      e.direct.push(await load(`${upstreamUrl}/chat/completions`, 'sk-bench-upstream', body, 1, secs));
      e.bare.push(await load(`${bareBase}/v1/chat/completions`, 'none', body, 1, secs));
      const via = await load(`${base}/v1/chat/completions`, key, body, 1, secs);
      served += via.requests - via.non2xx - via.errors;
      e.via.push(via);
    }
  }
  const rows: string[][] = [['scenario', 'conns', 'bare req/s', 'Tollgate req/s', 'ratio', 'p50 ms', 'p99 ms', 'non-2xx', 'errors']];
  for (const [k, e] of thr) {
    const [label, c] = k.split('\t') as [string, string];
    rows.push([
      label,
      c,
      spread(e.bare.map((r) => r.rps)),
      spread(e.via.map((r) => r.rps)),
      spread(e.via.map((r, i) => r.rps / e.bare[i]!.rps), 2),
      spread(e.via.map((r) => r.p50), 2),
      spread(e.via.map((r) => r.p99), 2),
      String(e.via.reduce((a, r) => a + r.non2xx, 0)),
      String(e.via.reduce((a, r) => a + r.errors, 0)),
    ]);
  }
  printTable(rows);

  console.log('\nAdded latency over the upstream called directly (1 connection, sequential requests), ms:');
  const lat: string[][] = [['scenario', 'direct p50', 'bare relay added p50', 'Tollgate added p50', 'Tollgate added p99']];
  for (const [label, e] of lats) {
    lat.push([
      label,
      spread(e.direct.map((r) => r.p50), 3),
      spread(e.bare.map((r, i) => r.p50 - e.direct[i]!.p50), 3),
      spread(e.via.map((r, i) => r.p50 - e.direct[i]!.p50), 3),
      spread(e.via.map((r, i) => r.p99 - e.direct[i]!.p99), 3),
    ]);
  }
  printTable(lat);
  console.log(`load average ${load1} at start, ${loadAverage()} at end`);
  bare.proc.kill('SIGTERM');

  srv.proc.kill('SIGTERM');
  await once(srv.proc, 'exit');

  // The books after the storm.
  const check = await createContext(loadConfig(env as NodeJS.ProcessEnv), { live: false });
  const w = await check.db.kysely.selectFrom('wallets').selectAll().where('id', '=', wallet.id).executeTakeFirstOrThrow();
  const sums = await ledgerSums(check.db.kysely, wallet.id);
  const records = await check.db.kysely.selectFrom('usage_records').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user.id).where('status_code', '=', 200).executeTakeFirst();
  const pending = await check.db.kysely.selectFrom('holds').select((eb) => eb.fn.countAll().as('n')).where('status', '=', 'pending').where('wallet_id', '=', wallet.id).executeTakeFirst();
  const spent = 1_000_000_000_000 - w.cash_micros;
  const okBooks = sums.cash === w.cash_micros && Number(pending?.n) === 0 && w.pending_micros === 0;
  console.log(
    `\nBooks: ${fmt(Number(records?.n))} billed calls (load tools counted ${fmt(served)} 2xx, warm-up excluded), $${(spent / 1e6).toFixed(6)} charged; ` +
      `cash ${w.cash_micros} = ledger ${sums.cash}; pending ${w.pending_micros}; open holds ${pending?.n} → ${okBooks ? 'consistent' : 'INCONSISTENT'}`,
  );
  await check.close();
  up.proc.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  if (!okBooks) process.exit(1);

  // The back office with a million usage records (issue #3): first pages, totals, dashboard, exports.
  if (process.env.BENCH_SKIP_LISTS !== '1') {
    console.log('\nBack-office reads with 1,000,000 usage records (scripts/bench-lists.ts; BENCH_SKIP_LISTS=1 skips):');
    const r = spawnSync(process.execPath, ['bin/run-ts.mjs', 'scripts/bench-lists.ts'], { cwd: ROOT, stdio: 'inherit', env: process.env });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}

function median(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** "median [min–max]" of the runs, or the one figure when there was one run. */
function spread(xs: number[], d = 0) {
  if (xs.length === 1) return fmt(xs[0]!, d);
  return `${fmt(median(xs), d)} [${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}]`;
}

function loadAverage() {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

function printTable(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
