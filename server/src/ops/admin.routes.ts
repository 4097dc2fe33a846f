import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { pageOf } from '../http/pagination.js';
import { listUsage, UsageListQuery, usageTotals } from './usage.js';

export const UsageViewSchema = z.object({
  id: z.number(),
  request_id: z.string(),
  created_at: z.string(),
  user_id: z.number(),
  user_email: z.string().nullable(),
  key_id: z.number(),
  key_name: z.string().nullable(),
  endpoint: z.string(),
  model: z.string(),
  upstream_model: z.string().nullable(),
  channel_id: z.number().nullable(),
  channel_name: z.string().nullable(),
  stream: z.boolean(),
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  cached_tokens: z.number(),
  cache_write_tokens: z.number(),
  reasoning_tokens: z.number(),
  input_price_micros_per_1m: z.number(),
  output_price_micros_per_1m: z.number(),
  cached_input_price_micros_per_1m: z.number(),
  cache_write_price_micros_per_1m: z.number().nullable(),
  request_price_micros: z.number(),
  multiplier_ppm: z.number(),
  charged_micros: z.number(),
  cost_micros: z.number(),
  margin_micros: z.number(),
  arrears_micros: z.number(),
  status_code: z.number(),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  latency_ms: z.number(),
  ttfb_ms: z.number().nullable(),
  attempts: z.number(),
  usage_source: z.string(),
  client_ip: z.string().nullable(),
});

export const UsageTotalsSchema = z.object({
  calls: z.number(),
  failed_calls: z.number().describe('calls that failed or were refused (status ≥ 400)'),
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  charged_micros: z.number(),
  cost_micros: z.number(),
});

/** /api/admin/usage: every metered call, filterable. */
export async function usageAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: usage'];

  r.get('/usage', {

    config: { permission: 'bill:view' },
    schema: {
      tags,
      summary: 'Usage records with filters, sorting and pagination',
      description: '`total` counts at most 10 000 records; `total_exact` is false when there are more (ask /usage/totals for the exact number of calls).',
      querystring: UsageListQuery,
      response: { 200: pageOf(UsageViewSchema).extend({ total_exact: z.boolean() }) },
    },
    handler: async (req) => listUsage(ctx.db.kysely, req.query),
  });

  r.get('/usage/totals', {

    config: { permission: 'bill:view' },
    schema: { tags, summary: 'Totals over the filtered usage records', querystring: UsageListQuery.omit({ page: true, page_size: true, sort: true, order: true }), response: { 200: UsageTotalsSchema } },
    handler: async (req) => usageTotals(ctx.db.kysely, req.query),
  });

  r.get('/usage/:request_id', {

    config: { permission: 'bill:view' },
    schema: { tags, summary: 'One usage record by request id', params: z.object({ request_id: z.string().max(64) }), response: { 200: UsageViewSchema } },
    handler: async (req) => {
      const page = await listUsage(ctx.db.kysely, { request_id: req.params.request_id, page: 1, page_size: 1, sort: 'created_at', order: 'desc' });
      const item = page.items[0];
      if (!item) throw new AppError('not_found', `no usage record for request ${req.params.request_id}`);
      return item;
    },
  });
}
