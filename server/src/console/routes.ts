import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { keyInputFrom, KeyInputSchema, KeyViewSchema, RotateBody, RotatedKeySchema, UserViewSchema } from '../accounts/admin.routes.js';
import { createKey, KEY_STATUSES, keyView, listKeys, revokeKey, rotateKey, updateKey } from '../accounts/keys.js';
import { IdParam, PageQuery, pageOf } from '../http/pagination.js';
import { audit } from '../audit/index.js';
import { actorOf, requireUser } from '../http/session.js';
import { TzOffsetParam } from '../ops/buckets.js';
import { CONSOLE_USAGE_COLUMNS, CSV_DESCRIPTION, CsvFormatQuery, exportRowsCounter, sendCsv, usageCsvStream } from '../ops/export.js';
import { UsageTotalsSchema, UsageViewSchema } from '../ops/admin.routes.js';
import { consoleUsageView, listUsage, OPERATOR_ONLY_FIELDS, UsageFilter, UsageListQuery, usageTotals } from '../ops/usage.js';
import { defaultChatModel, healthyChannels, modelOffers } from './models.js';
import { userOverview } from './overview.js';

const Sums = z.object({ calls: z.number().int(), prompt_tokens: z.number().int(), completion_tokens: z.number().int(), charged_micros: z.number().int() });

export const OverviewSchema = z.object({
  user: z.object({ id: z.number(), email: z.string(), name: z.string(), role: z.string(), group: z.string() }),
  wallet: UserViewSchema.pick({
    wallet_id: true, currency: true, balance_micros: true, pending_micros: true, available_micros: true, cash_micros: true, gift_micros: true,
    plan_micros: true, credit_limit_micros: true, credit_used_micros: true, arrears_micros: true,
  }),
  base_url: z.string().describe('where to send OpenAI-compatible calls, e.g. https://relay.example.com/v1'),
  today: Sums,
  month: Sums.describe('this calendar month in the caller\'s timezone'),
  series: z.array(Sums.extend({ date: z.string().describe('YYYY-MM-DD, local') })).describe('the last 30 days including today, oldest first, zero-filled'),
});

export const ModelOfferSchema = z.object({
  model: z.string(),
  input_usd_per_1m: z.string(),
  output_usd_per_1m: z.string(),
  cached_input_usd_per_1m: z.string(),
  per_request_usd: z.string(),
  input_usd_per_1k: z.string(),
  output_usd_per_1k: z.string(),
  multiplier: z.string().describe("the user's group multiplier, already applied to the prices"),
  kind: z.enum(['chat', 'embedding']),
  available: z.boolean().describe('served by at least one channel that looks healthy right now'),
});

/** What a user may set on their own keys: everything an operator may, except the group (which sets prices). */
const OwnKeyInput = KeyInputSchema.omit({ group: true });
const OwnKeyCreate = OwnKeyInput.extend({ name: z.string().trim().min(1).max(100) }).strict();
const OwnKeyPatch = OwnKeyInput.extend({ status: z.enum(['active', 'disabled']).optional() }).strict();

export const ConsoleUsageViewSchema = UsageViewSchema.omit(OPERATOR_ONLY_FIELDS);
export const ConsoleUsageFilter = UsageFilter.omit({ user_id: true, channel_id: true });
export const ConsoleUsageListQuery = UsageListQuery.omit({ user_id: true, channel_id: true }).extend({
  sort: UsageListQuery.shape.sort.unwrap().exclude(['cost_micros']).default('created_at'),
});

/** The signed-in user's id: every query below is scoped to it. */
const me = (req: FastifyRequest) => req.sessionUser!.id;

/** The public address of the gateway: PUBLIC_URL, or the origin this request came to. */
function gatewayUrl(ctx: AppContext, req: FastifyRequest): string {
  const origin = ctx.config.publicUrl ?? `${req.protocol}://${req.host}`;
  return origin.replace(/\/+$/, '') + '/v1';
}

