// Sign-up and the password policy (accounts/password-policy.ts, registration.ts, auth.routes.ts):
//  - a password of 10+ characters, not the email or containing its local part, not one of the
//    ~49,000 most common ones: on sign-up, admin create, admin set-password and change-password,
//    refused with 400 validation_failed and the field's path, nothing stored;
//  - sign-up answers a registered address exactly as a free one (status, body, no cookie) and
//    changes nothing of the existing account;
//  - the registration switch (open / closed / invite_only) is enforced by the server; invite codes
//    are made by staff and work once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
let admin: ApiClient;
let ipSeq = 0;
// Each sign-in from its own address (TRUST_PROXY), so better-auth's 3-per-10-s limit stays out of the way.
const fromNewIp = () => ({ 'x-forwarded-for': `192.0.2.${(++ipSeq % 250) + 1}` });

async function signIn(email: string, password: string) {
  const c = new ApiClient(srv.url);
  const r = await c.request('POST', '/api/auth/sign-in/email', { email, password }, fromNewIp());
  return { c, r };
}
const signUp = (body: Record<string, unknown>) => new ApiClient(srv.url).request('POST', '/api/auth/sign-up/email', body, fromNewIp());
const userCount = async () => Number((await srv.ctx.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

beforeAll(async () => {
  srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  admin = (await signIn(ADMIN_EMAIL, ADMIN_PASSWORD)).c;
});
afterAll(async () => {
  await srv?.stop();
});

describe('password policy', () => {
  it('sign-up refuses short, email-like and common passwords with 400 on password, and creates nobody', async () => {
    const before = await userCount();
    const cases: [string, string, RegExp, string][] = [
      ['carol@example.com', 'short-pw9', /at least 10 characters/, 'too_short'],
      ['carol@example.com', 'carol@example.com', /email/, 'contains_email'],
      ['carol@example.com', 'my-CAROL-secret', /email/, 'contains_email'],
      ['carol@example.com', 'qwertyuiop', /common/, 'common'],
      ['carol@example.com', 'Password123', /common/, 'common'],
    ];
    for (const [email, password, why, reason] of cases) {
      const r = await signUp({ email, password, name: 'Carol' });
      expect(r.status, password).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'password', details: { reason } });
      expect(r.body.error.message).toMatch(why);
    }
    expect(await userCount()).toBe(before);
  });

  it('admin create and admin set-password apply the same policy', async () => {
    const bad = await admin.post('/api/admin/users', { email: 'dave@example.com', password: '1234567890' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', path: 'password' });
    const ok = await admin.post('/api/admin/users', { email: 'dave@example.com', password: 'a-long-secret-1' });
    expect(ok.status).toBe(201);
    const set = await admin.post(`/api/admin/users/${ok.body.id}/password`, { password: 'dave-is-here-1' });
    expect(set.status).toBe(400);
    expect(set.body.error).toMatchObject({ code: 'validation_failed', path: 'password' });
    expect((await signIn('dave@example.com', 'a-long-secret-1')).r.status).toBe(200);
  });

  it('change-password refuses a common new password (400 on newPassword) and keeps the old one', async () => {
    await admin.post('/api/admin/users', { email: 'erin@example.com', password: 'amber-tide-301' });
    const { c } = await signIn('erin@example.com', 'amber-tide-301');
    const r = await c.request('POST', '/api/auth/change-password', { currentPassword: 'amber-tide-301', newPassword: 'iloveyou12' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'newPassword' });
    expect((await signIn('erin@example.com', 'amber-tide-301')).r.status).toBe(200);
    const good = await c.request('POST', '/api/auth/change-password', { currentPassword: 'amber-tide-301', newPassword: 'a-better-one-77' });
    expect(good.status).toBe(200);
    expect((await signIn('erin@example.com', 'a-better-one-77')).r.status).toBe(200);
  });
});

describe('sign-up never tells whether an address is registered', () => {
  it('a registered address gets the same answer as a free one, and its account is untouched', async () => {
    const fresh = await signUp({ email: 'frank@example.com', password: 'river-stone-41', name: 'Frank' });
    const taken = await signUp({ email: ADMIN_EMAIL.toUpperCase(), password: 'some-other-pw-1', name: 'Mallory' });
    expect(fresh.status).toBe(200);
    expect(taken.status).toBe(fresh.status);
    expect(taken.body).toEqual(fresh.body);
    expect(fresh.headers.get('set-cookie')).toBeNull();
    expect(taken.headers.get('set-cookie')).toBeNull();
    expect([...taken.headers.keys()].sort()).toEqual([...fresh.headers.keys()].sort());
    // The new account works; the existing one kept its password and name.
    expect((await signIn('frank@example.com', 'river-stone-41')).r.status).toBe(200);
    expect((await signIn(ADMIN_EMAIL, 'some-other-pw-1')).r.status).toBe(401);
    const me = await (await signIn(ADMIN_EMAIL, ADMIN_PASSWORD)).c.get('/api/me');
    expect(me.body.name).not.toBe('Mallory');
  });
});

describe('registration switch', () => {
  const setMode = (mode: string) => admin.put('/api/admin/settings/registration', { mode });

  it('closed: sign-up is 403 registration_closed and nobody is created', async () => {
    expect((await setMode('closed')).status).toBe(200);
    expect((await new ApiClient(srv.url).get('/api/registration')).body).toMatchObject({ mode: 'closed' });
    const before = await userCount();
    const r = await signUp({ email: 'gina@example.com', password: 'paper-lantern-6', name: 'Gina' });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('registration_closed');
    expect(await userCount()).toBe(before);
  });

  it('invite_only: sign-up needs a code made by staff, and a code works once', async () => {
    expect((await setMode('invite_only')).status).toBe(200);
    const none = await signUp({ email: 'hank@example.com', password: 'maple-leaf-552', name: 'Hank' });
    expect(none.status).toBe(400);
    expect(none.body.error).toMatchObject({ code: 'invite_invalid', path: 'inviteCode' });
    const wrong = await signUp({ email: 'hank@example.com', password: 'maple-leaf-552', name: 'Hank', inviteCode: 'inv-nope' });
    expect(wrong.body.error).toMatchObject({ code: 'invite_invalid', path: 'inviteCode' });

    // A user who is not staff cannot make codes.
    const frank = (await signIn('frank@example.com', 'river-stone-41')).c;
    expect((await frank.post('/api/admin/invites', {})).status).toBe(403);

    const inv = await admin.post('/api/admin/invites', { note: 'for Hank' });
    expect(inv.status).toBe(201);
    expect(inv.body.code).toMatch(/^inv-/);
    const ok = await signUp({ email: 'hank@example.com', password: 'maple-leaf-552', name: 'Hank', inviteCode: inv.body.code });
    expect(ok.status).toBe(200);
    expect((await signIn('hank@example.com', 'maple-leaf-552')).r.status).toBe(200);
    const again = await signUp({ email: 'ivan@example.com', password: 'blue-kettle-93', name: 'Ivan', inviteCode: inv.body.code });
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('invite_invalid');
    const list = await admin.get('/api/admin/invites');
    const hank = await srv.ctx.db.kysely.selectFrom('users').select('id').where('email', '=', 'hank@example.com').executeTakeFirstOrThrow();
    expect(list.body.data.find((i: { id: number }) => i.id === inv.body.id)).toMatchObject({ note: 'for Hank', used_by: Number(hank.id) });
    expect(JSON.stringify(list.body)).not.toContain(inv.body.code);
  });

  it('open again: sign-up works without a code', async () => {
    expect((await setMode('open')).status).toBe(200);
    expect((await signUp({ email: 'judy@example.com', password: 'quiet-harbor-8', name: 'Judy' })).status).toBe(200);
    expect((await setMode('sometimes')).status).toBe(400);
  });
});
