// Protected operations in the console (issue #8): when the sign-in is older than the window
// (REAUTH_WINDOW_SECONDS, 2 s here), a cash adjustment or a CSV export asks for the password in a
// dialog, and then goes through: the operator never sees the 403 reauth_required behind it. A wrong
// password is said on the field; cancelling leaves nothing changed.
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUserWithKey, walletOf } from '../support/seed.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { confirmOk, expectToast, launch, openDropdown, openSession, shot, signIn, type Session } from './browser.js';

let server: TestServer;
let browser: Browser;
const sessions: Session[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { REAUTH_WINDOW_SECONDS: '2' } });
  browser = await launch();
});

afterAll(async () => {
  for (const s of sessions) expect(s.errors, 'browser errors').toEqual([]);
  await browser?.close();
  await server?.stop();
});

describe('re-authentication', () => {
  it('asks for the password before a cash adjustment and an export once the sign-in is a while ago', async () => {
    const customer = await addUserWithKey(server.ctx, { balanceUsd: '1', email: 'reauth-customer@example.com' });
    const s = await openSession(browser, server.url, 'en-US');
    sessions.push(s);
    await s.page.goto('/admin/login');
    await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await s.page.waitForTimeout(2500);

    await s.page.goto('/admin/accounts/users');
    await s.page.getByTestId(`user-open-${customer.user.id}`).click();
    const drawer = s.page.getByTestId('user-drawer');
    await drawer.getByRole('tab', { name: 'Balance' }).click();
    await s.page.getByTestId('balance-amount').fill('2');
    await s.page.getByTestId('balance-reason').fill('goodwill');
    await s.page.getByTestId('topup-method').click();
    await openDropdown(s.page).locator('.ant-select-item-option').filter({ hasText: 'Cash' }).first().click();
    await s.page.getByTestId('balance-submit').click();
    await confirmOk(s.page).click();

    const modal = s.page.getByTestId('reauth-modal');
    await modal.getByText('Confirm it is you').waitFor();
    await s.page.getByTestId('reauth-password').fill('not-the-password');
    await s.page.getByTestId('reauth-ok').click();
    await modal.getByText('That password is not right.').waitFor();
    expect((await walletOf(server.ctx, customer.wallet.id)).cash_micros).toBe(1_000_000);
    await shot(s, 'reauth-wrong');
    await s.page.getByTestId('reauth-password').fill(ADMIN_PASSWORD);
    await s.page.getByTestId('reauth-ok').click();
    await expectToast(s.page, 'Booked +$2.00; the balance is now $3.00');
    expect((await walletOf(server.ctx, customer.wallet.id)).cash_micros).toBe(3_000_000);
    await s.page.keyboard.press('Escape');

    // The export link asks first too, then downloads the file (not an error body).
    await s.page.waitForTimeout(2500);
    await s.page.goto('/admin/usage/records');
    await s.page.getByTestId('usage-export').click();
    await modal.getByText('Confirm it is you').waitFor();
    await s.page.getByTestId('reauth-password').fill(ADMIN_PASSWORD);
    const [dl] = await Promise.all([s.page.waitForEvent('download'), s.page.getByTestId('reauth-ok').click()]);
    const csv = readFileSync((await dl.path())!, 'utf8');
    expect(csv.split('\n')[0]).toContain('request_id');
    expect(csv).not.toContain('reauth_required');
  });
});
