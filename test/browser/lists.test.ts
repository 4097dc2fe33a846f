// The back office's lists as an operations team sees them (issue 7, "hard to use"): with a shop of
// realistic data — long emails and URLs, a failing channel, balances next to sub-cent charges —
// every admin list fits a 1280×800 screen in both languages (no sideways scrolling, the fixed
// actions column covers no data), usage records show who and how first, money follows one display
// rule per column, and on a phone a list keeps only the columns that identify a row.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertUsage, type UsageSeed } from '../integration/console-fixtures.js';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { addChannel, addUserWithKey } from '../support/seed.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { horizontalOverflow, launch, openSession, settle, shot, signIn, type Session } from './browser.js';

// These run inside the page (the test's own tsconfig has no DOM library).
declare const document: any;

let server: TestServer;
let upstream: FakeUpstream;
let browser: Browser;

const LISTS = [
  { name: 'users', path: '/admin/accounts/users' },
  { name: 'keys', path: '/admin/accounts/keys' },
  { name: 'channels', path: '/admin/products/channels' },
  { name: 'prices', path: '/admin/products/prices' },
  { name: 'usage', path: '/admin/usage/records' },
] as const;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  server = await startTestServer();
  browser = await launch();
  const admin = new ApiClient(server.url);
  await admin.signIn();
  const ok = await addChannel(server.ctx, upstream.url, { name: 'openai-primary-eu-west', base_url: `${upstream.url}/a/very/long/path/to/the/provider/gateway/v1` });
  const failing = await addChannel(server.ctx, 'http://127.0.0.1:9/v1', { name: 'backup-provider-that-fails' });
  await addChannel(server.ctx, upstream.url, { name: 'cheap-bulk', models: ['gpt-4o-mini', 'gpt-4o', 'o3-mini', 'claude-3-5-sonnet', 'text-embedding-3-large', 'whisper-1'] });
  for (const [model, input, output] of [['gpt-4o-mini', '0.15', '0.6'], ['gpt-4o', '2.5', '10'], ['o3-mini', '1.1', '4.4'], ['text-embedding-3-small', '0.02', '0'], ['claude-3-5-sonnet', '3', '15']] as const) {
    await admin.put(`/api/admin/prices/${model}`, { input, output, cached_input: String(Number(input) / 2) });
  }
  const rows: UsageSeed[] = [];
  for (let i = 0; i < 8; i++) {
    const u = await addUserWithKey(server.ctx, { email: `operations.team.member${i}@a-rather-long-company-domain.example.com`, balanceUsd: i % 2 ? '999.847894' : '50', key: { name: `production-backend-${i}` } });
    for (let j = 0; j < 4; j++) {
      const fail = (i + j) % 5 === 0;
      rows.push({
        user_id: u.user.id,
        key_id: u.keyView.id,
        wallet_id: u.wallet.id,
        created_at: Date.now() - (i * 4 + j) * 60_000,
        model: j % 2 ? 'gpt-4o' : 'gpt-4o-mini',
        channel_id: fail ? failing.id : ok.id,
        status_code: fail ? 502 : 200,
        error_code: fail ? 'upstream_unavailable' : null,
        error_message: fail ? 'connect ECONNREFUSED 127.0.0.1:9 (the upstream did not answer; tried 2 channels over 3 attempts)' : null,
        prompt_tokens: 1234 + i * 100,
        completion_tokens: 567 + j,
        charged_micros: fail ? 0 : 1_234_567 - i * 1000 - j,
        cost_micros: fail ? 0 : 1_000_123,
        latency_ms: 850 + i * 10,
      });
    }
  }
  await insertUsage(server.ctx, rows);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

interface TableFit {
  scrollWidth: number;
  clientWidth: number;
  /** Data cells that the sticky actions column is drawn over. */
  covered: string[];
}

/** How the first table on the page fits its box, and what the fixed right column overlaps. */
async function tableFit(page: Page): Promise<TableFit> {
  return page.evaluate(() => {
    const box = document.querySelector('.ant-table-content, .ant-table-body');
    const covered: string[] = [];
    for (const row of Array.from<any>(document.querySelectorAll('.ant-table-tbody > tr.ant-table-row'))) {
      const fixed = row.querySelector('.ant-table-cell-fix-right');
      if (!fixed) continue;
      const f = fixed.getBoundingClientRect();
      for (const cell of Array.from<any>(row.querySelectorAll('td:not(.ant-table-cell-fix-right)'))) {
        const c = cell.getBoundingClientRect();
        if (c.right > f.left + 1 && c.left < f.right) covered.push((cell.textContent ?? '').slice(0, 40));
      }
    }
    return { scrollWidth: box.scrollWidth, clientWidth: box.clientWidth, covered };
  });
}

/** The header texts of the visible columns, left to right. */
async function headers(page: Page): Promise<string[]> {
  return page.locator('.ant-table-thead th').evaluateAll((ths) => ths.map((th) => (th.textContent ?? '').trim()));
}

/** Each column's money cells, by how they are written: "total" (2 decimals) or "call". */
async function moneyStyles(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(() => {
    const out: Record<string, string[]> = {};
    for (const row of Array.from<any>(document.querySelectorAll('.ant-table-tbody > tr.ant-table-row'))) {
      Array.from<any>(row.children).forEach((td, i) => {
        for (const m of Array.from<any>(td.querySelectorAll('[data-money]'))) {
          // Only the cell's main amount (a balance cell also holds "on hold" amounts below it).
          if (m.closest('[data-money] ~ *')) continue;
          (out[`${i}`] ??= []).push(`${m.getAttribute('data-money')}:${m.textContent}`);
        }
      });
    }
    return out;
  });
}

