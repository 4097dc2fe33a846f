import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/index.js';
import { DAY_MS, epochMsOf, fixedGrid, HOUR_MS, localParts, localToUtc, monthGrid, nativeTime, startOfLocalDay, type TimeGrid, TzOffsetParam } from './buckets.js';

/**
 * The operator's dashboard: what happened in a period (today, this week, this month, this year
 * in the caller's timezone), as cards and a zero-filled trend.
 *
 *  - new users:    users created in the period (`users.created_at`)
 *  - recharge:     positive cash ledger entries of type `topup` or `adjustment`
 *  - tokens:       prompt + completion tokens of usage records
 *  - cost:         `cost_micros` of usage records, what the upstreams charge us
 *  - revenue:      `charged_micros` of usage records, what users were charged
 *  - logins:       sessions created (`auth_sessions.created_at`)
 *  - active users: distinct users with at least one usage record
 *  - calls:        usage records (refused calls included); failed: those whose status is not 2xx
 *
 * Beside them: the same cards for the previous period up to the same point (today until 14:00 is
 * compared with yesterday until 14:00), and the top models, channels and users by revenue.
 */

export const PERIODS = ['today', 'week', 'month', 'year'] as const;
export type Period = (typeof PERIODS)[number];

export const DashboardQuery = z.object({
  period: z.enum(PERIODS).default('today'),
  tz_offset_minutes: TzOffsetParam,
});

export interface DashboardBucket {
  bucket: string;
  new_users: number;
  recharge_micros: number;
  tokens: number;
  cost_micros: number;
  revenue_micros: number;
  active_users: number;
  calls: number;
  failed_calls: number;
}

export interface DashboardCards {
  new_users: number;
  recharge_micros: number;
  tokens: number;
  cost_micros: number;
  revenue_micros: number;
  logins: number;
  active_users: number;
  calls: number;
  failed_calls: number;
}

export interface TopRow {
  name: string;
  calls: number;
  tokens: number;
  revenue_micros: number;
}

export interface Dashboard {
  period: Period;
  from: string;
  to: string;
  cards: DashboardCards;
  trend: DashboardBucket[];
  previous: { from: string; to: string; cards: DashboardCards };
  top: { models: TopRow[]; channels: TopRow[]; users: TopRow[] };
}

/** Where the period before the one starting at `from` starts (a day, week, month or year earlier). */
function previousStart(period: Period, from: number, tzOffsetMinutes: number): number {
  const p = localParts(from, tzOffsetMinutes);
  switch (period) {
    case 'today':
      return localToUtc(tzOffsetMinutes, p.year, p.month, p.day - 1);
    case 'week':
      return localToUtc(tzOffsetMinutes, p.year, p.month, p.day - 7);
    case 'month':
      return localToUtc(tzOffsetMinutes, p.year, p.month - 1);
    case 'year':
      return localToUtc(tzOffsetMinutes, p.year - 1, 0);
  }
}

const failedExpr = sql<number>`sum(case when usage_records.status_code between 200 and 299 then 0 else 1 end)`;

/** The cards over [from, to), without buckets. */
async function cardsBetween(db: Db, from: number, to: number): Promise<DashboardCards> {
  const k = db.kysely;
  const [usage, users, recharges, logins] = await Promise.all([
    k
      .selectFrom('usage_records')
      .select([
        sql<number>`sum(usage_records.prompt_tokens + usage_records.completion_tokens)`.as('tokens'),
        sql<number>`sum(usage_records.cost_micros)`.as('cost'),
        sql<number>`sum(usage_records.charged_micros)`.as('revenue'),
        sql<number>`count(distinct usage_records.user_id)`.as('active'),
        sql<number>`count(*)`.as('calls'),
        failedExpr.as('failed'),
      ])
      .where('usage_records.created_at', '>=', from)
      .where('usage_records.created_at', '<', to)
      .executeTakeFirst(),
    k
      .selectFrom('users')
      .select(sql<number>`count(*)`.as('n'))
      .where('users.created_at', '>=', nativeTime(db.dialect, from))
      .where('users.created_at', '<', nativeTime(db.dialect, to))
      .executeTakeFirst(),
    k
      .selectFrom('ledger_entries')
      .select(sql<number>`sum(ledger_entries.amount_micros)`.as('amount'))
      .where(sql<boolean>`ledger_entries.type in ('topup', 'adjustment')`)
      .where('ledger_entries.created_at', '>=', from)
      .where('ledger_entries.created_at', '<', to)
      .where('ledger_entries.bucket', '=', 'cash')
      .where('ledger_entries.amount_micros', '>', 0)
      .executeTakeFirst(),
    k
      .selectFrom('auth_sessions')
      .select(sql<number>`count(*)`.as('n'))
      .where('auth_sessions.created_at', '>=', nativeTime(db.dialect, from))
      .where('auth_sessions.created_at', '<', nativeTime(db.dialect, to))
      .executeTakeFirst(),
  ]);
  return {
    new_users: n(users?.n),
    recharge_micros: n(recharges?.amount),
    tokens: n(usage?.tokens),
    cost_micros: n(usage?.cost),
    revenue_micros: n(usage?.revenue),
    logins: n(logins?.n),
    active_users: n(usage?.active),
    calls: n(usage?.calls),
    failed_calls: n(usage?.failed),
  };
}

