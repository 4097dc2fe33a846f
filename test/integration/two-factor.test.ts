// Two-factor sign-in (better-auth's twoFactor plugin, accounts/auth.ts), the staff requirement
// (accounts/two-factor.ts) and a person's own sessions (accounts/sessions.ts), over HTTP as the
// console uses them. Codes are computed by an RFC 6238 implementation of the test's own
// (test/support/totp.ts) from the otpauth:// URI the server hands out, as an authenticator would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type ApiResponse } from '../support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { base32Decode, secretOf, totp } from '../support/totp.js';

let srv: TestServer;
let root: Client;
let ipSeq = 0;

/**
 * A browser with its own cookie jar; every request from a fresh address (TRUST_PROXY), so
 * better-auth's per-address limits (3 per 10 s on sign-in and on each /two-factor/ route) stay
 * out of the way of a test that does in a second what a person does in a minute.
 */
class Client extends ApiClient {
  constructor(readonly ua = 'vitest') {
    super(srv.url);
  }
  override request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    return super.request<T>(method, path, body, { 'x-forwarded-for': `198.51.100.${(++ipSeq % 250) + 1}`, 'user-agent': this.ua, ...headers });
  }
}

const PASSWORD = 'quiet-harbour-72';
const db = () => srv.ctx.db.kysely;
const auditRows = (action: string, userId: number) =>
  db().selectFrom('audit_log').selectAll().where('action', '=', action).where('target_id', '=', String(userId)).orderBy('id', 'asc').execute();

async function createUser(email: string, role = 'user'): Promise<number> {
  const r = await root.post('/api/admin/users', { email, password: PASSWORD, role });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}

async function signIn(email: string, password = PASSWORD, c = new Client()) {
  const r = await c.post('/api/auth/sign-in/email', { email, password });
  return { c, r };
}

/** Enrol through the API as the profile page does; returns the secret and the backup codes. */
async function enrol(c: Client, password = PASSWORD) {
  const start = await c.post('/api/auth/two-factor/enable', { password });
  expect(start.status, JSON.stringify(start.body)).toBe(200);
  const secret = secretOf(start.body.totpURI);
  const ok = await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret) });
  expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  return { secret, backupCodes: start.body.backupCodes as string[], uri: start.body.totpURI as string };
}