/** A signed-in operator at this size and language (patient: up to 8 helpers share two cores). */
async function operator(lang: 'en-US' | 'zh-CN', viewport: { width: number; height: number }): Promise<Session> {
  const s = await openSession(browser, server.url, lang, viewport);
  s.page.setDefaultTimeout(60_000);
  await s.page.goto('/admin/login');
  await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
  return s;
}

async function openList(s: Session, path: string) {
  await s.page.goto(path);
  await s.page
    .locator('.ant-table-tbody > tr.ant-table-row')
    .first()
    .waitFor()
    .catch(async (e) => {
      await shot(s, `lists-failed-${path.replaceAll('/', '-')}`);
      throw e;
    });
  await settle(s.page);
}

describe('admin lists at 1280×800', () => {
  for (const lang of ['en-US', 'zh-CN'] as const) {
    it(`fit the screen with nothing under the actions column (${lang})`, async () => {
      const s = await operator(lang, { width: 1280, height: 800 });
      for (const l of LISTS) {
        await openList(s, l.path);
        await shot(s, `lists-${l.name}`);
        const fit = await tableFit(s.page);
        expect(fit.scrollWidth, `${l.name} (${lang}) scrolls sideways`).toBeLessThanOrEqual(fit.clientWidth);
        expect(fit.covered, `${l.name} (${lang}): cells under the actions column`).toEqual([]);
        expect(await horizontalOverflow(s.page), `${l.name} (${lang}) page wider than the screen`).toBeLessThanOrEqual(0);
      }
      expect(s.errors).toEqual([]);
      await s.context.close();
    }, 600_000);
  }

  it('usage records show user and key, status and latency first, the error in words on hover', async () => {
    const s = await operator('zh-CN', { width: 1280, height: 800 });
    await openList(s, '/admin/usage/records');
    const h = await headers(s.page);
    const at = (title: string) => h.indexOf(title);
    for (const title of ['时间', '状态', '延迟', '用户', '密钥', '模型']) expect(at(title), `${title} in ${h.join('|')}`).toBeGreaterThan(-1);
    expect(at('状态')).toBeLessThan(at('模型'));
    expect(at('延迟')).toBeLessThan(at('模型'));
    expect(at('用户')).toBeLessThan(at('模型'));
    // A failed call: the catalog's sentence in Chinese, the server's English words as the detail.
    await s.page.getByTestId('usage-status-error').first().hover();
    const tip = s.page.locator('.ant-tooltip:not(.ant-tooltip-hidden)').filter({ hasText: '上游服务暂不可用' });
    await tip.waitFor();
    expect(await tip.innerText()).toContain('ECONNREFUSED');
    // Expanded, the whole error wraps inside the screen.
    const failed = s.page.locator('.ant-table-row').filter({ has: s.page.getByTestId('usage-status-error') }).first();
    await failed.locator('.ant-table-row-expand-icon').click();
    const detail = s.page.locator('.ant-table-expanded-row').filter({ hasText: 'ECONNREFUSED' });
    await detail.waitFor();
    await detail.getByText('上游服务暂不可用。').waitFor();
    expect(await horizontalOverflow(s.page)).toBeLessThanOrEqual(0);
    await shot(s, 'lists-usage-error');

    // Money: per-call amounts with four significant digits; no column mixes the two styles.
    const money = await moneyStyles(s.page);
    expect(Object.keys(money).length).toBeGreaterThan(0);
    for (const [col, cells] of Object.entries(money)) expect(new Set(cells.map((c) => c.split(':')[0])).size, `column ${col}: ${cells.join(', ')}`).toBe(1);
    expect(Object.values(money).flat()).toContain('call:$1.235');
    expect(s.errors).toEqual([]);
    await s.context.close();
  }, 600_000);

  it('balances are written with two decimals, the exact amount on hover', async () => {
    const s = await operator('en-US', { width: 1280, height: 800 });
    await openList(s, '/admin/accounts/users');
    const money = await moneyStyles(s.page);
    const cells = Object.values(money).flat();
    expect(cells).toContain('total:$999.85');
    expect(cells).toContain('total:$50.00');
    for (const [col, c] of Object.entries(money)) expect(new Set(c.map((x) => x.split(':')[0])).size, `column ${col}`).toBe(1);
    expect(cells.some((c) => /\.\d{3,}$/.test(c)), 'a balance with more than 2 decimals').toBe(false);
    await s.page.locator('[data-money]').filter({ hasText: '$999.85' }).first().hover();
    await s.page.locator('.ant-tooltip:not(.ant-tooltip-hidden)').filter({ hasText: '$999.847894' }).waitFor();
    await s.context.close();
  }, 600_000);
});

describe('admin lists on a phone (390×844)', () => {
  it('keep only the columns that identify a row, and nothing sticks out sideways', async () => {
    const s = await operator('zh-CN', { width: 390, height: 844 });
    for (const l of LISTS) {
      await openList(s, l.path);
      await shot(s, `lists-${l.name}`);
      expect(await horizontalOverflow(s.page), `${l.name} page wider than the phone`).toBeLessThanOrEqual(0);
      const cols = (await headers(s.page)).filter((x) => x !== '');
      expect(cols.length, `${l.name}: ${cols.join('|')}`).toBeLessThanOrEqual(5);
    }
    await s.context.close();
  }, 600_000);
});
