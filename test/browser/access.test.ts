// Staff and roles in the console (issue #8 part 1), driven as the super-admin would in Chromium:
// compose a custom role by ticking permissions, add a staff member with it, and see the back office
// as that person: only the pages and buttons their permissions allow. Both languages, desktop and phone.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { drawerSubmit, expectToast, launch, openSession, pickOption, shot, signIn, type Session } from './browser.js';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const DESK_EMAIL = 'desk@example.com';
const DESK_PASSWORD = 'front-line-9731'; // the policy refuses one containing the address's "desk"

let server: TestServer;
let browser: Browser;
let api: ApiClient;
const sessions: Session[] = [];

async function session(lang: 'en-US' | 'zh-CN', viewport = DESKTOP): Promise<Session> {
  const s = await openSession(browser, server.url, lang, viewport);
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  server = await startTestServer();
  api = new ApiClient(server.url);
  await api.signIn();
  browser = await launch();
});

afterAll(async () => {
  for (const s of sessions) expect(s.errors, 'browser errors').toEqual([]);
  await browser?.close();
  await server?.stop();
});

describe('staff and roles', () => {
  it('the super-admin composes a role by ticking permissions and adds a staff member with it', async () => {
    const s = await session('en-US');
    await s.page.goto('/admin/login');
    await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await s.page.goto('/admin/system/roles');
    await s.page.getByTestId('role-row-finance').waitFor();
    await shot(s, 'access-roles');

    await s.page.getByTestId('role-create').click();
    await s.page.locator('#role_form_name').fill('desk');
    await s.page.locator('#role_form_description').fill('First-line support');
    for (const [group, action] of [['user', 'View'], ['ticket', 'View'], ['ticket', 'Edit'], ['bill', 'View']] as const) {
      await s.page.getByTestId(`perm-group-${group}`).getByText(action, { exact: true }).click();
    }
    // Staff management stays with the super-admin: offered, but not tickable.
    expect(await s.page.getByTestId('perm-group-staff').locator('input[value="staff:edit"]').isDisabled()).toBe(true);
    expect(await s.page.getByTestId('perm-group-staff').locator('input[value="staff:view"]').isDisabled()).toBe(false);
    await shot(s, 'access-role-drawer');
    await drawerSubmit(s.page).click();
    await expectToast(s.page, 'Role desk saved');
    await s.page.getByTestId('role-row-desk').waitFor();
    const stored = (await api.get('/api/admin/roles')).body.items.find((r: { name: string }) => r.name === 'desk');
    expect(stored).toMatchObject({ built_in: false, description: 'First-line support', permissions: ['user:view', 'bill:view', 'ticket:view', 'ticket:edit'] });

    await s.page.goto('/admin/system/staff');
    await s.page.getByTestId('staff-add').click();
    await s.page.locator('#new_staff_email').fill(DESK_EMAIL);
    await s.page.locator('#new_staff_password').fill(DESK_PASSWORD);
    await pickOption(s.page, 'new_staff_role', 'desk');
    await drawerSubmit(s.page).click();
    await expectToast(s.page, `${DESK_EMAIL} added as desk`);
    await s.page.getByText(DESK_EMAIL, { exact: true }).waitFor();
    await shot(s, 'access-staff');
    const u = (await api.get('/api/admin/users?staff=true')).body.items.find((x: { email: string }) => x.email === DESK_EMAIL);
    expect(u.role).toBe('desk');
  });

  it('a staff member sees only what their role allows (zh-CN, desktop and phone)', async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      const s = await session('zh-CN', viewport);
      await s.page.goto('/admin/login');
      await signIn(s, 'admin', DESK_EMAIL, DESK_PASSWORD);
      // No dashboard (report:view): /admin lands on the first page the role may open.
      await s.page.waitForURL('**/admin/accounts/users');
      await s.page.getByText('账号管理').first().waitFor();
      if (viewport === PHONE) {
        await s.page.locator('.ant-pro-global-header-collapsed-button').click();
        await s.page.locator('.ant-drawer-open').waitFor();
      }
      const menu = s.page.locator(viewport === PHONE ? '.ant-drawer-open .ant-menu' : '.ant-pro-sider .ant-menu');
      await menu.getByText('消费明细').waitFor();
      for (const hidden of ['仪表盘', '渠道', '模型与价格', 'API 密钥', '角色']) await expect(menu.getByText(hidden, { exact: true }).count()).resolves.toBe(0);
      await shot(s, 'access-desk-menu');
      if (viewport === PHONE) await s.page.keyboard.press('Escape');
      // user:view but not user:create: no "new user" button.
      await s.page.goto('/admin/accounts/users');
      await s.page.locator('.ant-table-row').first().waitFor();
      await expect(s.page.getByTestId('user-new').count()).resolves.toBe(0);
      // The staff list is readable, but without staff:edit it offers no changes.
      await s.page.goto('/admin/system/staff');
      await s.page.getByText(DESK_EMAIL, { exact: true }).waitFor();
      await expect(s.page.getByTestId('staff-add').count()).resolves.toBe(0);
      await shot(s, 'access-desk-staff');
    }
  });

  it('on a phone the roles page and the role editor fit the screen (zh-CN)', async () => {
    const s = await session('zh-CN', PHONE);
    await s.page.goto('/admin/login');
    await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await s.page.goto('/admin/system/roles');
    await s.page.getByTestId('role-row-desk').waitFor();
    await shot(s, 'access-roles');
    await s.page.getByTestId('role-open-desk').click();
    await s.page.getByTestId('perm-group-ticket').waitFor();
    const width = await s.page.evaluate<number>('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(PHONE.width);
    await shot(s, 'access-role-drawer');
  });
});
