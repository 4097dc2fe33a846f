// The scheduled channel health check (CHANNEL_TEST_INTERVAL_MS / _MIN): it records when each
// channel was tested and how long it took, puts an auto-disabled channel whose upstream works
// again back in rotation, takes out one whose key the upstream now refuses, and leaves a channel
// the operator disabled by hand alone.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { until } from '../support/books.js';
import { CLI_ACTOR } from '../../server/src/audit/index.js';

const INTERVAL_MS = 1_000;

let up: FakeUpstream;
let srv: TestServer;
let client: OpenAI;
const db = () => srv.ctx.db.kysely;
const channel = (id: number) => db().selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const hits = (key: string) => up.requests.filter((r) => r.headers.authorization === `Bearer ${key}` && r.body?.max_tokens !== 1).length;

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer({ env: { CHANNEL_TEST_INTERVAL_MS: String(INTERVAL_MS) } });
  await addPrice(srv.ctx, 'm-health', { input: '1', output: '1' });
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '5' });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: u.key, maxRetries: 0 });
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('scheduled channel health check', () => {
  it('records the test time and response time of every channel in rotation', async () => {
    const ch = await addChannel(srv.ctx, up.url, { name: 'steady', key: 'sk-steady', models: ['m-health'] });
    const before = Date.now();
    const row = await until(async () => {
      const r = await channel(ch.id);
      return r.last_test_at !== null && r.last_test_at >= before ? r : undefined;
    }, 10_000);
    expect(row).toMatchObject({ last_test_ok: 1, last_test_error: null, status: 'enabled' });
    expect(row.last_test_ms).toEqual(expect.any(Number));
    expect(row.last_test_ms).toBeGreaterThanOrEqual(0);
    // the check is a one-token call upstream with the channel's own key
    expect(up.requests.some((r) => r.headers.authorization === 'Bearer sk-steady' && r.body?.max_tokens === 1)).toBe(true);
    // out of the way of the next cases, as an operator would do it
    await srv.ctx.health.update(ch.id, { status: 'disabled' }, CLI_ACTOR);
    await srv.ctx.feed.pollNow();
  });

  it('takes out a channel whose key the upstream refuses, and puts it back once the upstream accepts it again', async () => {
    const ch = await addChannel(srv.ctx, up.url, { name: 'flaky-account', key: 'sk-flaky-account', models: ['m-health'] });
    await client.chat.completions.create({ model: 'm-health', messages: [{ role: 'user', content: 'one' }], max_tokens: 2 });
    expect(hits('sk-flaky-account')).toBe(1);

    up.setKeyBehavior('sk-flaky-account', { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key provided' });
    const off = await until(async () => {
      const r = await channel(ch.id);
      return r.status === 'auto_disabled' ? r : undefined;
    }, 10_000);
    expect(off.status_reason).toMatch(/health check/);
    expect(off.status_reason).toMatch(/invalid_api_key/);
    expect(off.last_test_ok).toBe(0);

    up.setKeyBehavior('sk-flaky-account', null);
    const on = await until(async () => {
      const r = await channel(ch.id);
      return r.status === 'enabled' ? r : undefined;
    }, 10_000);
    expect(on.status_reason).toMatch(/health check passed/);
    expect(on.last_test_ok).toBe(1);
    // and the gateway routes to it again, in this process, without a restart
    await until(async () => srv.ctx.catalog.tiers('default', 'm-health').some((t) => t.channels.some((c) => c.id === ch.id)) || undefined, 5_000);
    await client.chat.completions.create({ model: 'm-health', messages: [{ role: 'user', content: 'two' }], max_tokens: 2 });
    expect(hits('sk-flaky-account')).toBe(2);
  });

  it('leaves a channel the operator disabled by hand alone', async () => {
    const ch = await addChannel(srv.ctx, up.url, { name: 'parked', key: 'sk-parked', models: ['m-health'], status: 'disabled' });
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 3));
    const row = await channel(ch.id);
    expect(row.status).toBe('disabled');
    expect(row.last_test_at).toBeNull();
    expect(up.requests.some((r) => r.headers.authorization === 'Bearer sk-parked')).toBe(false);
  });
});
