// Running out of money: HTTP 402 in OpenAI's shape (the SDK raises APIError with status 402),
// nothing charged for a refused call (which is on the record, at no cost), key quotas, and
// arrears that block until paid.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { ApiClient } from '../support/api.js';
import { bookProblems, chargeOf, chatPromptTokens, countRows, expectedCost, pendingHolds } from '../support/books.js';

const PRICE = { input: '1', output: '2' }; // 1 and 2 micro-USD per token
const DEFAULT_MAX_OUT = 16;

let up: FakeUpstream;
let srv: TestServer;
let api: ApiClient;
const db = () => srv.ctx.db.kysely;

type ApiErr = InstanceType<typeof OpenAI.APIError>;
const sdk = (key: string) => new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });

async function refusedWith(p: Promise<unknown>, status: number, code: string): Promise<ApiErr> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.APIError);
  const e = err as ApiErr;
  expect(e.status).toBe(status);
  expect(e.code).toBe(code);
  // OpenAI's error shape: message, type, param, code
  expect(e.error).toEqual({ message: expect.any(String), type: expect.any(String), param: null, code });
  expect((e.error as { message: string }).message.length).toBeGreaterThan(10);
  return e;
}

/** The refused request moved no money (no hold, no ledger entry) and is on the record with its status and code, at no cost. */
async function expectUntouched(e: ApiErr) {
  const rid = e.headers?.get('x-request-id');
  expect(rid).toMatch(/^req_/);
  expect(await countRows(db(), 'holds', { col: 'request_id', val: rid })).toBe(0);
  const { usage, entries } = await chargeOf(db(), rid!);
  expect(usage).toMatchObject({ status_code: e.status, error_code: e.code, charged_micros: 0, cost_micros: 0, arrears_micros: 0, attempts: 0 });
  expect(entries).toHaveLength(0);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer({ env: { DEFAULT_MAX_OUTPUT_TOKENS: String(DEFAULT_MAX_OUT) } });
  await addChannel(srv.ctx, up.url);
  await addPrice(srv.ctx, 'gpt-4o-mini', PRICE);
  api = new ApiClient(srv.url);
  await api.signIn();
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('insufficient funds', () => {
  it('refuses with 402 once the balance cannot cover the hold, charging nothing for the refusals', async () => {
    const content = 'How much is left?';
    const cost = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 10 });
    // two calls' worth and a half
    const balance = 2 * cost + Math.floor(cost / 2);
    const u = await addUserWithKey(srv.ctx, { balanceUsd: (balance / 1e6).toFixed(6) });
    const client = sdk(u.key);
    const call = (stream = false) =>
      stream
        ? client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 10, stream: true }).then(async (s) => {
            for await (const _ of s);
          })
        : client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 10 });

    await call();
    await call(true);
    let w = await walletOf(srv.ctx, u.wallet.id);
    expect(w.cash_micros).toBe(balance - 2 * cost);
    const entries = await countRows(db(), 'ledger_entries', { col: 'wallet_id', val: u.wallet.id });
    const records = await countRows(db(), 'usage_records', { col: 'user_id', val: u.user.id });

    for (const stream of [false, true, false]) {
      const e = await refusedWith(call(stream), 402, 'insufficient_funds');
      expect(e.type).toBe('insufficient_quota');
      await expectUntouched(e);
    }
    w = await walletOf(srv.ctx, u.wallet.id);
    expect(w.cash_micros).toBe(balance - 2 * cost);
    expect(w.pending_micros).toBe(0);
    expect(await countRows(db(), 'ledger_entries', { col: 'wallet_id', val: u.wallet.id })).toBe(entries);
    expect(await countRows(db(), 'usage_records', { col: 'user_id', val: u.user.id })).toBe(records + 3);
    // the upstream never saw the refused calls
    expect(up.requests.filter((r) => r.headers.authorization?.startsWith('Bearer sk-upstream')).length).toBeGreaterThanOrEqual(2);
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);
  });

  it('refuses a user with no money at all, also as plain HTTP', async () => {
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '0' });
    const before = up.requests.length;
    const res = await fetch(srv.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${u.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({ error: { message: expect.any(String), type: 'insufficient_quota', param: null, code: 'insufficient_funds' } });
    expect(up.requests.length).toBe(before);
  });
});

