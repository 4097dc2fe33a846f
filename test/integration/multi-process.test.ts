// Several `tollgate start` processes on one PostgreSQL/MySQL database, as an operator scales out:
//  - 500 calls at once on one key, split over two processes, whose balance covers ~50: the money
//    decides exactly how many succeed, the balance never goes below zero and the books balance;
//  - a key revoked through one process is refused by the other within 5 s, with Redis (notice) and
//    without (polling the change log only);
//  - price, channel and key changes made through one process take effect in the other, no restart.
// SQLite is one process per database file, so on TEST_DB=sqlite the suites are skipped.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, REDIS_TEST_URL, testDialect, type TestDatabase } from '../support/db.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { serverEnv, startChildServer, type ChildServer } from '../support/server.js';
import { ApiClient } from '../support/api.js';
import { bookProblems, chargeOf, chatPromptTokens, expectedCost, ledgerSumsOf, openTestDb, pendingHolds, until, walletRow, type TestPrice } from '../support/books.js';
import type { Db } from '../../server/src/db/index.js';

const dialect = testDialect();
const SHARED_DB = dialect !== 'sqlite';
const DB_NAME = SHARED_DB ? dialect : 'one database server';
const SKIP_NOTE = SHARED_DB ? '' : ' [skipped on TEST_DB=sqlite: needs a database server shared by two processes; run with TEST_DB=postgres or TEST_DB=mysql]';

const MODEL = 'gpt-4o-mini';
const CALLS = 500;
const AFFORDABLE = 50;
/** The documented contract for revocation (README "Keys"; DESIGN "Gateway hot path"). */
const PROPAGATION_LIMIT_MS = 5_000;

/** What the lead quotes: measured revoke propagation, one line per pair. */
const measured: string[] = [];

let tdb: TestDatabase;
let db: Db;
let up1: FakeUpstream;
let up2: FakeUpstream;
const kdb = () => db.kysely;

/** Channels and price shared by both pairs (made through the first pair's process A). */
const shop: { ch1?: number; ch2?: number; price: TestPrice } = { price: { input: '1', output: '3' } };

interface Pair {
  a: ChildServer;
  b: ChildServer;
  /** An operator session on process A. */
  apiA: ApiClient;
}

async function startPair(redis: boolean): Promise<Pair> {
  // LIVE_POLL_MS: the default (1 s), so the measurement shows what an operator gets out of the box.
  const env = serverEnv(tdb.url, { LIVE_POLL_MS: '1000', REDIS_URL: redis ? REDIS_TEST_URL : undefined });
  // Both at once, as replicas start: the first pair on a fresh database, so they race to migrate
  // it and to create the first super-admin.
  const started = await Promise.allSettled([startChildServer(env), startChildServer(env)]);
  const failed = started.filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    for (const r of started) if (r.status === 'fulfilled') await r.value.stop();
    throw (failed[0] as PromiseRejectedResult).reason;
  }
  const [a, b] = started.map((r) => (r as PromiseFulfilledResult<ChildServer>).value) as [ChildServer, ChildServer];
  const health = await Promise.all([a, b].map(async (s) => (await fetch(s.url + '/healthz')).json()));
  for (const h of health) expect(h).toMatchObject({ status: 'ok', database: { dialect, status: 'ok' }, redis: redis ? 'ok' : 'off' });
  const apiA = new ApiClient(a.url);
  await apiA.signIn();
  return { a, b, apiA };
}

async function stopPair(p: Pair | undefined) {
  if (!p) return;
  const codes = await Promise.all([p.a.stop(), p.b.stop()]);
  expect(codes, `${p.a.output()}\n${p.b.output()}`).toEqual([0, 0]);
}

const sdk = (s: ChildServer, key: string) => new OpenAI({ baseURL: s.url + '/v1', apiKey: key, maxRetries: 0, timeout: 60_000 });

/** A user with `micros` of cash and one key, made over A's admin API. */
async function userWithKey(api: ApiClient, micros: number) {
  const u = await api.post('/api/admin/users', { email: `mp-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`, password: 'password-123' });
  expect(u.status, JSON.stringify(u.body)).toBe(201);
  if (micros > 0) {
    const adj = await api.post(`/api/admin/users/${u.body.id}/balance-adjustments`, { amount: (micros / 1e6).toFixed(6), reason: 'test credit' });
    expect(adj.status, JSON.stringify(adj.body)).toBe(200);
    expect(adj.body.user.balance_micros).toBe(micros);
  }
  const k = await api.post('/api/admin/keys', { user_id: u.body.id, name: 'multi-process' });
  expect(k.status, JSON.stringify(k.body)).toBe(201);
  const w = await kdb().selectFrom('wallets').select('id').where('user_id', '=', u.body.id).executeTakeFirstOrThrow();
  return { userId: u.body.id as number, walletId: w.id, key: k.body.key as string, keyId: k.body.id as number };
}

