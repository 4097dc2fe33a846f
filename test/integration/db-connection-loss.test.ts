// The database connections of a busy server are cut (PostgreSQL: pg_terminate_backend on every
// backend of the database; MariaDB: KILL on every connection) — as a failover, a proxy restart or
// a network reset does. The process must live, answer 503 in the caller's shape while it cannot
// reach the database, serve again within seconds, and keep the books exact: every call answered
// 200 is charged exactly once, nothing is charged for a refused call, and no hold stays pending.
// Runs on PostgreSQL and MariaDB (TEST_DB=postgres|mysql); SQLite has no connections to lose.
import pg from 'pg';
import { createConnection } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, MYSQL_ADMIN_URL, PG_ADMIN_URL, testDialect, type TestDatabase } from '../support/db.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { serverEnv, startChildServer, type ChildServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { bookProblems, chatPromptTokens, expectedCost, pendingHolds, until, walletRow } from '../support/books.js';
import { loadConfig } from '../../server/src/config/index.js';
import { createContext, type AppContext } from '../../server/src/context.js';

const dialect = testDialect();
const MODEL = 'gpt-4o-mini';
const PRICE = { input: '1', output: '3' };
const CALLERS = 16;
const CONTENT = 'Count the connections.';
const COST = expectedCost(PRICE, { prompt: chatPromptTokens([CONTENT]), completion: 5 });
const START_CASH = 10_000_000;

let tdb: TestDatabase;
let up: FakeUpstream;
let ctx: AppContext;
let server: ChildServer;
const users: { key: string; walletId: number }[] = [];
const db = () => ctx.db.kysely;

/** Cut every connection to the test database except the one doing the cutting. */
async function cutConnections(name: string): Promise<number> {
  if (dialect === 'postgres') {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    const r = await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
    await c.end();
    return r.rowCount ?? 0;
  }
  const c = await createConnection(MYSQL_ADMIN_URL);
  const [rows] = (await c.query('select ID from information_schema.PROCESSLIST where DB = ? and ID <> connection_id()', [name])) as unknown as [{ ID: number }[]];
  for (const { ID } of rows) await c.query(`KILL ${Number(ID)}`).catch(() => {}); // may have gone already
  await c.end();
  return rows.length;
}

interface Result {
  status: number;
  requestId: string | null;
  startedAt: number;
  body: any;
}

async function call(key: string): Promise<Result> {
  const startedAt = Date.now();
  try {
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: CONTENT }], max_tokens: 5 }),
    });
    const text = await r.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* kept as text */
    }
    return { status: r.status, requestId: r.headers.get('x-request-id'), startedAt, body };
  } catch (err) {
    return { status: 0, requestId: null, startedAt, body: String(err) };
  }
}

beforeAll(async () => {
  if (dialect === 'sqlite') return;
  tdb = await createTestDatabase();
  // Each call spends a moment upstream, so that holds and settlements are in flight at the cut.
  up = await startFakeUpstream({ defaultBehavior: { delayMs: 30 } });
  ctx = await createContext(loadConfig(serverEnv(tdb.url) as NodeJS.ProcessEnv), { log: pino({ level: 'silent' }) });
  await addChannel(ctx, up.url);
  await addPrice(ctx, MODEL, PRICE);
  for (let i = 0; i < 4; i++) {
    const u = await addUserWithKey(ctx, { balanceUsd: String(START_CASH / 1_000_000) });
    users.push({ key: u.key, walletId: u.wallet.id });
  }
  server = await startChildServer(serverEnv(tdb.url, { DB_POOL_SIZE: '8', LOG_LEVEL: 'warn' }));
}, 120_000);
afterAll(async () => {
  if (server && server.proc.exitCode === null) await server.stop('SIGKILL');
  await ctx?.close();
  await up?.close();
  await tdb?.drop();
});

describe.skipIf(dialect === 'sqlite')(`database connections cut under load (${dialect})`, () => {
  it('the process lives, answers 503 while cut off, serves again within seconds, and the books are exact', async () => {
    const results: Result[] = [];
    let stop = false;
    const loops = Array.from({ length: CALLERS }, async (_, i) => {
      while (!stop) results.push(await call(users[i % users.length]!.key));
    });
    await until(() => results.filter((r) => r.status === 200).length >= 40, 30_000, 20);
    const dbName = new URL(tdb.url).pathname.slice(1);
    const cutAt = Date.now();
    const cut = await cutConnections(dbName);
    expect(cut).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    await cutConnections(dbName); // and once more, with the pool refilling
    const secondCutAt = Date.now();
    // calls started after the cuts are served again within a few seconds
    await until(() => results.some((r) => r.status === 200 && r.startedAt > secondCutAt), 10_000, 20);
    const recoveredMs = Math.min(...results.filter((r) => r.status === 200 && r.startedAt > secondCutAt).map((r) => r.startedAt)) - secondCutAt;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(loops);

    expect(server.proc.exitCode, server.output().slice(-3000)).toBeNull();
    expect(server.output()).not.toMatch(/Unhandled 'error' event|uncaughtException/);
    const byStatus = results.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {});
    // Only successes and "database unavailable" answers, in OpenAI's shape.
    expect(Object.keys(byStatus).map(Number).sort()).toEqual(Object.keys(byStatus).map(Number).filter((s) => s === 200 || s === 503).sort());
    for (const r of results.filter((x) => x.status === 503)) {
      expect(r.body).toMatchObject({ error: { code: 'database_unavailable', type: 'api_error', message: expect.any(String) } });
    }
    console.log(`${dialect}: ${results.length} calls, by status ${JSON.stringify(byStatus)}, ${cut} connections cut at +${cutAt - results[0]!.startedAt} ms, served again ${recoveredMs} ms after the second cut`);

    // Settlements that failed at the cut land by retry; refused calls' holds are voided.
    await until(async () => (await pendingHolds(db()).catch(() => 1)) === 0, 20_000, 100);
    const ok = results.filter((r) => r.status === 200).map((r) => r.requestId!);
    const refused = results.filter((r) => r.status === 503 && r.requestId).map((r) => r.requestId!);
    const usage = await db().selectFrom('usage_records').select(['request_id', 'charged_micros', 'status_code']).execute();
    const usageOf = new Map(usage.map((u) => [u.request_id, u]));
    // every call answered 200 is charged exactly its cost, once
    const unbilled = ok.filter((id) => usageOf.get(id)?.charged_micros !== COST);
    expect(unbilled).toEqual([]);
    const charges = await db().selectFrom('ledger_entries').select(['ref_id', 'amount_micros']).where('ref_type', '=', 'request').execute();
    const chargedIds = new Set(charges.map((c) => c.ref_id));
    expect(charges.length).toBe(chargedIds.size);
    expect(refused.filter((id) => chargedIds.has(id))).toEqual([]);
    for (const u of users) {
      expect(await bookProblems(db(), u.walletId)).toEqual([]);
      const w = await walletRow(db(), u.walletId);
      const mine = await db().selectFrom('usage_records').select((eb) => eb.fn.sum<number>('charged_micros').as('n')).where('wallet_id', '=', u.walletId).executeTakeFirst();
      expect(w.cash_micros).toBe(START_CASH - Number(mine?.n ?? 0));
    }
    const holds = await db().selectFrom('holds').select(['status']).execute();
    expect(holds.filter((h) => h.status === 'pending')).toEqual([]);
    // the process still serves
    expect((await call(users[0]!.key)).status).toBe(200);
  }, 120_000);
});
