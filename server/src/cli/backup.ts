import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { openDatabase } from '../db/index.js';
import { AppError } from '../errors.js';

export interface BackupResult {
  from: string;
  file: string;
  bytes: number;
  ms: number;
}

/**
 * `tollgate backup --to FILE`: an online copy of the embedded SQLite database through SQLite's
 * backup API (better-sqlite3's `.backup()`), consistent while servers keep writing. It neither
 * migrates nor changes the database, so it is the step to take before an upgrade. PostgreSQL and
 * MySQL have their own tools, which the refusal names.
 */
export async function backupDatabase(config: Config, to: string): Promise<BackupResult> {
  const url = config.databaseUrl;
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new AppError(
      'validation_failed',
      'tollgate backup copies the embedded SQLite database; for PostgreSQL use pg_dump: pg_dump --format=custom --file=tollgate.dump "$DATABASE_URL" (restore with pg_restore --clean --if-exists --dbname "$DATABASE_URL" tollgate.dump)',
    );
  }
  if (/^(mysql|mariadb):\/\//.test(url)) {
    throw new AppError(
      'validation_failed',
      'tollgate backup copies the embedded SQLite database; for MySQL/MariaDB use mysqldump: mysqldump --single-transaction --routines DBNAME > tollgate.sql (restore with mysql DBNAME < tollgate.sql)',
    );
  }
  const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (file === '' || file === ':memory:') throw new AppError('validation_failed', 'an in-memory database has nothing to back up');
  const from = resolve(file);
  // Opening a missing file would create an empty database and back that up.
  if (!existsSync(from)) throw new AppError('validation_failed', `there is no database at ${from} (DATABASE_URL)`);
  const target = resolve(to);
  if (existsSync(target)) throw new AppError('validation_failed', `${target} already exists: a backup never overwrites a file`, { path: 'to' });
  const t0 = Date.now();
  const db = openDatabase(url, { poolSize: 1, checkpointer: false });
  try {
    await db.sqlite!.backup(target);
  } catch (err) {
    throw new AppError('validation_failed', `cannot write ${target}: ${(err as Error).message}`, { path: 'to' });
  } finally {
    await db.close();
  }
  return { from, file: target, bytes: statSync(target).size, ms: Date.now() - t0 };
}
