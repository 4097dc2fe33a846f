import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_DIR, writeApi } from '../../scripts/gen-api.js';

// The SPA is typed from web/src/api/schema.d.ts: a route whose schema changed without the file being
// regenerated would let the web build compile against an API that no longer exists.
describe('generated API types', () => {
  it('web/src/api is up to date with the route schemas', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-gen-api-test-'));
    try {
      await writeApi(dir);
      for (const file of ['schema.d.ts', 'openapi.json']) {
        const fresh = readFileSync(join(dir, file), 'utf8');
        const committed = readFileSync(join(API_DIR, file), 'utf8');
        expect(committed === fresh, `web/src/api/${file} is stale: run npm run gen:api`).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
