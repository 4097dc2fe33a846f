// Every malformed or unauthorised input we could think of, on the gateway and on the admin API:
// the right 4xx, the right error shape, and not a single row or micro-dollar changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { ApiClient } from '../support/api.js';
import { bookProblems, pendingHolds, until } from '../support/books.js';
import { createUser, updateUser } from '../../server/src/accounts/users.js';
import { createKey, revokeKey, updateKey } from '../../server/src/accounts/keys.js';

const BODY_LIMIT = 64 * 1024;

let up: FakeUpstream;
let srv: TestServer;
let admin: ApiClient;
const db = () => srv.ctx.db.kysely;
const keys: Record<string, string> = {};
let userId: number;
let walletId: number;
let expiringAt: number;

const TABLES = ['users', 'wallets', 'api_keys', 'channels', 'model_prices', 'groups', 'holds', 'ledger_entries', 'usage_records', 'auth_accounts'] as const;

/** Everything a refused request must not change (it may add its own usage record: see `refusals`). */
async function snapshot() {
  const counts: Record<string, number> = {};
  for (const t of TABLES) {
    let q = db().selectFrom(t as 'holds').select((eb) => eb.fn.countAll().as('n'));
    if (t === 'usage_records') q = q.where(sql<number>`attempts`, '>', 0);
    const r = await q.executeTakeFirst();
    counts[t] = Number(r?.n ?? 0);
  }
  const money = await db()
    .selectFrom('wallets')
    .select([
      sql<number>`coalesce(sum(cash_micros), 0)`.as('cash'),
      sql<number>`coalesce(sum(pending_micros), 0)`.as('pending'),
      sql<number>`coalesce(sum(arrears_micros), 0)`.as('arrears'),
    ])
    .executeTakeFirstOrThrow();
  const keyState = await db().selectFrom('api_keys').select(['id', 'status', 'quota_used_micros', 'quota_pending_micros', 'allowed_ips', 'expires_at']).orderBy('id').execute();
  const channels = await db().selectFrom('channels').select(['id', 'status', 'weight', 'base_url', 'models']).orderBy('id').execute();
  const prices = await db().selectFrom('model_prices').select(['model', 'input_price', 'output_price']).orderBy('model').execute();
  const users = await db().selectFrom('users').select(['id', 'email', 'status', 'role']).orderBy('id').execute();
  return JSON.parse(JSON.stringify({ counts, money: { cash: Number(money.cash), pending: Number(money.pending), arrears: Number(money.arrears) }, keyState, channels, prices, users }));
}

/**
 * The records of refused calls (never forwarded: no attempt), oldest first: a refused call with a
 * valid key is recorded with its status and error code, and costs nothing.
 */
async function refusals() {
  const rows = await db()
    .selectFrom('usage_records')
    .select(['endpoint', 'model', 'status_code', 'error_code', 'charged_micros', 'cost_micros', 'arrears_micros', 'key_id', 'request_id'])
    .where('attempts', '=', 0)
    .orderBy('id')
    .execute();
  for (const r of rows) expect([Number(r.charged_micros), Number(r.cost_micros), Number(r.arrears_micros)]).toEqual([0, 0, 0]);
  return rows.map((r) => `${r.status_code} ${r.error_code} ${r.endpoint} ${r.model}`);
}

