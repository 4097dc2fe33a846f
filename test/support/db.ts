import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createConnection } from 'mysql2/promise';

export type TestDialect = 'sqlite' | 'postgres' | 'mysql';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_ADMIN_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const REDIS_TEST_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The database the suite runs against: TEST_DB=sqlite|postgres|mysql (default sqlite). */
export function testDialect(): TestDialect {
  const v = (process.env.TEST_DB ?? 'sqlite').toLowerCase();
  if (v === 'postgres' || v === 'pg') return 'postgres';
  if (v === 'mysql' || v === 'mariadb') return 'mysql';
  return 'sqlite';
}

export interface TestDatabase {
  url: string;
  dialect: TestDialect;
  drop(): Promise<void>;
}

/** A fresh, empty database of its own for one test file (so files can run in parallel). */
export async function createTestDatabase(dialect: TestDialect = testDialect()): Promise<TestDatabase> {
  const name = `tg_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  if (dialect === 'postgres') {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`create database ${name}`);
    await c.end();
    const u = new URL(PG_ADMIN_URL);
    u.pathname = '/' + name;
    return {
      url: u.toString(),
      dialect,
      async drop() {
        const d = new pg.Client({ connectionString: PG_ADMIN_URL });
        await d.connect();
        await d.query(`drop database if exists ${name} with (force)`);
        await d.end();
      },
    };
  }
  if (dialect === 'mysql') {
    const c = await createConnection(MYSQL_ADMIN_URL);
    await c.query(`create database ${name} character set utf8mb4 collate utf8mb4_bin`);
    await c.end();
    const u = new URL(MYSQL_ADMIN_URL);
    u.pathname = '/' + name;
    return {
      url: u.toString(),
      dialect,
      async drop() {
        const d = await createConnection(MYSQL_ADMIN_URL);
        await d.query(`drop database if exists ${name}`);
        await d.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  return {
    url: `sqlite:${join(dir, 'test.db')}`,
    dialect,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
