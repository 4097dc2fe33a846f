// Email verification and password reset through a real SMTP server on loopback (smtp-server):
//  - sign-up sends a verification mail (in the browser's language) whose link verifies the address;
//  - with require_email_verification on, an unverified customer cannot sign in (after the right
//    password only) and can have the mail sent again; staff are exempt;
//  - a reset mail for a registered address, none for an unknown one, and the same answer to both;
//  - the reset token works once, expires, obeys the password policy, ends every old session;
//  - with the SMTP server down, or mail not configured, the answers do not change and the server
//    log says what happened.
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from './support/server.js';
import { linkIn, startTestSmtp, type TestSmtp } from './support/smtp.js';

const MAIL_FROM = 'Tollgate <no-reply@tollgate.test>';
let ipSeq = 0;
// Each request from its own address (TRUST_PROXY): better-auth allows 3 reset requests a minute per address.
const fromNewIp = (extra: Record<string, string> = {}) => ({ 'x-forwarded-for': `198.51.100.${(++ipSeq % 250) + 1}`, ...extra });

/** A pino logger whose lines the test can read (the operator's log). */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('with SMTP configured', () => {
  let srv: TestServer;
  let smtp: TestSmtp;
  let admin: ApiClient;
  const logged = capturedLog();
  const client = () => new ApiClient(srv.url);
  const signUp = (email: string, password: string, lang = 'en-US,en;q=0.9') =>
    client().request('POST', '/api/auth/sign-up/email', { email, password, name: email.split('@')[0] }, fromNewIp({ 'accept-language': lang }));
  async function signIn(email: string, password: string) {
    const c = client();
    const r = await c.request('POST', '/api/auth/sign-in/email', { email, password }, fromNewIp());
    return { c, r };
  }
  const requestReset = (email: string, lang?: string) =>
    client().request('POST', '/api/auth/request-password-reset', { email }, fromNewIp(lang ? { 'accept-language': lang } : {}));
  const auditOf = (action: string, userId: number) =>
    srv.ctx.db.kysely.selectFrom('audit_log').selectAll().where('action', '=', action).where('target_id', '=', String(userId)).execute();
  const userRow = (email: string) => srv.ctx.db.kysely.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirstOrThrow();

  beforeAll(async () => {
    smtp = await startTestSmtp();
    srv = await startTestServer({ env: { TRUST_PROXY: 'true', SMTP_URL: smtp.url, MAIL_FROM }, log: logged.log });
    admin = new ApiClient(srv.url);
    await admin.signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await srv?.stop();
    await smtp?.close();
  });

  it('sign-up sends a verification mail whose link verifies the address (once), and it is audited', async () => {
    const r = await signUp('carol@example.com', 'amber-tide-301');
    expect(r.status).toBe(200);
    const mail = await smtp.waitFor('carol@example.com');
    expect(mail.subject).toBe('Verify your Tollgate email address');
    expect(mail.from).toBe('no-reply@tollgate.test');
    expect(mail.user).toBe('mailer');
    const link = linkIn(mail, 'verify-email');
    // PUBLIC_URL is not set: the link opens the console where the browser reached it.
    expect(link.origin).toBe(new URL(srv.url).origin);
    expect(link.pathname).toBe('/console/verify-email');
    expect(mail.html).toContain(link.href.replace(/&/g, '&amp;'));
    expect(Boolean((await userRow('carol@example.com')).email_verified)).toBe(false);

    // What the landing page does with the token.
    const token = link.searchParams.get('token')!;
    const v = await client().request('GET', `/api/auth/verify-email?token=${encodeURIComponent(token)}`);
    expect(v.status).toBe(200);
    const carol = await userRow('carol@example.com');
    expect(Boolean(carol.email_verified)).toBe(true);
    const entries = await auditOf('auth.email_verified', carol.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor_kind: 'user', actor_id: carol.id, actor_email: 'carol@example.com' });
    // Used again: nothing more to do, no second entry.
    expect((await client().request('GET', `/api/auth/verify-email?token=${encodeURIComponent(token)}`)).status).toBe(200);
    expect(await auditOf('auth.email_verified', carol.id)).toHaveLength(1);
    // A forged token is refused.
    const bad = await client().request('GET', `/api/auth/verify-email?token=${encodeURIComponent(token.slice(0, -4) + 'AAAA')}`);
    expect(bad.status).toBe(401);
  });

  it('writes the mail in Chinese for a Chinese browser', async () => {
    await signUp('li.wei@example.com', 'jade-river-8812', 'zh-CN,zh;q=0.9,en;q=0.5');
    const mail = await smtp.waitFor('li.wei@example.com');
    expect(mail.subject).toBe('验证您的 Tollgate 邮箱');
    expect(mail.text).toContain('请打开下面的链接');
    expect(mail.html).toContain('验证邮箱');
    linkIn(mail, 'verify-email');
  });

  it('require_email_verification: an unverified customer is refused after the right password, can ask again, then signs in', async () => {
    expect((await admin.request('PUT', '/api/admin/settings/email-verification', { required: true })).status).toBe(200);
    expect((await client().request('GET', '/api/registration')).body).toMatchObject({ mail: true, require_email_verification: true });
    await signUp('dan@example.com', 'quiet-harbor-552');
    await smtp.waitFor('dan@example.com');

    // Wrong password: the usual 401, nothing about verification.
    expect((await signIn('dan@example.com', 'wrong-password-1')).r.status).toBe(401);
    const refused = await signIn('dan@example.com', 'quiet-harbor-552');
    expect(refused.r.status).toBe(403);
    expect(refused.r.body).toMatchObject({ code: 'EMAIL_NOT_VERIFIED' });
    expect(refused.r.headers.getSetCookie()).toEqual([]);

    // "Resend": the same answer for this address and an unknown one; only dan gets a mail.
    const before = smtp.mails.length;
    const again = await client().request('POST', '/api/auth/send-verification-email', { email: 'dan@example.com' }, fromNewIp());
    const unknown = await client().request('POST', '/api/auth/send-verification-email', { email: 'nobody-here@example.com' }, fromNewIp());
    expect(again.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual(again.body);
    await srv.ctx.mailer.idle();
    expect(smtp.mails.slice(before).map((m) => m.to[0])).toEqual(['dan@example.com']);
    const link = linkIn(smtp.mails.at(-1)!, 'verify-email');
    expect((await client().request('GET', `/api/auth/verify-email?token=${encodeURIComponent(link.searchParams.get('token')!)}`)).status).toBe(200);
    expect((await signIn('dan@example.com', 'quiet-harbor-552')).r.status).toBe(200);

    // Staff are exempt (operators made their accounts).
    const op = await admin.post('/api/admin/users', { email: 'ops@example.com', password: 'ops-station-4410', role: 'operator' });
    expect(op.status).toBe(201);
    expect((await signIn('ops@example.com', 'ops-station-4410')).r.status).toBe(200);

    expect((await admin.request('PUT', '/api/admin/settings/email-verification', { required: false })).status).toBe(200);
    const entries = await srv.ctx.db.kysely.selectFrom('audit_log').select(['after_json']).where('action', '=', 'setting.update').where('target_id', '=', 'require_email_verification').orderBy('id').execute();
    expect(entries.map((e) => JSON.parse(e.after_json!))).toEqual([{ require_email_verification: true }, { require_email_verification: false }]);
  });

  it('a reset request answers a registered and an unknown address alike; only the registered one gets a mail', async () => {
    await admin.post('/api/admin/users', { email: 'erin@example.com', password: 'amber-tide-301', name: 'Erin' });
    const before = smtp.mails.length;
    const t0 = Date.now();
    const known = await requestReset('erin@example.com');
    const t1 = Date.now();
    const unknown = await requestReset('ghost@example.com');
    const t2 = Date.now();
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual(known.body);
    const names = (h: Headers) => [...h.keys()].filter((k) => k !== 'date' && k !== 'x-request-id').sort();
    expect(names(unknown.headers)).toEqual(names(known.headers));
    expect(known.headers.getSetCookie()).toEqual([]);
    // Both wait for the same floor; neither waits for the mail.
    expect(t1 - t0).toBeGreaterThanOrEqual(240);
    expect(t2 - t1).toBeGreaterThanOrEqual(240);
    expect(Math.abs(t1 - t0 - (t2 - t1))).toBeLessThan(200);

    const mail = await smtp.waitFor('erin@example.com', (m) => m.subject.includes('password'));
    await srv.ctx.mailer.idle();
    expect(smtp.mails.slice(before).map((m) => m.to[0])).toEqual(['erin@example.com']);
    expect(mail.subject).toBe('Reset your Tollgate password');
    expect(mail.text).toContain('Hello Erin');
    const link = linkIn(mail, 'reset-password');
    expect(link.origin + link.pathname).toBe(`${new URL(srv.url).origin}/console/reset-password`);
  });

  it('the reset token sets a policy-abiding password once, ends every session, and is audited', async () => {
    await admin.post('/api/admin/users', { email: 'frank@example.com', password: 'first-light-9090', name: 'Frank' });
    const s1 = (await signIn('frank@example.com', 'first-light-9090')).c;
    const s2 = (await signIn('frank@example.com', 'first-light-9090')).c;
    expect((await s1.request('GET', '/api/me')).status).toBe(200);

    await requestReset('frank@example.com', 'zh-CN');
    const mail = await smtp.waitFor('frank@example.com', (m) => m.subject.includes('密码'));
    expect(mail.subject).toBe('重置您的 Tollgate 密码');
    const token = linkIn(mail, 'reset-password').searchParams.get('token')!;

    // The policy: a common password and one with the address in it are refused, the token kept.
    for (const pw of ['password123', 'frank-secret-pw']) {
      const r = await client().request('POST', '/api/auth/reset-password', { token, newPassword: pw });
      expect(r.status, pw).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'newPassword' });
    }
    const ok = await client().request('POST', '/api/auth/reset-password', { token, newPassword: 'second-wind-7373' });
    expect(ok.status).toBe(200);

    expect((await s1.request('GET', '/api/me')).status).toBe(401);
    expect((await s2.request('GET', '/api/me')).status).toBe(401);
    expect((await signIn('frank@example.com', 'first-light-9090')).r.status).toBe(401);
    expect((await signIn('frank@example.com', 'second-wind-7373')).r.status).toBe(200);

    const reuse = await client().request('POST', '/api/auth/reset-password', { token, newPassword: 'third-time-4545' });
    expect(reuse.status).toBe(400);
    expect(reuse.body).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await signIn('frank@example.com', 'second-wind-7373')).r.status).toBe(200);

    const frank = await userRow('frank@example.com');
    const entries = await auditOf('auth.password_reset', frank.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor_kind: 'user', actor_id: frank.id });
    expect(JSON.parse(entries[0]!.after_json!)).toEqual({ via: 'email', sessions_ended: 2 });
  });

  it('an expired reset token is refused', async () => {
    await admin.post('/api/admin/users', { email: 'gina@example.com', password: 'first-light-9090', name: 'Gina' });
    await requestReset('gina@example.com');
    const token = linkIn(await smtp.waitFor('gina@example.com'), 'reset-password').searchParams.get('token')!;
    const past = new Date(Date.now() - 1000);
    await srv.ctx.db.kysely
      .updateTable('auth_verifications')
      .set({ expires_at: srv.ctx.db.dialect === 'sqlite' ? past.toISOString() : past })
      .where('identifier', '=', `reset-password:${token}`)
      .execute();
    const r = await client().request('POST', '/api/auth/reset-password', { token, newPassword: 'second-wind-7373' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await signIn('gina@example.com', 'first-light-9090')).r.status).toBe(200);
  });

  it('with the SMTP server down, a reset request still answers the same 200 and the log says the mail failed', async () => {
    const answerUp = await requestReset('ghost2@example.com');
    await smtp.close();
    const down = await requestReset('erin@example.com');
    expect(down.status).toBe(200);
    expect(down.body).toEqual(answerUp.body);
    // Sign-up still works too.
    expect((await signUp('hal@example.com', 'night-owl-3131')).status).toBe(200);
    await srv.ctx.mailer.idle();
    const failures = logged.lines.filter((l) => l.msg === 'could not send mail');
    expect(failures.map((l) => [l.mail, l.to])).toEqual(expect.arrayContaining([['reset_password', 'erin@example.com'], ['verify_email', 'hal@example.com']]));
    expect(String(failures[0]!.err)).toMatch(/ECONNREFUSED|connect/i);
  });
});

