// Channel health as an operator reads it on the channels page: every upstream attempt counts,
// including those that failed over to another channel (which leave no usage record of their own),
// so a channel failing every call shows a 100% error rate and its last error; "test all" checks
// every channel in rotation at once.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

let up: FakeUpstream;
let srv: TestServer;
let client: OpenAI;
let admin: ApiClient;
let failing: { id: number };
let working: { id: number };

beforeAll(async () => {
  up = await startFakeUpstream();
  // A cooldown of 1 ms: every call tries the failing channel first, as it would once a cooldown ends.
  srv = await startTestServer({ env: { CHANNEL_COOLDOWN_MS: '1' } });
  await addPrice(srv.ctx, 'm-stats', { input: '1', output: '1' });
  failing = await addChannel(srv.ctx, up.url, { name: 'always-500', key: 'sk-always-500', models: ['m-stats'], priority: 10 });
  working = await addChannel(srv.ctx, up.url, { name: 'steady', key: 'sk-steady', models: ['m-stats'], priority: 0 });
  up.setKeyBehavior('sk-always-500', { status: 500, errorMessage: 'the upstream is on fire' });
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '5' });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: u.key, maxRetries: 0 });
  admin = new ApiClient(srv.url);
  await admin.signIn();
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

const call = () => client.chat.completions.create({ model: 'm-stats', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const tried = (key: string) => up.requests.filter((r) => r.headers.authorization === `Bearer ${key}`).length;

describe('channel health on the channels page', () => {
  it('counts failed-over attempts: the failing channel shows every error, the one that answered every call', async () => {
    // Two batches, each written by its own flush: the second adds to the same minute's row.
    for (let i = 0; i < 4; i++) await call();
    await srv.ctx.channelStats.flush();
    for (let i = 0; i < 3; i++) await call();
    await srv.ctx.channelStats.flush();
    expect(tried('sk-always-500')).toBe(7);
    expect(tried('sk-steady')).toBe(7);

    const res = await admin.get('/api/admin/channels');
    expect(res.status).toBe(200);
    const byId = new Map<number, any>(res.body.items.map((c: { id: number }) => [c.id, c]));
    expect(byId.get(failing.id).health).toMatchObject({ calls_1h: 7, errors_1h: 7, error_rate_1h: 1 });
    expect(byId.get(failing.id).health.last_error).toMatch(/^500.*the upstream is on fire/);
    expect(Date.parse(byId.get(failing.id).health.last_error_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(byId.get(working.id).health).toEqual({ calls_1h: 7, errors_1h: 0, error_rate_1h: 0, last_error: null, last_error_at: null });
    // Every call was answered: the failures cost the caller nothing and left one usage record each, on the channel that answered.
    const records = await srv.ctx.db.kysely.selectFrom('usage_records').select(['channel_id', 'status_code']).where('model', '=', 'm-stats').execute();
    expect(records).toHaveLength(7);
    expect(records.every((r) => Number(r.channel_id) === working.id && r.status_code === 200)).toBe(true);
  });

  it('a channel without traffic shows none, not an error rate of zero', async () => {
    const idle = await addChannel(srv.ctx, up.url, { name: 'idle', key: 'sk-idle', models: ['m-idle'] });
    const res = await admin.get('/api/admin/channels');
    expect(res.body.items.find((c: { id: number }) => c.id === idle.id).health).toEqual({ calls_1h: 0, errors_1h: 0, error_rate_1h: null, last_error: null, last_error_at: null });
  });

  it('"test all" checks every channel in rotation and says which fail', async () => {
    const res = await admin.post('/api/admin/channels/test-all', {});
    expect(res.status).toBe(200);
    const byName = new Map<string, any>(res.body.items.map((t: { name: string }) => [t.name, t]));
    expect(byName.get('always-500')).toMatchObject({ ok: false, status: 500 });
    expect(byName.get('steady')).toMatchObject({ ok: true, status: 200, error: null });
    expect(byName.get('idle')).toMatchObject({ ok: true });
    // A plain user may not run it.
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '0', email: 'plain-stats@example.com', password: 'plain-password-123' });
    const plain = new ApiClient(srv.url);
    await plain.signIn(u.user.email, 'plain-password-123');
    expect((await plain.post('/api/admin/channels/test-all', {})).status).toBe(403);
  });
});
