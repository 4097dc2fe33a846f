// Channels under hostile use: a caller must not be able to switch a channel off for everyone,
// and an operator who may edit channels must not be able to take the upstream key away.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { ApiClient } from '../support/api.js';
import { pendingHolds, until } from '../support/books.js';

const UPSTREAM_SECRET = 'sk-live-upstream-secret-0123456789ABCDEF';
let up: FakeUpstream;
let srv: TestServer;
let api: ApiClient;
let userKey: string;
const db = () => srv.ctx.db.kysely;

/** A server someone else runs: it keeps every Authorization header and echoes it back in a long error. */
let echo: Server;
let echoUrl: string;
const echoed: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  up = await startFakeUpstream({
    apiKeys: {
      'sk-strict': { rejectUnknownArguments: true },
      'sk-dead': { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key provided: sk-dead-98765abcdef' },
      'sk-broke': { status: 429, errorCode: 'insufficient_quota', errorType: 'insufficient_quota', errorMessage: 'You exceeded your current quota' },
      'sk-busy': { status: 429, errorCode: 'rate_limit_exceeded', errorMessage: 'Rate limit reached. You exceeded your current quota of requests per minute' },
    },
  });
  echo = createServer((req, res) => {
    echoed.push(req.headers);
    req.resume();
    req.on('end', () => {
      const message = `you sent ${req.headers.authorization} ` + 'and more words '.repeat(400);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } }));
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/v1`;
  srv = await startTestServer();
  api = new ApiClient(srv.url);
  await api.signIn();
  await addPrice(srv.ctx, 'm-strict', { input: '1', output: '1' });
  userKey = (await addUserWithKey(srv.ctx, { balanceUsd: '10' })).key;
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
  await new Promise((r) => echo?.close(r));
});

const channelRow = (id: number) => db().selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const autoDisables = (id: number) => db().selectFrom('audit_log').select('id').where('action', '=', 'channel.auto_disable').where('target_id', '=', String(id)).execute();
const chat = (model: string, extra: Record<string, unknown> = {}) =>
  fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, ...extra }),
  });

describe('channel auto-disable decides on status and error codes, never on the text of a 400', () => {
  it('an upstream 400 echoing a caller argument named like a dead key leaves the channel on', async () => {
    const c = await addChannel(srv.ctx, up.url, { key: 'sk-strict', models: ['m-strict'] });
    for (const name of ['incorrect api key', 'account_deactivated organization disabled', 'you exceeded your current quota', 'insufficient_quota']) {
      const r = await chat('m-strict', { [name]: true });
      expect(r.status).toBe(400);
      const body = (await r.json()) as { error: { message: string } };
      expect(body.error.message).toBe(`Unrecognized request argument supplied: ${name}`);
    }
    await until(async () => (await pendingHolds(db())) === 0);
    await new Promise((r) => setTimeout(r, 300)); // an auto-disable runs after the answer
    expect(await channelRow(c.id)).toMatchObject({ status: 'enabled', status_reason: null });
    expect(await autoDisables(c.id)).toHaveLength(0);
    expect((await chat('m-strict')).status).toBe(200);
  });

  it('a 401 invalid_api_key disables the channel', async () => {
    await addPrice(srv.ctx, 'm-dead', { input: '1', output: '1' });
    const c = await addChannel(srv.ctx, up.url, { key: 'sk-dead', models: ['m-dead'] });
    expect((await chat('m-dead')).status).toBeGreaterThanOrEqual(500);
    const row = await until(async () => {
      const r = await channelRow(c.id);
      return r.status === 'auto_disabled' ? r : undefined;
    });
    expect(row.status_reason).toContain('invalid_api_key');
    expect(row.status_reason).toContain('Incorrect API key provided: [redacted]');
  });

  it('a 429 insufficient_quota disables it; a plain 429 only cools it down', async () => {
    await addPrice(srv.ctx, 'm-broke', { input: '1', output: '1' });
    await addPrice(srv.ctx, 'm-busy', { input: '1', output: '1' });
    const broke = await addChannel(srv.ctx, up.url, { key: 'sk-broke', models: ['m-broke'] });
    const busy = await addChannel(srv.ctx, up.url, { key: 'sk-busy', models: ['m-busy'] });
    await chat('m-broke');
    expect((await chat('m-busy')).status).toBe(429);
    await until(async () => (await channelRow(broke.id)).status === 'auto_disabled' || undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect((await channelRow(busy.id)).status).toBe('enabled');
    expect(srv.ctx.cooldowns.isCooling(busy.id)).toBe(true);
  });
});

describe('upstream keys stay with the upstream', () => {
  it('changing base_url without sending the key again is refused, and nothing changes', async () => {
    const c = await addChannel(srv.ctx, up.url, { key: UPSTREAM_SECRET, models: ['m-strict'] });
    const r = await api.patch(`/api/admin/channels/${c.id}`, { base_url: echoUrl });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'key', message: expect.stringContaining('base_url') });
    expect((await channelRow(c.id)).base_url).toBe(up.url);
    const t = await api.post(`/api/admin/channels/${c.id}/test`);
    expect(t.body.ok).toBe(true);
    expect(echoed).toHaveLength(0);
    // other edits still keep the key, and the same address with no key is fine
    expect((await api.patch(`/api/admin/channels/${c.id}`, { base_url: up.url, weight: 4 })).status).toBe(200);
    // a new address with a new key is an ordinary edit
    const moved = await api.patch(`/api/admin/channels/${c.id}`, { base_url: echoUrl, key: 'sk-their-own-key-000000000000' });
    expect(moved.status).toBe(200);
    expect(moved.body.base_url).toBe(echoUrl);
  });

  it('a channel test shows staff a short answer with nothing key-shaped in it', async () => {
    const c = await addChannel(srv.ctx, echoUrl, { key: UPSTREAM_SECRET, models: ['m-strict'] });
    const r = await api.post(`/api/admin/channels/${c.id}/test`);
    expect(r.status).toBe(200);
    expect(echoed.at(-1)!.authorization).toBe(`Bearer ${UPSTREAM_SECRET}`);
    expect(r.body).toMatchObject({ ok: false, status: 400 });
    expect(r.body.error.length).toBeLessThanOrEqual(500);
    expect(r.body.error).toContain('you sent [redacted]');
    const shown = JSON.stringify(r.body) + JSON.stringify(await channelRow(c.id));
    expect(shown).not.toContain(UPSTREAM_SECRET);
    expect(shown).not.toContain('0123456789ABCDEF');
  });
});
