// The web console end to end, in a real Chromium against a real server and a fake upstream:
// an operator sets up a channel, a price and a funded user; that user creates a key, calls the
// gateway with the official `openai` SDK, and sees the call; the operator sees it too; both CSV
// exports contain it; the quick start's snippets run against this very server. Along the way the
// list pages' query forms, confirmations and error states are exercised as a person would use them.
// Every page is screenshotted in both languages, on a desktop and at phone width, into
// test-results/screenshots/ (look at them after a UI change).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, REPO_ROOT, startTestServer, type TestServer } from '../support/server.js';
import {
  confirmOk,
  drawerSubmit,
  closeNewKey,
  copyWith,
  expectToast,
  horizontalOverflow,
  launch,
  openDropdown,
  openSession,
  pickOption,
  provoking,
  reloadUntil,
  rowWith,
  searchAndPick,
  shot,
  signIn,
  switchLanguage,
  type Session,
} from './browser.js';

const run = promisify(execFile);

const USER_EMAIL = 'dev@example.com';
const USER_PASSWORD = 'dev-password-123';

let server: TestServer;
let upstream: FakeUpstream;
let browser: Browser;
let admin: Session;
let user: Session;
let apiKey = '';
let requestId = '';
/** Calls made with the user's key so far (the SDK's and the quick start snippets'). */
let calls = 0;
const overviewQueries: string[] = [];

