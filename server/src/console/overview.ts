import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { AppError } from '../errors.js';
import { walletOfUser, walletView, type WalletView } from '../billing/wallets.js';
import { DAY_MS, fixedGrid, localParts, localToUtc, startOfLocalDay } from '../ops/buckets.js';

export interface UsageSums {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  charged_micros: number;
}

export interface DayUsage extends UsageSums {
  date: string;
}

export interface Overview {
  user: { id: number; email: string; name: string; role: string; group: string };
  wallet: WalletView;
  base_url: string;
  today: UsageSums;
  month: UsageSums;
  series: DayUsage[];
}

export const SERIES_DAYS = 30;

const zero = (): UsageSums => ({ calls: 0, prompt_tokens: 0, completion_tokens: 0, charged_micros: 0 });

function add(into: UsageSums, x: UsageSums) {
  into.calls += x.calls;
  into.prompt_tokens += x.prompt_tokens;
  into.completion_tokens += x.completion_tokens;
  into.charged_micros += x.charged_micros;
}

/**
 * A user's home page: who they are, their money, where to send calls, and their usage today, this
 * month and per day over the last 30 days (days in the caller's timezone, zero-filled). One grouped
 * query over the user's records covers all three.
 */
export async function userOverview(db: Db, userId: number, baseUrl: string, tzOffsetMinutes: number, now = Date.now()): Promise<Overview> {
  const k = db.kysely;
  const today = startOfLocalDay(now, tzOffsetMinutes);
  const p = localParts(now, tzOffsetMinutes);
  const monthStart = localToUtc(tzOffsetMinutes, p.year, p.month);
  const seriesStart = today - (SERIES_DAYS - 1) * DAY_MS;
  // The 31st of a month reaches back past the 30-day window.
  const grid = fixedGrid(db.dialect, Math.min(monthStart, seriesStart), today + DAY_MS, DAY_MS, tzOffsetMinutes);
  const day = grid.bucket(sql<number>`usage_records.created_at`);

  const [user, wallet, rows] = await Promise.all([
    k.selectFrom('users').select(['id', 'email', 'name', 'role', 'group_name']).where('id', '=', userId).executeTakeFirst(),
    walletOfUser(k, userId),
    k
      .selectFrom('usage_records')
      .select([
        day.as('d'),
        sql<number>`count(*)`.as('calls'),
        sql<number>`sum(usage_records.prompt_tokens)`.as('prompt_tokens'),
        sql<number>`sum(usage_records.completion_tokens)`.as('completion_tokens'),
        sql<number>`sum(usage_records.charged_micros)`.as('charged_micros'),
      ])
      .where('usage_records.user_id', '=', userId)
      .where('usage_records.created_at', '>=', grid.from)
      .where('usage_records.created_at', '<', grid.to)
      .groupBy(day)
      .execute(),
  ]);
  if (!user || !wallet) throw new AppError('not_found', 'your account has no wallet');

  const byDay = new Map<string, UsageSums>();
  for (const r of rows) {
    const label = grid.labelOf(Number(r.d));
    if (label) {
      byDay.set(label, {
        calls: Number(r.calls),
        prompt_tokens: Number(r.prompt_tokens ?? 0),
        completion_tokens: Number(r.completion_tokens ?? 0),
        charged_micros: Number(r.charged_micros ?? 0),
      });
    }
  }
  const firstSeries = grid.labels.length - SERIES_DAYS;
  const firstMonth = grid.labels.length - Math.round((today + DAY_MS - monthStart) / DAY_MS);
  const month = zero();
  const series: DayUsage[] = [];
  grid.labels.forEach((date, i) => {
    const u = byDay.get(date) ?? zero();
    if (i >= firstMonth) add(month, u);
    if (i >= firstSeries) series.push({ date, ...u });
  });
  const { date: _d, ...todaySums } = series.at(-1)!;
  return {
    user: { id: user.id, email: user.email, name: user.name, role: user.role, group: user.group_name },
    wallet: walletView(wallet),
    base_url: baseUrl,
    today: todaySums,
    month,
    series,
  };
}
