// What an operations team found hard or broken in the console (issue #7, part A), each driven as a
// person would in Chromium, at 1280×800 and 390×844, in zh-CN and en-US: the phone menu closes on
// navigation, the time range fits a phone, refused calls are in the usage lists, revoked keys are
// read-only, the quick start's first request works, the layout and chart agree right after sign-in,
// nobody is offered to disable themself, and a cold load paints the layout shell at once.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeKey } from '../../server/src/accounts/keys.js';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { expectToast, launch, openSession, provoking, shot, signIn, type Session } from './browser.js';

const run = promisify(execFile);
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const USER_EMAIL = 'ops@example.com';
const USER_PASSWORD = 'ops-password-123';

let server: TestServer;
let upstream: FakeUpstream;
let browser: Browser;
let adminApi: ApiClient;
let userApi: ApiClient;
let userKey = '';
const sessions: Session[] = [];

async function session(lang: 'en-US' | 'zh-CN', viewport = DESKTOP): Promise<Session> {
  const s = await openSession(browser, server.url, lang, viewport);
  sessions.push(s);
  return s;
}

async function gateway(key: string, model: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 5 }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The box of a locator, and whether it lies within the screen's width. */
async function fitsWidth(page: Page, selector: string): Promise<{ left: number; right: number }> {
  const box = await page.locator(selector).first().boundingBox();
  expect(box, `${selector} has no box`).not.toBeNull();
  return { left: box!.x, right: box!.x + box!.width };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  server = await startTestServer();
  adminApi = new ApiClient(server.url);
  await adminApi.signIn();
  await adminApi.post('/api/admin/channels', { name: 'Works', base_url: upstream.url, key: 'sk-up-works', models: ['gpt-4o-mini', 'text-embedding-3-small'] });
  // Alphabetically first, served only by a channel that fails every call.
  const broken = await adminApi.post('/api/admin/channels', { name: 'Broken', base_url: 'http://127.0.0.1:9', key: 'sk-up-broken', models: ['a-failing-model'] });
  await server.ctx.db.kysely.updateTable('channels').set({ last_test_ok: 0 }).where('id', '=', broken.body.id).execute();
  await adminApi.put('/api/admin/prices/gpt-4o-mini', { input: '0.15', output: '0.6', cached_input: '0.075', per_request: '0.001' });
  await adminApi.put('/api/admin/prices/a-failing-model', { input: '1', output: '2' });
  await adminApi.put('/api/admin/prices/text-embedding-3-small', { input: '0.02', output: '0' });
  const u = await adminApi.post('/api/admin/users', { email: USER_EMAIL, password: USER_PASSWORD, name: 'Ops' });
  await adminApi.post(`/api/admin/users/${u.body.id}/balance-adjustments`, { amount: '5', reason: 'welcome', idempotency_key: 'usability-seed' });
  userApi = new ApiClient(server.url);
  await userApi.signIn(USER_EMAIL, USER_PASSWORD);
  userKey = (await userApi.post('/api/console/keys', { name: 'laptop', quota: '0.000001' })).body.key;
  await server.ctx.feed.pollNow();
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

describe('console usability (issue #7 A)', () => {
  it('right after sign-in the sidebar and the content agree, and the 30-day chart fits its box', async () => {
    for (const lang of ['zh-CN', 'en-US'] as const) {
      const s = await session(lang);
      await s.page.goto('/console/login');
      await signIn(s, 'console', USER_EMAIL, USER_PASSWORD);
      await s.page.getByTestId('overview-chart').locator('canvas').waitFor();
      await s.page.waitForTimeout(400);
      const geometry = await s.page.evaluate<{ siderRight: number; contentLeft: number; chartLeft: number; chartRight: number; canvasLeft: number; canvasRight: number; width: number }>(`(() => {
        const box = (q) => document.querySelector(q).getBoundingClientRect();
        const sider = box('.ant-pro-sider'), content = box('.ant-pro-page-container');
        const chart = box('[data-testid="overview-chart"]'), canvas = box('[data-testid="overview-chart"] canvas');
        return { siderRight: sider.right, contentLeft: content.left, chartLeft: chart.left, chartRight: chart.right, canvasLeft: canvas.left, canvasRight: canvas.right, width: window.innerWidth };
      })()`);
      // An open sidebar (220 px) and content that starts right after it, not under or far from it.
      expect(geometry.siderRight).toBeGreaterThan(200);
      expect(geometry.contentLeft - geometry.siderRight).toBeGreaterThanOrEqual(0);
      expect(geometry.contentLeft - geometry.siderRight).toBeLessThan(40);
      // The chart's drawing is its container's size, inside the screen: today's bar is not cut off.
      expect(Math.abs(geometry.canvasRight - geometry.chartRight)).toBeLessThanOrEqual(1);
      expect(Math.abs(geometry.canvasLeft - geometry.chartLeft)).toBeLessThanOrEqual(1);
      expect(geometry.chartRight).toBeLessThanOrEqual(geometry.width);
      await shot(s, 'usability-overview-after-sign-in');
    }
  });

  it('on a phone the menu drawer closes when an item is tapped, and the new page takes taps (admin and portal)', async () => {
    const cases = [
      { lang: 'en-US', area: 'admin', email: ADMIN_EMAIL, password: ADMIN_PASSWORD, item: 'Accounts', then: 'user-new' },
      { lang: 'zh-CN', area: 'admin', email: ADMIN_EMAIL, password: ADMIN_PASSWORD, item: '账号管理', then: 'user-new' },
      { lang: 'zh-CN', area: 'console', email: USER_EMAIL, password: USER_PASSWORD, item: 'API 密钥', then: 'key-new' },
      { lang: 'en-US', area: 'console', email: USER_EMAIL, password: USER_PASSWORD, item: 'API keys', then: 'key-new' },
    ] as const;
    for (const c of cases) {
      const s = await session(c.lang, PHONE);
      await s.page.goto(`/${c.area}/login`);
      await signIn(s, c.area, c.email, c.password);
      await s.page.locator('.ant-pro-global-header-collapsed-button').click();
      const drawer = s.page.locator('.ant-drawer-open');
      await drawer.getByRole('link', { name: c.item }).first().click();
      await drawer.waitFor({ state: 'detached' });
      await s.page.locator('.ant-drawer-mask').waitFor({ state: 'hidden' });
      // A real tap on the new page: Playwright refuses to click what a mask covers.
      await s.page.getByTestId(c.then).click();
      await s.page.locator('.ant-drawer-open').waitFor();
      await shot(s, `usability-${c.area}-after-menu-tap`);
      await s.page.keyboard.press('Escape');
    }
  });

  it('on a phone the time range fits the screen: presets first, one month at a time (admin and portal usage)', async () => {
    for (const [lang, area, email, password, path] of [
      ['zh-CN', 'admin', ADMIN_EMAIL, ADMIN_PASSWORD, '/admin/usage/records'],
      ['en-US', 'console', USER_EMAIL, USER_PASSWORD, '/console/usage'],
    ] as const) {
      const s = await session(lang, PHONE);
      await s.page.goto(`/${area}/login`);
      await signIn(s, area, email, password);
      await s.page.goto(path);
      await s.page.getByTestId('phone-range').waitFor();
      const field = await fitsWidth(s.page, '[data-testid="phone-range"]');
      expect(field.left).toBeGreaterThanOrEqual(0);
      expect(field.right).toBeLessThanOrEqual(PHONE.width);
      // A preset is one tap, and fills both ends.
      await s.page.getByTestId('phone-range-preset').nth(3).click();
      expect(await s.page.getByTestId('phone-range-from').inputValue()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
      expect(await s.page.getByTestId('phone-range-to').inputValue()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
      // Each end opens one month, inside the screen.
      for (const end of ['phone-range-from', 'phone-range-to']) {
        await s.page.getByTestId(end).click();
        const popup = s.page.locator('.ant-picker-dropdown:not(.ant-picker-dropdown-hidden)');
        await popup.waitFor();
        const box = await fitsWidth(s.page, '.ant-picker-dropdown:not(.ant-picker-dropdown-hidden) .ant-picker-panel-container');
        expect(box.left, `${end} popup`).toBeGreaterThanOrEqual(0);
        expect(box.right, `${end} popup`).toBeLessThanOrEqual(PHONE.width);
        await shot(s, `usability-${area}-range-${end}`);
        await s.page.keyboard.press('Escape');
        await popup.waitFor({ state: 'hidden' });
      }
      await s.page.getByRole('button', { name: lang === 'zh-CN' ? /^查\s?询$/ : 'Query' }).click();
    }
  });

  it('shows refused calls in the usage lists with their status and code, and the error rate', async () => {
    // The key's quota (one micro-dollar) refuses every call: 402; an unknown model: 404.
    expect(await gateway(userKey, 'gpt-4o-mini')).toBe(402);
    expect(await gateway(userKey, 'no-such-model')).toBe(404);
    const s = await session('en-US');
    await s.page.goto('/admin/login');
    await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await s.page.goto('/admin/usage/records');
    await s.page.getByText('Expand').click();
    await s.page.locator('.ant-select').filter({ has: s.page.locator('#status_code') }).click();
    await s.page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option').filter({ hasText: '402: no money or key quota' }).click();
    await s.page.getByRole('button', { name: 'Query' }).click();
    await s.page.getByText('1 in total').waitFor();
    const row = s.page.locator('.ant-table-row').filter({ hasText: 'gpt-4o-mini' });
    await row.waitFor();
    expect(await row.innerText()).toContain('402');
    const totals = s.page.getByTestId('usage-totals');
    await totals.getByText('Error rate').waitFor();
    await totals.getByText('100% (1)').waitFor();
    await shot(s, 'usability-admin-usage-refused');

    const u = await session('zh-CN');
    await u.page.goto('/console/login');
    await signIn(u, 'console', USER_EMAIL, USER_PASSWORD);
    await u.page.goto('/console/usage');
    await u.page.locator('.ant-table-row').filter({ hasText: 'no-such-model' }).waitFor();
    await u.page.getByTestId('usage-totals').getByText('错误率').waitFor();
    await u.page.getByTestId('usage-totals').getByText('100% (2)').waitFor();
    await shot(u, 'usability-console-usage-refused');
  });

  it('keeps revoked keys read-only, filters by "revoked", and says why enabling one fails', async () => {
    const keys = await userApi.get('/api/console/keys');
    const laptop = keys.body.items.find((k: { name: string }) => k.name === 'laptop');
    const spare = (await userApi.post('/api/console/keys', { name: 'spare' })).body;
    await userApi.patch(`/api/console/keys/${spare.id}`, { status: 'disabled' });
    await revokeKey(server.ctx.db, server.ctx.feed, laptop.id);
    for (const lang of ['zh-CN', 'en-US'] as const) {
      const s = await session(lang);
      await s.page.goto('/console/login');
      await signIn(s, 'console', USER_EMAIL, USER_PASSWORD);
      await s.page.goto('/console/keys');
      const revoked = s.page.locator('.ant-table-row').filter({ has: s.page.getByText('laptop', { exact: true }) });
      await revoked.getByTestId(`key-readonly-${laptop.id}`).waitFor();
      expect(await revoked.getByRole('button').count()).toBe(0);
      await s.page.getByText(lang === 'zh-CN' ? '展开' : 'Expand').click({ timeout: 1_000 }).catch(() => {});
      await s.page.locator('.ant-select').filter({ has: s.page.locator('#state') }).click();
      await s.page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option').filter({ hasText: lang === 'zh-CN' ? '已吊销' : 'Revoked' }).click();
      await s.page.getByRole('button', { name: lang === 'zh-CN' ? /^查\s?询$/ : 'Query' }).click();
      await s.page.getByText(lang === 'zh-CN' ? '共 1 条' : '1 in total').waitFor();
      await shot(s, 'usability-console-keys-revoked');
      await s.page.getByRole('button', { name: lang === 'zh-CN' ? /^重\s?置$/ : 'Reset' }).click();

      // A page that still shows "spare" as disabled while it was revoked elsewhere: Enable says why, in words.
      if (lang === 'en-US') {
        const row = s.page.locator('.ant-table-row').filter({ has: s.page.getByText('spare', { exact: true }) });
        await row.getByRole('button', { name: 'Enable' }).waitFor();
        await revokeKey(server.ctx.db, server.ctx.feed, spare.id);
        await provoking(s, async () => {
          await row.getByRole('button', { name: 'Enable' }).click();
          await expectToast(s.page, 'This key is revoked: it can no longer be enabled or changed.');
        });
      }
    }
  });

  it("starts the quick start from a chat model that works, with its full price, and copies a real key", async () => {
    const s = await session('en-US');
    await s.page.goto('/console/login');
    await signIn(s, 'console', USER_EMAIL, USER_PASSWORD);
    await s.page.goto('/console/quickstart');
    const select = s.page.getByTestId('quickstart-model');
    await select.getByText('gpt-4o-mini').waitFor();
    const price = s.page.getByTestId('quickstart-price');
    for (const text of ['Input / 1M', '$0.15', 'Output / 1M', '$0.60', 'Cached input / 1M', '$0.075', 'Per call', '$0.001']) await price.getByText(text, { exact: true }).first().waitFor();
    // The chat snippet offers no embedding model; the failing one is marked.
    await select.click();
    const options = s.page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option');
    await options.first().waitFor();
    const labels = await options.allInnerTexts();
    expect(labels.some((l) => l.includes('embedding'))).toBe(false);
    expect(labels).toContain('a-failing-model (unavailable now)');
    await s.page.keyboard.press('Escape');

    // No key to copy yet: the button says why instead of copying the placeholder.
    expect(await s.page.getByTestId('quickstart-key-copy').isDisabled()).toBe(true);
    await shot(s, 'usability-quickstart-before-key');
    await s.page.getByTestId('quickstart-create-key').click();
    await s.page.getByTestId('quickstart-key-copy').click();
    const key = await s.page.evaluate<string>('navigator.clipboard.readText()');
    expect(key).toMatch(/^sk-[A-Za-z0-9]{32}$/);
    await server.ctx.feed.pollNow();
    await s.page.getByTestId('snippet-curl-copy').click();
    const curl = await s.page.evaluate<string>('navigator.clipboard.readText()');
    expect(curl).toContain(key);
    const out = await run('bash', ['-c', curl], { timeout: 20_000 });
    expect(JSON.parse(out.stdout).choices[0].message.content).toMatch(/^hello/i);
    await shot(s, 'usability-quickstart-with-key');
  });

  it('offers no Disable on your own account, and a refused change is a message, not an uncaught error', async () => {
    for (const lang of ['en-US', 'zh-CN'] as const) {
      const s = await session(lang);
      await s.page.goto('/admin/login');
      await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
      await s.page.goto('/admin/accounts/users');
      await s.page.getByTestId('user-disable-self').waitFor();
      expect(await s.page.getByTestId('user-disable-self').isDisabled()).toBe(true);
      if (lang === 'en-US') {
        // The server refuses a change (as it would for one's own account): the confirmation stays, a message says why.
        await s.page.route('**/api/admin/users/*', (r) =>
          r.request().method() === 'PATCH'
            ? r.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ error: { code: 'own_account', message: 'You cannot disable yourself or change your own role.', path: 'status' } }) })
            : r.fallback(),
        );
        const row = s.page.locator('.ant-table-row').filter({ hasText: 'o***@example.com' });
        await provoking(s, async () => {
          await row.getByRole('button', { name: 'Disable' }).click();
          await s.page.locator('.ant-modal-confirm-btns .ant-btn-primary').click();
          await expectToast(s.page, 'You cannot disable your own account or change your own role.');
          await s.page.waitForTimeout(300);
        });
        await s.page.unroute('**/api/admin/users/*');
      }
      await shot(s, 'usability-admin-users-self');
    }
  });

  it('paints the layout shell at once on a cold load, before the scripts have run', async () => {
    const figures: string[] = [];
    for (const viewport of [DESKTOP, PHONE]) {
      const s = await session('zh-CN', viewport);
      await s.page.goto('/console/login');
      await signIn(s, 'console', USER_EMAIL, USER_PASSWORD);
      // A cold load: nothing cached.
      await s.context.clearCookies().catch(() => {});
      await s.page.goto('/console/login');
      await signIn(s, 'console', USER_EMAIL, USER_PASSWORD);
      const cdp = await s.context.newCDPSession(s.page);
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await s.page.goto('/console/overview', { waitUntil: 'commit' });
      await s.page.getByTestId('shell-skeleton').or(s.page.locator('.ant-pro-layout')).first().waitFor();
      await s.page.locator('.ant-pro-page-container').waitFor();
      const t = await s.page.evaluate<{ fcp: number; layout: number }>(`(() => {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1;
        return { fcp: Math.round(fcp), layout: Math.round(performance.now()) };
      })()`);
      // The first paint is the shell (static in index.html); it comes long before 1.5 s.
      expect(t.fcp).toBeGreaterThan(0);
      expect(t.fcp).toBeLessThan(1500);
      figures.push(`${viewport.width}px: first paint (layout shell) ${t.fcp} ms, page laid out by ${t.layout} ms`);
      await cdp.detach();
    }
    console.log(`[cold load] ${figures.join('; ')}`);
  });

  it('logged no uncaught errors in the browser', () => {
    expect(sessions.flatMap((s) => s.errors)).toEqual([]);
  });
});
