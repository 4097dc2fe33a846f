// Issue 7's console items, as an operator and a customer see them: a staff top-up one click from
// the users list (type, payment method, reference, reason) shown in the ledger; the ledger
// filtered by type with request ids that open the usage record; a failed channel test said in the
// reader's language with the server's words on demand; the quick start's models card and the
// sidebar fitting the page, at 1280×800 in English and 390×844 in Chinese.
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUsage, type UsageSeed } from '../integration/console-fixtures.js';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { confirmOk, expectToast, horizontalOverflow, launch, openDropdown, openSession, settle, shot, signIn, type Session } from './browser.js';

// These run inside the page (the test's own tsconfig has no DOM library).
declare const document: any;
declare const window: any;

const ALICE = 'alice.wire@example.com';
const ALICE_PASSWORD = 'wonderland-pass-1';
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'o3-mini', 'claude-3-5-sonnet-20241022', 'text-embedding-3-large', 'gpt-4.1-nano-2025-04-14', 'deepseek-reasoner', 'qwen-max-latest'];

let server: TestServer;
let upstream: FakeUpstream;
let browser: Browser;
let aliceId = 0;
let deadChannelId = 0;
const requestIds: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  upstream.setKeyBehavior('sk-upstream-revoked', { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key provided: sk-up***oked.' });
  server = await startTestServer();
  browser = await launch();
  const admin = new ApiClient(server.url);
  await admin.signIn();
  const ok = await admin.post('/api/admin/channels', { name: 'primary', base_url: upstream.url, key: 'sk-upstream-ok', models: MODELS });
  const dead = await admin.post('/api/admin/channels', { name: 'revoked-key', base_url: upstream.url, key: 'sk-upstream-revoked', models: ['gpt-4o-mini'], priority: -1 });
  deadChannelId = dead.body.id;
  for (const m of MODELS) await admin.put(`/api/admin/prices/${m}`, { input: '2.5', output: '10', cached_input: '1.25', per_request: '0.001' });
  const u = await admin.post('/api/admin/users', { email: ALICE, password: ALICE_PASSWORD, name: 'Alice' });
  aliceId = u.body.id;
  await admin.post(`/api/admin/users/${aliceId}/balance-adjustments`, { amount: '20', type: 'compensation', reason: 'outage credit', idempotency_key: 'seed' });
  const k = await admin.post('/api/admin/keys', { user_id: aliceId, name: 'laptop' });
  await server.ctx.feed.pollNow();
  const sdk = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: k.body.key, maxRetries: 0 });
  for (let i = 0; i < 3; i++) {
    const { response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 5 }).withResponse();
    requestIds.push(response.headers.get('x-request-id')!);
  }
  // A long usage list, so the admin page runs well past the screen's height.
  const wallet = await server.ctx.db.kysely.selectFrom('wallets').selectAll().where('user_id', '=', aliceId).executeTakeFirstOrThrow();
  const rows: UsageSeed[] = Array.from({ length: 30 }, (_, i) => ({
    user_id: aliceId, key_id: k.body.id, wallet_id: wallet.id, created_at: Date.now() - (i + 10) * 60_000, model: 'gpt-4o', channel_id: ok.body.id,
    status_code: 200, error_code: null, error_message: null, prompt_tokens: 100, completion_tokens: 20, charged_micros: 1000, cost_micros: 700, latency_ms: 500,
  }));
  await insertUsage(server.ctx, rows);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

async function operator(lang: 'en-US' | 'zh-CN', viewport: { width: number; height: number }): Promise<Session> {
  const s = await openSession(browser, server.url, lang, viewport);
  s.page.setDefaultTimeout(60_000);
  await s.page.goto('/admin/login');
  await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
  return s;
}

/** Pick in a multiple select by typing, as a keyboard user would (the drop-down may open upwards, mid-animation). */
async function filterBy(page: Page, testId: string, option: string) {
  const input = page.getByTestId(testId).locator('input');
  await input.scrollIntoViewIfNeeded();
  await input.focus();
  await page.keyboard.type(option);
  await openDropdown(page).locator('.ant-select-item-option-active').filter({ hasText: option }).waitFor();
  await page.keyboard.press('Enter');
  await page.getByTestId(testId).locator('.ant-select-selection-item').filter({ hasText: option }).waitFor();
  // Close the list by clicking elsewhere: Tab would pick the active option again (a toggle, in a
  // multiple select), and Escape would close the drawer.
  await page.locator('.ant-drawer-open .ant-drawer-title').click();
  await openDropdown(page).waitFor({ state: 'hidden', timeout: 3000 }).catch(() => {});
}

async function pickInSelect(page: Page, testId: string, option: string) {
  await page.getByTestId(testId).click();
  await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: option }).first().click();
  await openDropdown(page).waitFor({ state: 'hidden', timeout: 3000 }).catch(() => {});
}

/**
 * The sidebar's white column, as painted: the bottom of the lowest white box in the sidebar's
 * place (the fixed sidebar itself, or the column it stands in), against the page's full height.
 */
