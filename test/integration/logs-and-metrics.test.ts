// What an operator's log pipeline and metrics scraper see: one value per key on every log line, no
// upstream credentials in logs, usage records, channel status or what the caller is told, and
// /metrics behind METRICS_TOKEN when one is set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config/index.js';
import { createLogger } from '../../server/src/log.js';
import { startServer, type RunningServer } from '../../server/src/main.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { serverEnv } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { ApiClient } from '../support/api.js';

const METRICS_TOKEN = 'metrics-token-0123456789';
const CHANNEL_KEY = 'sk-live-CHANNELsecret0123456789abcdef';
let up: FakeUpstream;
let db: TestDatabase;
let srv: RunningServer;
let key: string;
const lines: string[] = [];

beforeAll(async () => {
  up = await startFakeUpstream();
  db = await createTestDatabase();
  const config = loadConfig(serverEnv(db.url, { LOG_LEVEL: 'info', METRICS_TOKEN, GATEWAY_RETRIES: '0' }) as NodeJS.ProcessEnv);
  const log = createLogger('info', 'tollgate', { write: (s: string) => void lines.push(s) });
  srv = await startServer(config, { log, print: () => {} });
  await addChannel(srv.ctx, up.url, { key: CHANNEL_KEY });
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '1', output: '2' });
  key = (await addUserWithKey(srv.ctx, { balanceUsd: '5' })).key;
});
afterAll(async () => {
  await srv?.close(1_000);
  await db?.drop();
  await up?.close();
});

const chat = (body: Record<string, unknown> = {}) =>
  fetch(srv.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ...body }),
  });

describe('logs', () => {
  it('no line carries a key twice', async () => {
    const admin = new ApiClient(srv.url);
    await admin.signIn();
    await admin.get('/api/admin/channels');
    await admin.get('/api/admin/nope');
    // An upstream refusal and an upstream failure, both logged by the relay.
    up.setKeyBehavior(CHANNEL_KEY, { status: 503, errorMessage: 'overloaded' });
    await chat();
    up.setKeyBehavior(CHANNEL_KEY, null);
    await new Promise((r) => setTimeout(r, 100));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      for (const k of ['msg', 'reqId', 'level', 'time', 'pid']) {
        const n = line.split(`"${k}":`).length - 1;
        expect(n, `"${k}" appears ${n} times in ${line}`).toBeLessThanOrEqual(1);
      }
    }
    expect(lines.some((l) => l.includes('"msg":"api"') && l.includes('"reqId":'))).toBe(true);
    expect(lines.some((l) => l.includes('"msg":"upstream refused"') && l.includes('overloaded'))).toBe(true);
  });

  it('an upstream that echoes its credentials: scrubbed from the log, the caller, the usage record and the channel', async () => {
    lines.length = 0;
    const echo = `Incorrect API key provided: ${CHANNEL_KEY}. You sent Authorization: Bearer ${CHANNEL_KEY}, x-api-key: ${CHANNEL_KEY.slice(3)}`;
    // A 400 passed through to the caller …
    up.setKeyBehavior(CHANNEL_KEY, { status: 400, errorCode: 'bad_thing', errorMessage: echo });
    const r = await chat();
    const told = await r.text();
    expect(r.status).toBe(400);
    expect(told).toContain('Incorrect API key provided: [redacted]');
    // … and a 401 that disables the channel.
    up.setKeyBehavior(CHANNEL_KEY, { status: 401, errorCode: 'invalid_api_key', errorMessage: echo });
    const r2 = await chat();
    const told2 = await r2.text();
    up.setKeyBehavior(CHANNEL_KEY, null);
    await new Promise((r) => setTimeout(r, 200));
    const k = srv.ctx.db.kysely;
    const stored = JSON.stringify([
      await k.selectFrom('usage_records').selectAll().execute(),
      await k.selectFrom('channels').select(['status', 'status_reason', 'last_test_error']).execute(),
      await k.selectFrom('audit_log').selectAll().execute(),
    ]);
    expect(stored).toContain('[redacted]');
    for (const where of [told, told2, stored, lines.join('\n')]) {
      expect(where).not.toContain('CHANNELsecret');
    }
    expect(lines.join('\n')).toContain('[redacted]');
  });
});

describe('/metrics', () => {
  it('needs the bearer token when METRICS_TOKEN is set', async () => {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${METRICS_TOKEN}x`, METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
      const r = await fetch(srv.url + '/metrics', { headers: auth ? { authorization: auth } : {} });
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
      expect(await r.text()).not.toContain('tollgate_');
    }
    const ok = await fetch(srv.url + '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('# TYPE');
  });

  it('a METRICS_TOKEN shorter than 16 characters stops the start', () => {
    expect(() => loadConfig(serverEnv(db.url, { METRICS_TOKEN: 'short' }) as NodeJS.ProcessEnv)).toThrow(/METRICS_TOKEN/);
  });
});