/** What the page's copy button put on the clipboard. */
async function clipboard(page: Page): Promise<string> {
  return page.evaluate<string>('navigator.clipboard.readText()');
}

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

    // Disabling asks first; enabling does not.
    const row = rowWith(page, 'Fake upstream');
    await row.getByRole('button', { name: 'More' }).click();
    await page.getByRole('menuitem', { name: 'Disable' }).click();
    await page.locator('.ant-modal-confirm-title').filter({ hasText: 'Disable channel "Fake upstream"?' }).waitFor();
    await confirmOk(page).click();
    await expectToast(page, 'Channel "Fake upstream" disabled');
    await row.getByText('Disabled', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'More' }).click();
    await page.getByRole('menuitem', { name: 'Enable' }).click();
    await expectToast(page, 'Channel "Fake upstream" enabled');
    await row.getByText('Enabled', { exact: true }).waitFor();
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
    // Per 1M in the list, with the unit in the header; amounts written alike ($0.60, not $0.6).
    await page.getByRole('columnheader', { name: 'Input / 1M', exact: true }).waitFor();
    await rowWith(page, 'gpt-4o-mini').getByText('$0.60', { exact: true }).waitFor();
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
    await page.getByTestId('topup-method').click();
    await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: 'Cash' }).first().click();
    await page.getByTestId('balance-submit').click();
    await confirmOk(page).click();
    await expectToast(page, 'Booked +$10.00; the balance is now $10.00');

    await page.getByTestId('topup-type-deduction').click();
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

    // The server's refusal is said in words, on the field it is about.
    await page.getByTestId('user-new').click();
    await page.locator('#new_user_email').fill(USER_EMAIL);
    await provoking(admin, async () => {
      await drawerSubmit(page).click();
      await page.locator('.ant-drawer-open .ant-form-item-explain-error').filter({ hasText: 'That already exists' }).waitFor();
    });
    await page.locator('.ant-drawer-open .ant-drawer-footer').getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.ant-drawer-open').waitFor({ state: 'detached' });

    // Search, and the role and status filters behind "Expand".
    await page.locator('#email').fill('dev@');
    await page.getByRole('button', { name: 'Query' }).click();
    await page.getByText('1 in total').waitFor();
    await page.getByText('Expand').click();
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByText('2 in total').waitFor();
    await pickOption(page, 'role', 'Super admin');
    await page.getByRole('button', { name: 'Query' }).click();
    await page.getByText('1 in total').waitFor();
    await page.getByText('ad***@test.local').waitFor();
    await pickOption(page, 'status', 'Disabled');
    await page.getByRole('button', { name: 'Query' }).click();
    await page.locator('.ant-table-placeholder').getByText('No match').waitFor();
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByText('2 in total').waitFor();
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
    await copyWith(page, page.getByTestId('new-key-value-copy'), '已复制到剪贴板');
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(apiKey);
    await shot(user, 'console-key-created');
    await closeNewKey(page);
    await page.getByText(`${apiKey.slice(0, 7)}…${apiKey.slice(-4)}`).first().waitFor();
    await page.getByTestId('new-key-modal').waitFor({ state: 'detached' });
    expect((await page.content()).includes(apiKey), 'full key still on the page').toBe(false);

    // A key with every limit: expiry, quota, allowed models and IPs, all shown in the list.
    await page.getByTestId('key-new').click();
    await page.getByTestId('key-name').fill('ci-bot');
    await page.locator('#key_expires_at').click();
    await page.locator('#key_expires_at').fill('2030-01-01 00:00:00');
    await page.locator('#key_expires_at').press('Enter');
    await page.locator('#key_quota').fill('1');
    await page.locator('#key_models').fill('gpt-4o-mini');
    await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: 'gpt-4o-mini' }).first().click();
    await page.locator('#key_ips').fill('10.0.0.0/8');
    await page.locator('#key_ips').press('Enter');
    await shot(user, 'console-key-drawer-limits');
    await drawerSubmit(page).click();
    await closeNewKey(page);
    const bot = rowWith(page, 'ci-bot');
    await bot.getByText('$0.00 / $1.00').waitFor();
    await bot.getByText('允许的模型: gpt-4o-mini').waitFor();
    await bot.getByText('允许的 IP: 10.0.0.0/8').waitFor();
    await bot.getByText('2030-01-01 00:00').waitFor();

    // Disabling asks first.
    await bot.getByRole('button', { name: /^禁\s?用$/ }).click();
    await page.locator('.ant-modal-confirm-title').filter({ hasText: '禁用密钥「ci-bot」？' }).waitFor();
    await confirmOk(page).click();
    await expectToast(page, '密钥已禁用');
    await bot.getByText('已禁用', { exact: true }).waitFor();

    // The next new key starts from an empty form, not with the last one's limits.
    await page.getByTestId('key-new').click();
    expect(await page.locator('#key_quota').inputValue()).toBe('');
    expect(await page.locator('#key_expires_at').inputValue()).toBe('');
    expect(await page.locator('.ant-drawer-open .ant-select-selection-item').count()).toBe(0);
    await page.getByTestId('key-name').fill('temp');
    await drawerSubmit(page).click();
    await closeNewKey(page);
    const temp = rowWith(page, 'temp');
    await temp.getByText('不限额').waitFor();
    await temp.getByText('永不过期').waitFor();

    // Deleting needs "DELETE" typed.
    await temp.getByRole('button', { name: /^删\s?除$/ }).click();
    expect(await confirmOk(page).isDisabled()).toBe(true);
    await page.getByTestId('typed-confirm-input').fill('delete');
    expect(await confirmOk(page).isDisabled()).toBe(true);
    await page.getByTestId('typed-confirm-input').fill('DELETE');
    await shot(user, 'console-key-delete-confirm');
    await confirmOk(page).click();
    await expectToast(page, '密钥已删除');
    await temp.waitFor({ state: 'detached' });
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
        calls++;
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
    // The export speaks the viewer's language and clock: Chinese headers, Beijing times with their offset.
    expect(csv.split('\n')[0]).toContain('请求 ID');
    expect(csv.split('\n')[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00,/);
    expect(csv).toContain(requestId);
    expect(csv).toContain('gpt-4o-mini');
    expect(csv).not.toContain('upstream_cost');

    // 20 calls a page; filters by status code and model, with the totals following them.
    await page.getByText('20 条/页').waitFor();
    await page.getByText('展开').click();
    await pickOption(page, 'status_code', '失败（非 2xx）');
    await page.getByRole('button', { name: /^查\s?询$/ }).click();
    await page.locator('.ant-table-placeholder').getByText('没有匹配的结果').waitFor();
    await page.getByTestId('usage-totals').locator('.ant-statistic-content-value').first().filter({ hasText: /^0$/ }).waitFor();
    await page.getByRole('button', { name: /^重\s?置$/ }).click();
    await page.getByTestId('filter-model').locator('input').fill('gpt-4o');
    await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: 'gpt-4o-mini' }).click();
    await pickOption(page, 'status_code', '成功（2xx）');
    await page.getByRole('button', { name: /^查\s?询$/ }).click();
    await page.getByText('共 1 条').waitFor();
    await page.locator('.ant-table-row').filter({ hasText: 'gpt-4o-mini' }).waitFor();
    await shot(user, 'console-usage-filtered');
    await page.getByRole('button', { name: /^重\s?置$/ }).click();

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
    await page.getByTestId('quickstart-base-url-copy').click();
    expect(await clipboard(page)).toBe(`${server.url}/v1`);
    await shot(user, 'console-quickstart');

    // The snippets, copied with their button and with the real key in place of the placeholder,
    // work against this very server as they are.
    const withKey = (s: string) => s.replaceAll('sk-your-key', apiKey);
    const dir = join(REPO_ROOT, 'test-results');
    mkdirSync(dir, { recursive: true });

    await page.getByTestId('snippet-curl-copy').click();
    const curl = await run('bash', ['-c', withKey(await clipboard(page))], { timeout: 20_000 });
    expect(JSON.parse(curl.stdout).choices[0].message.content).toMatch(/^hello/i);
    calls++;

    await page.getByRole('tab', { name: 'Node.js' }).click();
    await page.getByTestId('snippet-node-copy').click();
    const nodeFile = join(dir, 'quickstart-snippet.mjs'); // inside the repo, so `openai` resolves
    writeFileSync(nodeFile, withKey(await clipboard(page)));
    const node = await run(process.execPath, [nodeFile], { cwd: REPO_ROOT, timeout: 20_000 });
    expect(node.stdout).toMatch(/^hello/i);
    calls++;

    await page.getByRole('tab', { name: 'Python' }).click();
    await page.getByTestId('snippet-python-copy').click();
    const python = await clipboard(page);
    expect(python).toContain(`base_url="${server.url}/v1"`);
    // No Python SDK here to run it with; it must at least be valid Python.
    const pyFile = join(dir, 'quickstart-snippet.py');
    writeFileSync(pyFile, python);
    await run('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', pyFile], { timeout: 20_000 });
  });

  it('shows the call to the operator: usage records, filters, CSV export and the dashboard', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Usage records' }).click();
    await page.waitForURL('**/admin/usage/records');
    const row = page.locator('.ant-table-row').filter({ hasText: 'gpt-4o-mini' });
    await reloadUntil(page, row);
    // Newest first: the SDK's call is the oldest of the user's calls, at the bottom.
    await row.last().locator('.ant-table-row-expand-icon').click();
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

    // Every filter of spec 000 §8 is in the form: time range (with presets), user, key, model,
    // channel, status code and request ID.
    const labels = page.locator('.ant-pro-query-filter .ant-form-item-label');
    for (const label of ['Time range', 'User', 'Key', 'Model', 'Channel', 'Status', 'Request ID']) await labels.getByText(label, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.locator('#created_at').click();
    await page.locator('.ant-picker-presets li').filter({ hasText: 'Last 7 days' }).click();
    await searchAndPick(page, 'filter-user', 'dev@', USER_EMAIL);
    await searchAndPick(page, 'filter-key', 'laptop');
    await page.getByTestId('filter-model').locator('input').fill('gpt-4o-mini');
    await pickOption(page, 'channel_name', 'Fake upstream');
    await pickOption(page, 'status_code', 'Succeeded (2xx)');
    await page.getByRole('button', { name: 'Query' }).click();
    await page.getByText(`${calls} in total`).waitFor();
    await page.getByTestId('usage-totals').locator('.ant-statistic-content-value').first().filter({ hasText: new RegExp(`^${calls}$`) }).waitFor();
    await shot(admin, 'admin-usage-filtered');
    await pickOption(page, 'status_code', 'Failed (not 2xx)');
    await page.getByRole('button', { name: 'Query' }).click();
    await page.locator('.ant-table-placeholder').getByText('No match').waitFor();
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByText(`${calls} in total`).waitFor();

    // Sorting happens on the server.
    const charged = page.locator('thead th').filter({ hasText: /^Charged$/ });
    await Promise.all([page.waitForRequest((r) => r.url().includes('/api/admin/usage?') && r.url().includes('sort=charged_micros')), charged.click()]);
    expect(await charged.getAttribute('aria-sort')).toMatch(/ascending|descending/);

    // Column settings: a column can be hidden and shown again.
    await page.locator('.ant-pro-table-list-toolbar [aria-label="setting"]').click();
    const cached = page.locator('.ant-pro-table-column-setting-overlay .ant-tree-treenode').filter({ hasText: /^Cached$/ });
    // (Cached may be hidden by default so that the list fits 1280 px: toggle it both ways.)
    const cachedHeads = () => page.locator('thead th').filter({ hasText: /^Cached$/ }).count();
    const shownBefore = await cachedHeads();
    await cached.locator('.ant-tree-checkbox').click();
    await expect.poll(cachedHeads).toBe(shownBefore ? 0 : 1);
    await cached.locator('.ant-tree-checkbox').click();
    await expect.poll(cachedHeads).toBe(shownBefore);
    await page.locator('.ant-pro-table-list-toolbar [aria-label="setting"]').click();

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('card-tokens').getByText(/^[1-9]/).waitFor();
    await page.getByTestId('dashboard-trend').locator('canvas').waitFor();
    expect(await page.getByTestId('card-revenue_micros').innerText()).toMatch(/\$0\.00(?!\d)/); // a total: two decimals (the exact amount is in the usage list)
    expect(await page.getByTestId('card-margin_micros').innerText()).toMatch(/\$\d/);
    // Calls and the error rate, each card against yesterday by this time, and who and what the money came from.
    expect(await page.getByTestId('card-calls').locator('.ant-statistic-content-value').innerText()).toMatch(/^[1-9]/);
    expect(await page.getByTestId('card-error_rate').locator('.ant-statistic-content-value').innerText()).toMatch(/%$/);
    expect(await page.getByTestId('card-tokens-previous').innerText()).toBe('vs. 0 yesterday by this time');
    const top = page.getByTestId('dashboard-top');
    for (const name of ['gpt-4o-mini', 'Fake upstream', USER_EMAIL]) await top.getByText(name).first().waitFor();
    await shot(admin, 'admin-dashboard');

    // Every card for this week, month and year too; today's call is in all of them.
    const tokens = (await page.getByTestId('card-tokens').locator('.ant-statistic-content-value').innerText()).trim();
    for (const period of ['This week', 'This month', 'This year', 'Today']) {
      await page.getByTestId('dashboard-period').getByText(period, { exact: true }).click();
      await page.getByTestId('card-tokens').locator('.ant-statistic-content-value').filter({ hasText: tokens }).waitFor();
    }
  });

  it('lists every key by prefix only, and enables, disables and revokes keys behind confirmations (revoked keys stay listed), creates a key for a user', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL('**/admin/accounts/keys');
    await page.getByText(`${apiKey.slice(0, 7)}…${apiKey.slice(-4)}`).waitFor();
    expect((await page.content()).includes(apiKey), 'a full key on the page').toBe(false);
    const bot = rowWith(page, 'ci-bot');
    await bot.getByText('Disabled', { exact: true }).waitFor();
    await bot.getByText('d***@example.com').waitFor();
    await bot.getByText('$0.00 / $1.00').waitFor();
    await shot(admin, 'admin-keys');

    await bot.getByRole('button', { name: 'Manage' }).click();
    await page.getByRole('menuitem', { name: 'Enable' }).click();
    await expectToast(page, 'Key enabled');
    await bot.getByText('Active', { exact: true }).waitFor();

    await bot.getByRole('button', { name: 'Manage' }).click();
    await page.getByRole('menuitem', { name: 'Disable' }).click();
    await page.locator('.ant-modal-confirm-title').filter({ hasText: 'Disable key "ci-bot"?' }).waitFor();
    await confirmOk(page).click();
    await expectToast(page, 'Key disabled');
    await bot.getByText('Disabled', { exact: true }).waitFor();

    await bot.getByRole('button', { name: 'Manage' }).click();
    expect(await page.getByRole('menuitem', { name: 'Delete' }).count(), 'Delete hides a key; only revoke is offered').toBe(0);
    await page.getByRole('menuitem', { name: 'Revoke (keep listed)' }).click();
    await page.locator('.ant-modal-confirm-title').filter({ hasText: 'Revoke key "ci-bot"?' }).waitFor();
    await shot(admin, 'admin-key-revoke-confirm');
    await confirmOk(page).click();
    await expectToast(page, 'Key revoked');
    // Revoked like `tollgate keys revoke` does: still listed, read-only.
    await bot.getByText('Revoked', { exact: true }).waitFor();
    expect(await bot.getByRole('button', { name: 'Manage' }).count()).toBe(0);

    // The operator creates a key for the user; it is shown once.
    await page.getByTestId('key-new').click();
    await searchAndPick(page, 'key-owner', 'dev@', USER_EMAIL);
    await page.locator('#new_key_name').fill('ops-made');
    await page.locator('#new_key_quota').fill('5');
    await drawerSubmit(page).click();
    await expectToast(page, 'Key created');
    const shown = await page.getByTestId('new-key-value').inputValue();
    expect(shown).toMatch(/^sk-/);
    await closeNewKey(page);
    await rowWith(page, 'ops-made').getByText('$0.00 / $5.00').waitFor();

    // The owner filter is a user search.
    await searchAndPick(page, 'filter-owner', 'dev@', USER_EMAIL);
    await page.getByRole('button', { name: 'Query' }).click();
    await page.getByText('3 in total').waitFor();
    await page.getByRole('button', { name: 'Reset' }).click();
  });

  it('says in words what went wrong when the server cannot be reached or fails, and recovers on retry', async () => {
    // The back office loses the server: the list says so and offers a retry.
    const { page } = admin;
    const users = (u: URL) => u.pathname === '/api/admin/users';
    await page.route(users, (r) => r.abort('connectionrefused'));
    const offline = page.getByRole('alert').filter({ hasText: 'Cannot reach the server. Check your connection and try again.' });
    await provoking(admin, async () => {
      await page.getByRole('link', { name: 'Accounts' }).click();
      await offline.waitFor();
    });
    await shot(admin, 'admin-users-error');
    await page.unroute(users);
    await offline.getByRole('button', { name: 'Retry' }).click();
    await offline.waitFor({ state: 'detached' });
    await page.getByText('d***@example.com').waitFor();

    // A tab opened before an upgrade asks for a page's code under its old name, which is gone: the
    // page says what happened, inside the shell, and reloading brings it back.
    const chunk = (u: URL) => /^\/assets\/PricesPage-[^/]+\.js$/.test(u.pathname);
    await page.route(chunk, (r) => r.fulfill({ status: 404, contentType: 'text/plain', body: 'Not found' }));
    await provoking(
      admin,
      async () => {
        await page.goto('/admin/products/prices');
        await page.getByTestId('page-error').getByText('The console was updated').waitFor();
      },
      /dynamically imported module|page failed to render/,
    );
    await page.getByRole('link', { name: 'Models & prices' }).waitFor();
    await shot(admin, 'admin-page-error');
    await page.unroute(chunk);
    await page.getByTestId('page-error-reload').click();
    await page.getByText('Price list').waitFor();

    // The portal gets a server error: a sentence in Chinese, not a status code.
    const up = user.page;
    const overview = (u: URL) => u.pathname === '/api/console/overview';
    await up.route(overview, (r) => r.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'internal', message: 'database is down' } }) }));
    const failed = up.getByRole('alert').filter({ hasText: '服务器内部错误，已记录日志，请稍后重试。' });
    await provoking(user, async () => {
      await up.goto('/console/overview');
      await failed.waitFor();
    });
    await shot(user, 'console-overview-error');
    await up.unroute(overview);
    await failed.getByRole('button', { name: /^重\s?试$/ }).click();
    await up.getByTestId('overview-balance').getByText('$9.').first().waitFor();
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
      await shot(admin, name);
    }
    expect(await admin.page.getByRole('link', { name: '消费明细' }).count()).toBe(1);
    await admin.page.goto('/admin/no-such-page');
    await admin.page.getByText('页面不存在', { exact: true }).waitFor();
    await shot(admin, 'admin-not-found');

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
      await shot(user, name);
      // The key the operator revoked stays in the user's list, marked revoked (read-only).
      if (name === 'console-keys') {
        const row = user.page.locator('tr', { has: user.page.getByText('ci-bot', { exact: true }) });
        expect(await row.count()).toBe(1);
        expect(await row.innerText()).toMatch(/Revoked|已吊销/);
      }
    }

    // The sign-in pages in the other language each, and the choice survives a reload.
    const visitor = await openSession(browser, server.url, 'zh-CN');
    await visitor.page.goto('/admin/login');
    await visitor.page.getByRole('heading', { name: '运营后台登录' }).waitFor();
    await shot(visitor, 'admin-login');
    await switchLanguage(visitor, 'en-US');
    await visitor.page.goto('/console/login');
    await visitor.page.reload();
    await visitor.page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await shot(visitor, 'console-login');
    expect(visitor.errors).toEqual([]);
    await visitor.context.close();
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
    const visitAll = async () => {
      for (const [s, path, name] of pages) {
        await s.page.goto(path);
        await s.page.locator('.ant-pro-page-container').waitFor();
        await shot(s, name);
        const over = await horizontalOverflow(s.page);
        if (over > 1) overflowing.push(`${s.lang} ${path}: ${over}px`);
      }
    };
    await visitAll();
    // And in the other language each (words differ in length: the layout must hold for both).
    await switchLanguage(phoneAdmin, 'en-US');
    await switchLanguage(phoneUser, 'zh-CN');
    await visitAll();
    // The menu opens as a drawer on a phone.
    await phoneUser.page.locator('.ant-pro-global-header-collapsed-button').click();
    await phoneUser.page.locator('.ant-drawer-open').getByRole('link', { name: '用量' }).waitFor();
    await phoneUser.page.locator('.ant-drawer-open').getByText('Tollgate 控制台').waitFor();
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
