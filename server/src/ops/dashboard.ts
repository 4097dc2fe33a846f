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
}

export interface Dashboard {
  period: Period;
  from: string;
  to: string;
  cards: { new_users: number; recharge_micros: number; tokens: number; cost_micros: number; revenue_micros: number; logins: number; active_users: number };
  trend: DashboardBucket[];
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
    g.labels.map((bucket) => [bucket, { bucket, new_users: 0, recharge_micros: 0, tokens: 0, cost_micros: 0, revenue_micros: 0, active_users: 0 }]),
  );
  const at = (b: unknown) => trend.get(g.labelOf(n(b)) ?? '');
  for (const r of usage) {
    const t = at(r.b);
    if (!t) continue;
    t.tokens = n(r.tokens);
    t.cost_micros = n(r.cost);
    t.revenue_micros = n(r.revenue);
    t.active_users = n(r.active);
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
    },
    trend: rows,
  };
}
