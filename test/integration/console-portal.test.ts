import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setGroup } from '../../server/src/billing/prices.js';
import { CLI_ACTOR } from '../../server/src/audit/index.js';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { insertUsage, signInAs } from './console-fixtures.js';

const DAY = 86_400_000;
const PASSWORD = 'password-123';

let up: FakeUpstream;
let srv: TestServer;
type Seeded = Awaited<ReturnType<typeof addUserWithKey>>;
let a: Seeded;
let b: Seeded;
let apiA: ApiClient;
let apiB: ApiClient;

beforeAll(async () => {
  up = await startFakeUpstream();
  // signInAs() gives each sign-in its own X-Forwarded-For address; trusted only behind a proxy.
  srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  await setGroup(srv.ctx.db, srv.ctx.feed, 'vip', { multiplier: '1.5' }, CLI_ACTOR);
  await addChannel(srv.ctx, up.url, { groups: ['default', 'vip'], models: ['gpt-4o-mini', 'gpt-4o', 'unpriced-model'] });
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '0.15', output: '0.6' });
  await addPrice(srv.ctx, 'gpt-4o', { input: '2.5', output: '10', cached_input: '1.25', per_request: '0.001' });
  a = await addUserWithKey(srv.ctx, { email: 'alice@example.com', balanceUsd: '5', password: PASSWORD, key: { name: 'alice-main' } });
  b = await addUserWithKey(srv.ctx, { email: 'bob@example.com', balanceUsd: '5', password: PASSWORD, key: { name: 'bob-main' } });
  apiA = new ApiClient(srv.url);
  await signInAs(apiA, 'alice@example.com', PASSWORD);
  apiB = new ApiClient(srv.url);
  await signInAs(apiB, 'bob@example.com', PASSWORD);
  const now = Date.now();
  await insertUsage(srv.ctx, [
    ...Array.from({ length: 3 }, (_, i) => ({ user_id: a.user.id, key_id: a.keyView.id, wallet_id: a.wallet.id, created_at: now - (i + 1) * 60_000, prompt_tokens: 100, completion_tokens: 10, charged_micros: 21, cost_micros: 12 })),
    ...Array.from({ length: 4 }, (_, i) => ({ user_id: b.user.id, key_id: b.keyView.id, wallet_id: b.wallet.id, created_at: now - (i + 1) * 60_000, model: 'gpt-4o', prompt_tokens: 7, completion_tokens: 3, charged_micros: 99, cost_micros: 50 })),
  ]);
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('console: sign-in required', () => {
  it('refuses every console endpoint without a session', async () => {
    const anon = new ApiClient(srv.url);
    for (const path of ['/api/console/overview', '/api/console/keys', '/api/console/usage', '/api/console/usage/totals', '/api/console/usage/export.csv', '/api/console/models']) {
      const r = await anon.get(path);
      expect(r.status, path).toBe(401);
      expect(r.body.error.code).toBe('session_required');
    }
  });

  it('lets a plain user in, but not into /api/admin', async () => {
    expect((await apiA.get('/api/console/overview')).status).toBe(200);
    expect((await apiA.get('/api/admin/dashboard')).status).toBe(403);
    expect((await apiA.get('/api/admin/usage/export.csv')).status).toBe(403);
  });
});