/** The five models, channels and users with the most revenue over [from, to). */
async function topOf(db: Db, from: number, to: number): Promise<Dashboard['top']> {
  const k = db.kysely;
  const base = () =>
    k
      .selectFrom('usage_records')
      .where('usage_records.created_at', '>=', from)
      .where('usage_records.created_at', '<', to);
  const measures = [
    sql<number>`count(*)`.as('calls'),
    sql<number>`sum(usage_records.prompt_tokens + usage_records.completion_tokens)`.as('tokens'),
    sql<number>`sum(usage_records.charged_micros)`.as('revenue'),
  ] as const;
  const [models, channels, users] = await Promise.all([
    base().select(['usage_records.model as name', ...measures]).groupBy('usage_records.model').orderBy('revenue', 'desc').orderBy('calls', 'desc').limit(5).execute(),
    base()
      .innerJoin('channels', 'channels.id', 'usage_records.channel_id')
      .select(['channels.name as name', ...measures])
      .groupBy(['channels.id', 'channels.name'])
      .orderBy('revenue', 'desc')
      .orderBy('calls', 'desc')
      .limit(5)
      .execute(),
    base()
      .innerJoin('users', 'users.id', 'usage_records.user_id')
      .select(['users.email as name', ...measures])
      .groupBy(['users.id', 'users.email'])
      .orderBy('revenue', 'desc')
      .orderBy('calls', 'desc')
      .limit(5)
      .execute(),
  ]);
  const rows = (rs: { name: string; calls: unknown; tokens: unknown; revenue: unknown }[]) =>
    rs.map((r) => ({ name: String(r.name), calls: n(r.calls), tokens: n(r.tokens), revenue_micros: n(r.revenue) }));
  return { models: rows(models), channels: rows(channels), users: rows(users) };
}

/**
 * The period that contains `now` in the caller's timezone: today in hours, this week (from
 * Monday) and this month in days, this year in months.
 */
export function periodGrid(db: Db, period: Period, tzOffsetMinutes: number, now = Date.now()): TimeGrid {
  const p = localParts(now, tzOffsetMinutes);
  switch (period) {
    case 'today': {
      const from = startOfLocalDay(now, tzOffsetMinutes);
      return fixedGrid(db.dialect, from, from + DAY_MS, HOUR_MS, tzOffsetMinutes);
    }
    case 'week': {
      const from = localToUtc(tzOffsetMinutes, p.year, p.month, p.day - ((p.weekday + 6) % 7));
      return fixedGrid(db.dialect, from, from + 7 * DAY_MS, DAY_MS, tzOffsetMinutes);
    }
    case 'month':
      return fixedGrid(db.dialect, localToUtc(tzOffsetMinutes, p.year, p.month), localToUtc(tzOffsetMinutes, p.year, p.month + 1), DAY_MS, tzOffsetMinutes);
    case 'year':
      return monthGrid(p.year, tzOffsetMinutes);
  }
}

const n = (v: unknown) => Number(v ?? 0);