describe('without SMTP', () => {
  let srv: TestServer;
  const logged = capturedLog();

  beforeAll(async () => {
    srv = await startTestServer({ env: { TRUST_PROXY: 'true' }, log: logged.log });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('everything works, a reset request answers as usual and the log tells the operator mail is off', async () => {
    const c = new ApiClient(srv.url);
    expect((await c.request('GET', '/api/registration')).body).toMatchObject({ mail: false, require_email_verification: false });
    // Sign-up and sign-in need no verification.
    expect((await c.request('POST', '/api/auth/sign-up/email', { email: 'ivy@example.com', password: 'amber-tide-301', name: 'Ivy' }, fromNewIp())).status).toBe(200);
    expect((await c.request('POST', '/api/auth/sign-in/email', { email: 'ivy@example.com', password: 'amber-tide-301' }, fromNewIp())).status).toBe(200);

    const known = await c.request('POST', '/api/auth/request-password-reset', { email: 'ivy@example.com' }, fromNewIp());
    const unknown = await c.request('POST', '/api/auth/request-password-reset', { email: 'ghost@example.com' }, fromNewIp());
    expect(known.status).toBe(200);
    expect(unknown.body).toEqual(known.body);
    expect(logged.lines.some((l) => l.to === 'ivy@example.com' && /mail is off/.test(String(l.msg)))).toBe(true);

    // The requirement cannot be switched on: nobody could verify.
    const admin = new ApiClient(srv.url);
    await admin.signIn();
    const r = await admin.request('PUT', '/api/admin/settings/email-verification', { required: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'required' });
  });

  it('SMTP settings are checked at start: MAIL_FROM is needed unless the SMTP user is an address', async () => {
    const { loadConfig } = await import('../server/src/config/index.js');
    const base = { DATABASE_URL: 'sqlite::memory:', TOLLGATE_SECRET: 'x'.repeat(40) };
    expect(() => loadConfig({ ...base, SMTP_HOST: 'mail.example.com' })).toThrow(/MAIL_FROM is required/);
    expect(loadConfig({ ...base, SMTP_URL: 'smtp://robot%40example.com:pw@mail.example.com:587' }).mail.url).toBeDefined();
    expect(() => loadConfig({ ...base, SMTP_URL: 'http://mail.example.com' })).toThrow(/SMTP_URL/);
    expect(loadConfig({ ...base, SMTP_HOST: 'mail.example.com', SMTP_SECURE: 'true', MAIL_FROM: 'a@b.co' }).mail.secure).toBe(true);
  });
});
