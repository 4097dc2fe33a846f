// The web console end to end, in a real Chromium against a real server and a fake upstream:
// an operator sets up a channel, a price and a funded user; that user creates a key, calls the
// gateway with the official `openai` SDK, and sees the call; the operator sees it too; both CSV
// exports contain it. Every page is screenshotted in both languages and at phone width into
// test-results/screenshots/ (look at them after a UI change).
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { confirmOk, drawerSubmit, horizontalOverflow, launch, openSession, reloadUntil, shot, signIn, switchLanguage, expectToast, type Session } from './browser.js';

const USER_EMAIL = 'dev@example.com';
const USER_PASSWORD = 'dev-password-123';

let server: TestServer;
let upstream: FakeUpstream;
let browser: Browser;
let admin: Session;
let user: Session;
let apiKey = '';
let requestId = '';
const overviewQueries: string[] = [];

async function download(page: Page, testId: string): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const path = await dl.path();
  return readFileSync(path, 'utf8');
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  server = await startTestServer();
  browser = await launch();
  admin = await openSession(browser, server.url, 'en-US');
  // The user is in China (UTC+8): their days and charts must be Beijing days.
  user = await openSession(browser, server.url, 'zh-CN', undefined, 'Asia/Shanghai');
  user.page.on('request', (r) => {
    if (r.url().includes('/api/console/overview')) overviewQueries.push(new URL(r.url()).searchParams.get('tz_offset_minutes') ?? '');
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

describe('web console', () => {
  it('signs the operator in to /admin, in English for an English browser', async () => {
    const { page } = admin;
    await page.goto('/admin');
    await page.waitForURL(/\/admin\/login\?next=/);
    await page.getByRole('heading', { name: 'Operator sign-in' }).waitFor();
    await shot(admin, 'admin-login');

    // A wrong password is explained in words, not as a code.
    await page.getByTestId('sign-in-email').fill(ADMIN_EMAIL);
    await page.getByTestId('sign-in-password').fill('not-the-password');
    await page.getByTestId('sign-in-submit').click();
    await expect((await page.getByTestId('sign-in-error').innerText()).trim()).toBe('Wrong email or password.');

    await signIn(admin, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL('**/admin/dashboard');
    await page.getByTestId('card-new_users').waitFor();
    await shot(admin, 'admin-dashboard-empty');
  });

  it('adds a channel pointing at the upstream, and its health check passes', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Channels' }).click();
    await page.waitForURL('**/admin/products/channels');
    await page.locator('.ant-empty').first().waitFor();
    await shot(admin, 'admin-channels-empty');

    await page.getByTestId('channel-new').click();
    await page.locator('#channel_name').fill('Fake upstream');
    await page.locator('#channel_base_url').fill(upstream.url);
    await page.locator('#channel_key').fill('sk-upstream-browser-test');
    await page.locator('#channel_models').fill('gpt-4o-mini');
    await page.locator('#channel_models').press('Enter');
    await shot(admin, 'admin-channel-drawer');
    await drawerSubmit(page).click();
    await expectToast(page, 'Channel added');
    await page.getByText('Fake upstream').waitFor();
    // The upstream key is write-only: once the drawer is gone it is nowhere on the page.
    await page.locator('.ant-drawer').waitFor({ state: 'detached' });
    expect((await page.content()).includes('sk-upstream-browser-test'), 'upstream key still on the page').toBe(false);

    await page.locator('[data-testid^="channel-test-"]').first().click();
    await page.locator('.ant-notification-notice').filter({ hasText: 'Channel "Fake upstream" works' }).waitFor();
    await page.locator('.ant-badge-status-success').first().waitFor();
    await shot(admin, 'admin-channels');
  });

  it('sets a price for the model (per 1M, with per 1K beside)', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Models & prices' }).click();
    await page.getByTestId('price-edit-gpt-4o-mini').click();
    await page.locator('#price_input').fill('0.15');
    await page.locator('#price_output').fill('0.6');
    await page.getByText('That is $0.00015 per 1K tokens').waitFor();
    await shot(admin, 'admin-price-drawer');
    await drawerSubmit(page).click();
    await expectToast(page, 'The price of gpt-4o-mini is live');
    await page.getByText('$0.00015 / 1K').waitFor();
    await shot(admin, 'admin-prices');
  });

  it('creates a user and tops up their balance (a deduction needs the email typed)', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByTestId('user-new').click();
    await page.locator('#new_user_email').fill(USER_EMAIL);
    await page.locator('#new_user_name').fill('Dev User');
    await page.locator('#new_user_password').fill(USER_PASSWORD);
    await drawerSubmit(page).click();
    await expectToast(page, `Created ${USER_EMAIL}`);

    // The detail drawer opens on the new user.
    const drawer = page.getByTestId('user-drawer');
    await drawer.getByText('Overview').first().waitFor();
    await drawer.getByRole('tab', { name: 'Balance' }).click();
    await page.getByTestId('balance-amount').fill('10');
    await page.getByTestId('balance-reason').fill('welcome credit');
    await page.getByTestId('balance-submit').click();
    await confirmOk(page).click();
    await expectToast(page, 'Booked +$10.00; the balance is now $10.00');

    await drawer.locator('.ant-radio-button-wrapper').filter({ hasText: 'Deduct' }).click();
    await page.getByTestId('balance-amount').fill('0.5');
    await page.getByTestId('balance-reason').fill('correction');
    await page.getByTestId('balance-submit').click();
    expect(await confirmOk(page).isDisabled()).toBe(true);
    await page.getByTestId('typed-confirm-input').fill(USER_EMAIL);
    expect(await confirmOk(page).isDisabled()).toBe(false);
    await shot(admin, 'admin-user-deduct-confirm');
    await confirmOk(page).click();
    await expectToast(page, 'Booked -$0.50; the balance is now $9.50');
    await drawer.getByText('welcome credit').waitFor();
    await shot(admin, 'admin-user-drawer');
    await page.keyboard.press('Escape');
    await page.getByText('d***@example.com').waitFor();
    await shot(admin, 'admin-users');
  });

  it('signs the user in to /console, in Chinese for a Chinese browser, and shows their balance', async () => {
    const { page } = user;
    await page.goto('/');
    await page.waitForURL('**/console/login');
    await page.getByRole('heading', { name: '控制台登录' }).waitFor();
    await shot(user, 'console-login');
    await signIn(user, 'console', USER_EMAIL, USER_PASSWORD);
    await page.waitForURL('**/console/overview');
    await page.getByTestId('overview-balance').getByText('$9.50').first().waitFor();
    await shot(user, 'console-overview-empty');
  });

  it('creates a key, shown once with a copy button, and lists it by prefix only', async () => {
    const { page } = user;
    await page.getByRole('link', { name: 'API 密钥' }).click();
    await page.waitForURL('**/console/keys');
    await page.getByTestId('key-new').click();
    await page.getByTestId('key-name').fill('laptop');
    await shot(user, 'console-key-drawer');
    await drawerSubmit(page).click();
    const modal = page.getByTestId('new-key-modal');
    await modal.getByText('请立即复制并妥善保存此密钥').waitFor();
    apiKey = await page.getByTestId('new-key-value').inputValue();
    expect(apiKey).toMatch(/^sk-[A-Za-z0-9]{32}$/);
    await page.getByTestId('new-key-value-copy').click();
    await expectToast(page, '已复制到剪贴板');
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(apiKey);
    await shot(user, 'console-key-created');
    await page.getByTestId('new-key-done').click();
    await page.getByText(`${apiKey.slice(0, 7)}…${apiKey.slice(-4)}`).first().waitFor();
    await page.getByTestId('new-key-modal').waitFor({ state: 'detached' });
    expect((await page.content()).includes(apiKey), 'full key still on the page').toBe(false);
    await shot(user, 'console-keys');
  });

  it('calls the gateway with the openai SDK using that key', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
    // A new key reaches the gateway's cache within the change feed's poll interval.
    let lastError: unknown;
    for (let i = 0; i < 20 && !requestId; i++) {
      try {
        const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello from the browser test' }] }).withResponse();
        expect(data.choices[0]?.message.content).toMatch(/^hello/);
        requestId = response.headers.get('x-request-id') ?? '';
      } catch (e) {
        lastError = e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(requestId, String(lastError)).not.toBe('');
  });

  it('shows the call in the user\'s usage list, totals, chart and CSV export', async () => {
    const { page } = user;
    await page.getByRole('link', { name: '用量' }).click();
    await page.waitForURL('**/console/usage');
    await reloadUntil(page, page.locator('.ant-table-row').filter({ hasText: 'gpt-4o-mini' }));
    await page.getByTestId('usage-totals').getByText('1', { exact: true }).first().waitFor();
    await shot(user, 'console-usage');
    const csv = await download(page, 'usage-export');
    expect(csv.split('\n')[0]).toContain('request_id');
    expect(csv).toContain(requestId);
    expect(csv).toContain('gpt-4o-mini');
    expect(csv).not.toContain('upstream_cost');

    await page.getByRole('link', { name: '概览' }).click();
    await page.getByTestId('overview-chart').locator('canvas').waitFor();
    // Opening the overview again shows the call at once: today's count, tokens and spend.
    const today = page.getByTestId('overview-today');
    await today.locator('.ant-statistic-content-value').first().filter({ hasText: /^1$/ }).waitFor();
    expect(await today.innerText()).not.toContain('$0.00\n');
    expect(overviewQueries.length).toBeGreaterThan(0);
    expect(new Set(overviewQueries)).toEqual(new Set(['-480']));
    await shot(user, 'console-overview');

    await page.getByRole('link', { name: '快速开始' }).click();
    await page.getByTestId('snippet-curl').getByText(`${server.url}/v1/chat/completions`).waitFor();
    expect(await page.getByTestId('quickstart-base-url').inputValue()).toBe(`${server.url}/v1`);
    await shot(user, 'console-quickstart');
  });

  it('shows the call to the operator: usage records, filters, CSV export and the dashboard', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Usage records' }).click();
    await page.waitForURL('**/admin/usage/records');
    const row = page.locator('.ant-table-row').filter({ hasText: 'gpt-4o-mini' });
    await reloadUntil(page, row);
    await row.locator('.ant-table-row-expand-icon').first().click();
    await page.getByText(requestId).first().waitFor();
    await shot(admin, 'admin-usage');

    // Filter by request id through the query form.
    await page.getByText('Expand').click();
    await page.locator('#request_id').fill(requestId);
    await page.getByRole('button', { name: 'Query' }).click();
    await page.getByText('1 in total').waitFor();
    const csv = await download(page, 'usage-export');
    const lines = csv.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(requestId);
    expect(lines[0]).toContain('cost');

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('card-tokens').getByText(/^[1-9]/).waitFor();
    await page.getByTestId('dashboard-trend').locator('canvas').waitFor();
    expect(await page.getByTestId('card-revenue_micros').innerText()).toMatch(/\$0\.0000\d+/);
    await shot(admin, 'admin-dashboard');
  });

  it('tells a plain user that /admin is for operators', async () => {
    const { page } = user;
    await page.goto('/admin');
    await page.getByTestId('go-console').waitFor();
    await shot(user, 'console-admin-refused');
  });

  it('renders every page in the other language, and remembers the choice', async () => {
    await switchLanguage(admin, 'zh-CN');
    for (const [path, name] of [
      ['/admin/dashboard', 'admin-dashboard'],
      ['/admin/products/channels', 'admin-channels'],
      ['/admin/products/prices', 'admin-prices'],
      ['/admin/accounts/users', 'admin-users'],
      ['/admin/accounts/keys', 'admin-keys'],
      ['/admin/usage/records', 'admin-usage'],
    ] as const) {
      await admin.page.goto(path);
      await admin.page.locator('.ant-pro-page-container').waitFor();
      await admin.page.waitForLoadState('networkidle');
      await shot(admin, name);
    }
    expect(await admin.page.getByRole('link', { name: '消费明细' }).count()).toBe(1);

    await user.page.goto('/console/overview');
    await switchLanguage(user, 'en-US');
    await user.page.reload();
    await user.page.getByRole('link', { name: 'Quick start' }).waitFor();
    for (const [path, name] of [
      ['/console/overview', 'console-overview'],
      ['/console/keys', 'console-keys'],
      ['/console/usage', 'console-usage'],
      ['/console/quickstart', 'console-quickstart'],
    ] as const) {
      await user.page.goto(path);
      await user.page.locator('.ant-pro-page-container').waitFor();
      await user.page.waitForLoadState('networkidle');
      await shot(user, name);
    }
  });

  it('works at phone width (390 px): no page is wider than the screen', async () => {
    const phoneAdmin = await openSession(browser, server.url, 'zh-CN', { width: 390, height: 844 });
    await phoneAdmin.page.goto('/admin/login');
    await shot(phoneAdmin, 'admin-login');
    await signIn(phoneAdmin, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    const phoneUser = await openSession(browser, server.url, 'en-US', { width: 390, height: 844 });
    await phoneUser.page.goto('/console/login');
    await shot(phoneUser, 'console-login');
    await signIn(phoneUser, 'console', USER_EMAIL, USER_PASSWORD);
    const pages: [Session, string, string][] = [
      [phoneAdmin, '/admin/dashboard', 'admin-dashboard'],
      [phoneAdmin, '/admin/products/channels', 'admin-channels'],
      [phoneAdmin, '/admin/products/prices', 'admin-prices'],
      [phoneAdmin, '/admin/accounts/users', 'admin-users'],
      [phoneAdmin, '/admin/accounts/keys', 'admin-keys'],
      [phoneAdmin, '/admin/usage/records', 'admin-usage'],
      [phoneUser, '/console/overview', 'console-overview'],
      [phoneUser, '/console/keys', 'console-keys'],
      [phoneUser, '/console/usage', 'console-usage'],
      [phoneUser, '/console/quickstart', 'console-quickstart'],
    ];
    const overflowing: string[] = [];
    for (const [s, path, name] of pages) {
      await s.page.goto(path);
      await s.page.locator('.ant-pro-page-container').waitFor();
      await s.page.waitForLoadState('networkidle');
      await shot(s, name);
      const over = await horizontalOverflow(s.page);
      if (over > 1) overflowing.push(`${path}: ${over}px`);
    }
    // The menu opens as a drawer on a phone.
    await phoneUser.page.locator('.ant-pro-global-header-collapsed-button').click();
    await phoneUser.page.locator('.ant-drawer-open').getByRole('link', { name: 'Usage' }).waitFor();
    await shot(phoneUser, 'console-menu');
    expect(overflowing).toEqual([]);
    expect([...phoneAdmin.errors, ...phoneUser.errors]).toEqual([]);
    await phoneAdmin.context.close();
    await phoneUser.context.close();
  });

  it('logged no uncaught errors in the browser', () => {
    expect([...admin.errors, ...user.errors]).toEqual([]);
  });
});