beforeAll(async () => {
  srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  root = new Client();
  await root.signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(async () => {
  await srv?.stop();
});

describe('TOTP enrolment and sign-in', () => {
  let userId: number;
  let secret: string;
  let backupCodes: string[];

  it('enrolment needs the password, hands out an otpauth URI and backup codes, and takes effect only after a right code', async () => {
    userId = await createUser('alice@example.com');
    const { c } = await signIn('alice@example.com');
    expect((await c.get('/api/me')).body).toMatchObject({ two_factor_enabled: false, two_factor_required: false });

    const wrongPw = await c.post('/api/auth/two-factor/enable', { password: 'not-my-password-1' });
    expect(wrongPw.status).toBe(400);
    expect(await db().selectFrom('two_factors').select('id').where('user_id', '=', userId).executeTakeFirst()).toBeUndefined();

    const start = await c.post('/api/auth/two-factor/enable', { password: PASSWORD });
    expect(start.status).toBe(200);
    const uri = new URL(start.body.totpURI);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('issuer')).toBe('Tollgate');
    expect(decodeURIComponent(uri.pathname)).toContain('alice@example.com');
    secret = secretOf(start.body.totpURI);
    backupCodes = start.body.backupCodes;
    expect(backupCodes).toHaveLength(10);
    expect(new Set(backupCodes).size).toBe(10);

    // Stored encrypted: neither the secret nor a backup code appears in the row.
    const row = await db().selectFrom('two_factors').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
    const raw = base32Decode(secret).toString('utf8');
    expect(row.secret).not.toContain(raw);
    expect(row.secret).not.toContain(secret);
    for (const code of backupCodes) expect(row.backup_codes).not.toContain(code);

    // Not enabled until a code proves the authenticator has the secret.
    expect((await c.get('/api/me')).body.two_factor_enabled).toBe(false);
    expect((await signIn('alice@example.com')).r.body.twoFactorRedirect).toBeUndefined();
    const wrong = await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret, Date.now() - 10 * 60_000) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('INVALID_CODE');
    expect((await c.get('/api/me')).body.two_factor_enabled).toBe(false);

    const ok = await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret) });
    expect(ok.status).toBe(200);
    expect((await c.get('/api/me')).body.two_factor_enabled).toBe(true);
    const entries = await auditRows('user.two_factor_enable', userId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor_id: userId, actor_email: 'alice@example.com' });
  });

  it('sign-in asks for a code after the password; a wrong code is refused, the right one gives a session', async () => {
    const { c, r } = await signIn('alice@example.com');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ twoFactorRedirect: true });
    expect(r.body.user).toBeUndefined();
    // The password alone is no session.
    expect((await c.get('/api/me')).status).toBe(401);

    const wrong = await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret, Date.now() + 10 * 60_000) });
    expect(wrong.status).toBe(401);
    expect((await c.get('/api/me')).status).toBe(401);

    const ok = await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret) });
    expect(ok.status).toBe(200);
    const me = await c.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'alice@example.com', two_factor_enabled: true });

    const signIns = await auditRows('auth.sign_in', userId);
    expect(JSON.parse(signIns.at(-1)!.after_json!)).toEqual({ second_factor: 'totp' });
    const failed = await auditRows('auth.sign_in_failed', userId);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(failed.at(-1)!.after_json!)).toMatchObject({ email: 'alice@example.com', status: 401, code: 'INVALID_CODE', second_factor: 'totp' });
  });

  it('a code without the password step first is refused', async () => {
    const c = new Client();
    const r = await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret) });
    expect(r.status).toBe(401);
    expect((await c.get('/api/me')).status).toBe(401);
  });

  it('a backup code signs in once', async () => {
    const first = await signIn('alice@example.com');
    const used = await first.c.post('/api/auth/two-factor/verify-backup-code', { code: backupCodes[0] });
    expect(used.status).toBe(200);
    expect((await first.c.get('/api/me')).status).toBe(200);

    const again = await signIn('alice@example.com');
    expect(again.r.body.twoFactorRedirect).toBe(true);
    const reused = await again.c.post('/api/auth/two-factor/verify-backup-code', { code: backupCodes[0] });
    expect(reused.status).toBe(401);
    expect((await again.c.get('/api/me')).status).toBe(401);
    const next = await again.c.post('/api/auth/two-factor/verify-backup-code', { code: backupCodes[1] });
    expect(next.status).toBe(200);
    expect((await again.c.get('/api/me')).status).toBe(200);
    expect(JSON.parse((await auditRows('auth.sign_in', userId)).at(-1)!.after_json!)).toEqual({ second_factor: 'backup_code' });
  });

  it('regenerating backup codes needs the password and voids the old ones', async () => {
    const { c } = await signIn('alice@example.com');
    expect((await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret) })).status).toBe(200);
    expect((await c.post('/api/auth/two-factor/generate-backup-codes', { password: 'not-my-password-1' })).status).toBe(400);
    const regen = await c.post('/api/auth/two-factor/generate-backup-codes', { password: PASSWORD });
    expect(regen.status).toBe(200);
    const fresh = regen.body.backupCodes as string[];
    expect(fresh).toHaveLength(10);
    expect(await auditRows('user.backup_codes_regenerate', userId)).toHaveLength(1);

    const s1 = await signIn('alice@example.com');
    expect((await s1.c.post('/api/auth/two-factor/verify-backup-code', { code: backupCodes[2] })).status).toBe(401);
    expect((await s1.c.post('/api/auth/two-factor/verify-backup-code', { code: fresh[0] })).status).toBe(200);
    backupCodes = fresh.slice(1);
  });

  it('"trust this device" skips the code on the next sign-in from that browser only', async () => {
    const browser = new Client('trusted-browser');
    await signIn('alice@example.com', PASSWORD, browser);
    expect((await browser.post('/api/auth/two-factor/verify-totp', { code: totp(secret), trustDevice: true })).status).toBe(200);
    expect((await browser.post('/api/auth/sign-out', {})).status).toBe(200);
    const back = await signIn('alice@example.com', PASSWORD, browser);
    expect(back.r.status).toBe(200);
    expect(back.r.body.twoFactorRedirect).toBeUndefined();
    expect((await browser.get('/api/me')).status).toBe(200);
    // Another browser still needs the code.
    expect((await signIn('alice@example.com')).r.body.twoFactorRedirect).toBe(true);
  });

  it('disabling needs the password; afterwards the password alone signs in', async () => {
    const { c } = await signIn('alice@example.com');
    expect((await c.post('/api/auth/two-factor/verify-totp', { code: totp(secret) })).status).toBe(200);
    expect((await c.post('/api/auth/two-factor/disable', { password: 'not-my-password-1' })).status).toBe(400);
    expect((await c.get('/api/me')).body.two_factor_enabled).toBe(true);
    expect((await c.post('/api/auth/two-factor/disable', { password: PASSWORD })).status).toBe(200);
    expect((await c.get('/api/me')).body.two_factor_enabled).toBe(false);
    expect(await db().selectFrom('two_factors').select('id').where('user_id', '=', userId).executeTakeFirst()).toBeUndefined();
    const plain = await signIn('alice@example.com');
    expect(plain.r.body.twoFactorRedirect).toBeUndefined();
    expect((await plain.c.get('/api/me')).status).toBe(200);
    expect(await auditRows('user.two_factor_disable', userId)).toHaveLength(1);
  });
});

