#!/usr/bin/env node
// The `tollgate` command. Runs the compiled build in dist/ (scripts/build-server.mjs). On a
// checkout whose build is missing or older than the sources it compiles them first (esbuild, about
// a second), so `npx tollgate …` and `npm start` work straight after `npm install` and never run
// stale code. TOLLGATE_FROM_SOURCE=1 runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs';

const fromSource = process.env.TOLLGATE_FROM_SOURCE === '1';
const builder = new URL('../scripts/build-server.mjs', import.meta.url);
const compiled = new URL('../dist/cli/cli.mjs', import.meta.url);

if (!fromSource && existsSync(builder)) {
  const { staleReason, build } = await import(builder.href);
  const why = staleReason();
  if (why !== null) {
    try {
      await build({ quiet: true });
    } catch (err) {
      // No esbuild (an install without dev dependencies): run what there is.
      if (!existsSync(compiled)) console.error(`[tollgate] cannot compile the server (${why}): ${err.message}`);
    }
  }
}

if (!fromSource && existsSync(compiled)) {
  await import(compiled.href);
} else {
  const tsx = await import('tsx/esm/api').catch(() => null);
  if (!tsx) {
    console.error('[tollgate] dist/ is missing and tsx is not installed: run `npm install` and `npm run build`.');
    process.exit(1);
  }
  tsx.register();
  await import('../server/src/cli/main.ts');
}
