// The operator's flow over HTTP, as the console drives it: channel, price, user, money, key,
// calls, usage — and the API's own description of itself.
import OpenAI from 'openai';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ApiClient } from '../support/api.js';
import { bookProblems, chargeOf, chatPromptTokens, expectedCost, pendingHolds, until } from '../support/books.js';

let up: FakeUpstream;
let srv: TestServer;
let api: ApiClient;
const db = () => srv.ctx.db.kysely;

const UPSTREAM_SECRET = 'sk-upstream-very-secret-WXYZ';
const state: {
  channelId?: number;
  userId?: number;
  key?: string;
  keyId?: number;
  key2?: string;
  key2Id?: number;
  requests: { id: string; model: string; keyId: number; stream: boolean; status: number; at: number }[];
} = { requests: [] };

const sdk = (key: string) => new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  api = new ApiClient(srv.url);
  const me = await api.signIn();
  expect(me.status).toBe(200);
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('admin flow', () => {
  it('creates a channel; the upstream key is never returned, only a hint', async () => {
    const r = await api.post('/api/admin/channels', {
      name: 'fake openai',
      base_url: up.url,
      key: UPSTREAM_SECRET,
      models: ['gpt-4o-mini', 'gpt-4o'],
      priority: 5,
      weight: 3,
      cost_ratio: '0.7',
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'fake openai', key_hint: '…WXYZ', models: ['gpt-4o-mini', 'gpt-4o'], priority: 5, weight: 3, status: 'enabled', cost_ratio: '0.7', groups: ['default'] });
    expect(r.body).not.toHaveProperty('key');
    state.channelId = r.body.id;
    for (const res of [r, await api.get('/api/admin/channels'), await api.get(`/api/admin/channels/${r.body.id}`)]) {
      expect(JSON.stringify(res.body)).not.toContain(UPSTREAM_SECRET);
      expect(JSON.stringify(res.body)).not.toContain('key_sealed');
    }
    // nor is it in the audit log or the database in the clear
    const audit = await db().selectFrom('audit_log').selectAll().where('action', '=', 'channel.create').execute();
    expect(JSON.stringify(audit)).not.toContain(UPSTREAM_SECRET);
    const row = await db().selectFrom('channels').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(UPSTREAM_SECRET);
    // edits keep the key unless a new one is given
    const p = await api.patch(`/api/admin/channels/${r.body.id}`, { weight: 2 });
    expect(p.body).toMatchObject({ weight: 2, key_hint: '…WXYZ', priority: 5 });
  });

  it('tests a channel and records when, how long, and the outcome', async () => {
    const before = up.requests.length;
    const r = await api.post(`/api/admin/channels/${state.channelId}/test`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, status: 200, model: 'gpt-4o-mini', error: null });
    expect(r.body.ms).toEqual(expect.any(Number));
    expect(r.body.channel.last_test_at).toEqual(expect.any(String));
    expect(Date.now() - Date.parse(r.body.channel.last_test_at)).toBeLessThan(60_000);
    expect(r.body.channel).toMatchObject({ last_test_ok: true, last_test_ms: r.body.ms, last_test_error: null });
    expect(up.requests.length).toBe(before + 1);
    expect(up.requests.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_SECRET}`);
    expect(up.requests.at(-1)!.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 1 });

    // a channel whose key the upstream refuses fails its test, with the reason kept
    up.setKeyBehavior('sk-refused-by-upstream', { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key' });
    const bad = await api.post('/api/admin/channels', { name: 'bad', base_url: up.url, key: 'sk-refused-by-upstream', models: ['gpt-4o'], status: 'disabled' });
    const t = await api.post(`/api/admin/channels/${bad.body.id}/test`);
    expect(t.body).toMatchObject({ ok: false, status: 401 });
    expect(t.body.channel).toMatchObject({ last_test_ok: false, last_test_error: expect.stringContaining('invalid_api_key') });
    expect(t.body.channel.last_test_at).toEqual(expect.any(String));
  });

  it('sets a price in USD per 1M and shows per-1K beside it', async () => {
    const r = await api.put('/api/admin/prices/gpt-4o-mini', { input: '0.15', output: '0.6', cached_input: '0.075', per_request: '0.0001' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      model: 'gpt-4o-mini',
      input_micros_per_1m: 150_000,
      output_micros_per_1m: 600_000,
      cached_input_micros_per_1m: 75_000,
      request_micros: 100,
      input_usd_per_1m: '0.15',
      output_usd_per_1m: '0.6',
      input_usd_per_1k: '0.00015',
      output_usd_per_1k: '0.0006',
      per_request_usd: '0.0001',
    });
    // per 1K keeps every digit: 0.000001 USD per 1M is 0.000000001 per 1K
    const tiny = await api.put('/api/admin/prices/gpt-4o', { input: '0.000001', output: 2.5 });
    expect(tiny.body).toMatchObject({ input_usd_per_1k: '0.000000001', output_usd_per_1k: '0.0025', output_micros_per_1m: 2_500_000 });
    const list = await api.get('/api/admin/prices');
    expect(list.body.items.map((p: { model: string }) => p.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    // back to a plain price for the calls below
    await api.put('/api/admin/prices/gpt-4o-mini', { input: '1', output: '2' });
    await api.put('/api/admin/prices/gpt-4o', { input: '3', output: '4' });
  });

  it('creates a user with an empty wallet', async () => {
    const r = await api.post('/api/admin/users', { email: 'Alice@Example.com', password: 'wonderland-pass', name: 'Alice' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ email: 'alice@example.com', name: 'Alice', role: 'user', status: 'active', group: 'default', balance_micros: 0, pending_micros: 0 });
    state.userId = r.body.id;
    const g = await api.get(`/api/admin/users/${r.body.id}`);
    expect(g.body).toMatchObject({ id: r.body.id, key_count: 0 });
    const search = await api.get('/api/admin/users?q=alice');
    expect(search.body.items.map((u: { id: number }) => u.id)).toEqual([r.body.id]);
  });

  it('adjusts a balance once per Idempotency-Key, however often it is sent', async () => {
    const url = `/api/admin/users/${state.userId}/balance-adjustments`;
    const first = await api.post(url, { amount: '10', reason: 'welcome credit' }, { 'Idempotency-Key': 'welcome-alice' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ replayed: false, user: { cash_micros: 10_000_000, balance_micros: 10_000_000 }, entry: { bucket: 'cash', type: 'adjustment', amount_micros: 10_000_000, balance_after_micros: 10_000_000, reason: 'welcome credit' } });
    const again = await Promise.all([1, 2, 3].map(() => api.post(url, { amount: '10', reason: 'welcome credit' }, { 'Idempotency-Key': 'welcome-alice' })));
    for (const a of again) {
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ replayed: true, entry: { id: first.body.entry.id }, user: { cash_micros: 10_000_000 } });
    }
    // the key in the body works the same way
    const body1 = await api.post(url, { amount: '-0.5', reason: 'correction', idempotency_key: 'fix-1' });
    const body2 = await api.post(url, { amount: '-0.5', reason: 'correction', idempotency_key: 'fix-1' });
    expect([body1.body.replayed, body2.body.replayed]).toEqual([false, true]);
    expect(body2.body.user.cash_micros).toBe(9_500_000);
    const w = await db().selectFrom('wallets').selectAll().where('user_id', '=', state.userId!).executeTakeFirstOrThrow();
    expect(w.cash_micros).toBe(9_500_000);
    expect(await bookProblems(db(), w.id)).toEqual([]);
    // and every manual change is audited once
    const audits = await db().selectFrom('audit_log').selectAll().where('action', '=', 'balance.adjust').where('target_id', '=', String(state.userId)).execute();
    expect(audits).toHaveLength(2);
  });

  it('lists the ledger, newest first, paged', async () => {
    const r = await api.get(`/api/admin/users/${state.userId}/ledger?page_size=1`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ total: 2, page: 1, page_size: 1 });
    expect(r.body.items).toHaveLength(1);
    expect(r.body.items[0]).toMatchObject({ amount_micros: -500_000, balance_after_micros: 9_500_000, type: 'adjustment', reason: 'correction' });
    const p2 = await api.get(`/api/admin/users/${state.userId}/ledger?page_size=1&page=2`);
    expect(p2.body.items[0]).toMatchObject({ amount_micros: 10_000_000 });
  });

  it('creates a key, showing it only in that one response', async () => {
    const r = await api.post('/api/admin/keys', { user_id: state.userId, name: 'laptop' });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatch(/^sk-[0-9A-Za-z]{32}$/);
    expect(r.body).toMatchObject({ name: 'laptop', status: 'active', state: 'active', user_id: state.userId });
    expect(r.body.display).toBe(`${r.body.key.slice(0, r.body.prefix.length)}…${r.body.key.slice(-4)}`);
    state.key = r.body.key;
    state.keyId = r.body.id;
    const list = await api.get(`/api/admin/keys?user_id=${state.userId}`);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).not.toHaveProperty('key');
    expect(list.body.items[0]).toMatchObject({ id: r.body.id, owner_email: 'alice@example.com' });
    for (const res of [list, await api.get('/api/admin/keys'), await api.get(`/api/admin/users/${state.userId}`)]) {
      expect(JSON.stringify(res.body)).not.toContain(r.body.key);
    }
    const row = await db().selectFrom('api_keys').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(r.body.key);
    const k2 = await api.post('/api/admin/keys', { user_id: state.userId, name: 'server', models: ['gpt-4o'] });
    state.key2 = k2.body.key;
    state.key2Id = k2.body.id;
  });

  it('the key works at once; disabling it stops it within a second, enabling restores it', async () => {
    const client = sdk(state.key!);
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'first' }], max_tokens: 3 }).withResponse();
    state.requests.push({ id: r.response.headers.get('x-request-id')!, model: 'gpt-4o-mini', keyId: state.keyId!, stream: false, status: 200, at: Date.now() });

    const t0 = Date.now();
    const d = await api.patch(`/api/admin/keys/${state.keyId}`, { status: 'disabled' });
    expect(d.body).toMatchObject({ status: 'disabled', state: 'disabled' });
    await until(async () => (await client.models.list().catch((e: unknown) => e)) instanceof OpenAI.AuthenticationError, 5_000, 20);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const refused = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('key_disabled');

    const e = await api.patch(`/api/admin/keys/${state.keyId}`, { status: 'active' });
    expect(e.body.status).toBe('active');
    await until(async () => Array.isArray((await client.models.list().catch(() => null))?.data), 5_000, 20);
    const again = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'again' }], max_tokens: 2 }).withResponse();
    state.requests.push({ id: again.response.headers.get('x-request-id')!, model: 'gpt-4o-mini', keyId: state.keyId!, stream: false, status: 200, at: Date.now() });
  });

  it('a price change is live for the very next call, without a restart', async () => {
    const client = sdk(state.key!);
    const content = 'price check';
    const prompt = chatPromptTokens([content]);
    const call = async () => {
      const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 5 }).withResponse();
      const id = r.response.headers.get('x-request-id')!;
      state.requests.push({ id, model: 'gpt-4o-mini', keyId: state.keyId!, stream: false, status: 200, at: Date.now() });
      return (await chargeOf(db(), id)).usage!.charged_micros;
    };
    expect(await call()).toBe(expectedCost({ input: '1', output: '2' }, { prompt, completion: 5 }));
    const put = await api.put('/api/admin/prices/gpt-4o-mini', { input: '7', output: '11' });
    expect(put.status).toBe(200);
    expect(await call()).toBe(expectedCost({ input: '7', output: '11' }, { prompt, completion: 5 }));
    await api.put('/api/admin/prices/gpt-4o-mini', { input: '1', output: '2' });
    expect(await call()).toBe(expectedCost({ input: '1', output: '2' }, { prompt, completion: 5 }));
  });

  it('lists usage with every filter, sort and page', async () => {
    // a varied set of calls: two keys, two models, streamed and not, one refused upstream
    const c2 = sdk(state.key2!);
    const mark = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    for (const [i, stream] of [false, true, false].entries()) {
      const { response, data } = await c2.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: `k2 call ${i}` }], max_tokens: i + 2, ...(stream ? { stream: true as const } : {}) })
        .withResponse();
      if (stream) for await (const _ of data as AsyncIterable<unknown>);
      state.requests.push({ id: response.headers.get('x-request-id')!, model: 'gpt-4o', keyId: state.key2Id!, stream, status: 200, at: Date.now() });
    }
    const bad = await c2.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'bad [[fake:status=400,errorMessage=nope]]' }], max_tokens: 2 }).catch((e: unknown) => e);
    expect((bad as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    state.requests.push({ id: (bad as InstanceType<typeof OpenAI.APIError>).headers!.get('x-request-id')!, model: 'gpt-4o', keyId: state.key2Id!, stream: false, status: 400, at: Date.now() });

    const all = state.requests;
    type Row = { request_id: string; [k: string]: any };
    const get = async (q: string) => {
      const r = await api.get(`/api/admin/usage${q}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body as { items: Row[]; total: number; page: number; page_size: number; total_exact: boolean };
    };
    const ids = (rows: Row[]) => rows.map((r) => r.request_id).sort();
    const expectIds = (rows: Row[], want: typeof all) => expect(ids(rows)).toEqual(want.map((r) => r.id).sort());

    const everything = await get('?page_size=100');
    expect(everything.total).toBe(all.length);
    expect(everything.total_exact).toBe(true);
    expectIds(everything.items, all);
    const one = everything.items.find((r) => r.request_id === all[0]!.id)!;
    expect(one).toMatchObject({ user_id: state.userId, user_email: 'alice@example.com', key_id: state.keyId, key_name: 'laptop', channel_id: state.channelId, channel_name: 'fake openai', endpoint: 'chat.completions', usage_source: 'upstream', client_ip: '127.0.0.1' });
    // cost to us is the list price × the channel's 0.7 cost ratio, rounded up; margin is the rest
    expect(one.margin_micros).toBe(one.charged_micros - one.cost_micros);
    expect(one.cost_micros).toBe(expectedCost({ input: '1', output: '2' }, { prompt: one.prompt_tokens, completion: one.completion_tokens }, 700_000));

    expectIds((await get(`?user_id=${state.userId}&page_size=100`)).items, all);
    expectIds((await get(`?key_id=${state.key2Id}&page_size=100`)).items, all.filter((r) => r.keyId === state.key2Id));
    expectIds((await get('?model=gpt-4o&page_size=100')).items, all.filter((r) => r.model === 'gpt-4o'));
    expectIds((await get(`?channel_id=${state.channelId}&page_size=100`)).items, all);
    expectIds((await get('?status=400')).items, all.filter((r) => r.status === 400));
    expectIds((await get('?status=4xx')).items, all.filter((r) => r.status === 400));
    expectIds((await get('?status=error')).items, all.filter((r) => r.status >= 400));
    expectIds((await get('?status=ok&page_size=100')).items, all.filter((r) => r.status < 400));
    expectIds((await get('?status=200&page_size=100')).items, all.filter((r) => r.status === 200));
    expectIds((await get('?stream=true')).items, all.filter((r) => r.stream));
    expectIds((await get('?stream=false&page_size=100')).items, all.filter((r) => !r.stream));
    expectIds((await get(`?request_id=${all[1]!.id}`)).items, [all[1]!]);
    expectIds((await get(`?from=${mark}&page_size=100`)).items, all.filter((r) => r.keyId === state.key2Id));
    expectIds((await get(`?from=${new Date(mark).toISOString()}&page_size=100`)).items, all.filter((r) => r.keyId === state.key2Id));
    expectIds((await get(`?to=${mark}&page_size=100`)).items, all.filter((r) => r.keyId === state.keyId));
    expectIds((await get(`?from=0&to=${new Date(mark).toISOString()}&page_size=100`)).items, all.filter((r) => r.keyId === state.keyId));
    expectIds((await get(`?model=gpt-4o&stream=false&status=ok`)).items, all.filter((r) => r.model === 'gpt-4o' && !r.stream && r.status === 200));
    expect((await get('?model=nothing')).items).toEqual([]);
    expect((await api.get('/api/admin/usage?status=abc')).status).toBe(400);
    expect((await api.get(`/api/admin/usage?from=${mark}&to=${mark - 1}`)).status).toBe(400);
    expect((await api.get('/api/admin/usage?sort=user_id')).status).toBe(400);

    for (const sort of ['created_at', 'latency_ms', 'charged_micros', 'cost_micros', 'prompt_tokens', 'completion_tokens']) {
      for (const order of ['asc', 'desc'] as const) {
        const rows = (await get(`?sort=${sort}&order=${order}&page_size=100`)).items;
        const field = sort === 'created_at' ? (r: Row) => Date.parse(r.created_at) : (r: Row) => r[sort] as number;
        const values = rows.map(field);
        const sorted = [...values].sort((a, b) => (order === 'asc' ? a - b : b - a));
        expect(values, `${sort} ${order}`).toEqual(sorted);
      }
    }
    // pages walk the whole set without gaps or repeats
    const seen: string[] = [];
    for (let page = 1; page <= 4; page++) {
      const p = await get(`?page=${page}&page_size=3&sort=created_at&order=asc`);
      expect(p).toMatchObject({ page, page_size: 3, total: all.length });
      seen.push(...p.items.map((r) => r.request_id));
    }
    expect(seen.sort()).toEqual(all.map((r) => r.id).sort());
    expect((await get(`?page=99&page_size=3`)).items).toEqual([]);

    const totals = (await api.get(`/api/admin/usage/totals?key_id=${state.key2Id}`)).body;
    const k2 = (await get(`?key_id=${state.key2Id}`)).items;
    expect(totals).toMatchObject({
      calls: k2.length,
      charged_micros: k2.reduce((n, r) => n + r.charged_micros, 0),
      prompt_tokens: k2.reduce((n, r) => n + r.prompt_tokens, 0),
      completion_tokens: k2.reduce((n, r) => n + r.completion_tokens, 0),
    });
    const single = await api.get(`/api/admin/usage/${all[0]!.id}`);
    expect(single.body.request_id).toBe(all[0]!.id);
    expect((await api.get('/api/admin/usage/req_nothing')).status).toBe(404);
  });

  it('leaves the books balanced', async () => {
    expect(await pendingHolds(db())).toBe(0);
    const w = await db().selectFrom('wallets').select('id').where('user_id', '=', state.userId!).executeTakeFirstOrThrow();
    expect(await bookProblems(db(), w.id)).toEqual([]);
  });
});

