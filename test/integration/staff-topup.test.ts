// Issue 7, over HTTP as the console drives it: a staff top-up says what it is, how the money came
// in and where the slip is; the ledger filters by type and ties a charge to its request; a channel
// test failure carries a code the console translates.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ApiClient } from '../support/api.js';
import { bookProblems } from '../support/books.js';

let up: FakeUpstream;
let srv: TestServer;
let api: ApiClient;
let userId: number;
const db = () => srv.ctx.db.kysely;
const adjust = (body: Record<string, unknown>) => api.post(`/api/admin/users/${userId}/balance-adjustments`, body);
const ledger = (q = '') => api.get(`/api/admin/users/${userId}/ledger${q}`);

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  api = new ApiClient(srv.url);
  await api.signIn();
  const u = await api.post('/api/admin/users', { email: 'wire@example.com', password: 'wonderland-pass', name: 'Wire' });
  expect(u.status, JSON.stringify(u.body)).toBe(201);
  userId = u.body.id;
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('staff top-up', () => {
  it('books a top-up with type, payment method and reference, on the ledger and in the audit log', async () => {
    const r = await adjust({ amount: '120', type: 'topup', payment_method: 'bank_transfer', reference: 'ICBC-20261203-0042', reason: 'wire received', idempotency_key: 'wire-1' });
    expect(r.status).toBe(200);
    expect(r.body.entry).toMatchObject({ type: 'topup', bucket: 'cash', amount_micros: 120_000_000, payment_method: 'bank_transfer', reference: 'ICBC-20261203-0042', reason: 'wire received', ref_type: 'admin' });
    expect(r.body.user.cash_micros).toBe(120_000_000);
    const again = await adjust({ amount: '120', type: 'topup', payment_method: 'bank_transfer', reference: 'ICBC-20261203-0042', reason: 'wire received', idempotency_key: 'wire-1' });
    expect(again.body).toMatchObject({ replayed: true, entry: { id: r.body.entry.id } });
    // the same key for another kind of entry is a conflict, not a silent replay
    const other = await adjust({ amount: '120', type: 'compensation', reason: 'wire received', idempotency_key: 'wire-1' });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'idempotency_conflict' });

    const audits = await db().selectFrom('audit_log').selectAll().where('action', '=', 'balance.adjust').where('target_id', '=', String(userId)).execute();
    expect(audits).toHaveLength(1);
    expect(audits[0]!.reason).toBe('wire received');
    expect(JSON.parse(audits[0]!.after_json!)).toMatchObject({ type: 'topup', payment_method: 'bank_transfer', reference: 'ICBC-20261203-0042', amount_micros: 120_000_000, cash_micros: 120_000_000, ledger_entry_id: r.body.entry.id });
  });

  it('books deductions, compensations and corrections with the sign each one takes', async () => {
    expect((await adjust({ amount: '-20', type: 'deduction', payment_method: 'bank_transfer', reference: 'REFUND-7', reason: 'wire recalled' })).body.entry).toMatchObject({ type: 'deduction', amount_micros: -20_000_000, payment_method: 'bank_transfer', reference: 'REFUND-7' });
    expect((await adjust({ amount: '5', type: 'compensation', reason: 'outage on 12-01' })).body.entry).toMatchObject({ type: 'compensation', amount_micros: 5_000_000, payment_method: null, reference: null });
    expect((await adjust({ amount: '-0.5', type: 'correction', reason: 'typo in the last top-up' })).body.entry).toMatchObject({ type: 'correction', amount_micros: -500_000 });
    const w = await db().selectFrom('wallets').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
    expect(w.cash_micros).toBe(104_500_000);
    expect(await bookProblems(db(), w.id)).toEqual([]);
  });

  it('refuses what does not add up, naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ amount: '10', type: 'topup', reason: 'no method' }, 'payment_method'],
      [{ amount: '-10', type: 'topup', payment_method: 'cash', reason: 'negative top-up' }, 'amount'],
      [{ amount: '-1', type: 'compensation', reason: 'negative compensation' }, 'amount'],
      [{ amount: '10', type: 'deduction', reason: 'positive deduction' }, 'amount'],
      [{ amount: '10', type: 'gift', reason: 'unknown type' }, 'type'],
      [{ amount: '10', type: 'topup', payment_method: 'paypal', reason: 'unknown method' }, 'payment_method'],
      [{ amount: '10', type: 'topup', payment_method: 'cash', reference: 'x'.repeat(201), reason: 'long ref' }, 'reference'],
      [{ amount: '10', type: 'topup', payment_method: 'cash', reason: ' ' }, 'reason'],
      [{ amount: '-1000', type: 'deduction', reason: 'more than there is' }, 'amount'],
    ];
    for (const [body, path] of cases) {
      const r = await adjust(body);
      expect([400, 409], JSON.stringify(body)).toContain(r.status);
      expect(r.body.error.path, JSON.stringify(body)).toBe(path);
    }
    const w = await db().selectFrom('wallets').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
    expect(w.cash_micros).toBe(104_500_000);
  });
});

