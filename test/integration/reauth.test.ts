// Protected operations need a recent re-authentication (issue #8): freeze / unfreeze, cash
// adjustment and the CSV exports answer 403 `reauth_required` when the session last proved itself
// longer ago than REAUTH_WINDOW_SECONDS (a sign-in counts); POST /api/me/reauth with the password
// opens the window again, a wrong password does not (and is audited), and five wrong ones end it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { addUserWithKey } from '../support/seed.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';

const WINDOW_S = 2;
let srv: TestServer;
let admin: ApiClient;

beforeAll(async () => {
  srv = await startTestServer({ env: { REAUTH_WINDOW_SECONDS: String(WINDOW_S) } });
  admin = new ApiClient(srv.url);
  await admin.signIn();
});
afterAll(async () => {
  await srv?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('re-authentication for protected operations', () => {
  it('a fresh sign-in counts; after the window the protected routes answer 403 reauth_required and change nothing; the password opens it again', async () => {
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '1' });
    // Just signed in: allowed.
    const first = await admin.post(`/api/admin/users/${u.user.id}/balance-adjustments`, { amount: '1', reason: 'goodwill' });
    expect(first.status).toBe(200);
    expect((await admin.get('/api/me/reauth')).body.valid_until).toEqual(expect.any(String));

    await sleep(WINDOW_S * 1000 + 300);
    expect((await admin.get('/api/me/reauth')).body).toEqual({ valid_until: null, window_seconds: WINDOW_S });
    const ledgerBefore = await srv.ctx.db.kysely.selectFrom('ledger_entries').select((e) => e.fn.countAll<number>().as('n')).where('wallet_id', '=', u.wallet.id).executeTakeFirstOrThrow();
    const refused = [
      await admin.post(`/api/admin/users/${u.user.id}/balance-adjustments`, { amount: '1', reason: 'again' }),
      await admin.post(`/api/admin/users/${u.user.id}/freeze`, { reason: 'chargeback' }),
      await admin.post(`/api/admin/users/${u.user.id}/unfreeze`, { reason: 'resolved' }),
      await admin.get('/api/admin/usage/export.csv'),
      await admin.get('/api/admin/audit-logs/export.csv'),
    ];
    for (const r of refused) expect(r.status).toBe(403);
    for (const r of refused) expect(r.body.error.code).toBe('reauth_required');
    // Nothing changed: no ledger entry, not frozen.
    const ledgerAfter = await srv.ctx.db.kysely.selectFrom('ledger_entries').select((e) => e.fn.countAll<number>().as('n')).where('wallet_id', '=', u.wallet.id).executeTakeFirstOrThrow();
    expect(Number(ledgerAfter.n)).toBe(Number(ledgerBefore.n));
    expect((await admin.get(`/api/admin/users/${u.user.id}`)).body.status).toBe('active');
    // Routes that are not protected keep working.
    expect((await admin.get('/api/admin/users')).status).toBe(200);

    // A wrong password: refused, still locked, and audited.
    const wrong = await admin.post('/api/me/reauth', { password: 'not-my-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_credentials', path: 'password' });
    expect((await admin.post(`/api/admin/users/${u.user.id}/freeze`, { reason: 'chargeback' })).body.error.code).toBe('reauth_required');
    // Bad bodies get a typed 400.
    expect((await admin.post('/api/me/reauth', {})).status).toBe(400);
    expect((await admin.post('/api/me/reauth', { code: 'abc' })).body.error.path).toBe('code');

    const ok = await admin.post('/api/me/reauth', { password: ADMIN_PASSWORD });
    expect(ok.status).toBe(200);
    expect(Date.parse(ok.body.valid_until)).toBeGreaterThan(Date.now());
    const fr = await admin.post(`/api/admin/users/${u.user.id}/freeze`, { reason: 'chargeback' });
    expect(fr.status).toBe(200);
    const csv = await admin.get('/api/admin/usage/export.csv');
    expect(csv.status).toBe(200);

    const entries = await srv.ctx.db.kysely.selectFrom('audit_log').select(['action']).where('action', 'like', 'session.reauth%').execute();
    expect(entries.map((e) => e.action).sort()).toEqual(['session.reauth', 'session.reauth_failed']);
  });

  it('five wrong confirmations end the chance to confirm on that session (429), and a customer session has the same endpoint', async () => {
    const c = new ApiClient(srv.url);
    const u = await addUserWithKey(srv.ctx, { password: 'quiet-harbor-5521' });
    await c.signIn(u.user.email, 'quiet-harbor-5521');
    for (let i = 0; i < 5; i++) expect((await c.post('/api/me/reauth', { password: `wrong-${i}` })).status).toBe(401);
    const sixth = await c.post('/api/me/reauth', { password: 'quiet-harbor-5521' });
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.code).toBe('rate_limited');
    // Without a session: 401.
    expect((await new ApiClient(srv.url).post('/api/me/reauth', { password: 'x' })).status).toBe(401);
  });
});
