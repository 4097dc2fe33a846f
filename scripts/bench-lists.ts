/**
 * How fast the back office reads with a million usage records (spec: the first screen of a paged
 * list within 500 ms).
 *
 *   node bin/run-ts.mjs scripts/bench-lists.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench node bin/run-ts.mjs scripts/bench-lists.ts
 *
 * Seeds (unless the database already holds that many records: re-runs reuse it) ~1000 users,
 * ~3000 keys, 20 models, 5 channels, and BENCH_ROWS usage records (default 1 000 000) spread over
 * the last 90 days, a few % of them errors, one in ten from one heavy user, each with its charge
 * ledger entry; plus top-ups and sign-in sessions. Then starts the server and times over HTTP
 * (median of 5 after 1 warm-up) the first page of the admin usage list with and without filters,
 * totals for a month, the dashboard, the heavy user's console pages, and full CSV exports.
 *
 * Options (env): DATABASE_URL (default: a SQLite file in a temp folder), BENCH_ROWS, BENCH_RUNS (5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { loadConfig } from '../server/src/config/index.js';
import { createContext, type AppContext } from '../server/src/context.js';
import { createUser } from '../server/src/accounts/users.js';
import { startServer } from '../server/src/main.js';
import type { NewUsageRecord } from '../server/src/db/schema.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const USERS = 1000;
const KEYS = 3000;
const MODELS = Array.from({ length: 20 }, (_, i) => `model-${String(i + 1).padStart(2, '0')}`);
const CHANNELS = 5;
const DAYS = 90;
const DAY = 86_400_000;
const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password' };
const HEAVY = { email: 'heavy@example.com', password: 'heavy-password-1' };

const work = mkdtempSync(join(tmpdir(), 'tollgate-bench-lists-'));
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(work, 'bench.db')}`;
const env = {
  DATABASE_URL: databaseUrl,
  TOLLGATE_SECRET: 'bench-lists-secret-0123456789-abcdefghijklmnop',
  TOLLGATE_DATA_DIR: work,
  TOLLGATE_CONFIG: '',
  TOLLGATE_ADMIN_EMAIL: ADMIN.email,
  TOLLGATE_ADMIN_PASSWORD: ADMIN.password,
  LOG_LEVEL: 'silent',
  HOST: '127.0.0.1',
  PORT: '0',
} as NodeJS.ProcessEnv;

/** A small deterministic PRNG, so every run seeds the same data. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const log = (s: string) => process.stdout.write(s + '\n');

async function seed(ctx: AppContext) {
  const db = ctx.db;
  const k = db.kysely;
  const have = Number((await k.selectFrom('usage_records').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
  if (have >= ROWS) {
    log(`reusing ${have.toLocaleString()} usage records already in the database`);
    return;
  }
  if (have > 0) throw new Error(`the database holds ${have} usage records (fewer than ${ROWS}); start from an empty one`);
  const t0 = performance.now();
  const now = Date.now();
  const start = now - DAYS * DAY;
  const rand = rng(42);
  const nativeTime = (ms: number) => (db.dialect === 'sqlite' ? new Date(ms).toISOString() : new Date(ms));

  // The heavy user signs in with a password, so it is created the ordinary way.
  const heavy = await createUser(db, { email: HEAVY.email, password: HEAVY.password, name: 'Heavy' });
  const userIds = [heavy.user.id];
  const walletOf = new Map<number, number>([[heavy.user.id, heavy.wallet.id]]);
  for (let i = 1; i < USERS; i += 250) {
    const batch = Array.from({ length: Math.min(250, USERS - i) }, (_, j) => {
      const t = nativeTime(start + Math.floor(rand() * DAYS * DAY));
      return { name: `user${i + j}`, email: `user${i + j}@bench.example.com`, email_verified: db.dialect === 'sqlite' ? 0 : false, image: null, created_at: t, updated_at: t, remark: null };
    });
    await k.insertInto('users').values(batch).execute();
  }
  const users = await k.selectFrom('users').select(['id']).where('email', 'like', '%@bench.example.com').orderBy('id').execute();
  await k.insertInto('wallets').values(users.map((u) => ({ user_id: u.id, cash_micros: 100_000_000, created_at: start, updated_at: start }))).execute();
  for (const w of await k.selectFrom('wallets').select(['id', 'user_id']).execute()) if (w.user_id !== null) walletOf.set(Number(w.user_id), w.id);
  userIds.push(...users.map((u) => u.id));

  const keyRows = Array.from({ length: KEYS }, (_, i) => {
    const userId = i < 20 ? heavy.user.id : userIds[i % userIds.length]!;
    const hash = randomBytes(32).toString('hex');
    return { user_id: userId, name: `key-${i + 1}`, key_hash: hash, key_prefix: 'sk-bnch', key_last4: hash.slice(0, 4), created_at: start, updated_at: start };
  });
  for (let i = 0; i < keyRows.length; i += 500) await k.insertInto('api_keys').values(keyRows.slice(i, i + 500)).execute();
  const keysByUser = new Map<number, number[]>();
  for (const key of await k.selectFrom('api_keys').select(['id', 'user_id']).execute()) {
    const list = keysByUser.get(Number(key.user_id)) ?? [];
    list.push(key.id);
    keysByUser.set(Number(key.user_id), list);
  }
  await k
    .insertInto('channels')
    .values(Array.from({ length: CHANNELS }, (_, i) => ({ name: `upstream-${i + 1}`, base_url: `http://127.0.0.1:9/v${i}`, key_sealed: ctx.box.seal('sk-upstream'), models: JSON.stringify(['*']), groups: JSON.stringify(['default']), created_at: start, updated_at: start })))
    .execute();
  const channelIds = (await k.selectFrom('channels').select('id').orderBy('id').execute()).map((c) => c.id);
  await k
    .insertInto('model_prices')
    .values(MODELS.map((m, i) => ({ model: m, input_price: 100_000 * (i + 1), output_price: 400_000 * (i + 1), cached_input_price: null, request_price: 0, created_at: start, updated_at: start })))
    .execute();

  // Usage records (and their charge entries) in time order, as the gateway writes them.
  const step = (DAYS * DAY) / ROWS;
  const makeRow = (i: number): NewUsageRecord => {
    const heavyCall = rand() < 0.1;
    const userId = heavyCall ? heavy.user.id : userIds[1 + Math.floor(rand() * (userIds.length - 1))]!;
    const keys = keysByUser.get(userId) ?? [];
    const mi = Math.floor(rand() * MODELS.length);
    const r = rand();
    const status = r < 0.97 ? 200 : r < 0.98 ? 429 : r < 0.99 ? 502 : r < 0.995 ? 500 : 402;
    const ok = status === 200;
    const prompt = ok ? 50 + Math.floor(rand() * 2000) : 0;
    const completion = ok ? Math.floor(rand() * 800) : 0;
    const input = 100_000 * (mi + 1);
    const output = 400_000 * (mi + 1);
    const charged = ok ? Math.ceil((prompt * input + completion * output) / 1_000_000) : 0;
    return {
      request_id: `req_${i.toString(36).padStart(8, '0')}_${randomBytes(4).toString('hex')}`,
      created_at: Math.floor(start + i * step),
      user_id: userId,
      key_id: keys[Math.floor(rand() * keys.length)] ?? 1,
      wallet_id: walletOf.get(userId)!,
      endpoint: 'chat.completions',
      model: MODELS[mi]!,
      upstream_model: MODELS[mi]!,
      channel_id: channelIds[Math.floor(rand() * channelIds.length)]!,
      stream: rand() < 0.6 ? 1 : 0,
      prompt_tokens: prompt,
      completion_tokens: completion,
      cached_tokens: 0,
      input_price: input,
      output_price: output,
      cached_input_price: input,
      request_price: 0,
      multiplier_ppm: 1_000_000,
      charged_micros: charged,
      cost_micros: Math.floor(charged * 0.7),
      arrears_micros: 0,
      status_code: status,
      error_code: ok ? null : status === 429 ? 'rate_limited' : status === 402 ? 'insufficient_funds' : 'upstream_error',
      error_message: ok ? null : 'upstream said no',
      latency_ms: 200 + Math.floor(rand() * 3000),
      ttfb_ms: 50 + Math.floor(rand() * 500),
      attempts: 1,
      usage_source: ok ? 'upstream' : 'none',
      client_ip: '203.0.113.7',
    };
  };
  const ledgerOf = (u: NewUsageRecord) => ({
    wallet_id: u.wallet_id, user_id: u.user_id, bucket: 'cash', type: 'charge', amount_micros: -u.charged_micros, balance_after_micros: 0,
    idempotency_key: null, ref_type: 'request', ref_id: u.request_id, reason: null, actor_id: null, created_at: u.created_at,
  });

  const cols = Object.keys(makeRow(0));
  const BATCH = 1000;
  const PER_TX = db.dialect === 'sqlite' ? 50 : 10;
  let done = 0;
  if (db.sqlite) {
    const raw = db.sqlite;
    const insUsage = raw.prepare(`insert into usage_records (${cols.join(', ')}) values (${cols.map((c) => '@' + c).join(', ')})`);
    const insLedger = raw.prepare(
      'insert into ledger_entries (wallet_id, user_id, bucket, type, amount_micros, balance_after_micros, idempotency_key, ref_type, ref_id, reason, actor_id, created_at) values (@wallet_id, @user_id, @bucket, @type, @amount_micros, @balance_after_micros, @idempotency_key, @ref_type, @ref_id, @reason, @actor_id, @created_at)',
    );
    const tx = raw.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const u = makeRow(i);
        insUsage.run(u);
        if (u.charged_micros > 0) insLedger.run(ledgerOf(u));
      }
    });
    for (; done < ROWS; done += BATCH * PER_TX) {
      tx(done, Math.min(ROWS, done + BATCH * PER_TX));
      if (done % 100_000 === 0) process.stdout.write(`\r  seeding usage ${done.toLocaleString()} / ${ROWS.toLocaleString()}`);
    }
  } else {
    for (; done < ROWS; ) {
      await k.transaction().execute(async (trx) => {
        for (let t = 0; t < PER_TX && done < ROWS; t++) {
          const rows = Array.from({ length: Math.min(BATCH, ROWS - done) }, (_, j) => makeRow(done + j));
          await trx.insertInto('usage_records').values(rows).execute();
          const charges = rows.filter((u) => u.charged_micros > 0).map(ledgerOf);
          if (charges.length) await trx.insertInto('ledger_entries').values(charges).execute();
          done += rows.length;
        }
      });
      if (done % 100_000 === 0) process.stdout.write(`\r  seeding usage ${done.toLocaleString()} / ${ROWS.toLocaleString()}`);
    }
  }
  process.stdout.write('\n');

  // Top-ups (about 5 per user) and sign-in sessions (about 20 per user).
  const topups = Array.from({ length: USERS * 5 }, () => {
    const userId = userIds[Math.floor(rand() * userIds.length)]!;
    return {
      wallet_id: walletOf.get(userId)!, user_id: userId, bucket: 'cash', type: rand() < 0.9 ? 'topup' : 'adjustment', amount_micros: 1_000_000 * (1 + Math.floor(rand() * 100)),
      balance_after_micros: 0, idempotency_key: null, ref_type: 'order', ref_id: null, reason: 'bench', actor_id: null, created_at: start + Math.floor(rand() * DAYS * DAY),
    };
  });
  for (let i = 0; i < topups.length; i += 1000) await k.insertInto('ledger_entries').values(topups.slice(i, i + 1000)).execute();
  const sessions = Array.from({ length: USERS * 20 }, () => {
    const t = nativeTime(start + Math.floor(rand() * DAYS * DAY));
    return { token: randomBytes(16).toString('hex'), user_id: userIds[Math.floor(rand() * userIds.length)]!, created_at: t, updated_at: t, expires_at: t, ip_address: null, user_agent: null };
  });
  for (let i = 0; i < sessions.length; i += 1000) await k.insertInto('auth_sessions').values(sessions.slice(i, i + 1000)).execute();
  // PostgreSQL and MySQL keep their statistics up to date by themselves (autovacuum, InnoDB), so a
  // long-running database has them; refresh them now rather than wait. SQLite has none unless
  // someone runs ANALYZE, which a deployment does not: measure it without.
  if (db.dialect === 'postgres') await sql`analyze`.execute(k);
  if (db.dialect === 'mysql') await sql`analyze table usage_records, ledger_entries, users, auth_sessions`.execute(k);
  const secs = (performance.now() - t0) / 1000;
  log(`seeded ${ROWS.toLocaleString()} usage records in ${secs.toFixed(1)} s (${Math.round(ROWS / secs).toLocaleString()} rows/s)`);
}

class Session {
  cookie = '';
  constructor(readonly base: string) {}
  async signIn(email: string, password: string) {
    const r = await fetch(this.base + '/api/auth/sign-in/email', { method: 'POST', headers: { 'content-type': 'application/json', origin: this.base }, body: JSON.stringify({ email, password }) });
    if (r.status !== 200) throw new Error(`sign-in failed: ${r.status} ${await r.text()}`);
    this.cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  }
  async get(path: string): Promise<{ ms: number; status: number; bytes: number; body: string }> {
    const t0 = performance.now();
    const r = await fetch(this.base + path, { headers: { cookie: this.cookie } });
    const body = await r.text();
    return { ms: performance.now() - t0, status: r.status, bytes: Buffer.byteLength(body), body };
  }
}

interface Row {
  what: string;
  median: number;
  min: number;
  max: number;
  note: string;
}

async function time(s: Session, what: string, path: string, note: (body: string) => string = () => ''): Promise<Row> {
  const first = await s.get(path); // warm-up
  if (first.status !== 200) throw new Error(`${path}: ${first.status} ${first.body.slice(0, 300)}`);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push((await s.get(path)).ms);
  ms.sort((a, b) => a - b);
  return { what, median: ms[Math.floor(ms.length / 2)]!, min: ms[0]!, max: ms.at(-1)!, note: note(first.body) };
}

async function exportTime(s: Session, what: string, path: string): Promise<Row> {
  const t0 = performance.now();
  const r = await fetch(s.base + path, { headers: { cookie: s.cookie } });
  let firstByte = 0;
  let bytes = 0;
  let lines = 0;
  for await (const chunk of r.body! as unknown as AsyncIterable<Uint8Array>) {
    if (!firstByte) firstByte = performance.now() - t0;
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) lines++;
  }
  const ms = performance.now() - t0;
  const rows = lines - 1;
  return { what, median: ms, min: firstByte, max: ms, note: `${rows.toLocaleString()} rows, ${(bytes / 1e6).toFixed(0)} MB, ${Math.round(rows / (ms / 1000)).toLocaleString()} rows/s, first byte ${firstByte.toFixed(0)} ms` };
}

async function main() {
  log(`database: ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}`);
  const config = loadConfig(env);
  const seeding = await createContext(config, { log: pino({ level: 'silent' }) });
  try {
    await seed(seeding);
  } finally {
    await seeding.close();
  }

  const srv = await startServer(config, { log: pino({ level: 'silent' }), print: () => {} });
  try {
    const admin = new Session(srv.url);
    await admin.signIn(ADMIN.email, ADMIN.password);
    const user = new Session(srv.url);
    await user.signIn(HEAVY.email, HEAVY.password);
    const k = srv.ctx.db.kysely;
    const heavyId = (await k.selectFrom('users').select('id').where('email', '=', HEAVY.email).executeTakeFirstOrThrow()).id;
    const someUser = (await k.selectFrom('users').select('id').where('email', '=', 'user500@bench.example.com').executeTakeFirstOrThrow()).id;
    const now = Date.now();
    const weekAgo = new Date(now - 7 * DAY).toISOString();
    const monthAgo = new Date(now - 30 * DAY).toISOString();
    const nowIso = new Date(now).toISOString();
    const total = (b: string) => {
      const j = JSON.parse(b) as { total?: number; total_exact?: boolean; items?: unknown[] };
      return `total ${j.total}${j.total_exact === false ? '+' : ''}, ${j.items?.length} items`;
    };

    const rows: Row[] = [];
    const add = async (what: string, path: string, note?: (b: string) => string) => {
      const r = await time(admin === undefined ? user : what.startsWith('console') ? user : admin, what, path, note);
      rows.push(r);
      log(`  ${r.what.padEnd(52)} ${r.median.toFixed(1).padStart(8)} ms`);
    };
    log(`\ntiming (median of ${RUNS} after 1 warm-up):`);
    await add('admin usage, first page, no filter', '/api/admin/usage', total);
    await add('admin usage, first page, user', `/api/admin/usage?user_id=${someUser}`, total);
    await add('admin usage, first page, heavy user', `/api/admin/usage?user_id=${heavyId}`, total);
    await add('admin usage, first page, model', '/api/admin/usage?model=model-07', total);
    await add('admin usage, first page, status=error', '/api/admin/usage?status=error', total);
    await add('admin usage, first page, status=502', '/api/admin/usage?status=502', total);
    await add('admin usage, first page, last 7 days', `/api/admin/usage?from=${weekAgo}&to=${nowIso}`, total);
    await add('admin usage, first page, 7 days + model + error', `/api/admin/usage?from=${weekAgo}&to=${nowIso}&model=model-03&status=error`, total);
    await add('admin usage, first page, channel', '/api/admin/usage?channel_id=3', total);
    await add('admin usage, page 500 (offset 9 980)', '/api/admin/usage?page=500', total);
    await add('admin usage, sorted by charge (no index)', '/api/admin/usage?sort=charged_micros', total);
    await add('admin usage totals, last 30 days', `/api/admin/usage/totals?from=${monthAgo}&to=${nowIso}`, (b) => `${JSON.parse(b).calls.toLocaleString()} calls`);
    await add('admin usage totals, all', '/api/admin/usage/totals', (b) => `${JSON.parse(b).calls.toLocaleString()} calls`);
    for (const p of ['today', 'week', 'month', 'year']) {
      await add(`admin dashboard, ${p}`, `/api/admin/dashboard?period=${p}&tz_offset_minutes=-480`, (b) => `${JSON.parse(b).trend.length} buckets, ${JSON.parse(b).cards.active_users} active users`);
    }
    await add('console usage, first page (heavy user)', '/api/console/usage', total);
    await add('console usage, first page, model (heavy user)', '/api/console/usage?model=model-05', total);
    await add('console usage totals, last 30 days (heavy)', `/api/console/usage/totals?from=${monthAgo}`, (b) => `${JSON.parse(b).calls.toLocaleString()} calls`);
    await add('console overview (heavy user)', '/api/console/overview?tz_offset_minutes=-480', (b) => `${JSON.parse(b).month.calls.toLocaleString()} calls this month`);

    log('\nexports (one run each):');
    const ex1 = await exportTime(admin, 'admin CSV export, everything', '/api/admin/usage/export.csv');
    log(`  ${ex1.what.padEnd(52)} ${ex1.median.toFixed(0).padStart(8)} ms  ${ex1.note}`);
    const ex2 = await exportTime(user, 'console CSV export (heavy user)', '/api/console/usage/export.csv');
    log(`  ${ex2.what.padEnd(52)} ${ex2.median.toFixed(0).padStart(8)} ms  ${ex2.note}`);
    const ex3 = await exportTime(admin, 'admin CSV export, last 7 days + model', `/api/admin/usage/export.csv?from=${weekAgo}&model=model-07`);
    log(`  ${ex3.what.padEnd(52)} ${ex3.median.toFixed(0).padStart(8)} ms  ${ex3.note}`);

    log(`\n| what (${srv.ctx.db.dialect}, ${ROWS.toLocaleString()} records) | median ms | min | max | |`);
    log('| --- | ---: | ---: | ---: | --- |');
    for (const r of rows) log(`| ${r.what} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)} | ${r.max.toFixed(1)} | ${r.note} |`);
    for (const r of [ex1, ex2, ex3]) log(`| ${r.what} | ${r.median.toFixed(0)} | | | ${r.note} |`);
    const slow = rows.filter((r) => r.what.includes('first page') && r.median > 500);
    log(slow.length ? `\nOVER 500 ms: ${slow.map((r) => r.what).join('; ')}` : '\nevery first page within 500 ms');
  } finally {
    await srv.close(1000);
    if (!process.env.DATABASE_URL) rmSync(work, { recursive: true, force: true });
  }
}

await main();
