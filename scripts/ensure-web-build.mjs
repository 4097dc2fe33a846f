#!/usr/bin/env node
// `npm start` runs this first: build the web console (web/dist) when it is missing or older than
// any of its sources, so a fresh checkout or a `git pull` serves the current SPA without a manual
// `npm run build`. Cheap when nothing changed: it only compares modification times.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const index = join(web, 'dist', 'index.html');
const SOURCES = ['src', 'public', 'index.html', 'package.json', 'vite.config.ts', 'tsconfig.json'];

/** Newest modification time under a file or folder (0 when it does not exist). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

function reason() {
  if (!existsSync(index)) return 'web/dist/index.html is missing';
  const built = statSync(index).mtimeMs;
  for (const s of SOURCES) if (newest(join(web, s)) > built) return `web/${s} changed since the last build`;
  return null;
}

const why = reason();
if (why === null) process.exit(0);
if (!existsSync(join(web, 'node_modules')) && !existsSync(join(root, 'node_modules', 'vite'))) {
  console.error('[tollgate] the web console needs its dependencies: run `npm install` first.');
  process.exit(1);
}
console.log(`[tollgate] building the web console (${why})…`);
const t0 = Date.now();
// The fast build (no type check): starting the server should not fail on a type error.
const r = spawnSync('npm', ['run', 'build:fast', '-w', 'web'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (r.status !== 0) {
  console.error('[tollgate] the web console did not build; the API and gateway still start, the console will say it is not built.');
  process.exit(0);
}
console.log(`[tollgate] web console built in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