/** One small non-streamed call; its usage record (written before the answer). */
async function call(client: OpenAI, content: string, maxTokens = 2) {
  const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: maxTokens }).withResponse();
  expect(data.choices[0]!.message.content).toBe(['hello', ...Array(maxTokens - 1).fill(' hello')].join(''));
  const requestId = response.headers.get('x-request-id')!;
  const { usage } = await chargeOf(kdb(), requestId);
  expect(usage, `usage record of ${requestId}`).toBeDefined();
  return usage!;
}

const refusedWith401 = (p: Promise<unknown>) => p.then(() => false, (e: unknown) => e instanceof OpenAI.AuthenticationError);

beforeAll(async () => {
  if (!SHARED_DB) return;
  tdb = await createTestDatabase();
  db = openTestDb(tdb.url);
  [up1, up2] = await Promise.all([startFakeUpstream(), startFakeUpstream()]);
});
afterAll(async () => {
  if (measured.length > 0) console.log(`[multi-process ${dialect}] revoke propagation to the second process:\n  ${measured.join('\n  ')}`);
  await db?.close();
  await Promise.all([up1?.close(), up2?.close()]);
  await tdb?.drop();
});

/** Revoke through A while B has the key cached; B refuses it within 5 s. */
async function revokeAcross(p: Pair, how: 'DELETE /api/admin/keys/:id' | 'POST /api/admin/keys/:id/revoke', label: string) {
  const u = await userWithKey(p.apiA, 1_000_000);
  const viaA = sdk(p.a, u.key);
  const viaB = sdk(p.b, u.key);
  // both processes resolve the key once and keep it in memory: a real call through B, and a free one through each
  await call(viaB, 'cache me in B');
  expect((await viaB.models.list()).data.map((m) => m.id)).toContain(MODEL);
  expect((await viaA.models.list()).data.map((m) => m.id)).toContain(MODEL);

  const t0 = performance.now();
  const r = how.startsWith('DELETE') ? await p.apiA.delete(`/api/admin/keys/${u.keyId}`) : await p.apiA.post(`/api/admin/keys/${u.keyId}/revoke`);
  expect(r.status).toBe(how.startsWith('DELETE') ? 204 : 200);
  const answeredMs = performance.now() - t0;
  // A applies its own change before it answers
  expect(await refusedWith401(viaA.models.list())).toBe(true);
  await until(() => refusedWith401(viaB.models.list()), PROPAGATION_LIMIT_MS, 10);
  const ms = performance.now() - t0;
  measured.push(`${label}: ${ms.toFixed(0)} ms (admin API answered after ${answeredMs.toFixed(0)} ms; ${how})`);
  console.log(`[multi-process ${dialect}] ${measured.at(-1)}`);
  expect(ms).toBeLessThan(PROPAGATION_LIMIT_MS);

  // a gateway call is refused too, before any money is held
  const holdsBefore = await kdb().selectFrom('holds').select('id').where('key_id', '=', u.keyId).execute();
  const err = await viaB.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
  expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe(how.startsWith('DELETE') ? 'invalid_api_key' : 'key_disabled');
  expect(await kdb().selectFrom('holds').select('id').where('key_id', '=', u.keyId).execute()).toEqual(holdsBefore);
  expect(await bookProblems(kdb(), u.walletId)).toEqual([]);
}

