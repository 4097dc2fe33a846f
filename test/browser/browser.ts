// Helpers for driving the web console in Debian's Chromium with playwright-core.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { REPO_ROOT, type TestServer } from '../support/server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-results', 'screenshots');

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors seen so far (401s from /api/me while signed out are expected). */
  errors: string[];
  lang: 'en-US' | 'zh-CN';
  width: number;
}

/** A fresh browser profile whose preferred language is `locale`. */
export async function openSession(
  browser: Browser,
  baseURL: string,
  locale: 'en-US' | 'zh-CN',
  viewport = { width: 1280, height: 860 },
  timezoneId?: string,
): Promise<Session> {
  const phone = viewport.width < 600;
  const context = await browser.newContext({ baseURL, locale, timezoneId, viewport, deviceScaleFactor: 1, isMobile: phone, hasTouch: phone, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  // Every toast the page shows is written down as it appears: a 3-second toast can come and go
  // while a loaded CI machine is still returning from the click that caused it.
  await context.addInitScript(TOAST_RECORDER);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const s: Session = { context, page, errors: [], lang: locale, width: viewport.width };
  page.on('pageerror', (e) => s.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // The browser logs every non-2xx fetch; the ones the test provokes on purpose are fine.
    if (/Failed to load resource: the server responded with a status of (401|403)/.test(text)) return;
    s.errors.push(`console: ${text}`);
  });
  return s;
}

/**
 * Wait until the page has stopped loading what it shows: no spinner, no skeleton; charts get
 * time for their entry animation. Quicker than waiting for the network to go idle.
 */
export async function settle(page: Page): Promise<void> {
  await page
    .waitForFunction("!document.querySelector('.ant-skeleton-active, .ant-spin-spinning, .ant-btn-loading')", undefined, { timeout: 10_000, polling: 50 })
    .catch(() => {});
  await page.waitForTimeout((await page.locator('canvas').count()) ? 800 : 150);
}

/** A full-page screenshot named after the language and width, for people to look at. */
export async function shot(s: Session, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await settle(s.page);
  const path = join(SCREENSHOT_DIR, `${s.width < 600 ? 'phone' : 'desktop'}-${s.lang}-${name}.png`);
  await s.page.screenshot({ path, fullPage: true });
  return path;
}

export async function signIn(s: Session, area: 'admin' | 'console', email: string, password: string): Promise<void> {
  const { page } = s;
  await page.getByTestId('sign-in-email').fill(email);
  await page.getByTestId('sign-in-password').fill(password);
  // better-auth allows 3 sign-ins per 10 s from one address; a test that signs in often waits its
  // turn as a person would, instead of timing out on a page that says "too many attempts".
  let waited = false;
  for (let attempt = 0; ; attempt++) {
    const answer = page.waitForResponse((r) => r.url().includes('/api/auth/sign-in/'));
    await page.getByTestId('sign-in-submit').click();
    const res = await answer;
    if (res.status() !== 429 || attempt >= 3) break;
    waited = true;
    await page.waitForTimeout(Number((await res.headerValue('x-retry-after')) ?? 10) * 1000 + 250);
  }
  await page.waitForURL((u) => u.pathname.startsWith(`/${area}`) && !u.pathname.endsWith('/login'));
  // The browser logs the refused attempt as a failed resource load; it was expected, not a fault.
  if (waited) s.errors.splice(0, s.errors.length, ...s.errors.filter((e) => !/status of 429/.test(e)));
}

/** Switch the language with the switch in the header (or on the sign-in page). */
export async function switchLanguage(s: Session, lang: 'en-US' | 'zh-CN'): Promise<void> {
  await s.page.getByTestId('language-switch').first().click();
  await s.page.locator('.ant-dropdown-menu-item').filter({ hasText: lang === 'zh-CN' ? '简体中文' : 'English' }).click();
  await s.page.waitForFunction(`document.documentElement.lang === ${JSON.stringify(lang)}`);
  s.lang = lang;
}

/** The primary button of the open drawer's footer (Save / Create). */
export function drawerSubmit(page: Page): Locator {
  return page.locator('.ant-drawer-open .ant-drawer-footer .ant-btn-primary');
}

/** The OK button of the open Modal.confirm. */
export function confirmOk(page: Page): Locator {
  return page.locator('.ant-modal-confirm-btns .ant-btn-primary');
}

/** Pick `option` in the antd Select that holds the form field `#id` (a query form's select). */
export async function pickOption(page: Page, id: string, option: string | RegExp): Promise<void> {
  await page.locator('.ant-select').filter({ has: page.locator(`#${id}`) }).click();
  await pickIn(page, option);
}

/** Click the option in the open drop-down until the drop-down has closed (it may miss while it opens). */
async function pickIn(page: Page, option: string | RegExp): Promise<void> {
  const item = openDropdown(page).locator('.ant-select-item-option').filter({ hasText: option }).first();
  await clickUntil(item, () => dropdownGone(page));
}

/**
 * A single select's drop-down closes after a pick with an animation; a click aimed at a button
 * beneath it meanwhile lands on the drop-down (under load it took CI past its click timeout).
 */
async function dropdownGone(page: Page): Promise<boolean> {
  return page
    .waitForFunction("!document.querySelector('.ant-select-dropdown:not(.ant-select-dropdown-hidden)')", undefined, { timeout: 3000, polling: 50 })
    .then(() => true, () => false);
}

/** Type into a searching select (a user or key picker, by its test id) and pick the option that shows up. */
export async function searchAndPick(page: Page, testId: string, typed: string, option: string | RegExp = typed): Promise<void> {
  await page.getByTestId(testId).click();
  await page.getByTestId(testId).locator('input').fill(typed);
  await pickIn(page, option);
}

/** The select drop-down on screen (antd keeps closed ones in the page, hidden). */
export function openDropdown(page: Page): Locator {
  return page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden)');
}