describe('console: scoping to the signed-in user', () => {
  it('lists only my keys, never the key itself', async () => {
    const r = await apiA.get('/api/console/keys');
    expect(r.status).toBe(200);
    expect(r.body.items.map((k: { id: number }) => k.id)).toEqual([a.keyView.id]);
    expect(r.body).toMatchObject({ total: 1, page: 1, page_size: 20 });
    expect(r.body.items[0]).not.toHaveProperty('key');
    expect(r.body.items[0]).not.toHaveProperty('owner_email');
    expect(r.body.items[0].display).toMatch(/^sk-.{4}….{4}$/);
    // Searching by my own email does not match every key.
    expect((await apiA.get('/api/console/keys?q=alice@')).body.total).toBe(0);
    expect((await apiA.get('/api/console/keys?q=alice-main')).body.total).toBe(1);
  });

  it("cannot read, change or delete another user's key (404, unchanged)", async () => {
    const patch = await apiA.patch(`/api/console/keys/${b.keyView.id}`, { name: 'stolen', status: 'disabled' });
    expect(patch.status).toBe(404);
    expect(patch.body.error.code).toBe('not_found');
    const del = await apiA.delete(`/api/console/keys/${b.keyView.id}`);
    expect(del.status).toBe(404);
    const mine = await apiB.get('/api/console/keys');
    expect(mine.body.items[0]).toMatchObject({ id: b.keyView.id, name: 'bob-main', status: 'active' });
  });

  it("never shows another user's usage, whatever the filter says", async () => {
    const list = await apiA.get(`/api/console/usage?user_id=${b.user.id}`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(3);
    expect(list.body.items.every((u: { user_id: number }) => u.user_id === a.user.id)).toBe(true);
    expect(list.body).toMatchObject({ total: 3, total_exact: true });
    const byOtherKey = await apiA.get(`/api/console/usage?key_id=${b.keyView.id}`);
    expect(byOtherKey.body).toMatchObject({ items: [], total: 0 });
    const totals = await apiA.get('/api/console/usage/totals');
    expect(totals.body).toEqual({ calls: 3, failed_calls: 0, prompt_tokens: 300, completion_tokens: 30, charged_micros: 63 });
    const csv = await apiA.get('/api/console/usage/export.csv');
    const lines = (csv.body as string).replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines).toHaveLength(4);
    expect(csv.body).not.toContain('bob');
  });

  it('hides operator-only fields from usage records and exports', async () => {
    const list = await apiA.get('/api/console/usage?page_size=1');
    const item = list.body.items[0];
    for (const f of ['cost_micros', 'margin_micros', 'channel_id', 'channel_name', 'upstream_model']) expect(item).not.toHaveProperty(f);
    expect(item).toMatchObject({ user_id: a.user.id, key_id: a.keyView.id, key_name: 'alice-main', model: 'gpt-4o-mini', prompt_tokens: 100, charged_micros: 21, client_ip: '127.0.0.1' });
    const totals = await apiA.get('/api/console/usage/totals');
    expect(totals.body).not.toHaveProperty('cost_micros');
    const csv = await apiA.get('/api/console/usage/export.csv');
    const header = (csv.body as string).replace(/^\uFEFF/, '').split('\r\n')[0];
    expect(header).toBe(
      'time,request_id,key_name,model,endpoint,stream,prompt_tokens,completion_tokens,cached_tokens,input_usd_per_1m,output_usd_per_1m,cached_input_usd_per_1m,multiplier,charged_usd,status,error_code,latency_ms,ttfb_ms',
    );
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="usage-\d{8}-\d{4}\.csv"$/);
  });

  it('refuses sorting by upstream cost', async () => {
    const r = await apiA.get('/api/console/usage?sort=cost_micros');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'sort' });
  });
});

