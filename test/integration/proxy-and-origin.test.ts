// Who the caller is and where the request came from: X-Forwarded-* believed only from proxies
// TRUST_PROXY names, Secure cookies behind a trusted TLS proxy, better-auth's origins never taken
// from an untrusted X-Forwarded-Host, cross-site state changes refused, and the console's HTML
// headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { ApiClient } from '../support/api.js';

let up: FakeUpstream;
let plain: TestServer; // TRUST_PROXY unset
let oneHop: TestServer; // TRUST_PROXY=1
let listed: TestServer; // TRUST_PROXY=10.0.0.0/8 (the test's own 127.0.0.1 is not a trusted proxy)
let ipKey: string;

beforeAll(async () => {
  up = await startFakeUpstream();
  // These cases are about better-auth's per-address limit and cookies; the account lockout
  // (accounts/lockout.ts, tested in sign-in-lockout.test.ts) would lock the admin first.
  const noLockout = { LOGIN_MAX_FAILURES: '1000', LOGIN_IP_MAX_FAILURES: '1000' };
  plain = await startTestServer({ env: noLockout });
  await addChannel(plain.ctx, up.url);
  await addPrice(plain.ctx, 'gpt-4o-mini', { input: '1', output: '2' });
  ipKey = (await addUserWithKey(plain.ctx, { balanceUsd: '5', key: { ips: ['10.0.0.0/8'] } })).key;
  oneHop = await startTestServer({ db: plain.db, env: { ...noLockout, TRUST_PROXY: '1' } });
  listed = await startTestServer({ db: plain.db, env: { ...noLockout, TRUST_PROXY: '10.0.0.0/8' } });
});
afterAll(async () => {
  await oneHop?.stop();
  await listed?.stop();
  await plain?.stop();
  await up?.close();
});

