#!/usr/bin/env node
// `npm test`: the whole suite. Everything runs once on SQLite (the embedded default); the
// integration tests run again on PostgreSQL and on MariaDB/MySQL; the browser tests run on SQLite.
// TEST_DBS=sqlite,postgres limits the databases; extra arguments go to vitest (a file filter).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const dbs = (process.env.TEST_DBS ?? 'sqlite,postgres,mysql').split(',').map((s) => s.trim()).filter(Boolean);
const extra = process.argv.slice(2);
const vitest = ['node_modules/vitest/vitest.mjs', 'run'];
const failures = [];

function run(label, args, env = {}) {
  console.log(`\n=== ${label} ===`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  console.log(`=== ${label}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)}s ===`);
  if (r.status !== 0) failures.push(label);
}

for (const db of dbs) {
  if (db === 'sqlite') run('unit + integration on SQLite', [...vitest, ...extra], { TEST_DB: 'sqlite' });
  else run(`integration on ${db}`, [...vitest, ...(extra.length ? extra : ['test/integration'])], { TEST_DB: db });
}
if (existsSync('test/browser/run.mjs') && !process.env.SKIP_BROWSER && extra.length === 0) {
  run('browser (Chromium)', ['test/browser/run.mjs']);
}

if (failures.length) {
  console.error(`\nFAILED: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('\nall test runs passed');
