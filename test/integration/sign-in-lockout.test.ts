// Account lockout and the per-address limit on failed sign-ins (accounts/lockout.ts):
//  - 5 failed sign-ins on one account lock it: the 6th attempt, with the right password, is 429
//    account_locked; other accounts are not affected; an unknown address locks the same way;
//  - the failures are counted in the database, so they add up across two `tollgate start`
//    processes sharing PostgreSQL/MySQL (skipped on SQLite: one process per file);
//  - one client address failing on many accounts is refused too (429 rate_limited).
// Every attempt comes from its own X-Forwarded-For address (TRUST_PROXY) unless the test is about
// the address, so better-auth's own in-memory 3-per-10-s limit per address stays out of the way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockedUntil } from '../../server/src/accounts/lockout.js';
import { ApiClient } from '../support/api.js';
import { createTestDatabase, testDialect } from '../support/db.js';
import { addUserWithKey } from '../support/seed.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, serverEnv, startChildServer, startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
let addr = 0;
const nextIp = () => `198.51.100.${(++addr % 250) + 1}`;

async function attempt(url: string, email: string, password: string, ip = nextIp()) {
  return new ApiClient(url).request('POST', '/api/auth/sign-in/email', { email, password }, { 'x-forwarded-for': ip });
}

beforeAll(async () => {
  srv = await startTestServer({ env: { TRUST_PROXY: 'true', LOGIN_IP_MAX_FAILURES: '3' } });
});
afterAll(async () => {
  await srv?.stop();
});

describe('account lockout', () => {
  it('locks an account after 5 failures: the 6th attempt with the right password is 429 account_locked', async () => {
    const { user } = await addUserWithKey(srv.ctx, { password: 'right-password-1' });
    const other = await addUserWithKey(srv.ctx, { password: 'right-password-2' });
    for (let i = 0; i < 5; i++) {
      const r = await attempt(srv.url, user.email, `wrong-password-${i}`);
      expect(r.status, `failure ${i + 1}`).toBe(401);
    }
    const locked = await attempt(srv.url, user.email.toUpperCase(), 'right-password-1');
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('account_locked');
    expect(locked.body.error.message).toMatch(/locked for 15 more minute/);
    const retry = Number(locked.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(14 * 60);
    expect(retry).toBeLessThanOrEqual(15 * 60);
    expect(locked.headers.get('set-cookie')).toBeNull();
    // Another account signs in as usual.
    expect((await attempt(srv.url, other.user.email, 'right-password-2')).status).toBe(200);
  });

  it('a success before the limit clears the count', async () => {
    const { user } = await addUserWithKey(srv.ctx, { password: 'right-password-3' });
    for (let i = 0; i < 4; i++) expect((await attempt(srv.url, user.email, 'wrong-password')).status).toBe(401);
    expect((await attempt(srv.url, user.email, 'right-password-3')).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await attempt(srv.url, user.email, 'wrong-password')).status).toBe(401);
    expect((await attempt(srv.url, user.email, 'right-password-3')).status).toBe(200);
  });

  it('an address nobody registered locks the same way (a lock tells nothing about who is registered)', async () => {
    const email = `nobody-${Date.now()}@example.com`;
    for (let i = 0; i < 5; i++) expect((await attempt(srv.url, email, 'some-password')).status).toBe(401);
    const r = await attempt(srv.url, email, 'some-password');
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('account_locked');
  });

  it('refuses one client address that fails on many accounts (LOGIN_IP_MAX_FAILURES=3 here)', async () => {
    const ip = '203.0.113.200';
    const { user } = await addUserWithKey(srv.ctx, { password: 'right-password-4' });
    for (let i = 0; i < 3; i++) {
      // Spaced past better-auth's own 3-per-10-s window would be slow; 3 attempts fit inside it.
      expect((await attempt(srv.url, `someone-${i}-${Date.now()}@example.com`, 'wrong-password', ip)).status).toBe(401);
    }
    const r = await attempt(srv.url, user.email, 'right-password-4', ip);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('rate_limited');
    expect(r.body.error.message).toMatch(/from this address/);
    // The account itself is not locked: from another address it signs in.
    expect((await attempt(srv.url, user.email, 'right-password-4')).status).toBe(200);
  });
});

describe('the lock window', () => {
  const m = 60_000;
  it('starts at the failure that makes 5 within the window and lasts the lock time', () => {
    expect(lockedUntil([0, 1, 2, 3].map((x) => x * m), 5, 15 * m, 15 * m)).toBe(0);
    expect(lockedUntil([0, 1, 2, 3, 4].map((x) => x * m), 5, 15 * m, 15 * m)).toBe(19 * m);
    // Spread over more than the window: never 5 inside one.
    expect(lockedUntil([0, 4, 8, 12, 16, 20].map((x) => x * m), 5, 15 * m, 15 * m)).toBe(0);
    // After a lock ends, the failures before it do not count towards the next.
    expect(lockedUntil([0, 1, 2, 3, 4, 20].map((x) => x * m), 5, 15 * m, 15 * m)).toBe(19 * m);
    expect(lockedUntil([0, 1, 2, 3, 4, 20, 21, 22, 23, 24].map((x) => x * m), 5, 15 * m, 15 * m)).toBe(39 * m);
  });
});

const dialect = testDialect();
describe.skipIf(dialect === 'sqlite')(`across two processes on ${dialect}`, () => {
  it('failures through process A and process B add up: the 6th, right password, is 429 on both', async () => {
    const tdb = await createTestDatabase();
    const env = serverEnv(tdb.url, { TRUST_PROXY: 'true' });
    const a = await startChildServer(env);
    const b = await startChildServer(env);
    try {
      const sequence = [a, b, a, b, a];
      for (const [i, s] of sequence.entries()) expect((await attempt(s.url, ADMIN_EMAIL, `wrong-${i}`)).status, `failure ${i + 1}`).toBe(401);
      const onB = await attempt(b.url, ADMIN_EMAIL, ADMIN_PASSWORD);
      expect(onB.status).toBe(429);
      expect(onB.body.error.code).toBe('account_locked');
      const onA = await attempt(a.url, ADMIN_EMAIL, ADMIN_PASSWORD);
      expect(onA.status).toBe(429);
      expect(onA.body.error.code).toBe('account_locked');
    } finally {
      await a.stop();
      await b.stop();
      await tdb.drop();
    }
  }, 90_000);
});
