// Vitest global setup: compile dist/ once before the tests when a source changed, so the tests
// that run `tollgate` as a child process use the compiled command (as an operator does) and do
// not each race to rebuild it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const r = spawnSync(process.execPath, ['scripts/build-server.mjs', '--if-stale'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/build-server.mjs failed');
}
