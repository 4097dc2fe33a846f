// The audit log page (issue 8, part 2) as a super-admin uses it: the entries of real changes made
// through the API, a filter by action, an entry's old and new values side by side in a drawer,
// the CSV download; at 1280×800 in both languages and on a 390×844 phone, with nothing sticking
// out sideways. A plain admin has no such menu item.
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { horizontalOverflow, launch, openSession, settle, shot, signIn, type Session } from './browser.js';

let server: TestServer;
let upstream: FakeUpstream;
let browser: Browser;
let userId: number;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  server = await startTestServer();
  browser = await launch();
  const api = new ApiClient(server.url);
  await api.signIn();
  const u = await api.post('/api/admin/users', { email: 'maria.gonzalez@a-rather-long-company-domain.example.com', password: 'maria-password-1', role: 'readonly' });
  userId = u.body.id;
  await api.patch(`/api/admin/users/${userId}`, { name: 'María González', remark: 'finance team' });
  await api.post(`/api/admin/users/${userId}/balance-adjustments`, { amount: '25', reason: 'refund of the November overcharge (ticket 4411)' });
  const k = await api.post('/api/admin/keys', { user_id: userId, name: 'reporting' });
  await api.post(`/api/admin/keys/${k.body.id}/revoke`, {});
  await api.post('/api/admin/channels', { name: 'primary', base_url: upstream.url, key: 'sk-upstream-never-shown-1234', models: ['gpt-4o-mini'] });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await upstream?.close();
});

async function operator(lang: 'en-US' | 'zh-CN', viewport: { width: number; height: number }, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<Session> {
  const s = await openSession(browser, server.url, lang, viewport);
  s.page.setDefaultTimeout(60_000);
  await s.page.goto('/admin/login');
  await signIn(s, 'admin', email, password);
  return s;
}

const rows = (s: Session) => s.page.locator('.ant-table-tbody > tr.ant-table-row');

describe('audit log page', () => {
  for (const [lang, viewport] of [
    ['en-US', { width: 1280, height: 800 }],
    ['zh-CN', { width: 1280, height: 800 }],
    ['en-US', { width: 390, height: 844 }],
  ] as const) {
    it(`lists entries, filters, shows old and new values (${lang}, ${viewport.width}px)`, async () => {
      const s = await operator(lang, viewport);
      const { page } = s;
      await page.goto('/admin/system/audit');
      await rows(s).first().waitFor();
      await settle(page);
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
      await expect.poll(() => page.getByText('user.update', { exact: true }).count()).toBeGreaterThan(0);
      await shot(s, 'audit-list');

      // the user edit's old and new values, side by side
      const row = rows(s).filter({ has: page.getByText('user.update', { exact: true }) }).first();
      await row.getByRole('button').last().click();
      const drawer = page.locator('.ant-drawer-open');
      const diff = drawer.getByTestId('audit-diff');
      await diff.waitFor();
      await expect.poll(() => diff.textContent()).toContain('María González');
      expect(await diff.textContent()).toContain('finance team');
      await shot(s, 'audit-entry');
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
      await drawer.locator('.ant-drawer-close').click();

      expect(s.errors).toEqual([]);
      await s.context.close();
    });
  }

  it('filters by action prefix and downloads the CSV', async () => {
    const s = await operator('en-US', { width: 1280, height: 800 });
    const { page } = s;
    await page.goto('/admin/system/audit');
    await rows(s).first().waitFor();
    // open the collapsed query form, type the action, search
    const expand = page.locator('.ant-pro-query-filter-collapse-button');
    if (await expand.count()) await expand.first().click();
    await page.locator('#action').fill('key.*');
    await page.locator('.ant-pro-query-filter button[type="submit"], .ant-pro-query-filter .ant-btn-primary').first().click();
    await expect.poll(async () => (await rows(s).allTextContents()).join('|')).not.toContain('user.update');
    const actions = await rows(s).locator('.ant-tag').allTextContents();
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.every((a) => a.startsWith('key.'))).toBe(true);
    await shot(s, 'audit-filtered');

    const download = page.waitForEvent('download');
    await page.getByTestId('audit-export').click();
    const file = await (await download).path();
    const csv = readFileSync(file, 'utf8');
    expect(csv.split('\r\n')[0]).toContain('action');
    expect(csv).toContain('key.revoke');
    expect(csv).not.toContain('user.update');
    expect(csv).not.toContain('sk-upstream-never-shown-1234');
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('a read-only staff member (a role without audit:view) has no audit log in the menu', async () => {
    const s = await operator('en-US', { width: 1280, height: 800 }, 'maria.gonzalez@a-rather-long-company-domain.example.com', 'maria-password-1');
    await s.page.goto('/admin/dashboard');
    await settle(s.page);
    expect(await s.page.getByText('Audit log', { exact: true }).count()).toBe(0);
    await s.context.close();
  });
});
