import { sql, type SelectQueryBuilder } from 'kysely';
import { z } from 'zod';
import type { Executor } from '../db/index.js';
import type { Database, UsageRecord } from '../db/schema.js';
import { AppError } from '../errors.js';

/** A time given as ISO 8601 or epoch milliseconds. */
export const TimeParam = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'a time as ISO 8601 (2026-11-22T10:00:00Z) or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});

export const UsageFilter = z.object({
  from: TimeParam.optional(),
  to: TimeParam.optional(),
  user_id: z.coerce.number().int().positive().optional(),
  key_id: z.coerce.number().int().positive().optional(),
  model: z.string().max(191).optional(),
  channel_id: z.coerce.number().int().positive().optional(),
  /** An exact code (402), a class (`4xx`), or `error` (anything ≥ 400). */
  status: z
    .string()
    .regex(/^(\d{3}|[1-5]xx|error|ok)$/, 'an HTTP status (200), a class (4xx), "ok" or "error"')
    .optional(),
  request_id: z.string().max(64).optional(),
  stream: z.enum(['true', 'false']).optional(),
});
export type UsageFilter = z.output<typeof UsageFilter>;

export const UsageListQuery = UsageFilter.extend({
  page: z.coerce.number().int().min(1).default(1),
  page_size: z.coerce.number().int().min(1).max(500).default(20),
  sort: z.enum(['created_at', 'latency_ms', 'charged_micros', 'cost_micros', 'prompt_tokens', 'completion_tokens']).default('created_at'),
  order: z.enum(['asc', 'desc']).default('desc'),
});
export type UsageListQuery = z.output<typeof UsageListQuery>;

type UsageQB = SelectQueryBuilder<Database, 'usage_records', object>;

