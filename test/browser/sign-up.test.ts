// The console's sign-up page (/console/sign-up) and the sign-in page's lockout message, in
// Chromium, in en-US at 1280×800 and zh-CN at 390×844: the policy's refusal shows on the password
// field, an accepted sign-up says so and the account signs in, invite_only asks for a code, closed
// says sign-up is closed, and a locked account's sign-in says it is locked.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { horizontalOverflow, launch, openSession, provoking, shot, signIn, type Session } from './browser.js';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let server: TestServer;
let browser: Browser;
let admin: ApiClient;
const sessions: Session[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  admin = new ApiClient(server.url);
  await admin.signIn();
  browser = await launch();
});
afterAll(async () => {
  for (const s of sessions) await s.context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

const cases = [
  { lang: 'en-US' as const, viewport: DESKTOP, email: 'newcomer@example.com', common: /most common passwords/, done: /account is ready/, closed: /Sign-up is closed/, locked: /locked/, invite: /invite code/i },
  { lang: 'zh-CN' as const, viewport: PHONE, email: 'xinren@example.com', common: /常见/, done: /账号已经就绪/, closed: /已关闭注册/, locked: /锁定/, invite: /邀请码/ },
];

describe.each(cases)('sign-up page ($lang, $viewport.width)', (c) => {
  let s: Session;
  beforeAll(async () => {
    s = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(s);
  });

  it('refuses a common password on its field, then creates the account, which signs in', async () => {
    await admin.put('/api/admin/settings/registration', { mode: 'open' });
    await s.page.goto('/console/login');
    await s.page.getByTestId('to-sign-up').click();
    await s.page.waitForURL('**/console/sign-up');
    await s.page.getByTestId('sign-up-name').fill('New Person');
    await s.page.getByTestId('sign-up-email').fill(c.email);
    await s.page.getByTestId('sign-up-password').fill('qwertyuiop');
    await s.page.getByTestId('sign-up-confirm').fill('qwertyuiop');
    await provoking(s, async () => {
      await s.page.getByTestId('sign-up-submit').click();
      await expect.poll(() => s.page.locator('.ant-form-item-explain-error').allInnerTexts()).toEqual([expect.stringMatching(c.common)]);
    });
    expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
    await shot(s, 'sign-up-refused');
    await s.page.getByTestId('sign-up-password').fill('a-fine-secret-42');
    await s.page.getByTestId('sign-up-confirm').fill('a-fine-secret-42');
    await s.page.getByTestId('sign-up-submit').click();
    await expect.poll(() => s.page.getByTestId('sign-up-done').innerText()).toMatch(c.done);
    await shot(s, 'sign-up-done');
    await s.page.getByTestId('sign-up-to-sign-in').click();
    await signIn(s, 'console', c.email, 'a-fine-secret-42');
    expect(s.errors).toEqual([]);
  });

  it('invite_only asks for a code; closed says sign-up is closed', async () => {
    await admin.put('/api/admin/settings/registration', { mode: 'invite_only' });
    const fresh = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(fresh);
    await fresh.page.goto('/console/sign-up');
    await expect.poll(() => fresh.page.locator('form').innerText()).toMatch(c.invite);
    await fresh.page.getByTestId('sign-up-invite').waitFor();
    await shot(fresh, 'sign-up-invite-only');
    await admin.put('/api/admin/settings/registration', { mode: 'closed' });
    const closed = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(closed);
    await closed.page.goto('/console/sign-up');
    await expect.poll(() => closed.page.getByTestId('sign-up-closed').innerText()).toMatch(c.closed);
    expect(await closed.page.getByTestId('sign-up-submit').count()).toBe(0);
    await admin.put('/api/admin/settings/registration', { mode: 'open' });
  });

  it('a locked account is told so on the sign-in page', async () => {
    const email = `locked-${c.lang}@example.com`;
    expect((await admin.post('/api/admin/users', { email, password: 'right-secret-77' })).status).toBe(201);
    for (let i = 0; i < 5; i++) {
      const r = await new ApiClient(server.url).request('POST', '/api/auth/sign-in/email', { email, password: 'wrong-secret' }, { 'x-forwarded-for': `203.0.113.${i + 10}` });
      expect(r.status).toBe(401);
    }
    const fresh = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(fresh);
    await fresh.page.goto('/console/login');
    await fresh.page.getByTestId('sign-in-email').fill(email);
    await fresh.page.getByTestId('sign-in-password').fill('right-secret-77');
    await provoking(fresh, async () => {
      await fresh.page.getByTestId('sign-in-submit').click();
      await expect.poll(() => fresh.page.getByTestId('sign-in-error').innerText()).toMatch(c.locked);
    }, /status of 429/);
    await shot(fresh, 'sign-in-locked');
  });
});
