import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../accounts/keys.js';
import { createUser } from '../accounts/users.js';
import { loadConfig } from '../config/index.js';
import { createContext, type AppContext } from '../context.js';

let dir: string;
let ctx: AppContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-keycache-'));
  ctx = await createContext(
    loadConfig({ DATABASE_URL: `sqlite:${join(dir, 't.db')}`, TOLLGATE_SECRET: 'key-cache-test-secret-0123456789abcdef', LOG_LEVEL: 'silent' } as NodeJS.ProcessEnv),
    { live: false },
  );
});
afterAll(async () => {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('key cache', () => {
  it('remembers a bounded number of unknown keys, however many are presented, and still knows real keys', async () => {
    const { user } = await createUser(ctx.db, { email: 'cache@example.com' });
    const { key } = await createKey(ctx.db, ctx.feed, user.id, { name: 'real' });
    expect((await ctx.keys.authenticate(key)).userId).toBe(user.id);
    for (let i = 0; i < 25_000; i++) {
      await expect(ctx.keys.authenticate(`sk-random-${i}-${'x'.repeat(40)}`)).rejects.toMatchObject({ code: 'invalid_api_key' });
    }
    expect(ctx.keys.size.unknown).toBeLessThanOrEqual(10_000);
    expect(ctx.keys.size.keys).toBe(1);
    expect((await ctx.keys.authenticate(key)).userId).toBe(user.id);
    // A revoked key is still refused at once (its entry dropped, not kept by the bookkeeping).
    ctx.keys.invalidateUser(user.id);
    expect(ctx.keys.size).toEqual({ keys: 0, unknown: ctx.keys.size.unknown });
  }, 120_000);
});
