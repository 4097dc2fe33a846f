// Freeze and unfreeze from the console (issue #8, users): the operator freezes an account from its
// detail with a required reason, sees why and by whom, and unfreezes it from the list (a frozen
// account is never "enabled"). The gateway is asked after each step: 403 account_frozen, then 200.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUserWithKey } from '../support/seed.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { gatewayAnswer, expectToast, launch, openSession, shot, signIn, type Session } from './browser.js';

let server: TestServer;
let browser: Browser;
const sessions: Session[] = [];

const gateway = (key: string) => gatewayAnswer(server, key);

beforeAll(async () => {
  server = await startTestServer();
  browser = await launch();
});

afterAll(async () => {
  for (const s of sessions) expect(s.errors, 'browser errors').toEqual([]);
  await browser?.close();
  await server?.stop();
});

describe('freeze and unfreeze', () => {
  for (const [lang, viewport] of [
    ['en-US', { width: 1280, height: 800 }],
    ['zh-CN', { width: 390, height: 844 }],
  ] as const) {
    it(`freezes an account with a reason and unfreezes it (${lang}, ${viewport.width} px)`, async () => {
      const zh = lang === 'zh-CN';
      const u = await addUserWithKey(server.ctx, { balanceUsd: '1', email: `freeze-${viewport.width}@example.com` });
      expect(await gateway(u.key)).toBe('200 ok');
      const s = await openSession(browser, server.url, lang, viewport);
      sessions.push(s);
      await s.page.goto('/admin/login');
      await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
      await s.page.goto('/admin/accounts/users');
      await s.page.getByTestId(`user-open-${u.user.id}`).click();
      await s.page.getByTestId('user-drawer-freeze').click();
      // The reason is required.
      await s.page.getByTestId('freeze-ok').click();
      await s.page.getByText(zh ? '请填写原因，它会记入审计日志。' : 'Give the reason; it is kept in the audit log.').waitFor();
      await s.page.getByTestId('freeze-reason').fill('chargeback under review');
      await shot(s, 'user-freeze');
      await s.page.getByTestId('freeze-ok').click();
      await expectToast(s.page, zh ? `${u.user.email} 已冻结` : `${u.user.email} is frozen`);
      await s.page.getByTestId('user-frozen-reason').getByText(/chargeback under review/).waitFor();
      await shot(s, 'user-frozen');
      expect(await gateway(u.key)).toBe('403 account_frozen');

      await s.page.keyboard.press('Escape');
      await s.page.getByTestId('user-drawer').waitFor({ state: 'hidden' });
      await s.page.getByTestId(`user-unfreeze-${u.user.id}`).click();
      await s.page.getByTestId('freeze-reason').fill('resolved with the bank');
      await s.page.getByTestId('freeze-ok').click();
      await expectToast(s.page, zh ? `${u.user.email} 已解冻` : `${u.user.email} is unfrozen`);
      expect(await gateway(u.key)).toBe('200 ok');
      const entries = await server.ctx.db.kysely.selectFrom('audit_log').select(['action', 'reason']).where('target_id', '=', String(u.user.id)).where('action', 'like', 'user.%freeze').orderBy('id').execute();
      expect(entries.map((e) => `${e.action}: ${e.reason}`)).toEqual(['user.freeze: chargeback under review', 'user.unfreeze: resolved with the bank']);
    });
  }
});
