import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import type pg from 'pg';
import type * as mysql from 'mysql2';
import type { Database } from './schema.js';
import { startCheckpointer } from './sqlite-checkpointer.js';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';
export type Kdb = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the pool or an open transaction: repositories take this first. */
export type Executor = Kysely<Database> | Transaction<Database>;

export interface Db {
  kysely: Kdb;
  dialect: DialectName;
  /** Present for SQLite: the raw handle, for the few statements worth preparing by hand. */
  sqlite?: SqliteDatabase.Database;
  /** Connections of the pool (PostgreSQL, MySQL), for /metrics. */
  poolStats?: () => { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

// Only the driver of the configured database is loaded (each costs tens of milliseconds at start,
// which a CLI command feels). They are CommonJS packages, so `require` keeps openDatabase synchronous.
const requireCjs = createRequire(import.meta.url);
const driver = {
  sqlite: () => requireCjs('better-sqlite3') as typeof SqliteDatabase,
  mysql: () => requireCjs('mysql2') as typeof mysql,
  postgres: () => {
    const pgm = requireCjs('pg') as typeof pg;
    // PostgreSQL returns BIGINT and NUMERIC (SUM of BIGINT) as strings to protect precision; all our
    // amounts are integers far below 2^53, so plain numbers are exact and much cheaper to handle.
    pgm.types.setTypeParser(20, (v) => Number(v));
    pgm.types.setTypeParser(1700, (v) => Number(v));
    return pgm;
  },
};

export interface OpenOptions {
  poolSize?: number;
  /** SQLite's page cache in MB (default 16). */
  sqliteCacheMb?: number;
  /** Told about connections lost outside a query (PostgreSQL, MySQL); they are replaced on demand. */
  onConnectionError?: (err: Error) => void;
  /** SQLite: checkpoint the WAL from a worker thread (a server). A short CLI command lets SQLite do it. */
  checkpointer?: boolean;
}

export function openDatabase(url: string, opts: OpenOptions = {}): Db {
  const poolSize = opts.poolSize ?? 20;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    const path = file === ':memory:' || file === '' ? ':memory:' : resolve(file);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const raw = new (driver.sqlite())(path);
    raw.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last
    // few transactions. This is what makes the embedded default fast enough for the hot path.
    raw.pragma('synchronous = NORMAL');
    raw.pragma('busy_timeout = 5000');
    raw.pragma('foreign_keys = ON');
    // The page cache is resident memory that only grows with the database (to the limit); the
    // working set of the hot path is a few MB, so 16 MB by default (SQLITE_CACHE_MB).
    raw.pragma(`cache_size = ${-1024 * Math.max(1, Math.floor(opts.sqliteCacheMb ?? 16))}`);
    // Checkpoints run in a worker thread (see sqlite-checkpointer.ts), never inside our commits.
    const checkpointer = path === ':memory:' || opts.checkpointer === false ? null : startCheckpointer(path);
    if (checkpointer) raw.pragma('wal_autocheckpoint = 0');
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(raw) }) });
    return {
      kysely,
      dialect: 'sqlite',
      sqlite: raw,
      async close() {
        await checkpointer?.stop();
        if (checkpointer) raw.pragma('wal_checkpoint(TRUNCATE)');
        await kysely.destroy();
      },
    };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new (driver.postgres().Pool)({ connectionString: url, max: poolSize, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000 });
    // A connection lost (backend terminated, failover, proxy restart, network reset) makes pg emit
    // `error` on the client — idle ones through the pool, checked-out ones on the client itself —
    // and an unhandled `error` event ends the process. The query in flight fails on its own and
    // the pool drops the broken client, so the event needs only to be heard.
    pool.on('error', (err) => opts.onConnectionError?.(err));
    pool.on('connect', (client) => client.on('error', (err) => opts.onConnectionError?.(err)));
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
    return { kysely, dialect: 'postgres', poolStats, close: () => kysely.destroy() };
  }
  if (/^(mysql|mariadb):\/\//.test(url)) {
    const pool = driver.mysql().createPool({
      uri: url.replace(/^mariadb:/, 'mysql:'),
      connectionLimit: poolSize,
      supportBigNumbers: true,
      bigNumberStrings: false,
      decimalNumbers: true,
      timezone: 'Z',
      charset: 'utf8mb4',
      connectTimeout: 5_000,
    });
    // Same for MySQL/MariaDB: a killed connection (PROTOCOL_CONNECTION_LOST) is dropped from the pool.
    pool.on('connection', (conn) => conn.on('error', (err) => opts.onConnectionError?.(err)));
    const kysely = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
    // mysql2 has no public counters; these arrays have been its pool's state for years.
    const p = pool as unknown as { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } };
    const poolStats = () => ({ total: p._allConnections?.length ?? 0, idle: p._freeConnections?.length ?? 0, waiting: p._connectionQueue?.length ?? 0 });
    return { kysely, dialect: 'mysql', poolStats, close: () => kysely.destroy() };
  }
  throw new Error(`unsupported DATABASE_URL: ${url}`);
}

