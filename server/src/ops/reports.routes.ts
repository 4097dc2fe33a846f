import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { actorOf } from '../http/session.js';
import { audit } from '../audit/index.js';
import { dashboard, DashboardQuery, PERIODS } from './dashboard.js';
import { ADMIN_USAGE_COLUMNS, CSV_DESCRIPTION, CsvFormatQuery, exportRowsCounter, sendCsv, usageCsvStream } from './export.js';
import { UsageFilter } from './usage.js';

const Counts = {
  new_users: z.number().int().describe('users created in the period'),
  recharge_micros: z.number().int().describe('positive cash ledger entries of type topup or adjustment, micro-USD'),
  tokens: z.number().int().describe('prompt + completion tokens of usage records'),
  cost_micros: z.number().int().describe('upstream cost of usage records, micro-USD'),
  revenue_micros: z.number().int().describe('charged to users, micro-USD'),
  active_users: z.number().int().describe('distinct users with at least one usage record'),
  calls: z.number().int().describe('usage records (refused calls included)'),
  failed_calls: z.number().int().describe('usage records whose status is not 2xx'),
};
const Cards = z.object({ ...Counts, logins: z.number().int().describe('sessions created (sign-ins) in the period') });
const TopRow = z.object({ name: z.string(), calls: z.number().int(), tokens: z.number().int(), revenue_micros: z.number().int() });

export const DashboardSchema = z.object({
  period: z.enum(PERIODS),
  from: z.string().describe('start of the period (inclusive), ISO'),
  to: z.string().describe('end of the period (exclusive), ISO'),
  cards: Cards,
  trend: z.array(
    z.object({ bucket: z.string().describe("local time: 'YYYY-MM-DDTHH' (today), 'YYYY-MM-DD' (week, month), 'YYYY-MM' (year)"), ...Counts }),
  ),
  previous: z
    .object({ from: z.string(), to: z.string(), cards: Cards })
    .describe('the previous period up to the same point (today until now is compared with yesterday until the same time)'),
  top: z
    .object({ models: z.array(TopRow), channels: z.array(TopRow), users: z.array(TopRow) })
    .describe('the five models, channels and users (by email) with the most revenue in the period'),
});

/** /api/admin: the dashboard and usage exports. */
export async function reportsAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const exported = exportRowsCounter(ctx.metrics.registry);

  r.get('/dashboard', {

    config: { permission: 'report:view' },
    schema: {
      tags: ['admin: dashboard'],
      summary: 'Cards and a zero-filled trend for today (hourly), this week or month (daily) or this year (monthly)',
      description: 'Periods and buckets are in the caller\'s timezone (tz_offset_minutes, as the browser\'s getTimezoneOffset()). Weeks start on Monday.',
      querystring: DashboardQuery,
      response: { 200: DashboardSchema },
    },
    handler: async (req) => dashboard(ctx.db, req.query.period, req.query.tz_offset_minutes),
  });

  r.get('/usage/export.csv', {

    config: { permission: 'bill:export', reauth: true },
    schema: {
      tags: ['admin: usage'],
      summary: 'Export usage records as CSV (same filters as GET /usage), streamed',
      description: CSV_DESCRIPTION,
      querystring: UsageFilter.extend(CsvFormatQuery.shape),
      produces: ['text/csv'],
      response: { 200: z.string().describe(CSV_DESCRIPTION) },
    },
    handler: async (req, reply) => {
      const { tz, lang, ...filter } = req.query;
      const stream = usageCsvStream(ctx.db.kysely, filter, ADMIN_USAGE_COLUMNS, { format: { tz, lang }, onPage: (n) => exported.inc({ scope: 'admin' }, n) });
      await audit(ctx.db.kysely, actorOf(req), 'usage.export', { type: 'usage', id: null }, null, { filter, format: 'csv' });
      return sendCsv(reply, stream, 'usage', tz);
    },
  });
}