/** Price, channel and key changes made through A reach B without a restart. */
async function liveChanges(p: Pair, next: TestPrice) {
  const u = await userWithKey(p.apiA, 5_000_000);
  const viaA = sdk(p.a, u.key);
  const viaB = sdk(p.b, u.key);
  const content = 'What does this cost?';
  const costAt = (price: TestPrice) => expectedCost(price, { prompt: chatPromptTokens([content]), completion: 2 });

  // --- price -------------------------------------------------------------------------------
  const before = costAt(shop.price);
  const after = costAt(next);
  expect(after).not.toBe(before);
  expect((await call(viaB, content)).charged_micros).toBe(before);
  const put = await p.apiA.put(`/api/admin/prices/${MODEL}`, next);
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  shop.price = next;
  expect((await call(viaA, content)).charged_micros).toBe(after);
  // B: each call is charged the old or the new price, switches once, never back
  const seen: number[] = [];
  const t0 = performance.now();
  await until(async () => {
    seen.push((await call(viaB, content)).charged_micros);
    return seen.at(-1) === after;
  }, PROPAGATION_LIMIT_MS, 20);
  console.log(`[multi-process ${dialect}] price change reached B after ${(performance.now() - t0).toFixed(0)} ms (${seen.length} call(s))`);
  expect(seen.every((c) => c === before || c === after), `charges ${seen}`).toBe(true);
  for (let i = 0; i < 3; i++) expect((await call(viaB, content)).charged_micros).toBe(after);

  // --- channel: ch1 (upstream 1) outranks ch2 (upstream 2); disabling ch1 moves B to ch2 -----
  const upstreamOf = (u: { channel_id: number | null }) => (u.channel_id === shop.ch1 ? 1 : u.channel_id === shop.ch2 ? 2 : 0);
  const enable = await p.apiA.patch(`/api/admin/channels/${shop.ch1}`, { status: 'enabled' });
  expect(enable.status).toBe(200);
  await until(async () => upstreamOf(await call(viaB, content)) === 1, PROPAGATION_LIMIT_MS, 20);
  const disable = await p.apiA.patch(`/api/admin/channels/${shop.ch1}`, { status: 'disabled' });
  expect(disable.body).toMatchObject({ id: shop.ch1, status: 'disabled' });
  expect(upstreamOf(await call(viaA, content))).toBe(2);
  await until(async () => upstreamOf(await call(viaB, content)) === 2, PROPAGATION_LIMIT_MS, 20);
  const up1Settled = up1.requests.length;
  for (let i = 0; i < 5; i++) expect(upstreamOf(await call(viaB, content))).toBe(2);
  expect(up1.requests.length, 'upstream 1 is no longer called once B applied the change').toBe(up1Settled);
  expect(up2.requests.at(-1)!.headers.authorization).toBe('Bearer sk-upstream-two');

  // --- key: disabled through A is refused by B; enabled again is accepted by B ---------------
  const off = await p.apiA.patch(`/api/admin/keys/${u.keyId}`, { status: 'disabled' });
  expect(off.body).toMatchObject({ id: u.keyId, status: 'disabled' });
  await until(() => refusedWith401(viaB.models.list()), PROPAGATION_LIMIT_MS, 20);
  const on = await p.apiA.patch(`/api/admin/keys/${u.keyId}`, { status: 'active' });
  expect(on.body).toMatchObject({ id: u.keyId, status: 'active' });
  await until(() => viaB.models.list().then(() => true, () => false), PROPAGATION_LIMIT_MS, 20);
  expect((await call(viaB, content)).charged_micros).toBe(after);

  const w = await walletRow(kdb(), u.walletId);
  const spent = await kdb().selectFrom('usage_records').select((eb) => eb.fn.sum<number>('charged_micros').as('n')).where('wallet_id', '=', u.walletId).executeTakeFirstOrThrow();
  expect(w.cash_micros).toBe(5_000_000 - Number(spent.n));
  expect(await bookProblems(kdb(), u.walletId)).toEqual([]);
}

