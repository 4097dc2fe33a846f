// "Forgot password?" and email verification in Chromium, end to end through a real SMTP server on
// loopback (smtp-server): the link is read from the captured mail. en-US at 1280×800, zh-CN at
// 390×844 (the mail then comes in Chinese too):
//  - sign-in → Forgot password? → request → the mail's link → the reset page refuses a common
//    password on its field, accepts a good one → back to sign-in → signs in with the new password;
//    the used link then says it is no longer valid;
//  - with require_email_verification on, an unverified account's sign-in says so, "Resend" mails a
//    new link, the verify page confirms it, and the account signs in.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { linkIn, startTestSmtp, type TestSmtp } from '../support/smtp.js';
import { expectToast, horizontalOverflow, launch, openSession, provoking, shot, signIn, type Session } from './browser.js';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let server: TestServer;
let smtp: TestSmtp;
let browser: Browser;
let admin: ApiClient;
const sessions: Session[] = [];

beforeAll(async () => {
  smtp = await startTestSmtp();
  server = await startTestServer({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Tollgate <no-reply@tollgate.test>' } });
  admin = new ApiClient(server.url);
  await admin.signIn();
  expect((await admin.request('PUT', '/api/admin/settings/email-verification', { required: true })).status).toBe(200);
  browser = await launch();
});
afterAll(async () => {
  for (const s of sessions) await s.context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

const cases = [
  {
    lang: 'en-US' as const,
    viewport: DESKTOP,
    subject: 'Reset your Tollgate password',
    verifySubject: 'Verify your Tollgate email address',
    requested: /Check your email/,
    common: /most common passwords/,
    done: /Password changed/,
    invalid: /not valid any more/,
    notVerified: /Verify your email address first/,
    resent: /on its way/,
    verified: /Email address verified/,
  },
  {
    lang: 'zh-CN' as const,
    viewport: PHONE,
    subject: '重置您的 Tollgate 密码',
    verifySubject: '验证您的 Tollgate 邮箱',
    requested: /请查收邮件/,
    common: /常见/,
    done: /密码已更新/,
    invalid: /链接无效或已过期/,
    notVerified: /请先验证邮箱/,
    resent: /验证邮件已发送/,
    verified: /邮箱已验证/,
  },
];

describe.each(cases)('password reset and verification ($lang, $viewport.width)', (c) => {
  let s: Session;
  beforeAll(async () => {
    s = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(s);
  });

  it('forgot password → mail → new password → signs in; the used link is refused', async () => {
    const email = `reset-${c.lang.toLowerCase()}@example.com`;
    // Created by an operator (staff-made customers are not exempt, so verify it for this flow).
    const created = await admin.post('/api/admin/users', { email, password: 'first-light-9090', name: 'Reset Person' });
    expect(created.status).toBe(201);
    await server.ctx.db.kysely.updateTable('users').set({ email_verified: server.ctx.db.dialect === 'sqlite' ? 1 : true }).where('id', '=', created.body.id).execute();

    await s.page.goto('/console/login');
    await s.page.getByTestId('to-forgot-password').click();
    await s.page.waitForURL('**/console/forgot-password');
    await shot(s, 'forgot-password');
    await s.page.getByTestId('reset-email').fill(email);
    await s.page.getByTestId('reset-request-submit').click();
    await expect.poll(() => s.page.getByTestId('reset-requested').innerText()).toMatch(c.requested);
    expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
    await shot(s, 'forgot-password-requested');

    const mail = await smtp.waitFor(email, (m) => m.subject === c.subject);
    const link = linkIn(mail, 'reset-password');
    expect(link.origin).toBe(new URL(server.url).origin);
    await s.page.goto(link.href);
    await s.page.getByTestId('reset-password').fill('password123');
    await s.page.getByTestId('reset-confirm').fill('password123');
    await provoking(s, async () => {
      await s.page.getByTestId('reset-submit').click();
      await expect.poll(() => s.page.locator('.ant-form-item-explain-error').allInnerTexts()).toEqual([expect.stringMatching(c.common)]);
    });
    expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
    await shot(s, 'reset-password-refused');
    await s.page.getByTestId('reset-password').fill('second-wind-7373');
    await s.page.getByTestId('reset-confirm').fill('second-wind-7373');
    await s.page.getByTestId('reset-submit').click();
    await expect.poll(() => s.page.getByTestId('reset-done').innerText()).toMatch(c.done);
    await shot(s, 'reset-password-done');
    await s.page.getByTestId('back-to-sign-in').click();
    await s.page.waitForURL('**/console/login');
    await signIn(s, 'console', email, 'second-wind-7373');

    // The link worked once.
    const other = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(other);
    await other.page.goto(link.href);
    await other.page.getByTestId('reset-password').fill('third-time-4545');
    await other.page.getByTestId('reset-confirm').fill('third-time-4545');
    await provoking(other, async () => {
      await other.page.getByTestId('reset-submit').click();
      await expect.poll(() => other.page.getByTestId('reset-token-invalid').innerText()).toMatch(c.invalid);
    });
    await shot(other, 'reset-password-used-link');
    expect(s.errors).toEqual([]);
    expect(other.errors).toEqual([]);
  });

  it('an unverified account is told so at sign-in, resends the mail, verifies, and signs in', async () => {
    const email = `verify-${c.lang.toLowerCase()}@example.com`;
    const up = await new ApiClient(server.url).request('POST', '/api/auth/sign-up/email', { email, password: 'quiet-harbor-552', name: 'New Person' }, { 'accept-language': c.lang });
    expect(up.status).toBe(200);
    await smtp.waitFor(email, (m) => m.subject === c.verifySubject);

    const fresh = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(fresh);
    await fresh.page.goto('/console/login');
    await fresh.page.getByTestId('sign-in-email').fill(email);
    await fresh.page.getByTestId('sign-in-password').fill('quiet-harbor-552');
    await fresh.page.getByTestId('sign-in-submit').click();
    await expect.poll(() => fresh.page.getByTestId('sign-in-not-verified').innerText()).toMatch(c.notVerified);
    const before = smtp.mails.filter((m) => m.to.includes(email)).length;
    await fresh.page.getByTestId('resend-verification').click();
    await expect.poll(() => fresh.page.getByTestId('verification-resent').innerText()).toMatch(c.resent);
    expect(await horizontalOverflow(fresh.page)).toBeLessThanOrEqual(0);
    await shot(fresh, 'sign-in-not-verified');

    await expect.poll(() => smtp.mails.filter((m) => m.to.includes(email)).length, { timeout: 10_000 }).toBe(before + 1);
    const mail = smtp.mails.filter((m) => m.to.includes(email)).at(-1)!;
    expect(mail.subject).toBe(c.verifySubject);
    await fresh.page.goto(linkIn(mail, 'verify-email').href);
    await expect.poll(() => fresh.page.getByTestId('verify-done').innerText()).toMatch(c.verified);
    await shot(fresh, 'verify-email-done');
    await fresh.page.getByTestId('back-to-sign-in').click();
    await fresh.page.waitForURL('**/console/login');
    await signIn(fresh, 'console', email, 'quiet-harbor-552');
    expect(fresh.errors).toEqual([]);
  });
});

describe('the staff sign-in page', () => {
  it('links to the reset page, which leads back to the staff sign-in', async () => {
    const s = await openSession(browser, server.url, 'en-US', DESKTOP);
    sessions.push(s);
    await s.page.goto('/admin/login');
    await s.page.getByTestId('to-forgot-password').click();
    await s.page.waitForURL('**/console/forgot-password?area=admin');
    await s.page.getByTestId('back-to-sign-in').click();
    await s.page.waitForURL('**/admin/login');
    expect(s.errors).toEqual([]);
  });
});

describe('the Accounts page', () => {
  it.each([
    { lang: 'en-US' as const, viewport: DESKTOP, off: 'Email verification is no longer required', on: 'Customers must now verify their email' },
    { lang: 'zh-CN' as const, viewport: PHONE, off: '已不再要求验证邮箱', on: '已要求客户验证邮箱' },
  ])('switches require_email_verification ($lang, $viewport.width)', async (c) => {
    const s = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(s);
    await s.page.goto('/admin/login');
    await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await s.page.goto('/admin/accounts/users');
    const sw = s.page.getByTestId('require-email-verification-switch');
    await expect.poll(() => sw.getAttribute('aria-checked'), { timeout: 15_000 }).toBe('true');
    await sw.click();
    await expectToast(s.page, c.off);
    expect((await admin.get('/api/admin/settings/email-verification')).body).toEqual({ required: false, mail: true });
    expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
    await shot(s, 'accounts-email-verification');
    await sw.click();
    await expectToast(s.page, c.on);
    expect((await admin.get('/api/admin/settings/email-verification')).body).toEqual({ required: true, mail: true });
    expect(s.errors).toEqual([]);
  });
});