async function gw(path: string, init: { key?: string | null; body?: unknown; raw?: string; method?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const key = init.key === undefined ? keys.main : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(srv.url + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep null */
  }
  return { status: res.status, json, headers: res.headers, text };
}

/** An OpenAI-shaped error with this status, code and param. */
function expectOpenAiError(r: { status: number; json: any }, status: number, code: string, param: string | null = null) {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(r.json).toEqual({ error: { message: expect.any(String), type: expect.any(String), param, code } });
  expect(r.json.error.message.length).toBeGreaterThan(5);
}

const gwCall = (key: string | undefined, body: unknown) => gw('/v1/chat/completions', { key: key ?? null, body });
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ...extra });

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer({ env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
  await addChannel(srv.ctx, up.url, { models: ['gpt-4o-mini', 'text-embedding-3-small', 'gpt-4o'] });
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '1', output: '2' });
  await addPrice(srv.ctx, 'gpt-4o', { input: '1', output: '2' });
  await addPrice(srv.ctx, 'text-embedding-3-small', { input: '1', output: '0' });
  const main = await addUserWithKey(srv.ctx, { balanceUsd: '5' });
  keys.main = main.key;
  userId = main.user.id;
  walletId = main.wallet.id;
  const k = async (input: Parameters<typeof createKey>[3]) => (await createKey(srv.ctx.db, srv.ctx.feed, userId, input)).key;
  keys.models = await k({ models: ['gpt-4o-mini'] });
  keys.ips = await k({ ips: ['10.0.0.0/8'] });
  keys.rpm = await k({ rpmLimit: 2 });
  const revoked = await createKey(srv.ctx.db, srv.ctx.feed, userId, {});
  await revokeKey(srv.ctx.db, srv.ctx.feed, revoked.view.id);
  keys.revoked = revoked.key;
  const disabled = await createKey(srv.ctx.db, srv.ctx.feed, userId, {});
  await updateKey(srv.ctx.db, srv.ctx.feed, disabled.view.id, { status: 'disabled' });
  keys.disabled = disabled.key;
  // Far enough ahead that a loaded machine still makes the first call in time; the test waits it out.
  expiringAt = Date.now() + 5_000;
  keys.expiring = await k({ expiresAt: expiringAt });
  // it works until then
  expect((await gwCall(keys.expiring, chat())).status).toBe(200);
  const other = await addUserWithKey(srv.ctx, { balanceUsd: '5', password: 'plain-user-password' });
  await updateUser(srv.ctx.db, srv.ctx.feed, other.user.id, { status: 'disabled' });
  keys.userDisabled = other.key;
  await srv.ctx.feed.pollNow();
  admin = new ApiClient(srv.url);
  await admin.signIn();
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('the gateway refuses bad calls and changes nothing', () => {
  it('authentication: no key, malformed, unknown, revoked, disabled, expired, disabled user', async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, expiringAt - Date.now() + 20)));
    const before = await snapshot();
    const recorded = await refusals();
    const upstreamBefore = up.requests.length;
    expectOpenAiError(await gw('/v1/chat/completions', { key: null, body: chat() }), 401, 'unauthenticated');
    expectOpenAiError(await gw('/v1/models', { key: null }), 401, 'unauthenticated');
    expectOpenAiError(await gw('/v1/chat/completions', { key: 'not-a-key', body: chat() }), 401, 'invalid_api_key');
    expectOpenAiError(await gw('/v1/chat/completions', { key: 'sk-' + 'A'.repeat(32), body: chat() }), 401, 'invalid_api_key');
    expectOpenAiError(await gw('/v1/chat/completions', { key: keys.main + 'x', body: chat() }), 401, 'invalid_api_key');
    const basic = await gw('/v1/chat/completions', { key: null, body: chat(), headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expectOpenAiError(basic, 401, 'invalid_api_key');
    expectOpenAiError(await gw('/v1/chat/completions', { key: keys.revoked, body: chat() }), 401, 'key_disabled');
    expectOpenAiError(await gw('/v1/embeddings', { key: keys.disabled, body: { model: 'text-embedding-3-small', input: 'x' } }), 401, 'key_disabled');
    expectOpenAiError(await gw('/v1/models', { key: keys.revoked }), 401, 'key_disabled');
    expectOpenAiError(await gw('/v1/chat/completions', { key: keys.userDisabled, body: chat() }), 403, 'account_disabled');
    // the SDKs' other header works for a good key, and is refused for a bad one
    expect((await gw('/v1/models', { key: null, headers: { 'x-api-key': keys.main! } })).status).toBe(200);
    expectOpenAiError(await gw('/v1/models', { key: null, headers: { 'x-api-key': 'sk-nope' } }), 401, 'invalid_api_key');
    expectOpenAiError(await gw('/v1/chat/completions', { key: keys.expiring, body: chat() }), 401, 'key_expired');
    expect(up.requests.length).toBe(upstreamBefore);
    expect(await snapshot()).toEqual(before);
    // Without a valid key there is nobody to show a record to: counted and logged only.
    expect(await refusals()).toEqual(recorded);
    const metrics = await (await fetch(srv.url + '/metrics')).text();
    expect(metrics).toMatch(/tollgate_gateway_refusals_total\{reason="invalid_api_key",status="401"\} [1-9]/);
    expect(metrics).toMatch(/tollgate_gateway_refusals_total\{reason="unauthenticated",status="401"\} [1-9]/);
  });

  it('body shape: invalid JSON, not an object, missing/invalid fields (with param)', async () => {
    const before = await snapshot();
    const recorded = await refusals();
    const upstreamBefore = up.requests.length;
    expectOpenAiError(await gw('/v1/chat/completions', { raw: '{"model": "gpt-4o-mini", ' }), 400, 'invalid_json');
    expectOpenAiError(await gw('/v1/chat/completions', { raw: "{'model': 'x'}" }), 400, 'invalid_json');
    expectOpenAiError(await gw('/v1/chat/completions', { raw: '{"model":"gpt-4o-mini"}', headers: { 'content-type': 'text/plain' } }), 400, 'bad_request', 'messages');
    expectOpenAiError(await gw('/v1/chat/completions', { raw: 'model=gpt-4o-mini', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'invalid_json');
    for (const raw of ['[1,2]', '"text"', '42', 'null', 'true']) {
      expectOpenAiError(await gw('/v1/chat/completions', { raw }), 400, 'bad_request');
    }
    const empty = await gw('/v1/chat/completions', { raw: '' });
    expect(empty.status).toBe(400);
    expect(empty.json.error).toMatchObject({ type: 'invalid_request_error' });

    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }, 'model'],
      ['/v1/chat/completions', chat({ model: 42 }), 'model'],
      ['/v1/chat/completions', chat({ model: '' }), 'model'],
      ['/v1/chat/completions', chat({ model: ['gpt-4o-mini'] }), 'model'],
      ['/v1/chat/completions', chat({ messages: [] }), 'messages'],
      ['/v1/chat/completions', chat({ messages: 'hi' }), 'messages'],
      ['/v1/chat/completions', chat({ messages: { role: 'user', content: 'hi' } }), 'messages'],
      ['/v1/chat/completions', { model: 'gpt-4o-mini' }, 'messages'],
      ['/v1/chat/completions', chat({ messages: [{ content: 'hi' }] }), 'messages.0.role'],
      ['/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'a' }, 'b'] }), 'messages.1'],
      ['/v1/chat/completions', chat({ messages: [{ role: 'user', content: 7 }] }), 'messages.0.content'],
      ['/v1/chat/completions', chat({ stream: 'true' }), 'stream'],
      ['/v1/chat/completions', chat({ stream: 1 }), 'stream'],
      ['/v1/chat/completions', chat({ stream_options: { include_usage: true } }), 'stream_options'],
      ['/v1/chat/completions', chat({ stream: true, stream_options: 'yes' }), 'stream_options'],
      ['/v1/chat/completions', chat({ max_tokens: -1 }), 'max_tokens'],
      ['/v1/chat/completions', chat({ max_tokens: 0 }), 'max_tokens'],
      ['/v1/chat/completions', chat({ max_tokens: 2.5 }), 'max_tokens'],
      ['/v1/chat/completions', chat({ max_tokens: '5' }), 'max_tokens'],
      ['/v1/chat/completions', chat({ max_completion_tokens: -5 }), 'max_completion_tokens'],
      ['/v1/chat/completions', chat({ n: 129 }), 'n'],
      ['/v1/chat/completions', chat({ n: 0 }), 'n'],
      ['/v1/completions', { model: 'gpt-4o-mini' }, 'prompt'],
      ['/v1/completions', { model: 'gpt-4o-mini', prompt: {} }, 'prompt'],
      ['/v1/completions', { model: 'gpt-4o-mini', prompt: 'x', max_tokens: -3 }, 'max_tokens'],
      ['/v1/embeddings', { model: 'text-embedding-3-small' }, 'input'],
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: '' }, 'input'],
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: [] }, 'input'],
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'x', stream: true }, 'stream'],
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'x', encoding_format: 'hex' }, 'encoding_format'],
    ];
    for (const [path, body, param] of cases) {
      const r = await gw(path, { body });
      expect(r.status, `${path} ${JSON.stringify(body)} → ${JSON.stringify(r.json)}`).toBe(400);
      expectOpenAiError(r, 400, 'bad_request', param);
      expect(r.json.error.type).toBe('invalid_request_error');
    }
    expect(up.requests.length).toBe(upstreamBefore);
    expect(await snapshot()).toEqual(before);
    expect(await refusals()).toEqual(recorded);
  });

  it('models: unknown (404), not allowed for the key (403), each on the record of its key', async () => {
    const before = await snapshot();
    const recorded = await refusals();
    expectOpenAiError(await gw('/v1/chat/completions', { body: chat({ model: 'no-such-model' }) }), 404, 'model_not_found', 'model');
    expectOpenAiError(await gw('/v1/embeddings', { body: { model: 'no-such-embedder', input: 'x' } }), 404, 'model_not_found', 'model');
    expectOpenAiError(await gw('/v1/models/no-such-model'), 404, 'model_not_found', 'model');
    expectOpenAiError(await gw('/v1/chat/completions', { key: keys.models, body: chat({ model: 'gpt-4o' }) }), 403, 'model_not_allowed', 'model');
    expectOpenAiError(await gw('/v1/models/gpt-4o', { key: keys.models }), 404, 'model_not_found', 'model');
    expect(await snapshot()).toEqual(before);
    expect((await refusals()).slice(recorded.length)).toEqual([
      '404 model_not_found chat.completions no-such-model',
      '404 model_not_found embeddings no-such-embedder',
      '404 model_not_found models no-such-model',
      '403 model_not_allowed chat.completions gpt-4o',
      '404 model_not_found models gpt-4o',
    ]);
  });

  it('IP allow-list: a key limited to 10.0.0.0/8 is refused from 127.0.0.1 (403)', async () => {
    const before = await snapshot();
    const recorded = await refusals();
    const r = await gw('/v1/chat/completions', { key: keys.ips, body: chat() });
    expectOpenAiError(r, 403, 'ip_not_allowed');
    expect(r.json.error.message).toContain('127.0.0.1');
    // a spoofed X-Forwarded-For is not trusted without TRUST_PROXY
    expectOpenAiError(await gw('/v1/chat/completions', { key: keys.ips, body: chat(), headers: { 'x-forwarded-for': '10.1.2.3' } }), 403, 'ip_not_allowed');
    expect(await snapshot()).toEqual(before);
    expect((await refusals()).slice(recorded.length)).toEqual(Array(2).fill('403 ip_not_allowed chat.completions gpt-4o-mini'));
  });

  it('rate limit: the third call within a minute on a 2 rpm key gets 429 with retry-after', async () => {
    expect((await gw('/v1/chat/completions', { key: keys.rpm, body: chat() })).status).toBe(200);
    expect((await gw('/v1/chat/completions', { key: keys.rpm, body: chat() })).status).toBe(200);
    const before = await snapshot();
    const recorded = await refusals();
    const r = await gw('/v1/chat/completions', { key: keys.rpm, body: chat() });
    expectOpenAiError(r, 429, 'rate_limited');
    expect(r.json.error.type).toBe('rate_limit_error');
    const retry = Number(r.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(await snapshot()).toEqual(before);
    expect((await refusals()).slice(recorded.length)).toEqual(['429 rate_limited chat.completions gpt-4o-mini']);
    // other keys of the same user are not limited
    expect((await gw('/v1/chat/completions', { body: chat() })).status).toBe(200);
  });

  it(`a body over BODY_LIMIT_BYTES (${BODY_LIMIT}) gets 413`, async () => {
    const before = await snapshot();
    const upstreamBefore = up.requests.length;
    const r = await gw('/v1/chat/completions', { body: chat({ messages: [{ role: 'user', content: 'x'.repeat(BODY_LIMIT + 10) }] }) });
    expectOpenAiError(r, 413, 'payload_too_large');
    expect(up.requests.length).toBe(upstreamBefore);
    expect(await snapshot()).toEqual(before);
  });

  it('unknown paths and methods get an OpenAI-shaped 404', async () => {
    const before = await snapshot();
    const recorded = await refusals();
    expectOpenAiError(await gw('/v1/chat/complete', { body: chat() }), 404, 'not_found');
    expectOpenAiError(await gw('/v1/nothing-here'), 404, 'not_found');
    expectOpenAiError(await gw('/v1/chat/completions', { method: 'GET' }), 404, 'not_found');
    expectOpenAiError(await gw('/v1/chat/completions', { method: 'DELETE' }), 404, 'not_found');
    expectOpenAiError(await gw('/v1/nothing-here', { key: null }), 404, 'not_found');
    expect(await snapshot()).toEqual(before);
    // With the caller's (valid) key they are on its record; the last one had no key.
    expect((await refusals()).slice(recorded.length)).toEqual([
      '404 not_found chat.complete gpt-4o-mini',
      '404 not_found nothing-here ',
      '404 not_found chat.completions ',
      '404 not_found chat.completions ',
    ]);
  });

  it('leaves the books of the caller balanced', async () => {
    expect(await pendingHolds(db())).toBe(0);
    expect(await bookProblems(db(), walletId)).toEqual([]);
  });
});

