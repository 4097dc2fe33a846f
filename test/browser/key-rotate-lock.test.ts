// Rotation and leak lock in the console (issue #8, keys): the operator locks a user's key that
// leaked and rotates another with a grace period; the owner sees the lock's reason on the overview
// and the keys page (zh-CN, phone) and rotates it to a new secret, shown once. The gateway is asked
// after each step: what the console says must be what a caller gets.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { addUserWithKey } from '../support/seed.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { gatewayAnswer, closeNewKey, expectToast, launch, openSession, rowWith, shot, signIn, type Session } from './browser.js';

const PHONE = { width: 390, height: 844 };
const PASSWORD = 'amber-falcon-4418';

let server: TestServer;
let browser: Browser;
const sessions: Session[] = [];
let owner: Awaited<ReturnType<typeof addUserWithKey>>;
let spare: string;

async function session(lang: 'en-US' | 'zh-CN', viewport = { width: 1280, height: 800 }): Promise<Session> {
  const s = await openSession(browser, server.url, lang, viewport);
  sessions.push(s);
  return s;
}

/** The drop-down menu on screen (antd keeps closed ones in the page, hidden). */
const menu = (s: Session) => s.page.locator('.ant-dropdown:not(.ant-dropdown-hidden)');

const gateway = (key: string) => gatewayAnswer(server, key);

beforeAll(async () => {
  server = await startTestServer();
  owner = await addUserWithKey(server.ctx, { balanceUsd: '5', password: PASSWORD, email: 'rotating-owner@example.com', key: { name: 'leaky' } });
  const api = new ApiClient(server.url);
  await api.signIn(owner.user.email, PASSWORD);
  const second = await api.post('/api/console/keys', { name: 'deploy' });
  expect(second.status).toBe(201);
  spare = second.body.key;
  browser = await launch();
});

afterAll(async () => {
  for (const s of sessions) expect(s.errors, 'browser errors').toEqual([]);
  await browser?.close();
  await server?.stop();
});

describe('rotation and leak lock', () => {
  it('the operator locks a leaked key with a reason and rotates another with a grace period', async () => {
    const s = await session('en-US');
    await s.page.goto('/admin/login');
    await signIn(s, 'admin', ADMIN_EMAIL, ADMIN_PASSWORD);
    await s.page.goto('/admin/accounts/keys');

    const leaky = rowWith(s.page, 'leaky');
    await leaky.getByRole('button', { name: 'Manage' }).click();
    await menu(s).getByRole('menuitem', { name: 'Lock (leaked)' }).click();
    // The reason is required: its owner will read it.
    await s.page.getByTestId('lock-ok').click();
    await s.page.getByText('Say why the key is locked; its owner will read it.').waitFor();
    await s.page.getByTestId('lock-reason').fill('posted in a public gist');
    await shot(s, 'key-lock');
    await s.page.getByTestId('lock-ok').click();
    await expectToast(s.page, 'Key locked');
    await leaky.getByText('Locked', { exact: true }).waitFor();
    expect(await gateway(owner.key)).toBe('401 key_locked');
    // A locked key is not switched back on from the menu; rotation is its way out.
    await leaky.getByRole('button', { name: 'Manage' }).click();
    await menu(s).getByRole('menuitem', { name: 'Rotate' }).waitFor();
    expect(await menu(s).getByRole('menuitem', { name: 'Enable' }).count()).toBe(0);
    await s.page.keyboard.press('Escape');
    await menu(s).waitFor({ state: 'detached' });

    const deploy = rowWith(s.page, 'deploy');
    await deploy.getByRole('button', { name: 'Manage' }).click();
    await menu(s).getByRole('menuitem', { name: 'Rotate' }).click();
    await s.page.getByTestId('rotate-grace').getByText('1 hour').click();
    await shot(s, 'key-rotate');
    await s.page.getByTestId('rotate-ok').click();
    await expectToast(s.page, 'Key rotated');
    const fresh = await s.page.getByTestId('new-key-value').inputValue();
    expect(fresh).toMatch(/^sk-[A-Za-z0-9]{32}$/);
    await closeNewKey(s.page);
    await deploy.getByTestId('key-previous').getByText(/^Old secret sk-.{4}….{4} works until /).waitFor();
    // Both secrets work during the grace.
    expect(await gateway(spare)).toBe('200 ok');
    expect(await gateway(fresh)).toBe('200 ok');
  });

  it('the owner sees why on the overview and the keys page, and rotates the locked key (zh-CN, phone)', async () => {
    const s = await session('zh-CN', PHONE);
    await s.page.goto('/console/login');
    await signIn(s, 'console', owner.user.email, PASSWORD);
    const notice = s.page.getByTestId('locked-keys-notice');
    await notice.getByText('密钥「leaky」已被锁定').waitFor();
    await notice.getByText(/posted in a public gist/).waitFor();
    await shot(s, 'key-locked-overview');

    await s.page.goto('/console/keys');
    await notice.getByText('密钥「leaky」已被锁定').waitFor();
    await shot(s, 'key-locked-keys');
    await notice.getByRole('button', { name: /^轮\s?换$/ }).click();
    // A leaked secret gets no grace.
    await s.page.getByTestId('rotate-modal').getByText('旧密钥立即失效').waitFor();
    await s.page.getByTestId('rotate-ok').click();
    await expectToast(s.page, '密钥已轮换');
    const fresh = await s.page.getByTestId('new-key-value').inputValue();
    await shot(s, 'key-rotated');
    await closeNewKey(s.page);
    await notice.waitFor({ state: 'detached' });
    expect(await gateway(owner.key)).toBe('401 key_rotated');
    expect(await gateway(fresh)).toBe('200 ok');
  });
});