describe('require_2fa_for_staff', () => {
  it('cannot be turned on by someone without 2FA; then staff without it get 403 two_factor_required until they enrol', async () => {
    const bobId = await createUser('bob@example.com', 'admin');
    const customerId = await createUser('carl@example.com');
    expect((await root.get('/api/admin/settings/two-factor')).body).toEqual({ require_2fa_for_staff: false });
    const refused = await root.put('/api/admin/settings/two-factor', { require_2fa_for_staff: true });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', path: 'require_2fa_for_staff' });

    await enrol(root, ADMIN_PASSWORD);
    const on = await root.put('/api/admin/settings/two-factor', { require_2fa_for_staff: true });
    expect(on.status).toBe(200);
    expect(on.body).toEqual({ require_2fa_for_staff: true });
    const setting = await db().selectFrom('audit_log').selectAll().where('action', '=', 'setting.update').where('target_id', '=', 'require_2fa_for_staff').execute();
    expect(setting).toHaveLength(1);
    expect(JSON.parse(setting[0]!.after_json!)).toEqual({ require_2fa_for_staff: true });
    // The enrolled super-admin keeps working.
    expect((await root.get('/api/admin/users')).status).toBe(200);

    const { c: bob } = await signIn('bob@example.com');
    expect((await bob.get('/api/me')).body).toMatchObject({ role: 'admin', two_factor_enabled: false, two_factor_required: true });
    for (const path of ['/api/admin/users', '/api/admin/settings/two-factor', `/api/admin/users/${customerId}`]) {
      const r = await bob.get(path);
      expect(r.status, path).toBe(403);
      expect(r.body.error.code, path).toBe('two_factor_required');
    }
    // A customer is not staff: nothing changes for them.
    const { c: carl } = await signIn('carl@example.com');
    expect((await carl.get('/api/me')).body.two_factor_required).toBe(false);
    expect((await carl.get('/api/console/keys')).status).toBe(200);

    await enrol(bob);
    expect((await bob.get('/api/me')).body).toMatchObject({ two_factor_enabled: true, two_factor_required: false });
    expect((await bob.get('/api/admin/users')).status).toBe(200);
    expect(bobId).toBeGreaterThan(0);

    expect((await root.put('/api/admin/settings/two-factor', { require_2fa_for_staff: false })).body).toEqual({ require_2fa_for_staff: false });
  });

  it('needs setting:edit to change and setting:view to read', async () => {
    await createUser('sam@example.com', 'support');
    const { c } = await signIn('sam@example.com');
    const put = await c.put('/api/admin/settings/two-factor', { require_2fa_for_staff: false });
    expect(put.status).toBe(403);
    expect(put.body.error).toMatchObject({ code: 'forbidden', permission: 'setting:edit' });
    const get = await c.get('/api/admin/settings/two-factor');
    expect(get.status).toBe(403);
    expect(get.body.error).toMatchObject({ code: 'forbidden', permission: 'setting:view' });
  });
});

describe('active sessions', () => {
  it('lists each sign-in as a session, marks this one, and "sign out everywhere else" ends the others', async () => {
    const userId = await createUser('dora@example.com');
    const { c: laptop } = await signIn('dora@example.com', PASSWORD, new Client('Laptop Firefox'));
    const { c: phone } = await signIn('dora@example.com', PASSWORD, new Client('Phone Safari'));
    const list = await laptop.get('/api/sessions');
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(2);
    const mine = list.body.data.find((s: any) => s.current);
    const other = list.body.data.find((s: any) => !s.current);
    expect(mine.user_agent).toBe('Laptop Firefox');
    expect(other.user_agent).toBe('Phone Safari');
    expect(other.ip_address).toMatch(/^198\.51\.100\./);
    expect(JSON.stringify(list.body)).not.toMatch(/token/i);
    expect((await phone.get('/api/sessions')).body.data.find((s: any) => s.current).user_agent).toBe('Phone Safari');

    const r = await laptop.post('/api/sessions/revoke-others', {});
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ revoked: 1 });
    expect((await phone.get('/api/me')).status).toBe(401);
    expect((await laptop.get('/api/me')).status).toBe(200);
    expect((await laptop.get('/api/sessions')).body.data).toHaveLength(1);
    const entry = await auditRows('user.sessions_revoke_others', userId);
    expect(JSON.parse(entry[0]!.after_json!)).toEqual({ sessions_ended: 1 });
  });

  it('revokes one session of your own, never somebody else’s', async () => {
    await createUser('eve@example.com');
    const { c: a } = await signIn('eve@example.com', PASSWORD, new Client('Eve desktop'));
    const { c: b } = await signIn('eve@example.com', PASSWORD, new Client('Eve tablet'));
    const tablet = (await a.get('/api/sessions')).body.data.find((s: any) => !s.current);
    expect((await a.delete(`/api/sessions/${tablet.id}`)).status).toBe(204);
    expect((await b.get('/api/me')).status).toBe(401);
    expect((await a.get('/api/me')).status).toBe(200);

    const rootSession = (await root.get('/api/sessions')).body.data.find((s: any) => s.current);
    const theirs = await a.delete(`/api/sessions/${rootSession.id}`);
    expect(theirs.status).toBe(404);
    expect((await root.get('/api/me')).status).toBe(200);
    expect((await new Client().get('/api/sessions')).status).toBe(401);
  });
});
