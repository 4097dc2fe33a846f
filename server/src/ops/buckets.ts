import { sql, type Expression, type RawBuilder } from 'kysely';
import { z } from 'zod';
import type { DialectName } from '../db/index.js';

/**
 * Time buckets in the caller's timezone, computed by the database with integer arithmetic on
 * epoch-ms columns so that one query works on SQLite, PostgreSQL and MySQL.
 *
 * The timezone is a fixed offset: the browser's `new Date().getTimezoneOffset()` (minutes to add
 * to local time to get UTC, so UTC+8 is -480). A period that crosses a daylight-saving change is
 * bucketed with the offset of today; the error is at most an hour at the edges of one day.
 */

export const TzOffsetParam = z.coerce
  .number()
  .int()
  .min(-840)
  .max(840)
  .default(0)
  .describe("the browser's new Date().getTimezoneOffset(): UTC+8 is -480; default 0 (UTC)");

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A period cut into buckets: `[from, to)` in epoch ms, and one label per bucket, oldest first. */
export interface TimeGrid {
  from: number;
  to: number;
  labels: string[];
  /** The bucket of an epoch-ms SQL expression; its value is turned into a label by `labelOf`. */
  bucket(ms: Expression<number> | RawBuilder<number>): RawBuilder<number>;
  labelOf(value: number): string | undefined;
}

function lit(n: number): RawBuilder<number> {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
  // Literals, not parameters: PostgreSQL only accepts `GROUP BY <expr>` when the expression is
  // the same text as in the select list, which bound parameters ($1 vs $3) would not be.
  return sql.lit(n) as RawBuilder<number>;
}

/** Integer division of non-negative integers: MySQL's `/` returns a decimal, `DIV` does not. */
export function intDiv(dialect: DialectName, a: Expression<number> | RawBuilder<number>, b: number): RawBuilder<number> {
  return dialect === 'mysql' ? sql<number>`(${a}) div ${lit(b)}` : sql<number>`(${a}) / ${lit(b)}`;
}

/**
 * Epoch milliseconds of a native timestamp column (better-auth's `users.created_at`,
 * `auth_sessions.created_at`): timestamptz on PostgreSQL, DATETIME(3) holding UTC on MySQL, ISO
 * 8601 text on SQLite.
 */
export function epochMsOf(dialect: DialectName, col: Expression<unknown> | RawBuilder<unknown>): RawBuilder<number> {
  if (dialect === 'postgres') return sql<number>`cast(round(extract(epoch from ${col}) * 1000) as bigint)`;
  // TIMESTAMPDIFF between two naive DATETIMEs does not depend on the session time zone (UNIX_TIMESTAMP would).
  if (dialect === 'mysql') return sql<number>`(timestampdiff(microsecond, '1970-01-01 00:00:00', ${col}) div 1000)`;
  return sql<number>`cast(round((julianday(${col}) - 2440587.5) * 86400000) as integer)`;
}

/** A parameter to compare with a native timestamp column: a Date, or ISO text on SQLite. */
export function nativeTime(dialect: DialectName, ms: number): Date | string {
  return dialect === 'sqlite' ? new Date(ms).toISOString() : new Date(ms);
}

/** Local calendar parts of an instant at a fixed offset. */
export function localParts(utcMs: number, tzOffsetMinutes: number) {
  const d = new Date(utcMs - tzOffsetMinutes * 60_000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), weekday: d.getUTCDay(), hour: d.getUTCHours() };
}

/** The instant of a local wall-clock time (month and day may overflow, as with Date.UTC). */
export function localToUtc(tzOffsetMinutes: number, year: number, month: number, day = 1, hour = 0): number {
  return Date.UTC(year, month, day, hour) + tzOffsetMinutes * 60_000;
}

/** Start of the local day that contains `utcMs`. */
export function startOfLocalDay(utcMs: number, tzOffsetMinutes: number): number {
  const p = localParts(utcMs, tzOffsetMinutes);
  return localToUtc(tzOffsetMinutes, p.year, p.month, p.day);
}

/**
 * Buckets of a fixed length (hours or days) aligned to local midnight: the bucket of an instant
 * is `(ms - offset) DIV unit`, an absolute hour or day number, labelled by its local date.
 */
export function fixedGrid(dialect: DialectName, from: number, to: number, unitMs: typeof HOUR_MS | typeof DAY_MS, tzOffsetMinutes: number): TimeGrid {
  const shift = -tzOffsetMinutes * 60_000; // local = utc + shift
  const labelLen = unitMs === HOUR_MS ? 13 : 10; // 'YYYY-MM-DDTHH' | 'YYYY-MM-DD'
  const label = (n: number) => new Date(n * unitMs).toISOString().slice(0, labelLen);
  const first = Math.floor((from + shift) / unitMs);
  const count = Math.ceil((to - from) / unitMs);
  const labels = Array.from({ length: count }, (_, i) => label(first + i));
  return {
    from,
    to,
    labels,
    bucket: (ms) => intDiv(dialect, sql<number>`${ms} + ${lit(shift)}`, unitMs),
    labelOf: (n) => {
      const i = Number(n) - first;
      return i >= 0 && i < count ? labels[i] : undefined;
    },
  };
}

/** Calendar months of a local year (`YYYY-MM`): months differ in length, so the bucket is a CASE over their starts. */
export function monthGrid(year: number, tzOffsetMinutes: number): TimeGrid {
  const starts = Array.from({ length: 13 }, (_, m) => localToUtc(tzOffsetMinutes, year, m, 1));
  const labels = Array.from({ length: 12 }, (_, m) => `${year}-${String(m + 1).padStart(2, '0')}`);
  return {
    from: starts[0]!,
    to: starts[12]!,
    labels,
    bucket: (ms) => {
      const whens = starts.slice(1, 12).map((s, i) => sql`when ${ms} < ${lit(s)} then ${lit(i)}`);
      return sql<number>`case ${sql.join(whens, sql` `)} else 11 end`;
    },
    labelOf: (n) => labels[Number(n)],
  };
}