describe.skipIf(!SHARED_DB)(`two processes sharing ${DB_NAME} and Redis${SKIP_NOTE}`, () => {
  let pair: Pair | undefined;
  beforeAll(async () => {
    pair = await startPair(true);
    const [c1, c2] = await Promise.all([
      pair.apiA.post('/api/admin/channels', { name: 'one', base_url: up1.url, key: 'sk-upstream-one', models: [MODEL], priority: 10 }),
      pair.apiA.post('/api/admin/channels', { name: 'two', base_url: up2.url, key: 'sk-upstream-two', models: [MODEL], priority: 0 }),
    ]);
    expect([c1.status, c2.status]).toEqual([201, 201]);
    shop.ch1 = c1.body.id;
    shop.ch2 = c2.body.id;
    const price = await pair.apiA.put(`/api/admin/prices/${MODEL}`, shop.price);
    expect(price.status).toBe(200);
  });
  afterAll(async () => stopPair(pair));

  it(`${CALLS} concurrent calls on one key, half through each process, balance for ${AFFORDABLE}: exactly what the money covers`, async () => {
    const p = pair!;
    const content = 'Two processes, one wallet.';
    const cost = expectedCost(shop.price, { prompt: chatPromptTokens([content]), completion: 10 });
    // max_tokens = the 10 tokens the upstream produces, so each hold equals its final charge and
    // the available balance only ever shrinks: exactly AFFORDABLE calls fit, whatever the order.
    const balance = AFFORDABLE * cost + Math.floor(cost / 2);
    const u = await userWithKey(p.apiA, balance);
    const clients = [sdk(p.a, u.key), sdk(p.b, u.key)];

    // watch the wallet while the storm runs: available (= cash − held) must never go below zero
    let watching = true;
    const samples: { cash: number; pending: number }[] = [];
    const watcher = (async () => {
      while (watching) {
        const w = await walletRow(kdb(), u.walletId);
        samples.push({ cash: w.cash_micros, pending: w.pending_micros });
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    const one = async (i: number) => {
      const client = clients[i % 2]!;
      if (i % 3 === 0) {
        const s = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 10, stream: true });
        let text = '';
        for await (const c of s) text += c.choices[0]?.delta.content ?? '';
        return text;
      }
      const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 10 });
      return r.choices[0]!.message.content ?? '';
    };
    const results = await Promise.allSettled(Array.from({ length: CALLS }, (_, i) => one(i)));
    watching = false;
    await watcher;

    const ok = [0, 0];
    const refused = [0, 0];
    const other: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        expect(r.value).toBe('hello' + ' hello'.repeat(9));
        ok[i % 2]!++;
      } else if (r.reason instanceof OpenAI.APIError && r.reason.status === 402 && r.reason.code === 'insufficient_funds') {
        refused[i % 2]!++;
      } else {
        other.push(String(r.reason));
      }
    });
    console.log(`[multi-process ${dialect}] storm: successes A=${ok[0]} B=${ok[1]}, 402 A=${refused[0]} B=${refused[1]}, ${samples.length} wallet samples`);
    expect(other).toEqual([]);
    expect(ok[0]! + ok[1]!).toBe(AFFORDABLE);
    expect(refused[0]! + refused[1]!).toBe(CALLS - AFFORDABLE);

    expect(samples.length).toBeGreaterThan(0);
    const negative = samples.filter((s) => s.cash < 0 || s.pending < 0 || s.cash - s.pending < 0);
    expect(negative, 'available balance seen below zero during the storm').toEqual([]);

    const w = await walletRow(kdb(), u.walletId);
    expect(w.cash_micros).toBe(balance - AFFORDABLE * cost);
    expect(w.cash_micros).toBeGreaterThanOrEqual(0);
    expect(w.pending_micros).toBe(0);
    expect(w.arrears_micros).toBe(0);
    expect(await pendingHolds(kdb())).toBe(0);
    const holds = await kdb().selectFrom('holds').select(['status', 'amount_micros']).where('wallet_id', '=', u.walletId).execute();
    expect(holds).toHaveLength(AFFORDABLE); // a refused call places no hold
    expect(holds.every((h) => h.status === 'posted' && h.amount_micros === cost)).toBe(true);
    const usage = await kdb().selectFrom('usage_records').select(['status_code', 'charged_micros', 'stream']).where('wallet_id', '=', u.walletId).execute();
    // every call is visible to the operator: the paid ones charged exactly, each refusal a 402 record costing nothing
    expect(usage).toHaveLength(CALLS);
    expect(usage.filter((r) => r.status_code === 200 && r.charged_micros === cost)).toHaveLength(AFFORDABLE);
    expect(usage.filter((r) => r.status_code === 402 && r.charged_micros === 0)).toHaveLength(CALLS - AFFORDABLE);
    // the ledger: every bucket equals the sum of its entries, and the entries are the charges
    const sums = await ledgerSumsOf(kdb(), u.walletId);
    expect(sums.cash).toBe(w.cash_micros);
    expect(sums.cash).toBe(balance - AFFORDABLE * cost);
    expect(await bookProblems(kdb(), u.walletId)).toEqual([]);
  });

  it('a key revoked through A is refused by B within 5 s (Redis notice)', async () => {
    await revokeAcross(pair!, 'DELETE /api/admin/keys/:id', 'with REDIS_URL');
  });

  it('price, channel and key changes through A take effect in B without a restart', async () => {
    await liveChanges(pair!, { input: '2', output: '5' });
  });
});

describe.skipIf(!SHARED_DB)(`two processes sharing ${DB_NAME}, without Redis (change-log polling only)${SKIP_NOTE}`, () => {
  let pair: Pair | undefined;
  beforeAll(async () => {
    pair = await startPair(false);
  });
  afterAll(async () => stopPair(pair));

  it('a key revoked through A is refused by B within 5 s (LIVE_POLL_MS 1000)', async () => {
    await revokeAcross(pair!, 'POST /api/admin/keys/:id/revoke', 'without Redis, LIVE_POLL_MS=1000');
  });

  it('price, channel and key changes through A take effect in B without a restart', async () => {
    await liveChanges(pair!, { input: '4', output: '7' });
  });
});