describe('key quota', () => {
  it("refuses with 402 when the key's own quota is used up, while the user still has money", async () => {
    const content = 'Quota check.';
    const cost = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 5 });
    const quota = cost + Math.floor(cost / 2);
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '5', key: { quotaMicros: quota } });
    const client = sdk(u.key);
    const call = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 5 });
    await call();
    const e = await refusedWith(call(), 402, 'key_quota_exceeded');
    await expectUntouched(e);
    const w = await walletOf(srv.ctx, u.wallet.id);
    expect(w.cash_micros).toBe(5_000_000 - cost);
    expect(w.pending_micros).toBe(0);
    const k = await db().selectFrom('api_keys').selectAll().where('id', '=', u.keyView.id).executeTakeFirstOrThrow();
    expect(k.quota_used_micros).toBe(cost);
    expect(k.quota_pending_micros).toBe(0);

    // another key of the same user is not limited by this key's quota
    const other = await srv.ctx.db.kysely.selectFrom('wallets').select('id').where('user_id', '=', u.user.id).executeTakeFirstOrThrow();
    expect(other.id).toBe(u.wallet.id);
    const k2 = await api.post('/api/admin/keys', { user_id: u.user.id, name: 'second' });
    expect(k2.status).toBe(201);
    await call().catch(() => null);
    expect((await sdk(k2.body.key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 5 })).choices).toHaveLength(1);

    // raising the quota lets the key work again
    const raised = await api.patch(`/api/admin/keys/${u.keyView.id}`, { quota: '1' });
    expect(raised.status).toBe(200);
    await srv.ctx.feed.pollNow();
    await expect(call()).resolves.toBeTruthy();
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);
  });
});

