import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';

let up: FakeUpstream;
let srv: TestServer;

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  await addChannel(srv.ctx, up.url);
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '0.15', output: '0.6' });
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('smoke', () => {
  it('relays a chat completion and charges it', async () => {
    const { key, wallet } = await addUserWithKey(srv.ctx, { balanceUsd: '1' });
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    expect(r.choices[0]!.message.content).toBe('hello hello hello hello hello');
    const w = await walletOf(srv.ctx, wallet.id);
    const expected = Math.ceil((r.usage!.prompt_tokens * 150_000 + r.usage!.completion_tokens * 600_000) / 1_000_000);
    expect(w.cash_micros).toBe(1_000_000 - expected);
    expect(w.pending_micros).toBe(0);
  });
});

describe('admin session', () => {
  it('signs in the first super-admin and lists users', async () => {
    const { ApiClient } = await import('../support/api.js');
    const api = new ApiClient(srv.url);
    await api.signIn();
    const me = await api.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body.role).toBe('super_admin');
    const users = await api.get('/api/admin/users');
    expect(users.status).toBe(200);
    expect(users.body.items.some((u: { email: string }) => u.email === 'admin@test.local')).toBe(true);
  });
});