describe('console: keys', () => {
  it('creates a key shown once that works with the openai SDK, then edits and deletes it', async () => {
    const created = await apiA.post('/api/console/keys', { name: 'sdk key', models: ['gpt-4o-mini'], quota: '1.5', rpm_limit: 100 });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sk-[A-Za-z0-9]{32}$/);
    expect(created.body).toMatchObject({ user_id: a.user.id, name: 'sdk key', status: 'active', quota_micros: 1_500_000, allowed_models: ['gpt-4o-mini'], rpm_limit: 100, group: null });
    const id = created.body.id as number;
    const listed = await apiA.get('/api/console/keys');
    expect(listed.body.total).toBe(2);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);

    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: created.body.key, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi from the console' }], max_tokens: 4 });
    expect(res.choices[0]!.message.content).toBe('hello hello hello hello');
    await srv.ctx.money.idle();

    const usage = await apiA.get(`/api/console/usage?key_id=${id}`);
    expect(usage.body.items).toHaveLength(1);
    expect(usage.body.items[0]).toMatchObject({ key_name: 'sdk key', prompt_tokens: res.usage!.prompt_tokens, completion_tokens: 4, status_code: 200 });

    const patched = await apiA.patch(`/api/console/keys/${id}`, { name: 'renamed', status: 'disabled', quota: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: 'renamed', status: 'disabled', state: 'disabled', quota_micros: null });

    const audit = await srv.ctx.db.kysely.selectFrom('audit_log').select(['action', 'actor_id']).where('target_type', '=', 'key').where('target_id', '=', String(id)).orderBy('id').execute();
    expect(audit.map((e) => e.action)).toEqual(['key.create', 'key.update']);
    expect(audit.every((e) => Number(e.actor_id) === a.user.id)).toBe(true);

    const del = await apiA.delete(`/api/console/keys/${id}`);
    expect(del.status).toBe(204);
    expect((await apiA.get('/api/console/keys')).body.items.map((k: { id: number }) => k.id)).toEqual([a.keyView.id]);
    expect((await apiA.patch(`/api/console/keys/${id}`, { name: 'again' })).status).toBe(404);
  });

  it('does not let a user set the group, or send unknown fields', async () => {
    const r = await apiA.post('/api/console/keys', { name: 'cheap', group: 'vip' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect(r.body.error.message).toContain('group');
    const p = await apiA.patch(`/api/console/keys/${a.keyView.id}`, { group: 'vip' });
    expect(p.status).toBe(400);
  });

  it('validates key fields with a path', async () => {
    const noName = await apiA.post('/api/console/keys', {});
    expect(noName.status).toBe(400);
    expect(noName.body.error.path).toBe('name');
    const badQuota = await apiA.post('/api/console/keys', { name: 'x', quota: '1.2345678' });
    expect(badQuota.status).toBe(400);
    expect(badQuota.body.error.path).toBe('quota');
    const past = await apiA.post('/api/console/keys', { name: 'x', expires_at: '2001-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.error.path).toBe('expires_at');
    const badIp = await apiA.post('/api/console/keys', { name: 'x', ips: ['not-an-ip'] });
    expect(badIp.status).toBe(400);
    expect(badIp.body.error.path).toBe('ips.0');
  });
});

describe('console: overview', () => {
  it('shows me, my wallet, the gateway address and a call made today', async () => {
    const carol = await addUserWithKey(srv.ctx, { email: 'carol@example.com', balanceUsd: '2', password: PASSWORD });
    const api = new ApiClient(srv.url);
    await signInAs(api, 'carol@example.com', PASSWORD);
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: carol.key, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count my tokens' }], max_tokens: 6 });
    await srv.ctx.money.idle();
    const rec = await srv.ctx.db.kysely.selectFrom('usage_records').selectAll().where('user_id', '=', carol.user.id).executeTakeFirstOrThrow();
    const expectedCharge = Math.ceil((res.usage!.prompt_tokens * 150_000 + 6 * 600_000) / 1_000_000);
    expect(Number(rec.charged_micros)).toBe(expectedCharge);

    const r = await api.get('/api/console/overview');
    expect(r.status).toBe(200);
    expect(r.body.user).toEqual({ id: carol.user.id, email: 'carol@example.com', name: 'carol', role: 'user', group: 'default' });
    expect(r.body.wallet).toMatchObject({ wallet_id: carol.wallet.id, currency: 'USD', cash_micros: 2_000_000 - expectedCharge, pending_micros: 0, available_micros: 2_000_000 - expectedCharge });
    expect(r.body.base_url).toBe(srv.url + '/v1');
    const today = { calls: 1, prompt_tokens: res.usage!.prompt_tokens, completion_tokens: 6, charged_micros: expectedCharge };
    expect(r.body.today).toEqual(today);
    expect(r.body.month).toEqual(today);
    expect(r.body.series).toHaveLength(30);
    expect(r.body.series.at(-1)).toEqual({ date: new Date().toISOString().slice(0, 10), ...today });
    expect(r.body.series.slice(0, -1).every((d: { calls: number }) => d.calls === 0)).toBe(true);
    const dates = r.body.series.map((d: { date: string }) => d.date);
    expect([...dates].sort()).toEqual(dates);
    expect(new Set(dates).size).toBe(30);
  });

  it("puts days in the caller's timezone: 23:30 UTC is the next day at UTC+8", async () => {
    const dave = await addUserWithKey(srv.ctx, { email: 'dave@example.com', password: PASSWORD });
    const api = new ApiClient(srv.url);
    await signInAs(api, 'dave@example.com', PASSWORD);
    const utcDay = Math.floor(Date.now() / DAY) - 3;
    const at = utcDay * DAY + 23.5 * 3_600_000; // 23:30 UTC, three days ago
    await insertUsage(srv.ctx, [{ user_id: dave.user.id, key_id: dave.keyView.id, wallet_id: dave.wallet.id, created_at: at, prompt_tokens: 11, completion_tokens: 22, charged_micros: 333 }]);
    const dateUtc = new Date(utcDay * DAY).toISOString().slice(0, 10);
    const dateNext = new Date((utcDay + 1) * DAY).toISOString().slice(0, 10);
    const day = { calls: 1, prompt_tokens: 11, completion_tokens: 22, charged_micros: 333 };

    const east = await api.get('/api/console/overview?tz_offset_minutes=-480');
    const eastDays = Object.fromEntries(east.body.series.map((d: { date: string; calls: number }) => [d.date, d]));
    expect(eastDays[dateNext]).toEqual({ date: dateNext, ...day });
    expect(eastDays[dateUtc]?.calls ?? 0).toBe(0);

    const utc = await api.get('/api/console/overview');
    const utcDays = Object.fromEntries(utc.body.series.map((d: { date: string; calls: number }) => [d.date, d]));
    expect(utcDays[dateUtc]).toEqual({ date: dateUtc, ...day });
    expect(utcDays[dateNext].calls).toBe(0);
  });

  it('uses PUBLIC_URL for the gateway address when it is set', async () => {
    const other = await startTestServer({ env: { PUBLIC_URL: 'https://relay.example.com/' } });
    try {
      const api = new ApiClient(other.url);
      await signInAs(api);
      expect((await api.get('/api/console/overview')).body.base_url).toBe('https://relay.example.com/v1');
    } finally {
      await other.stop();
    }
  });

  it('answers a bad query with a typed 400 naming the parameter', async () => {
    for (const q of ['tz_offset_minutes=abc', 'tz_offset_minutes=900', 'tz_offset_minutes=1.5']) {
      const r = await apiA.get(`/api/console/overview?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'tz_offset_minutes' });
    }
    const page = await apiA.get('/api/console/usage?page_size=0');
    expect(page.body.error).toMatchObject({ code: 'validation_failed', path: 'page_size' });
    const from = await apiA.get('/api/console/usage?from=yesterday');
    expect(from.body.error).toMatchObject({ code: 'validation_failed', path: 'from' });
    const order = await apiA.get('/api/console/usage/totals?from=2026-02-01&to=2026-01-01');
    expect(order.status).toBe(400);
    expect(order.body.error.path).toBe('to');
    // An export refuses a bad filter before it starts: a JSON error, not a broken file.
    const csv = await apiA.get('/api/console/usage/export.csv?from=2026-02-01&to=2026-01-01');
    expect(csv.status).toBe(400);
    expect(csv.headers.get('content-type')).toMatch(/json/);
    expect(csv.body.error.path).toBe('to');
  });
});

describe('console: models', () => {
  it("lists the models my group can call, with the prices I pay", async () => {
    const r = await apiA.get('/api/console/models');
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([
      {
        model: 'gpt-4o',
        input_usd_per_1m: '2.5',
        output_usd_per_1m: '10',
        cached_input_usd_per_1m: '1.25',
        per_request_usd: '0.001',
        input_usd_per_1k: '0.0025',
        output_usd_per_1k: '0.01',
        multiplier: '1',
        kind: 'chat',
        available: true,
      },
      {
        model: 'gpt-4o-mini',
        input_usd_per_1m: '0.15',
        output_usd_per_1m: '0.6',
        cached_input_usd_per_1m: '0.15',
        per_request_usd: '0',
        input_usd_per_1k: '0.00015',
        output_usd_per_1k: '0.0006',
        multiplier: '1',
        kind: 'chat',
        available: true,
      },
    ]);
  });

  it("applies the group's multiplier, exactly", async () => {
    await srv.ctx.db.kysely.updateTable('users').set({ group_name: 'vip' }).where('id', '=', b.user.id).execute();
    const r = await apiB.get('/api/console/models');
    expect(r.body.items.find((m: { model: string }) => m.model === 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      input_usd_per_1m: '0.225',
      output_usd_per_1m: '0.9',
      cached_input_usd_per_1m: '0.225',
      per_request_usd: '0',
      input_usd_per_1k: '0.000225',
      output_usd_per_1k: '0.0009',
      multiplier: '1.5',
      kind: 'chat',
      available: true,
    });
    await srv.ctx.db.kysely.updateTable('users').set({ group_name: 'default' }).where('id', '=', b.user.id).execute();
  });

  it('suggests a chat model that works: the one I used last, else one a healthy channel serves; never an embedding model', async () => {
    // Alphabetically first, but served only by a channel whose health check failed; and an embedder.
    const broken = await addChannel(srv.ctx, 'http://127.0.0.1:9', { models: ['a-broken-model'] });
    await srv.ctx.db.kysely.updateTable('channels').set({ last_test_ok: 0 }).where('id', '=', broken.id).execute();
    await addChannel(srv.ctx, up.url, { models: ['a-text-embedding'] });
    await addPrice(srv.ctx, 'a-broken-model', { input: '1', output: '1' });
    await addPrice(srv.ctx, 'a-text-embedding', { input: '0.02', output: '0' });
    const c = await addUserWithKey(srv.ctx, { balanceUsd: '1', password: 'carol-password-1' });
    const apiC = new ApiClient(srv.url);
    await apiC.signIn(c.user.email, 'carol-password-1');
    const first = await apiC.get('/api/console/models');
    const offer = (m: string) => first.body.items.find((o: { model: string }) => o.model === m);
    expect(offer('a-broken-model')).toMatchObject({ kind: 'chat', available: false });
    expect(offer('a-text-embedding')).toMatchObject({ kind: 'embedding', available: true });
    expect(first.body.default_model).toBe('gpt-4o');

    // After a call with gpt-4o-mini, that is the one to start from.
    const res = await fetch(srv.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
    });
    expect(res.status).toBe(200);
    expect((await apiC.get('/api/console/models')).body.default_model).toBe('gpt-4o-mini');
  });
});