describe('arrears', () => {
  it('books the part of a run-over call that cannot be paid as arrears, refuses further calls, and a top-up pays it first', async () => {
    const content = 'Talk a lot. [[fake:completionTokens=200]]';
    const prompt = chatPromptTokens([content]);
    const hold = expectedCost(PRICE, { prompt, completion: DEFAULT_MAX_OUT });
    const actual = expectedCost(PRICE, { prompt, completion: 200 });
    // enough for the hold, not for what the call really costs
    const balance = hold + 100;
    expect(actual).toBeGreaterThan(balance);
    const u = await addUserWithKey(srv.ctx, { balanceUsd: (balance / 1e6).toFixed(6) });
    const client = sdk(u.key);

    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }).withResponse();
    expect(data.usage?.completion_tokens).toBe(200);
    const rid = response.headers.get('x-request-id')!;
    const { usage, entries } = await chargeOf(db(), rid);
    const arrears = actual - balance;
    expect(usage).toMatchObject({ charged_micros: balance, arrears_micros: arrears });
    expect(entries.map((e) => [e.bucket, e.type, e.amount_micros]).sort()).toEqual(
      [
        ['arrears', 'arrears', arrears],
        ['cash', 'charge', -balance],
      ].sort(),
    );
    let w = await walletOf(srv.ctx, u.wallet.id);
    expect(w).toMatchObject({ cash_micros: 0, arrears_micros: arrears, pending_micros: 0 });
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);

    // the operator sees it
    const view = await api.get(`/api/admin/users/${u.user.id}`);
    expect(view.body).toMatchObject({ arrears_micros: arrears, balance_micros: 0, available_micros: 0 });

    // refused while in arrears, even for a tiny call
    const e = await refusedWith(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }), 402, 'account_in_arrears');
    await expectUntouched(e);

    // a top-up smaller than the arrears pays part of them; the account stays blocked
    const part = Math.floor(arrears / 2);
    const t1 = await api.post(`/api/admin/users/${u.user.id}/balance-adjustments`, { amount: (part / 1e6).toFixed(6), reason: 'partial payment' });
    expect(t1.status).toBe(200);
    expect(t1.body.arrears_repaid_micros).toBe(part);
    expect(t1.body.user).toMatchObject({ cash_micros: 0, arrears_micros: arrears - part });
    await refusedWith(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }), 402, 'account_in_arrears');

    // a top-up covering the rest pays the arrears off and leaves the remainder as cash
    const t2 = await api.post(`/api/admin/users/${u.user.id}/balance-adjustments`, { amount: '1', reason: 'top-up' });
    expect(t2.status).toBe(200);
    expect(t2.body.arrears_repaid_micros).toBe(arrears - part);
    expect(t2.body.user).toMatchObject({ cash_micros: 1_000_000 - (arrears - part), arrears_micros: 0 });
    w = await walletOf(srv.ctx, u.wallet.id);
    expect(w.arrears_micros).toBe(0);
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);

    // and calls work again
    const ok = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
    expect(ok.choices[0]!.message.content).toBe('hello');
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);
    // the ledger shows the whole story
    const ledger = await api.get(`/api/admin/users/${u.user.id}/ledger?page_size=50`);
    expect(ledger.body.items.map((i: { type: string }) => i.type)).toEqual(
      expect.arrayContaining(['topup', 'charge', 'arrears', 'adjustment', 'arrears_repayment']),
    );
  });

  it("pays arrears from the account's own cash once the calls that held it settle, and lets the next call through", async () => {
    // A long-running call holds most of the money; meanwhile a call without max_tokens runs over
    // and, since it must not draw into that hold, books arrears. The long call then settles for far
    // less than it held, which leaves cash on an account that is blocked for arrears.
    const slow = 'Take your time. [[fake:chunkDelayMs=80]]';
    const over = 'Talk a lot now. [[fake:completionTokens=200]]';
    const slowHold = expectedCost(PRICE, { prompt: chatPromptTokens([slow]), completion: 500 });
    const slowCost = expectedCost(PRICE, { prompt: chatPromptTokens([slow]), completion: 10 });
    const overHold = expectedCost(PRICE, { prompt: chatPromptTokens([over]), completion: DEFAULT_MAX_OUT });
    const overCost = expectedCost(PRICE, { prompt: chatPromptTokens([over]), completion: 200 });
    const u = await addUserWithKey(srv.ctx, { balanceUsd: ((slowHold + overHold) / 1e6).toFixed(6) });
    const client = sdk(u.key);

    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: slow }], max_tokens: 500, stream: true });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next(); // the slow call is under way: its hold is placed
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: over }] }).withResponse();
    const { usage } = await chargeOf(db(), response.headers.get('x-request-id')!);
    const arrears = overCost - overHold;
    expect(usage).toMatchObject({ charged_micros: overHold, arrears_micros: arrears });
    expect(await walletOf(srv.ctx, u.wallet.id)).toMatchObject({ cash_micros: slowHold, pending_micros: slowHold, arrears_micros: arrears });
    for (let c = await chunks.next(); !c.done; c = await chunks.next());

    const left = slowHold - slowCost;
    expect(left).toBeGreaterThan(arrears);
    expect(await walletOf(srv.ctx, u.wallet.id)).toMatchObject({ cash_micros: left, pending_micros: 0, arrears_micros: arrears });

    // the next call pays the arrears from that cash and goes through
    const ok = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
    expect(ok.choices[0]!.message.content).toBe('hello');
    const okCost = expectedCost(PRICE, { prompt: chatPromptTokens(['x']), completion: 1 });
    expect(await walletOf(srv.ctx, u.wallet.id)).toMatchObject({ cash_micros: left - arrears - okCost, pending_micros: 0, arrears_micros: 0 });
    const repayments = await db().selectFrom('ledger_entries').selectAll().where('wallet_id', '=', u.wallet.id).where('type', '=', 'arrears_repayment').execute();
    expect(repayments.map((r) => [r.bucket, r.amount_micros, r.reason]).sort()).toEqual(
      [
        ['arrears', -arrears, 'arrears paid from free cash'],
        ['cash', -arrears, 'arrears paid from free cash'],
      ].sort(),
    );
    expect(await bookProblems(db(), u.wallet.id)).toEqual([]);
  });

  it('draws the overrun from free money when there is enough, with no arrears', async () => {
    const content = 'Run over a bit. [[fake:completionTokens=40]]';
    const prompt = chatPromptTokens([content]);
    const actual = expectedCost(PRICE, { prompt, completion: 40 });
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '1' });
    const { response } = await sdk(u.key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }).withResponse();
    const { usage } = await chargeOf(db(), response.headers.get('x-request-id')!);
    expect(usage).toMatchObject({ charged_micros: actual, arrears_micros: 0, completion_tokens: 40 });
    expect((await walletOf(srv.ctx, u.wallet.id)).cash_micros).toBe(1_000_000 - actual);
  });

  it('leaves no hold pending', async () => {
    expect(await pendingHolds(db())).toBe(0);
  });
});