describe('ledger', () => {
  let requestId = '';
  it('ties a call charge to its request id', async () => {
    const ch = await api.post('/api/admin/channels', { name: 'up', base_url: up.url, key: 'sk-upstream-ok', models: ['gpt-4o-mini'] });
    expect(ch.status).toBe(201);
    expect((await api.put('/api/admin/prices/gpt-4o-mini', { input: '1', output: '2' })).status).toBe(200);
    const k = await api.post('/api/admin/keys', { user_id: userId, name: 'ledger' });
    expect(k.status).toBe(201);
    const sdk = new OpenAI({ baseURL: srv.url + '/v1', apiKey: k.body.key, maxRetries: 0 });
    const { data, response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }).withResponse();
    expect(data.choices.length).toBe(1);
    requestId = response.headers.get('x-request-id') ?? '';
    expect(requestId).not.toBe('');
    const r = await ledger('?type=charge');
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(1);
    expect(r.body.items[0]).toMatchObject({ type: 'charge', ref_type: 'request', ref_id: requestId });
    // and the usage list finds the record by that id
    const usage = await api.get(`/api/admin/usage?request_id=${encodeURIComponent(requestId)}`);
    expect(usage.body.items.map((u: { request_id: string }) => u.request_id)).toEqual([requestId]);
  });

  it('filters by type on the server, paging what is left', async () => {
    const all = await ledger('?page_size=50');
    expect(all.body.total).toBe(5);
    const money = await ledger('?type=topup,compensation&page_size=1');
    expect(money.body).toMatchObject({ total: 2, page: 1 });
    expect(money.body.items.map((e: { type: string }) => e.type)).toEqual(['compensation']);
    const p2 = await ledger('?type=topup,compensation&page_size=1&page=2');
    expect(p2.body.items.map((e: { type: string }) => e.type)).toEqual(['topup']);
    expect((await ledger('?type=deduction')).body.items.map((e: { reference: string }) => e.reference)).toEqual(['REFUND-7']);
    expect((await ledger('?type=refund')).body).toMatchObject({ total: 0, items: [] });
    const bad = await ledger('?type=charge,bogus');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', path: 'type' });
  });
});

describe('channel test errors', () => {
  it('carry a code by what went wrong, kept on the channel beside the detail', async () => {
    up.setKeyBehavior('sk-upstream-dead', { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key provided: sk-up***dead.' });
    const dead = await api.post('/api/admin/channels', { name: 'dead key', base_url: up.url, key: 'sk-upstream-dead', models: ['gpt-4o-mini'] });
    const t1 = await api.post(`/api/admin/channels/${dead.body.id}/test`);
    expect(t1.body).toMatchObject({ ok: false, status: 401, error_code: 'upstream_auth', channel: { last_test_ok: false, last_test_error_code: 'upstream_auth' } });
    expect(t1.body.error).toMatch(/Incorrect API key/);

    const gone = await api.post('/api/admin/channels', { name: 'nowhere', base_url: 'http://127.0.0.1:9', key: 'sk-x', models: ['gpt-4o-mini'] });
    const t2 = await api.post(`/api/admin/channels/${gone.body.id}/test`);
    expect(t2.body).toMatchObject({ ok: false, status: null, error_code: 'upstream_unreachable' });

    const list = await api.get('/api/admin/channels');
    const byName = Object.fromEntries(list.body.items.map((c: { name: string; last_test_error_code: string | null }) => [c.name, c.last_test_error_code]));
    expect(byName).toMatchObject({ 'dead key': 'upstream_auth', nowhere: 'upstream_unreachable' });
    const all = await api.post('/api/admin/channels/test-all');
    expect(all.body.items.find((i: { name: string }) => i.name === 'up')).toMatchObject({ ok: true, error_code: null });
    expect(all.body.items.find((i: { name: string }) => i.name === 'dead key')).toMatchObject({ ok: false, error_code: 'upstream_auth' });
  });
});