/**
 * better-sqlite3 compiles a statement on every `prepare`, and Kysely prepares on every query:
 * caching compiled statements by SQL text removes that cost from the hot path. Safe because
 * better-sqlite3 is synchronous: a cached statement is never in use by two queries at once.
 */
function cachingStatements(raw: SqliteDatabase.Database) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => raw.close(),
    prepare(sqlText: string) {
      let st = cache.get(sqlText);
      if (!st) {
        // Queries with IN-lists of varying length would grow the cache without bound.
        if (cache.size >= 1000) cache.clear();
        st = raw.prepare(sqlText);
        cache.set(sqlText, st);
      }
      return st;
    },
  };
}

/** A unique/primary-key violation on any of the three databases. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number } | null;
  if (!e) return false;
  return e.code === '23505' || e.errno === 1062 || e.code === 'ER_DUP_ENTRY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, too many connections, class 08 (connection exception)
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006',
  // mysql2 / MariaDB
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS',
]);
const CONNECTION_MESSAGES = /Connection terminated|connection error and is not queryable|Client was closed|timeout exceeded when trying to connect|Can't add new command when connection is in closed state|Pool is closed/i;

/** The database could not be reached or the connection was lost: nothing the caller did wrong. */
export function isConnectionError(err: unknown): boolean {
  for (let e = err as { code?: unknown; errno?: unknown; message?: unknown; cause?: unknown } | null | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
    if (e.errno === 1927 || e.errno === 1053) return true; // ER_CONNECTION_KILLED, ER_SERVER_SHUTDOWN
    if (typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** Deadlocks and serialization failures: the transaction can simply run again. */
export function isRetryableTxError(err: unknown): boolean {
  const e = err as { code?: string; errno?: number } | null;
  if (!e) return false;
  return e.code === '40001' || e.code === '40P01' || e.errno === 1213 || e.errno === 1205 || e.code === 'SQLITE_BUSY';
}

/** Run `fn` in a transaction, retrying a few times on deadlock/serialization failures. */
export async function inTransaction<T>(db: Db, fn: (trx: Tx) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await db.kysely.transaction().execute(fn);
    } catch (err) {
      if (i >= attempts || !isRetryableTxError(err)) throw err;
      await new Promise((r) => setTimeout(r, 2 ** i + Math.random() * 10));
    }
  }
}

/** Insert and return the generated id on all three dialects (MySQL has no RETURNING). */
export async function insertReturningId<T extends keyof Database & string>(
  db: Db,
  ex: Executor,
  table: T,
  values: Record<string, unknown>,
): Promise<number> {
  if (db.dialect === 'mysql') {
    const r = await ex.insertInto(table).values(values as never).executeTakeFirstOrThrow();
    return Number(r.insertId);
  }
  const row = await ex
    .insertInto(table)
    .values(values as never)
    .returning('id' as never)
    .executeTakeFirstOrThrow();
  return Number((row as unknown as { id: number }).id);
}

/** Rows changed by an UPDATE/DELETE result, as a number. */
export const affected = (r: { numUpdatedRows?: bigint; numDeletedRows?: bigint }) =>
  Number(r.numUpdatedRows ?? r.numDeletedRows ?? 0n);

/** Epoch ms from whatever a timestamp column gave back (Date, ISO text or number). */
export function toMs(v: Date | string | number | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (v instanceof Date) return v.getTime();
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

export const parseJsonArray = (s: string | null | undefined): string[] => {
  if (!s) return [];
  try {
    const v = JSON.parse(s);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
};