describe('API description', () => {
  it('/api/openapi.json is a valid OpenAPI 3 document listing the admin and gateway paths', async () => {
    const r = await fetch(srv.url + '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/json/);
    const text = await r.text();
    const doc = JSON.parse(text);
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const config = await createConfig({ extends: ['minimal'] });
    const problems = await lintFromString({ source: text, absoluteRef: 'file:///openapi.json', config });
    const errors = problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(errors).toEqual([]);
    const want: Record<string, string[]> = {
      '/api/admin/channels': ['get', 'post'],
      '/api/admin/channels/{id}': ['get', 'patch', 'delete'],
      '/api/admin/channels/{id}/test': ['post'],
      '/api/admin/prices': ['get'],
      '/api/admin/prices/{model}': ['put', 'delete'],
      '/api/admin/users': ['get', 'post'],
      '/api/admin/users/{id}': ['get', 'patch'],
      '/api/admin/users/{id}/balance-adjustments': ['post'],
      '/api/admin/users/{id}/ledger': ['get'],
      '/api/admin/keys': ['get', 'post'],
      '/api/admin/keys/{id}': ['patch', 'delete'],
      '/api/admin/keys/{id}/revoke': ['post'],
      '/api/admin/usage': ['get'],
      '/api/admin/usage/totals': ['get'],
      '/v1/chat/completions': ['post'],
      '/v1/completions': ['post'],
      '/v1/embeddings': ['post'],
      '/v1/models': ['get'],
    };
    for (const [path, methods] of Object.entries(want)) {
      expect(doc.paths[path], path).toBeDefined();
      for (const m of methods) expect(doc.paths[path][m], `${m} ${path}`).toBeDefined();
    }
    // request bodies and query parameters are described, not just listed
    expect(doc.paths['/api/admin/channels'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('base_url');
    expect(doc.paths['/api/admin/usage'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'model', 'status', 'sort', 'page']));
  });

  it('/api/docs serves an HTML page', async () => {
    const r = await fetch(srv.url + '/api/docs');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toMatch(/<html/i);
  });
});