/** A typed /api error: `{ error: { code, message, path } }`. */
function expectApiError(r: { status: number; body: any }, status: number, code: string, path?: string | RegExp | null) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(Object.keys(r.body.error)).toEqual(expect.arrayContaining(['code', 'message', 'path']));
  expect(r.body.error.message.length).toBeGreaterThan(3);
  if (path === null) expect(r.body.error.path).toBeNull();
  else if (typeof path === 'string') expect(r.body.error.path).toBe(path);
  else if (path instanceof RegExp) expect(r.body.error.path).toMatch(path);
}

describe('the admin API refuses bad requests and changes nothing', () => {
  it('needs a session (401) of an operator (403)', async () => {
    const before = await snapshot();
    const anon = new ApiClient(srv.url);
    for (const [m, p] of [
      ['GET', '/api/admin/users'],
      ['POST', '/api/admin/channels'],
      ['PUT', '/api/admin/prices/gpt-4o-mini'],
      ['POST', `/api/admin/users/${userId}/balance-adjustments`],
      ['GET', '/api/admin/usage'],
    ] as const) {
      expectApiError(await anon.request(m, p, m === 'GET' ? undefined : {}), 401, 'session_required');
    }
    const { user } = await createUser(srv.ctx.db, { email: `plain-${Date.now()}@example.com`, password: 'plain-password-1' });
    const plain = new ApiClient(srv.url);
    await plain.signIn(user.email, 'plain-password-1');
    const mid = await snapshot();
    expectApiError(await plain.get('/api/admin/users'), 403, 'forbidden');
    expectApiError(await plain.post(`/api/admin/users/${user.id}/balance-adjustments`, { amount: '100', reason: 'free money' }), 403, 'forbidden');
    expectApiError(await plain.post('/api/admin/keys', { user_id: user.id }), 403, 'forbidden');
    expectApiError(await plain.patch(`/api/admin/users/${user.id}`, { role: 'super_admin' }), 403, 'forbidden');
    expect(await snapshot()).toEqual(mid);
    expect(mid.counts.users).toBe(before.counts.users + 1);
  });

  it('channels: bad URL, empty models, unknown group, negative weight, bad ids', async () => {
    const before = await snapshot();
    const good = { name: 'x', base_url: 'https://api.example.com/v1', key: 'sk-upstream', models: ['gpt-4o-mini'] };
    expectApiError(await admin.post('/api/admin/channels', { ...good, base_url: 'not a url' }), 400, 'validation_failed', 'base_url');
    expectApiError(await admin.post('/api/admin/channels', { ...good, base_url: 'ftp://example.com' }), 400, 'validation_failed', 'base_url');
    expectApiError(await admin.post('/api/admin/channels', { ...good, models: [] }), 400, 'validation_failed', 'models');
    expectApiError(await admin.post('/api/admin/channels', { ...good, models: ['has space'] }), 400, 'validation_failed', /^models/);
    expectApiError(await admin.post('/api/admin/channels', { ...good, groups: ['no-such-group'] }), 400, 'validation_failed', 'groups');
    expectApiError(await admin.post('/api/admin/channels', { ...good, weight: -1 }), 400, 'validation_failed', 'weight');
    expectApiError(await admin.post('/api/admin/channels', { ...good, priority: 1.5 }), 400, 'validation_failed', 'priority');
    expectApiError(await admin.post('/api/admin/channels', { ...good, name: '' }), 400, 'validation_failed', 'name');
    expectApiError(await admin.post('/api/admin/channels', { ...good, key: undefined }), 400, 'validation_failed', 'key');
    expectApiError(await admin.post('/api/admin/channels', { ...good, cost_ratio: '-0.5' }), 400, 'validation_failed', /cost_ratio/);
    expectApiError(await admin.request('POST', '/api/admin/channels', '{"name":'), 400, 'invalid_json');
    const ch = (await admin.get('/api/admin/channels')).body.items[0];
    expectApiError(await admin.patch(`/api/admin/channels/${ch.id}`, { weight: -5 }), 400, 'validation_failed', 'weight');
    expectApiError(await admin.patch(`/api/admin/channels/${ch.id}`, { status: 'broken' }), 400, 'validation_failed', 'status');
    expectApiError(await admin.patch(`/api/admin/channels/${ch.id}`, { groups: ['nope'] }), 400, 'validation_failed', 'groups');
    expectApiError(await admin.patch('/api/admin/channels/999999', { weight: 5 }), 404, 'not_found', 'id');
    expectApiError(await admin.get('/api/admin/channels/abc'), 400, 'validation_failed', 'id');
    expectApiError(await admin.delete('/api/admin/channels/999999'), 404, 'not_found', 'id');
    expectApiError(await admin.post('/api/admin/channels/999999/test'), 404, 'not_found', 'id');
    expect(await snapshot()).toEqual(before);
  });

  it('prices: 7 decimals, negative, non-numeric', async () => {
    const before = await snapshot();
    expectApiError(await admin.put('/api/admin/prices/gpt-4o-mini', { input: '0.1234567', output: '1' }), 400, 'validation_failed', /input$/);
    expectApiError(await admin.put('/api/admin/prices/gpt-4o-mini', { input: '1', output: '-1' }), 400, 'validation_failed', /output$/);
    expectApiError(await admin.put('/api/admin/prices/gpt-4o-mini', { input: 'abc', output: '1' }), 400, 'validation_failed', /input$/);
    expectApiError(await admin.put('/api/admin/prices/gpt-4o-mini', { input: -0.5, output: 1 }), 400, 'validation_failed', /input$/);
    expectApiError(await admin.put('/api/admin/prices/gpt-4o-mini', { input: '1', output: '1', per_request: '1e-3' }), 400, 'validation_failed', /per_request$/);
    expectApiError(await admin.put('/api/admin/prices/gpt-4o-mini', { output: '1' }), 400, 'validation_failed', 'input');
    expectApiError(await admin.put('/api/admin/prices/has%20space', { input: '1', output: '1' }), 400, 'validation_failed', /model/);
    expectApiError(await admin.delete('/api/admin/prices/no-such-model'), 404, 'not_found');
    expect(await snapshot()).toEqual(before);
  });

  it('users: bad email, short password, duplicate email, bad ids', async () => {
    const before = await snapshot();
    expectApiError(await admin.post('/api/admin/users', { email: 'not-an-email' }), 400, 'validation_failed', 'email');
    expectApiError(await admin.post('/api/admin/users', { email: 'short@example.com', password: 'short' }), 400, 'validation_failed', 'password');
    expectApiError(await admin.post('/api/admin/users', { email: 'bad-group@example.com', group: 'no-such-group' }), 400, 'validation_failed', 'group');
    expectApiError(await admin.post('/api/admin/users', { email: 'bad-role@example.com', role: 'god' }), 400, 'validation_failed', 'role');
    expectApiError(await admin.post('/api/admin/users', { email: 'ADMIN@test.local' }), 409, 'already_exists', 'email');
    expectApiError(await admin.get('/api/admin/users/abc'), 400, 'validation_failed', 'id');
    expectApiError(await admin.get('/api/admin/users/-1'), 400, 'validation_failed', 'id');
    expectApiError(await admin.get('/api/admin/users/999999'), 404, 'not_found', 'id');
    expectApiError(await admin.patch('/api/admin/users/999999', { name: 'x' }), 404, 'not_found', 'id');
    expectApiError(await admin.patch(`/api/admin/users/${userId}`, { status: 'gone' }), 400, 'validation_failed', 'status');
    expectApiError(await admin.get('/api/admin/users/999999/ledger'), 404, 'not_found', 'id');
    expectApiError(await admin.get('/api/admin/users?page=0'), 400, 'validation_failed', 'page');
    expectApiError(await admin.get('/api/admin/users?page_size=100000'), 400, 'validation_failed', 'page_size');
    expect(await snapshot()).toEqual(before);
  });

  it('balance adjustments: zero, no reason, deduct more than cash, idempotency key reused for another amount', async () => {
    const url = `/api/admin/users/${userId}/balance-adjustments`;
    const ok = await admin.post(url, { amount: '1', reason: 'first use of a key', idempotency_key: 'bad-input-idem-1' });
    expect(ok.status).toBe(200);
    const before = await snapshot();
    expectApiError(await admin.post(url, { amount: '0', reason: 'nothing' }), 400, 'validation_failed', 'amount');
    expectApiError(await admin.post(url, { amount: '0.0000001', reason: 'too precise' }), 400, 'validation_failed', 'amount');
    expectApiError(await admin.post(url, { amount: 'ten', reason: 'words' }), 400, 'validation_failed', 'amount');
    expectApiError(await admin.post(url, { amount: '1' }), 400, 'validation_failed', 'reason');
    expectApiError(await admin.post(url, { amount: '1', reason: ' ' }), 400, 'validation_failed', 'reason');
    expectApiError(await admin.post(url, { amount: '-1000', reason: 'too much' }), 409, 'insufficient_funds', 'amount');
    expectApiError(await admin.post(url, { amount: '2', reason: 'same key, other amount', idempotency_key: 'bad-input-idem-1' }), 409, 'idempotency_conflict', 'idempotency_key');
    expectApiError(await admin.post(url, { amount: '2', reason: 'same key in a header' }, { 'idempotency-key': 'bad-input-idem-1' }), 409, 'idempotency_conflict');
    expectApiError(await admin.post('/api/admin/users/999999/balance-adjustments', { amount: '1', reason: 'nobody' }), 404, 'not_found', 'id');
    expect(await snapshot()).toEqual(before);
  });

  it('keys: bad CIDR, past expiry, unknown user, bad ids', async () => {
    const before = await snapshot();
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, ips: ['10.0.0.0/33'] }), 400, 'validation_failed', 'ips.0');
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, ips: ['1.2.3.4', 'localhost'] }), 400, 'validation_failed', 'ips.1');
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, expires_at: '2001-01-01T00:00:00Z' }), 400, 'validation_failed', 'expires_at');
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, expires_at: 'tomorrow' }), 400, 'validation_failed', 'expires_at');
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, quota: '-1' }), 400, 'validation_failed', 'quota');
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, rpm_limit: 0 }), 400, 'validation_failed', 'rpm_limit');
    expectApiError(await admin.post('/api/admin/keys', { user_id: userId, group: 'no-such-group' }), 400, 'validation_failed', 'group');
    expectApiError(await admin.post('/api/admin/keys', { user_id: 999999 }), 404, 'not_found', 'user');
    expectApiError(await admin.post('/api/admin/keys', {}), 400, 'validation_failed', 'user_id');
    expectApiError(await admin.patch('/api/admin/keys/999999', { status: 'disabled' }), 404, 'not_found', 'id');
    expectApiError(await admin.post('/api/admin/keys/999999/revoke'), 404, 'not_found', 'id');
    expectApiError(await admin.delete('/api/admin/keys/abc'), 400, 'validation_failed', 'id');
    const revokedId = (await db().selectFrom('api_keys').select('id').where('status', '=', 'revoked').executeTakeFirstOrThrow()).id;
    expectApiError(await admin.patch(`/api/admin/keys/${revokedId}`, { status: 'active' }), 409, 'key_revoked', 'status');
    expect(await snapshot()).toEqual(before);
  });

  it('unknown /api paths get a typed 404', async () => {
    expectApiError(await admin.get('/api/admin/nothing'), 404, 'not_found');
    expectApiError(await admin.get('/api/nothing'), 404, 'not_found');
  });
});
