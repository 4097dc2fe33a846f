import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addUserWithKey } from '../support/seed.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.stop();
});

describe('sign-in', () => {
  it('limits sign-in attempts per client address, and a spoofed X-Forwarded-For does not reset it', async () => {
    const api = new ApiClient(srv.url);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api.request('POST', '/api/auth/sign-in/email', { email: 'nobody@example.com', password: 'wrong-password' }, { 'x-forwarded-for': `203.0.113.${i + 1}` });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 3).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });

  it('refuses a disabled account and ends its sessions', async () => {
    const { user } = await addUserWithKey(srv.ctx, { password: 'password-123' });
    const userApi = new ApiClient(srv.url);
    // A fresh address for this sign-in: the previous test used up the limit of 127.0.0.1.
    const other = await startTestServer({ db: srv.db, env: { TRUST_PROXY: 'true' } });
    try {
      const u = new ApiClient(other.url);
      const ok = await u.request('POST', '/api/auth/sign-in/email', { email: user.email, password: 'password-123' }, { 'x-forwarded-for': '198.51.100.77' });
      expect(ok.status).toBe(200);
      expect((await u.get('/api/me')).body.email).toBe(user.email);
      const admin = new ApiClient(other.url);
      await admin.request('POST', '/api/auth/sign-in/email', { email: 'admin@test.local', password: 'admin-password-1' }, { 'x-forwarded-for': '198.51.100.78' });
      expect((await admin.patch(`/api/admin/users/${user.id}`, { status: 'disabled' })).status).toBe(200);
      const me = await u.get('/api/me');
      expect(me.status).toBe(401);
      expect(me.body.error.code).toBe('session_required');
      const again = await u.request('POST', '/api/auth/sign-in/email', { email: user.email, password: 'password-123' }, { 'x-forwarded-for': '198.51.100.79' });
      expect(again.status).toBe(403);
      expect(await userApi.get('/api/console/overview').then((r) => r.status)).toBe(401);
    } finally {
      await other.stop({ keepDb: true });
    }
  });
});