const chat = (srv: TestServer, xff: string) =>
  fetch(srv.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${ipKey}`, 'content-type': 'application/json', 'x-forwarded-for': xff },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });

const signIn = (srv: TestServer, headers: Record<string, string>, password = ADMIN_PASSWORD, extra: Record<string, string> = {}) =>
  fetch(srv.url + '/api/auth/sign-in/email', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email: ADMIN_EMAIL, password, ...extra }),
  });

/** A sign-in that waits out better-auth's per-address limit (3 in 10 s), for tests about something else. */
async function signInPatiently(...args: Parameters<typeof signIn>): Promise<Response> {
  let r = await signIn(...args);
  for (let i = 0; i < 3 && r.status === 429; i++) {
    await new Promise((done) => setTimeout(done, Number(r.headers.get('x-retry-after') ?? 10) * 1000 + 250));
    r = await signIn(...args);
  }
  return r;
}

describe('X-Forwarded-For', () => {
  it('an IP allow-list cannot be passed with a forged header unless the proxy is trusted', async () => {
    // Untrusted: the socket address (127.0.0.1) counts, whatever the header says.
    expect((await chat(plain, '10.1.2.3')).status).toBe(403);
    expect((await chat(listed, '10.1.2.3')).status).toBe(403);
    // One trusted hop: the address our proxy appended (the last one) counts, not what the caller wrote before it.
    expect((await chat(oneHop, '10.1.2.3, 203.0.113.9')).status).toBe(403);
    expect((await chat(oneHop, '203.0.113.9, 10.1.2.3')).status).toBe(200);
  });

  it("better-auth's sign-in limit holds against a new forged address per attempt", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await signIn(listed, { origin: listed.url, 'x-forwarded-for': `198.51.100.${i}` }, 'wrong-password-1')).status);
    expect(statuses).toContain(429);
    // Behind a trusted proxy each address is its own client.
    const behind: number[] = [];
    for (let i = 0; i < 8; i++) behind.push((await signIn(oneHop, { origin: oneHop.url, 'x-forwarded-for': `198.51.100.${i + 20}` }, 'wrong-password-1')).status);
    expect(behind.every((s) => s === 401), String(behind)).toBe(true);
  });
});

describe('cookies and origins behind a proxy', () => {
  it('the session cookie is Secure behind a trusted TLS proxy, and only then', async () => {
    const tls = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'relay.example.com', origin: 'https://relay.example.com', 'x-forwarded-for': '203.0.113.50' };
    // better-auth checks a callbackURL against its trusted origins: the forwarded host is one when the proxy is trusted.
    const callback = { callbackURL: 'https://relay.example.com/console' };
    const r = await signInPatiently(oneHop, tls, ADMIN_PASSWORD, callback);
    expect(r.status, await r.clone().text()).toBe(200);
    const cookies = r.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) expect(c).toMatch(/;\s*Secure/i);
    // The same headers from a caller no proxy vouches for: plain HTTP, and the forwarded host is not an origin of ours.
    const forged = await signInPatiently(plain, tls, ADMIN_PASSWORD, callback);
    expect(forged.status, await forged.clone().text()).toBe(403);
    const direct = await signInPatiently(plain, { origin: plain.url, 'x-forwarded-proto': 'https' });
    expect(direct.status).toBe(200);
    for (const c of direct.headers.getSetCookie()) expect(c).not.toMatch(/;\s*Secure/i);
  });
});

describe('state-changing /api requests with a session cookie', () => {
  let admin: ApiClient;
  beforeAll(async () => {
    admin = new ApiClient(oneHop.url);
    await admin.signIn();
  });
  const create = (headers: Record<string, string>) => admin.post('/api/admin/users', { email: `x${Math.random().toString(36).slice(2)}@example.com` }, headers);
  const userCount = async () => Number((await oneHop.ctx.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  it('from another site: 403, nothing written', async () => {
    const before = await userCount();
    const forged: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: oneHop.url, 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of forged) {
      const r = await create(headers);
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(r.body.error.code).toBe('cross_site_request');
    }
    const out = await admin.request('POST', '/api/auth/sign-out', {}, { origin: 'https://evil.example' });
    expect(out.status).toBe(403);
    expect((await admin.get('/api/me')).status).toBe(200);
    expect(await userCount()).toBe(before);
  });

  it('from our own pages, or from a tool that sends no Origin: allowed', async () => {
    expect((await create({ origin: oneHop.url, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    const noOrigin = await fetch(oneHop.url + '/api/admin/users', {
      method: 'POST',
      headers: { cookie: admin.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'curl-made@example.com' }),
    });
    expect(noOrigin.status).toBe(201);
    // Behind the trusted proxy, the public host it forwards is ours.
    expect((await create({ origin: 'https://relay.example.com', 'x-forwarded-host': 'relay.example.com' })).status).toBe(201);
    // From a caller no proxy vouches for, a forwarded host is not.
    const viaPlain = new ApiClient(listed.url);
    viaPlain.cookie = admin.cookie;
    const forgedHost = await viaPlain.post('/api/admin/users', { email: 'forged-host@example.com' }, { origin: 'https://relay.example.com', 'x-forwarded-host': 'relay.example.com' });
    expect(forgedHost.status).toBe(403);
    // A read is never refused.
    expect((await admin.request('GET', '/api/me', undefined, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
  });

  it('without a cookie the guard stays out of the way', async () => {
    const r = await fetch(oneHop.url + '/api/auth/sign-in/email', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: 'wrong-password-1' }),
    });
    expect([401, 429]).toContain(r.status);
  });
});

describe("the console's HTML", () => {
  it('is sent with a CSP that forbids framing, nosniff, DENY and a referrer policy', async (t) => {
    const { existsSync } = await import('node:fs');
    const { WEB_DIST } = await import('../../server/src/app.js');
    if (!existsSync(WEB_DIST + 'index.html')) return t.skip(); // the console is built by `npm run build`
    for (const path of ['/', '/admin/users', '/console']) {
      const r = await fetch(plain.url + path);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/html');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    }
  });
});