/** /api/console: the user portal. Any signed-in user; everything is theirs only. */
export async function consoleRoutes(app: FastifyInstance, ctx: AppContext) {
  app.addHook('preHandler', requireUser(ctx));
  const r = app.withTypeProvider<ZodTypeProvider>();
  const exported = exportRowsCounter(ctx.metrics.registry);

  r.get('/overview', {
    schema: {
      tags: ['console'],
      summary: 'Account, balance, gateway address, and usage today, this month and over the last 30 days',
      querystring: z.object({ tz_offset_minutes: TzOffsetParam }),
      response: { 200: OverviewSchema },
    },
    handler: async (req) => userOverview(ctx.db, me(req), gatewayUrl(ctx, req), req.query.tz_offset_minutes),
  });

  const keyTags = ['console: keys'];
  r.get('/keys', {
    schema: {
      tags: keyTags,
      summary: 'My API keys (never the key itself)',
      querystring: PageQuery.extend({ q: z.string().max(200).optional().describe('name or prefix'), status: z.enum(KEY_STATUSES).optional() }),
      response: { 200: pageOf(KeyViewSchema) },
    },
    handler: async (req) => {
      const page = await listKeys(ctx.db.kysely, { userId: me(req), status: req.query.status, q: req.query.q, page: req.query.page, pageSize: req.query.page_size });
      return { ...page, items: page.items.map(({ owner_email: _o, ...k }) => k) };
    },
  });

  r.post('/keys', {
    schema: {
      tags: keyTags,
      summary: 'Create a key; the response is the only time the key is shown',
      body: OwnKeyCreate,
      response: { 201: KeyViewSchema.extend({ key: z.string() }) },
    },
    handler: async (req, reply) => {
      const { key, view } = await createKey(ctx.db, ctx.feed, me(req), keyInputFrom(req.body), actorOf(req));
      return reply.code(201).send({ ...view, key });
    },
  });

  r.patch('/keys/:id', {
    schema: { tags: keyTags, summary: 'Edit, disable or enable one of my keys', params: IdParam, body: OwnKeyPatch, response: { 200: KeyViewSchema } },
    handler: async (req) => {
      const { after } = await updateKey(ctx.db, ctx.feed, req.params.id, { ...keyInputFrom(req.body), status: req.body.status }, me(req), actorOf(req));
      return keyView(after);
    },
  });

  r.post('/keys/:id/rotate', {
    schema: {
      tags: keyTags,
      summary: 'Rotate one of my keys: a new secret (shown once); the previous one works for grace_seconds, then 401 key_rotated',
      description: 'A locked key is unlocked by its rotation; its leaked secret gets no grace.',
      params: IdParam,
      body: RotateBody,
      response: { 200: RotatedKeySchema },
    },
    handler: async (req) => {
      const { key, view, graceSeconds } = await rotateKey(ctx.db, ctx.feed, req.params.id, req.body.grace_seconds, actorOf(req), { ownerId: me(req) });
      return { ...view, key, grace_seconds: graceSeconds };
    },
  });

  r.delete('/keys/:id', {
    schema: { tags: keyTags, summary: 'Delete one of my keys (revoked everywhere within seconds)', params: IdParam, response: { 204: z.null() } },
    handler: async (req, reply) => {
      await revokeKey(ctx.db, ctx.feed, req.params.id, { delete: true, ownerId: me(req), actor: actorOf(req) });
      return reply.code(204).send(null);
    },
  });

  const usageTags = ['console: usage'];
  r.get('/usage', {
    schema: {
      tags: usageTags,
      summary: 'My calls, with filters, sorting and pagination',
      description: '`total` counts at most 10 000 records; `total_exact` is false when there are more.',
      querystring: ConsoleUsageListQuery,
      response: { 200: pageOf(ConsoleUsageViewSchema).extend({ total_exact: z.boolean() }) },
    },
    handler: async (req) => {
      const page = await listUsage(ctx.db.kysely, { ...req.query, user_id: me(req) });
      return { ...page, items: page.items.map(consoleUsageView) };
    },
  });

  r.get('/usage/totals', {
    schema: { tags: usageTags, summary: 'Totals over my filtered calls', querystring: ConsoleUsageFilter, response: { 200: UsageTotalsSchema.omit({ cost_micros: true }) } },
    handler: async (req) => {
      const { cost_micros: _c, ...own } = await usageTotals(ctx.db.kysely, { ...req.query, user_id: me(req) });
      return own;
    },
  });

  r.get('/usage/export.csv', {
    schema: {
      tags: usageTags,
      summary: 'Export my calls as CSV (same filters as GET /usage), streamed',
      description: CSV_DESCRIPTION,
      querystring: ConsoleUsageFilter.extend(CsvFormatQuery.shape),
      produces: ['text/csv'],
      response: { 200: z.string().describe(CSV_DESCRIPTION) },
    },
    handler: async (req, reply) => {
      const { tz, lang, ...filter } = req.query;
      const stream = usageCsvStream(ctx.db.kysely, { ...filter, user_id: me(req) }, CONSOLE_USAGE_COLUMNS, {
        format: { tz, lang },
        onPage: (n) => exported.inc({ scope: 'console' }, n),
      });
      await audit(ctx.db.kysely, actorOf(req), 'usage.export', { type: 'usage', id: null }, null, { filter: { ...filter, user_id: me(req) }, format: 'csv' });
      return sendCsv(reply, stream, 'usage', tz);
    },
  });

  r.get('/models', {
    schema: {
      tags: ['console'],
      summary: 'Models I can call, with the prices I pay',
      response: {
        200: z.object({
          items: z.array(ModelOfferSchema),
          default_model: z.string().nullable().describe('the chat model to try first: the one I used last, else one a healthy channel serves'),
        }),
      },
    },
    handler: async (req) => {
      const u = await ctx.db.kysely.selectFrom('users').select('group_name').where('id', '=', me(req)).executeTakeFirstOrThrow();
      const items = modelOffers(ctx.catalog, u.group_name, await healthyChannels(ctx.db.kysely, ctx.catalog, ctx.cooldowns));
      return { items, default_model: await defaultChatModel(ctx.db.kysely, me(req), items) };
    },
  });
}
