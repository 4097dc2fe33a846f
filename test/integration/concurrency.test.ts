// 500 calls at once on one key whose balance covers far fewer: the balance never goes below zero,
// exactly the affordable calls succeed and are charged exactly, the rest get 402, and the books
// balance. Streaming and non-streaming calls are mixed.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { bookProblems, chatPromptTokens, expectedCost, ledgerSumsOf, pendingHolds } from '../support/books.js';

const PRICE = { input: '1', output: '3' };
const CALLS = 500;

let up: FakeUpstream;
let srv: TestServer;
const db = () => srv.ctx.db.kysely;

interface Tally {
  ok: number;
  refused: number;
  other: string[];
}

/** Fire `n` calls at once, every third one streamed; count what came back. */
async function storm(client: OpenAI, content: string, maxTokens: number, n = CALLS): Promise<Tally> {
  const one = async (i: number) => {
    if (i % 3 === 0) {
      const s = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: maxTokens, stream: true });
      let text = '';
      for await (const c of s) text += c.choices[0]?.delta.content ?? '';
      return text;
    }
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: maxTokens });
    return r.choices[0]!.message.content ?? '';
  };
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => one(i)));
  const t: Tally = { ok: 0, refused: 0, other: [] };
  for (const r of results) {
    if (r.status === 'fulfilled') {
      t.ok++;
    } else if (r.reason instanceof OpenAI.APIError && r.reason.status === 402 && r.reason.code === 'insufficient_funds') {
      t.refused++;
    } else {
      t.other.push(String(r.reason));
    }
  }
  return t;
}

async function expectBooksBalance(walletId: number) {
  expect(await pendingHolds(db())).toBe(0);
  expect(await bookProblems(db(), walletId)).toEqual([]);
  const w = await walletOf(srv.ctx, walletId);
  const sums = await ledgerSumsOf(db(), walletId);
  expect(w.cash_micros).toBe(sums.cash);
  expect(w.cash_micros).toBeGreaterThanOrEqual(0);
  const holds = await db().selectFrom('holds').select(['status']).where('wallet_id', '=', walletId).execute();
  expect(holds.every((h) => h.status === 'posted')).toBe(true);
}

beforeAll(async () => {
  up = await startFakeUpstream({ recordLimit: 0 });
  srv = await startTestServer({ env: { DB_POOL_SIZE: '10' } });
  await addChannel(srv.ctx, up.url);
  await addPrice(srv.ctx, 'gpt-4o-mini', PRICE);
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe(`${CALLS} concurrent calls on one key`, () => {
  it('admit exactly what the balance covers when each call costs exactly its hold', async () => {
    const content = 'Concurrency!';
    const cost = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 10 });
    const affordable = 50;
    const balance = affordable * cost + Math.floor(cost / 2);
    const u = await addUserWithKey(srv.ctx, { balanceUsd: (balance / 1e6).toFixed(6) });
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: u.key, maxRetries: 0, timeout: 60_000 });

    const t = await storm(client, content, 10);
    expect(t.other).toEqual([]);
    // the hold equals the cost, so available only ever shrinks: exactly `affordable` calls fit
    expect(t.ok).toBe(affordable);
    expect(t.refused).toBe(CALLS - affordable);

    const w = await walletOf(srv.ctx, u.wallet.id);
    expect(w.cash_micros).toBe(balance - t.ok * cost);
    expect(w.pending_micros).toBe(0);
    const spent = await db()
      .selectFrom('usage_records')
      .select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum<number>('charged_micros').as('total')])
      .where('wallet_id', '=', u.wallet.id)
      .executeTakeFirstOrThrow();
    expect(Number(spent.n)).toBe(CALLS); // a refused call has its record too, at no cost
    const refusedRecords = await db().selectFrom('usage_records').select((eb) => eb.fn.countAll().as('n')).where('wallet_id', '=', u.wallet.id).where('status_code', '=', 402).where('charged_micros', '=', 0).executeTakeFirstOrThrow();
    expect(Number(refusedRecords.n)).toBe(t.refused);
    expect(Number(spent.total)).toBe(t.ok * cost);
    await expectBooksBalance(u.wallet.id);
  });

  it('never overdraw when holds are larger than the final charges (the rest of each hold is released)', async () => {
    const content = 'Release the rest. [[fake:completionTokens=10]]';
    const prompt = chatPromptTokens([content]);
    // hold for 30 output tokens; the upstream produces 10
    const hold = expectedCost(PRICE, { prompt, completion: 30 });
    const cost = expectedCost(PRICE, { prompt, completion: 10 });
    const balance = 40 * hold + 7;
    const u = await addUserWithKey(srv.ctx, { balanceUsd: (balance / 1e6).toFixed(6) });
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: u.key, maxRetries: 0, timeout: 60_000 });

    const t = await storm(client, content, 30);
    expect(t.other).toEqual([]);
    expect(t.ok + t.refused).toBe(CALLS);
    // at least as many as the holds allow at once, never more than the money allows
    expect(t.ok).toBeGreaterThanOrEqual(40);
    expect(t.ok * cost).toBeLessThanOrEqual(balance);
    const w = await walletOf(srv.ctx, u.wallet.id);
    expect(w.cash_micros).toBe(balance - t.ok * cost);
    await expectBooksBalance(u.wallet.id);
  });

  it('two keys of two users do not take from each other', async () => {
    const content = 'Two wallets.';
    const cost = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 5 });
    const a = await addUserWithKey(srv.ctx, { balanceUsd: ((20 * cost) / 1e6).toFixed(6) });
    const b = await addUserWithKey(srv.ctx, { balanceUsd: ((30 * cost) / 1e6).toFixed(6) });
    const ca = new OpenAI({ baseURL: srv.url + '/v1', apiKey: a.key, maxRetries: 0 });
    const cb = new OpenAI({ baseURL: srv.url + '/v1', apiKey: b.key, maxRetries: 0 });
    const [ta, tb] = await Promise.all([storm(ca, content, 5, 100), storm(cb, content, 5, 100)]);
    expect([ta.ok, tb.ok]).toEqual([20, 30]);
    expect((await walletOf(srv.ctx, a.wallet.id)).cash_micros).toBe(0);
    expect((await walletOf(srv.ctx, b.wallet.id)).cash_micros).toBe(0);
    await expectBooksBalance(a.wallet.id);
    await expectBooksBalance(b.wallet.id);
  });
});
