// "Sign in with GitHub / Google" on the portal's sign-in page, in Chromium, in en-US at 1280×800
// and zh-CN at 390×844, against the loopback providers of test/support/fake-oauth.ts: the buttons
// show, a first GitHub sign-in goes through the provider's consent page and lands in the portal
// with the new-key dialog showing the account's first key (once: not after a reload), and with
// registration closed a Google sign-in of a new address comes back to the sign-in page saying so.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { freePort, startFakeGitHub, startFakeGoogle, type FakeGitHub, type FakeGoogle } from '../support/fake-oauth.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { horizontalOverflow, launch, openSession, shot, type Session } from './browser.js';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let server: TestServer;
let browser: Browser;
let admin: ApiClient;
let gh: FakeGitHub;
let gg: FakeGoogle;
const sessions: Session[] = [];

beforeAll(async () => {
  gh = await startFakeGitHub({ user: { id: 1, login: 'nobody', name: null, email: null, emails: [] } });
  gg = await startFakeGoogle({ user: { sub: '1', email: 'nobody@example.com', email_verified: true, name: 'Nobody' } });
  const port = await freePort();
  server = await startTestServer({
    env: {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      GITHUB_CLIENT_ID: gh.clientId,
      GITHUB_CLIENT_SECRET: gh.clientSecret,
      OAUTH_GITHUB_BASE_URL: gh.url,
      GOOGLE_CLIENT_ID: gg.clientId,
      GOOGLE_CLIENT_SECRET: gg.clientSecret,
      OAUTH_GOOGLE_ISSUER: gg.url,
    },
  });
  admin = new ApiClient(server.url);
  await admin.signIn();
  browser = await launch();
});
afterAll(async () => {
  for (const s of sessions) await s.context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  await gh?.close();
  await gg?.close();
});

/**
 * Click a provider button. better-auth allows 3 sign-in requests per 10 s from one address, and
 * every browser here is 127.0.0.1: a refused click waits its turn, as a person would.
 */
async function clickProvider(s: Session, provider: 'github' | 'google'): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const answer = s.page.waitForResponse((r) => r.url().includes('/api/auth/sign-in/social'));
    await s.page.getByTestId(`sign-in-${provider}`).click();
    const res = await answer;
    if (res.status() !== 429 || attempt >= 3) break;
    await s.page.waitForTimeout(Number((await res.headerValue('x-retry-after')) ?? 10) * 1000 + 250);
    s.errors.splice(0, s.errors.length, ...s.errors.filter((e) => !/status of 429/.test(e)));
  }
}

const cases = [
  { lang: 'en-US' as const, viewport: DESKTOP, id: 9101, email: 'octavia@example.com', github: 'Sign in with GitHub', google: 'Sign in with Google', welcome: /first API key/, closed: /Sign-up is closed/ },
  { lang: 'zh-CN' as const, viewport: PHONE, id: 9102, email: 'wukong@example.com', github: '使用 GitHub 登录', google: '使用 Google 登录', welcome: /第一个 API 密钥/, closed: /已关闭注册/ },
];

describe.each(cases)('sign-in with a provider ($lang, $viewport.width)', (c) => {
  let s: Session;
  beforeAll(async () => {
    s = await openSession(browser, server.url, c.lang, c.viewport);
    sessions.push(s);
  });

  it('the sign-in page offers GitHub and Google', async () => {
    await s.page.goto('/console/login');
    await expect.poll(() => s.page.getByTestId('sign-in-github').innerText()).toBe(c.github);
    expect(await s.page.getByTestId('sign-in-google').innerText()).toBe(c.google);
    expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
    await shot(s, 'oauth-sign-in');
  });

  it('a first GitHub sign-in goes through the consent page into the portal, showing the first key once', async () => {
    gh.user = { id: c.id, login: `user${c.id}`, name: `User ${c.id}`, email: null, emails: [{ email: c.email, primary: true, verified: true, visibility: 'private' }] };
    const consent = s.page.waitForURL((u) => u.origin === gh.url && u.pathname === '/login/oauth/authorize');
    await clickProvider(s, 'github');
    await consent;
    await s.page.waitForURL((u) => u.origin === server.url && u.pathname === '/console/overview');
    const modal = s.page.getByTestId('new-key-modal');
    await expect.poll(() => modal.locator('.ant-modal-title').innerText()).toMatch(c.welcome);
    const shown = await s.page.getByTestId('new-key-value').inputValue();
    expect(shown).toMatch(/^sk-[A-Za-z0-9]{32}$/);
    expect(new URL(s.page.url()).search).toBe('');
    await shot(s, 'oauth-first-key');
    // the key is this account's, and it works
    const models = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${shown}` } });
    expect(models.status).toBe(200);
    await s.page.getByTestId('new-key-done').click();
    await expect.poll(() => modal.isVisible()).toBe(false);
    // once: a reload (even of the welcome address) shows nothing
    await s.page.goto('/console/overview?welcome=1');
    await s.page.waitForTimeout(1500);
    expect(await s.page.getByTestId('new-key-modal').isVisible()).toBe(false);
    expect(s.errors.filter((e) => !/404/.test(e))).toEqual([]);
  });

  it('with registration closed, a new address through Google comes back to the sign-in page saying so', async () => {
    await admin.put('/api/admin/settings/registration', { mode: 'closed' });
    try {
      const fresh = await openSession(browser, server.url, c.lang, c.viewport);
      sessions.push(fresh);
      gg.user = { sub: `closed-${c.id}`, email: `closed-${c.id}@example.com`, email_verified: true, name: 'Closed Out' };
      await fresh.page.goto('/console/login');
      await clickProvider(fresh, 'google');
      await fresh.page.waitForURL((u) => u.origin === server.url && u.pathname === '/console/login' && u.searchParams.get('error') === 'registration_closed');
      await expect.poll(() => fresh.page.getByTestId('oauth-error').innerText()).toMatch(c.closed);
      expect(await horizontalOverflow(fresh.page)).toBeLessThanOrEqual(0);
      await shot(fresh, 'oauth-closed');
      const users = await admin.get(`/api/admin/users?q=${encodeURIComponent(`closed-${c.id}@example.com`)}`);
      expect(JSON.stringify(users.body)).not.toContain(`closed-${c.id}@example.com`);
    } finally {
      await admin.put('/api/admin/settings/registration', { mode: 'open' });
    }
  });
});
