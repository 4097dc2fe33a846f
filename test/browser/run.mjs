#!/usr/bin/env node
// The web console's tests, run by `npm test` (scripts/test.mjs) after the server suites:
//   1. the SPA's unit tests (i18n catalogs complete in both languages, money formatting, …)
//   2. the end-to-end scenario in Debian's Chromium (test/browser/console.test.ts), which writes
//      screenshots of every page to test-results/screenshots/.
// Builds web/dist first when it is missing or stale. Exits non-zero when anything fails.
//   node test/browser/run.mjs            both
//   node test/browser/run.mjs --unit     only the SPA's unit tests
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const onlyUnit = process.argv.includes('--unit');

function step(label, cmd, args) {
  const t0 = Date.now();
  console.log(`\n--- ${label} ---`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  console.log(`--- ${label}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)}s ---`);
  return r.status === 0;
}

let ok = step('web unit tests', process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'web/vitest.config.ts']);

if (!onlyUnit) {
  if (!existsSync(CHROMIUM)) {
    console.error(`\n${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium); never a downloaded browser.`);
    process.exit(1);
  }
  ok = step('web build (if stale)', process.execPath, ['scripts/ensure-web-build.mjs']) && ok;
  if (!existsSync(`${root}web/dist/index.html`)) {
    console.error('web/dist/index.html is missing: `npm run build` failed.');
    process.exit(1);
  }
  ok = step('browser scenario (Chromium)', process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/browser/vitest.config.ts']) && ok;
}

process.exit(ok ? 0 : 1);