async function sidebarColumn(page: Page): Promise<{ paintedTo: number; pageHeight: number }> {
  return page.evaluate(() => {
    const aside = document.querySelector('aside.ant-pro-sider');
    const boxes = [aside, ...Array.from<any>(aside?.parentElement?.children ?? [])].filter(Boolean);
    let paintedTo = 0;
    for (const el of boxes) {
      const bg = window.getComputedStyle(el).backgroundColor;
      if (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent') continue;
      const r = el.getBoundingClientRect();
      if (r.left > 10 || r.width < 40) continue;
      paintedTo = Math.max(paintedTo, r.bottom + window.scrollY);
    }
    return { paintedTo: Math.round(paintedTo), pageHeight: document.documentElement.scrollHeight };
  });
}

/** How the quick start's models table fits its card: nothing wider than the card, nothing past the screen. */
async function modelsCardFit(page: Page) {
  return page.evaluate(() => {
    const table = document.querySelector('[data-testid="quickstart-models"]');
    const card = table.closest('.ant-card');
    const box = table.querySelector('.ant-table-content') ?? table.querySelector('.ant-table-container');
    const c = card.getBoundingClientRect();
    return { cardRight: Math.round(c.right), screen: window.innerWidth, tableScroll: box.scrollWidth, tableBox: box.clientWidth, cardScroll: card.scrollWidth, cardBox: card.clientWidth };
  });
}

describe('issue 7 console items', () => {
  it('en-US desktop: top up from the list, the ledger filtered with request links, a channel test in words', async () => {
    const s = await operator('en-US', { width: 1280, height: 800 });
    const { page } = s;
    await page.goto('/admin/accounts/users');
    await page.getByTestId(`user-topup-${aliceId}`).click();
    const modal = page.getByTestId('topup-modal');
    await modal.getByText(`Top up or adjust · ${ALICE}`).waitFor();
    for (const type of ['Top-up', 'Deduction', 'Compensation', 'Correction']) await modal.getByText(type, { exact: true }).waitFor();
    await page.getByTestId('balance-amount').fill('100');
    await page.getByTestId('balance-reason').fill('wire received');
    await page.getByTestId('balance-submit').click();
    // A top-up says how the money came in.
    await modal.locator('.ant-form-item-explain-error').filter({ hasText: 'Say how the money was received' }).waitFor();
    await pickInSelect(page, 'topup-method', 'Bank transfer');
    await page.getByTestId('topup-reference').fill('ICBC-2026-0042');
    await shot(s, 'ops-topup-modal');
    await page.getByTestId('balance-submit').click();
    await page.locator('.ant-modal-confirm').getByText('Bank transfer · Reference: ICBC-2026-0042').waitFor();
    await confirmOk(page).click();
    await expectToast(page, 'Booked +$100.00');
    await modal.waitFor({ state: 'hidden' });

    // The ledger shows what it was, how it was paid and the slip number.
    await page.getByTestId(`user-open-${aliceId}`).click();
    const drawer = page.getByTestId('user-drawer');
    await drawer.getByTestId('user-drawer-topup').click();
    const ledger = drawer.getByTestId('ledger-table');
    const topupRow = ledger.locator('.ant-table-row').filter({ hasText: 'ICBC-2026-0042' });
    await topupRow.getByText('Top-up', { exact: true }).waitFor();
    await topupRow.getByText('Bank transfer').waitFor();
    await topupRow.getByText('wire received').waitFor();
    expect(await ledger.locator('.ant-table-row').count()).toBe(5);
    // Filtered on the server by type: only the call charges, each with its request id as a link.
    await filterBy(page, 'ledger-type-filter', 'Call charge');
    await expect.poll(() => ledger.locator('.ant-table-row').count(), { timeout: 30_000 }).toBe(3);
    const types = await ledger.locator('.ant-table-row .ant-tag').allInnerTexts();
    expect(types).toEqual(['Call charge', 'Call charge', 'Call charge']);
    const links = drawer.getByTestId('ledger-request-link');
    expect(await links.allInnerTexts()).toEqual([...requestIds].reverse());
    await shot(s, 'ops-ledger-filtered');
    await links.first().click();
    await page.waitForURL((u) => u.pathname === '/admin/usage/records' && u.searchParams.get('request_id') === requestIds[2]);
    // The usage list opens on that one record, its details shown.
    await page.locator('.ant-table-expanded-row').getByText(requestIds[2]!, { exact: true }).waitFor();
    expect(await page.locator('.ant-table-tbody > tr.ant-table-row').count()).toBe(1);
    await shot(s, 'ops-usage-by-request');

    // A channel test that fails: the sentence from the catalog, the server's words one click away.
    await page.goto('/admin/products/channels');
    await page.getByTestId(`channel-test-${deadChannelId}`).click();
    const note = page.locator('.ant-notification-notice').filter({ hasText: 'failed the test' });
    await note.getByText('The upstream rejected the channel’s key: check or replace the key.').waitFor();
    expect(await note.innerText()).not.toContain('Incorrect API key');
    await note.getByTestId('channel-test-detail-toggle').click();
    expect(await note.getByTestId('channel-test-detail').innerText()).toMatch(/^HTTP 401 · 401 invalid_api_key Incorrect API key/);
    await shot(s, 'ops-channel-test-error');

    // The sidebar runs the whole height of a long page.
    await page.goto('/admin/usage/records');
    await page.locator('.ant-table-row').nth(19).waitFor();
    await settle(page);
    const col = await sidebarColumn(page);
    expect(col.pageHeight).toBeGreaterThan(800);
    expect(col.paintedTo, 'sidebar column ends above the bottom of the page').toBeGreaterThanOrEqual(col.pageHeight - 1);
    await shot(s, 'ops-long-page');
    expect(s.errors).toEqual([]);
    await s.context.close();
  }, 600_000);

  it('zh-CN phone: a deduction from the list in Chinese, the channel test error in Chinese', async () => {
    const s = await operator('zh-CN', { width: 390, height: 844 });
    const { page } = s;
    await page.goto('/admin/accounts/users');
    await page.getByTestId(`user-topup-${aliceId}`).click();
    const modal = page.getByTestId('topup-modal');
    await modal.getByText(`充值 / 调账 · ${ALICE}`).waitFor();
    await page.getByTestId('topup-type-deduction').click();
    await page.getByTestId('balance-amount').fill('1.5');
    await page.getByTestId('balance-reason').fill('退回多收的款项');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shot(s, 'ops-deduct-modal');
    await page.getByTestId('balance-submit').click();
    await page.getByTestId('typed-confirm-input').fill(ALICE);
    await confirmOk(page).click();
    await expectToast(page, '已调整 -$1.50');
    await modal.waitFor({ state: 'hidden' });
    await page.getByTestId(`user-open-${aliceId}`).click();
    const drawer = page.getByTestId('user-drawer');
    await drawer.getByTestId('user-drawer-topup').click();
    const row = drawer.getByTestId('ledger-table').locator('.ant-table-row').filter({ hasText: '退回多收的款项' });
    await row.getByText('扣款', { exact: true }).waitFor();
    await filterBy(page, 'ledger-type-filter', '补偿');
    await expect.poll(() => drawer.getByTestId('ledger-table').locator('.ant-table-row').count(), { timeout: 30_000 }).toBe(1);
    await drawer.getByTestId('ledger-table').getByText('outage credit').waitFor();
    await shot(s, 'ops-ledger-phone');
    await page.keyboard.press('Escape');

    await page.goto('/admin/products/channels');
    await page.getByTestId(`channel-test-${deadChannelId}`).click();
    const note = page.locator('.ant-notification-notice').filter({ hasText: '上游拒绝了该渠道的密钥' });
    await note.waitFor();
    expect(await note.innerText()).not.toMatch(/Incorrect|rejected/);
    await note.getByText('服务器原始信息').click();
    await note.getByTestId('channel-test-detail').getByText(/HTTP 401/).waitFor();
    await shot(s, 'ops-channel-test-error');
    expect(s.errors).toEqual([]);
    await s.context.close();
  }, 600_000);

  for (const [lang, viewport] of [['en-US', { width: 1280, height: 800 }], ['zh-CN', { width: 390, height: 844 }]] as const) {
    it(`quick start's models and prices fit the card; the sidebar runs the page's height (${lang} ${viewport.width})`, async () => {
      const s = await openSession(browser, server.url, lang, viewport);
      s.page.setDefaultTimeout(60_000);
      await s.page.goto('/console/login');
      await signIn(s, 'console', ALICE, ALICE_PASSWORD);
      await s.page.goto('/console/quickstart');
      await s.page.getByTestId('quickstart-models').getByText('claude-3-5-sonnet-20241022').waitFor();
      await settle(s.page);
      const fit = await modelsCardFit(s.page);
      expect(fit.cardRight, JSON.stringify(fit)).toBeLessThanOrEqual(fit.screen);
      expect(fit.tableScroll, `models table cut off: ${JSON.stringify(fit)}`).toBeLessThanOrEqual(fit.tableBox);
      expect(fit.cardScroll).toBeLessThanOrEqual(fit.cardBox);
      // Every price of a model is on screen: input, output, cached input, per call.
      const first = s.page.getByTestId('quickstart-models').locator('.ant-table-row').first();
      for (const v of ['$2.50', '$10.00', '$1.25', '$0.001']) await first.getByText(v, { exact: true }).waitFor();
      expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
      if (viewport.width > 600) {
        const col = await sidebarColumn(s.page);
        expect(col.pageHeight).toBeGreaterThan(viewport.height);
        expect(col.paintedTo, 'sidebar column ends above the bottom of the page').toBeGreaterThanOrEqual(col.pageHeight - 1);
      }
      await shot(s, 'ops-quickstart');
      expect(s.errors).toEqual([]);
      await s.context.close();
    }, 300_000);
  }
});
