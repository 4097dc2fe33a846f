#!/usr/bin/env node
// `npm run bench`'s first section (also alone: `node scripts/bench-startup.mjs`): how quickly the
// compiled `tollgate` answers, median of BENCH_STARTUP_RUNS (default 7) runs each:
//   - `tollgate --version` (loads nothing but the command parser);
//   - `tollgate price list` on a SQLite database (config + database, nothing of the server);
//   - `tollgate start` until GET /healthz answers 200 (process spawn to first good answer).
// Targets on the 2-core machine (issue #6): 0.3 s, 0.6 s and 1.5 s.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
const work = mkdtempSync(join(tmpdir(), 'tollgate-startup-'));
const env = {
  ...process.env,
  DATABASE_URL: `sqlite:${join(work, 'startup.db')}`,
  TOLLGATE_SECRET: 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz',
  TOLLGATE_ADMIN_PASSWORD: 'bench-admin-password',
  TOLLGATE_DATA_DIR: work,
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
};
const tollgate = (...args) => [join(ROOT, 'bin', 'tollgate.mjs'), ...args];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeCommand(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stderr}`);
  return ms;
}

async function timeStart(port) {
  const t0 = performance.now();
  const proc = spawn(process.execPath, tollgate('start', '--port', String(port)), { cwd: ROOT, env, stdio: 'ignore' });
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`tollgate start exited with ${proc.exitCode}`);
      if (performance.now() - t0 > 30_000) throw new Error('no answer from /healthz within 30 s');
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
  }
}

// Build if needed, create the database and the first admin, so every timed run is a warm one.
timeCommand(tollgate('migrate'));
timeCommand(tollgate('price', 'set', '--model', 'gpt-4o-mini', '--input', '0.15', '--output', '0.6'));
const port = 20000 + Math.floor(Math.random() * 20000);
await timeStart(port);

const rows = [
  ['tollgate --version', 300, []],
  ['tollgate price list', 600, []],
  ['tollgate start → /healthz 200', 1500, []],
];
for (let i = 0; i < RUNS; i++) {
  rows[0][2].push(timeCommand(tollgate('--version')));
  rows[1][2].push(timeCommand(tollgate('price', 'list')));
  rows[2][2].push(await timeStart(port));
}
console.log(`\nStart-up (compiled build, SQLite, median of ${RUNS} runs; load average ${(await import('node:os')).loadavg()[0].toFixed(1)}):`);
for (const [label, target, xs] of rows) {
  const m = median(xs);
  console.log(`${label.padEnd(32)} ${(m / 1000).toFixed(2).padStart(6)} s   (min ${(Math.min(...xs) / 1000).toFixed(2)} s, target ≤ ${(target / 1000).toFixed(1)} s)${m > target ? '  OVER' : ''}`);
}
rmSync(work, { recursive: true, force: true });