export async function dashboard(db: Db, period: Period, tzOffsetMinutes: number, now = Date.now()): Promise<Dashboard> {
  const k = db.kysely;
  const g = periodGrid(db, period, tzOffsetMinutes, now);
  const usageCreated = sql<number>`usage_records.created_at`;

  const [usage, usagePeriod, users, recharges, logins] = await Promise.all([
    k
      .selectFrom('usage_records')
      .select([
        g.bucket(usageCreated).as('b'),
        sql<number>`sum(usage_records.prompt_tokens + usage_records.completion_tokens)`.as('tokens'),
        sql<number>`sum(usage_records.cost_micros)`.as('cost'),
        sql<number>`sum(usage_records.charged_micros)`.as('revenue'),
        sql<number>`count(distinct usage_records.user_id)`.as('active'),
        sql<number>`count(*)`.as('calls'),
        failedExpr.as('failed'),
      ])
      .where('usage_records.created_at', '>=', g.from)
      .where('usage_records.created_at', '<', g.to)
      .groupBy(g.bucket(usageCreated))
      .execute(),
    // Distinct users over the whole period: not the sum of the buckets' distinct counts.
    k
      .selectFrom('usage_records')
      .select(sql<number>`count(distinct usage_records.user_id)`.as('active'))
      .where('usage_records.created_at', '>=', g.from)
      .where('usage_records.created_at', '<', g.to)
      .executeTakeFirst(),
    k
      .selectFrom('users')
      .select([g.bucket(epochMsOf(db.dialect, sql`users.created_at`)).as('b'), sql<number>`count(*)`.as('n')])
      .where('users.created_at', '>=', nativeTime(db.dialect, g.from))
      .where('users.created_at', '<', nativeTime(db.dialect, g.to))
      .groupBy(g.bucket(epochMsOf(db.dialect, sql`users.created_at`)))
      .execute(),
    k
      .selectFrom('ledger_entries')
      .select([g.bucket(sql<number>`ledger_entries.created_at`).as('b'), sql<number>`sum(ledger_entries.amount_micros)`.as('amount')])
      // Spelled as the partial index `ledger_recharge_created_idx` is, so that the planner uses it.
      .where(sql<boolean>`ledger_entries.type in ('topup', 'adjustment')`)
      .where('ledger_entries.created_at', '>=', g.from)
      .where('ledger_entries.created_at', '<', g.to)
      .where('ledger_entries.bucket', '=', 'cash')
      .where('ledger_entries.amount_micros', '>', 0)
      .groupBy(g.bucket(sql<number>`ledger_entries.created_at`))
      .execute(),
    k
      .selectFrom('auth_sessions')
      .select(sql<number>`count(*)`.as('n'))
      .where('auth_sessions.created_at', '>=', nativeTime(db.dialect, g.from))
      .where('auth_sessions.created_at', '<', nativeTime(db.dialect, g.to))
      .executeTakeFirst(),
  ]);

  const trend = new Map<string, DashboardBucket>(
    g.labels.map((bucket) => [bucket, { bucket, new_users: 0, recharge_micros: 0, tokens: 0, cost_micros: 0, revenue_micros: 0, active_users: 0, calls: 0, failed_calls: 0 }]),
  );
  const at = (b: unknown) => trend.get(g.labelOf(n(b)) ?? '');
  for (const r of usage) {
    const t = at(r.b);
    if (!t) continue;
    t.tokens = n(r.tokens);
    t.cost_micros = n(r.cost);
    t.revenue_micros = n(r.revenue);
    t.active_users = n(r.active);
    t.calls = n(r.calls);
    t.failed_calls = n(r.failed);
  }
  for (const r of users) {
    const t = at(r.b);
    if (t) t.new_users = n(r.n);
  }
  for (const r of recharges) {
    const t = at(r.b);
    if (t) t.recharge_micros = n(r.amount);
  }

  const rows = [...trend.values()];
  // The previous period up to the same point: the elapsed part of this one, or all of it once over.
  const prevFrom = previousStart(period, g.from, tzOffsetMinutes);
  const prevTo = Math.min(g.from, prevFrom + (Math.min(now, g.to) - g.from));
  const [previous, top] = await Promise.all([cardsBetween(db, prevFrom, prevTo), topOf(db, g.from, g.to)]);
  const sum = (f: (b: DashboardBucket) => number) => rows.reduce((s, b) => s + f(b), 0);
  return {
    period,
    from: new Date(g.from).toISOString(),
    to: new Date(g.to).toISOString(),
    cards: {
      new_users: sum((b) => b.new_users),
      recharge_micros: sum((b) => b.recharge_micros),
      tokens: sum((b) => b.tokens),
      cost_micros: sum((b) => b.cost_micros),
      revenue_micros: sum((b) => b.revenue_micros),
      logins: n(logins?.n),
      active_users: n(usagePeriod?.active),
      calls: sum((b) => b.calls),
      failed_calls: sum((b) => b.failed_calls),
    },
    trend: rows,
    previous: { from: new Date(prevFrom).toISOString(), to: new Date(prevTo).toISOString(), cards: previous },
    top,
  };
}