export function applyUsageFilter(q: UsageQB, f: UsageFilter): UsageQB {
  if (f.from !== undefined) q = q.where('usage_records.created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('usage_records.created_at', '<', f.to);
  if (f.from !== undefined && f.to !== undefined && f.to <= f.from) {
    throw new AppError('validation_failed', 'to: must be after from', { path: 'to' });
  }
  if (f.user_id !== undefined) q = q.where('usage_records.user_id', '=', f.user_id);
  if (f.key_id !== undefined) q = q.where('usage_records.key_id', '=', f.key_id);
  if (f.model) q = q.where('usage_records.model', '=', f.model);
  if (f.channel_id !== undefined) q = q.where('usage_records.channel_id', '=', f.channel_id);
  if (f.request_id) q = q.where('usage_records.request_id', '=', f.request_id);
  if (f.stream) q = q.where('usage_records.stream', '=', f.stream === 'true' ? 1 : 0);
  if (f.status) {
    if (f.status === 'error') q = q.where('usage_records.status_code', '>=', 400);
    else if (f.status === 'ok') q = q.where('usage_records.status_code', '<', 400);
    else if (f.status.endsWith('xx')) {
      const c = Number(f.status[0]) * 100;
      q = q.where('usage_records.status_code', '>=', c).where('usage_records.status_code', '<', c + 100);
    } else q = q.where('usage_records.status_code', '=', Number(f.status));
  }
  return q;
}

export interface UsageView {
  id: number;
  request_id: string;
  created_at: string;
  user_id: number;
  user_email: string | null;
  key_id: number;
  key_name: string | null;
  endpoint: string;
  model: string;
  upstream_model: string | null;
  channel_id: number | null;
  channel_name: string | null;
  stream: boolean;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  /** Prompt tokens written to the upstream's cache (part of prompt_tokens). */
  cache_write_tokens: number;
  /** Completion tokens spent on reasoning (part of completion_tokens, billed as output). */
  reasoning_tokens: number;
  input_price_micros_per_1m: number;
  output_price_micros_per_1m: number;
  cached_input_price_micros_per_1m: number;
  cache_write_price_micros_per_1m: number | null;
  request_price_micros: number;
  multiplier_ppm: number;
  charged_micros: number;
  cost_micros: number;
  margin_micros: number;
  arrears_micros: number;
  status_code: number;
  error_code: string | null;
  error_message: string | null;
  latency_ms: number;
  ttfb_ms: number | null;
  attempts: number;
  usage_source: string;
  client_ip: string | null;
}

export type UsageRow = UsageRecord & { user_email: string | null; key_name: string | null; channel_name: string | null };

export function usageView(r: UsageRow): UsageView {
  return {
    id: r.id,
    request_id: r.request_id,
    created_at: new Date(r.created_at).toISOString(),
    user_id: r.user_id,
    user_email: r.user_email,
    key_id: r.key_id,
    key_name: r.key_name,
    endpoint: r.endpoint,
    model: r.model,
    upstream_model: r.upstream_model,
    channel_id: r.channel_id,
    channel_name: r.channel_name,
    stream: r.stream === 1,
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    cached_tokens: r.cached_tokens,
    cache_write_tokens: r.cache_write_tokens,
    reasoning_tokens: r.reasoning_tokens,
    input_price_micros_per_1m: r.input_price,
    output_price_micros_per_1m: r.output_price,
    cached_input_price_micros_per_1m: r.cached_input_price,
    cache_write_price_micros_per_1m: r.cache_write_price,
    request_price_micros: r.request_price,
    multiplier_ppm: r.multiplier_ppm,
    charged_micros: r.charged_micros,
    cost_micros: r.cost_micros,
    margin_micros: r.charged_micros - r.cost_micros,
    arrears_micros: r.arrears_micros,
    status_code: r.status_code,
    error_code: r.error_code,
    error_message: r.error_message,
    latency_ms: r.latency_ms,
    ttfb_ms: r.ttfb_ms,
    attempts: r.attempts,
    usage_source: r.usage_source,
    client_ip: r.client_ip,
  };
}

/** What the upstream cost, the margin, and which channel served a call: for operators only (a zod `omit` mask). */
export const OPERATOR_ONLY_FIELDS = { cost_micros: true, margin_micros: true, channel_id: true, channel_name: true, upstream_model: true } as const;
export type ConsoleUsageView = Omit<UsageView, keyof typeof OPERATOR_ONLY_FIELDS>;

/** A usage record as its owner sees it in the portal. */
export function consoleUsageView(v: UsageView): ConsoleUsageView {
  const { cost_micros: _c, margin_micros: _m, channel_id: _ci, channel_name: _cn, upstream_model: _u, ...own } = v;
  return own;
}

/** Usage records joined with the names an operator reads (user email, key name, channel name). */
export function usageWithNames(ex: Executor) {
  return ex
    .selectFrom('usage_records')
    .leftJoin('users', 'users.id', 'usage_records.user_id')
    .leftJoin('api_keys', 'api_keys.id', 'usage_records.key_id')
    .leftJoin('channels', 'channels.id', 'usage_records.channel_id')
    .selectAll('usage_records')
    .select(['users.email as user_email', 'api_keys.name as key_name', 'channels.name as channel_name']);
}

/**
 * Lists count at most this many matching records: an exact count(*) over a million rows costs
 * more than the page itself, and nobody pages that far (narrow the filter, or ask /usage/totals
 * for the exact number of calls). Past the cap, `total` is the cap and `total_exact` is false.
 */
export const USAGE_COUNT_CAP = 10_000;

/** One page of usage records, newest first by default, with the names an operator reads. */
export async function listUsage(ex: Executor, q: UsageListQuery) {
  const cap = USAGE_COUNT_CAP;
  const filtered = applyUsageFilter(ex.selectFrom('usage_records'), q);
  const counted = await ex
    .selectFrom(filtered.select(sql<number>`1`.as('one')).limit(cap + 1).as('capped'))
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  const n = Number(counted?.n ?? 0);
  const page = await filtered
    .select('usage_records.id')
    .orderBy(`usage_records.${q.sort}`, q.order)
    .orderBy('usage_records.id', q.order)
    .limit(q.page_size)
    .offset((q.page - 1) * q.page_size)
    .execute();
  const ids = page.map((r) => r.id);
  const rows = ids.length === 0 ? [] : await usageWithNames(ex).where('usage_records.id', 'in', ids).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  return {
    items: ids.map((id) => usageView(byId.get(id) as UsageRow)),
    total: Math.min(n, cap),
    total_exact: n <= cap,
    page: q.page,
    page_size: q.page_size,
  };
}

/** Totals over the filtered set: calls (and how many failed or were refused: status ≥ 400), tokens, money. */
export async function usageTotals(ex: Executor, f: UsageFilter) {
  const r = await applyUsageFilter(ex.selectFrom('usage_records'), f)
    .select([
      (eb) => eb.fn.countAll().as('calls'),
      sql<number>`coalesce(sum(case when usage_records.status_code >= 400 then 1 else 0 end), 0)`.as('failed_calls'),
      sql<number>`coalesce(sum(usage_records.prompt_tokens), 0)`.as('prompt_tokens'),
      sql<number>`coalesce(sum(usage_records.completion_tokens), 0)`.as('completion_tokens'),
      sql<number>`coalesce(sum(usage_records.charged_micros), 0)`.as('charged_micros'),
      sql<number>`coalesce(sum(usage_records.cost_micros), 0)`.as('cost_micros'),
    ])
    .executeTakeFirst();
  return {
    calls: Number(r?.calls ?? 0),
    failed_calls: Number(r?.failed_calls ?? 0),
    prompt_tokens: Number(r?.prompt_tokens ?? 0),
    completion_tokens: Number(r?.completion_tokens ?? 0),
    charged_micros: Number(r?.charged_micros ?? 0),
    cost_micros: Number(r?.cost_micros ?? 0),
  };
}
