#!/usr/bin/env node
// Compiles the server and the `tollgate` command with esbuild, as ES modules with code splitting:
//   dist/server/  the server (main.mjs), every package left as an import from node_modules;
//   dist/cli/     the command line (cli.mjs). Its commands import what they use when they run, so
//                 `tollgate price list` never loads Fastify, better-auth or the relay; Kysely and
//                 zod (hundreds of small files each, a third of a command's start-up) are bundled
//                 in. `tollgate start` loads dist/server/main.mjs.
//
// Every file is written under a temporary name and renamed into place, and chunk names carry a
// hash of their content, so two builds racing (two `tollgate` calls on a stale checkout) both
// leave a complete, consistent dist/. `--if-stale` builds only when a source is newer than the
// last build (what bin/tollgate.mjs and the test setup use).
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const stamp = join(dist, 'BUILD');
/** Packages compiled into the CLI rather than imported: pure ES modules, slow to load file by file. */
const CLI_INLINE = new Set(['kysely', 'zod']);

/** Newest modification time of the TypeScript sources the build reads (0 when absent). */
export function newestSource() {
  let max = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) max = Math.max(max, statSync(p).mtimeMs);
    }
  };
  const src = join(root, 'server', 'src');
  if (existsSync(src)) walk(src);
  for (const f of ['package.json', 'scripts/build-server.mjs']) if (existsSync(join(root, f))) max = Math.max(max, statSync(join(root, f)).mtimeMs);
  return max;
}

/** Why dist/ must be (re)built, or null when it is current. Without sources (a packed install), dist/ is what there is. */
export function staleReason() {
  if (!existsSync(stamp) || !existsSync(join(dist, 'cli', 'cli.mjs')) || !existsSync(join(dist, 'server', 'main.mjs'))) return 'dist/ is missing';
  if (!existsSync(join(root, 'server', 'src'))) return null;
  const built = Number(readFileSync(stamp, 'utf8').trim().split(/\s+/)[0]);
  return newestSource() > built ? 'a server source changed since the last build' : null;
}

function writeAtomic(file, contents) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

export async function build({ quiet = false, clean = false } = {}) {
  const t0 = Date.now();
  const sourcesAt = newestSource();
  const esbuild = await import('esbuild').catch(() => null);
  if (!esbuild) throw new Error('esbuild is not installed: run `npm install` (the build needs the dev dependencies)');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
  const common = {
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  };
  // The CLI's `start` imports the server build instead of compiling a second copy of it.
  const serverFromCli = {
    name: 'server-from-cli',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/main\.js$/ }, (args) =>
        args.importer.endsWith(join('server', 'src', 'cli', 'main.ts')) ? { path: '../server/main.mjs', external: true } : undefined,
      );
    },
  };
  const [server, cli] = await Promise.all([
    esbuild.build({ ...common, entryPoints: { main: 'server/src/main.ts' }, outdir: join(dist, 'server'), packages: 'external' }),
    esbuild.build({
      ...common,
      entryPoints: { cli: 'server/src/cli/main.ts' },
      outdir: join(dist, 'cli'),
      external: deps.filter((d) => !CLI_INLINE.has(d)).flatMap((d) => [d, `${d}/*`]),
      plugins: [serverFromCli],
    }),
  ]);
  const written = new Set();
  // Chunks first, entries last: an entry never points at a chunk not yet in place.
  const files = [...server.outputFiles, ...cli.outputFiles].sort((a, b) => Number(/[\\/]chunk-/.test(b.path)) - Number(/[\\/]chunk-/.test(a.path)));
  for (const f of files) {
    writeAtomic(f.path, f.contents);
    written.add(f.path);
  }
  // Chunks of earlier builds that nothing refers to any more. Only an explicit `npm run build`
  // removes them: a process started from the previous build may still import one lazily.
  if (clean) {
    for (const dir of ['server', 'cli']) {
      for (const name of readdirSync(join(dist, dir))) {
        const p = join(dist, dir, name);
        if (!written.has(p) && /^chunk-.*\.mjs(\.map)?$/.test(name)) unlinkSync(p);
      }
    }
  }
  writeAtomic(stamp, `${sourcesAt} built ${new Date().toISOString()}\n`);
  if (!quiet) console.error(`[tollgate] compiled the server and the CLI into ${relative(root, dist)}/ in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale');
  const why = staleReason();
  if (ifStale && why === null) process.exit(0);
  await build({ clean: !ifStale });
}