/** A table row by the exact text of one of its cells (a key's name, a channel's name). */
export function rowWith(page: Page, text: string): Locator {
  return page.locator('.ant-table-row').filter({ has: page.getByText(text, { exact: true }) });
}

/**
 * Run `fn`, which provokes failed requests on purpose (a refused form, a server made to fail), and
 * take the browser's "Failed to load resource" lines it causes (and those matching `alsoExpected`)
 * off the session's error list; any other error it causes stays there.
 */
export async function provoking(s: Session, fn: () => Promise<void>, alsoExpected?: RegExp): Promise<void> {
  const before = s.errors.length;
  await fn();
  const caused = s.errors.splice(before);
  s.errors.push(...caused.filter((e) => !/Failed to load resource/.test(e) && !alsoExpected?.test(e)));
}

const TOAST_RECORDER = `(() => {
  const seen = new WeakSet();
  window.__toasts = [];
  new MutationObserver(() => {
    for (const n of document.querySelectorAll('.ant-message-notice')) {
      const text = (n.textContent || '').trim();
      if (text && !seen.has(n)) { seen.add(n); window.__toasts.push(text); }
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
})()`;

/** Has a toast with this text been shown since the last check for it? Takes it off the record. */
async function tookToast(page: Page, text: string, timeout: number): Promise<boolean> {
  const probe = `(() => { const i = (window.__toasts || []).findIndex((t) => t.includes(${JSON.stringify(text)})); if (i < 0) return false; window.__toasts.splice(i, 1); return true; })()`;
  // Polled with evaluate: the record lives in the page's own world, where waitForFunction does not look.
  const until = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate<boolean>(probe).catch(() => false)) return true;
    if (Date.now() > until) return false;
    await page.waitForTimeout(50);
  }
}

/** Wait for a toast message with this text (shown now, or shown and gone since the last check). */
export async function expectToast(page: Page, text: string, timeout = 15_000): Promise<void> {
  if (!(await tookToast(page, text, timeout))) throw new Error(`no toast "${text}" within ${timeout} ms; toasts seen: ${JSON.stringify(await page.evaluate('window.__toasts'))}`);
}

/**
 * Click until `done` holds. Under load a click can land during an opening animation and do
 * nothing; a person clicks again, and so does the test (at most `tries` times).
 */
export async function clickUntil(target: Locator, done: () => Promise<boolean>, tries = 3): Promise<void> {
  await target.click();
  for (let i = 1; ; i++) {
    if (await done()) return;
    // The first click may yet have worked, only late: a target gone meanwhile is not an error.
    await target.click({ timeout: 2000 }).catch(() => {});
    if (i >= tries) {
      if (await done()) return;
      throw new Error(`clicked ${tries} times; nothing happened`);
    }
  }
}

/** Click a copy button until its "copied" toast shows. */
export async function copyWith(page: Page, button: Locator, toast: string): Promise<void> {
  await clickUntil(button, () => tookToast(page, toast, 4000));
}

/** Close the "here is your new key" modal with its "I have saved it" button. */
export async function closeNewKey(page: Page): Promise<void> {
  const done = page.getByTestId('new-key-done');
  await done.waitFor();
  await clickUntil(done, () =>
    page.getByTestId('new-key-modal').waitFor({ state: 'detached', timeout: 4000 }).then(() => true, () => false),
  );
}

/** Click the table's reload button until `locator` shows up (usage is written just after the call). */
export async function reloadUntil(page: Page, locator: Locator, tries = 20): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if ((await locator.count()) > 0) return;
    await page.locator('.ant-pro-table-list-toolbar-setting-item').first().click();
    await page.waitForTimeout(500);
  }
  await locator.first().waitFor({ timeout: 2_000 });
}

/** How far the document is wider than the screen (0 when nothing sticks out sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
}

/** What a caller of /v1/models gets with this secret once the server has taken in the latest changes: "200 ok" or "<status> <error code>". */
export async function gatewayAnswer(server: TestServer, key: string): Promise<string> {
  await server.ctx.feed.pollNow();
  const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { error?: { code?: string } };
  return `${res.status} ${body.error?.code ?? 'ok'}`;
}
