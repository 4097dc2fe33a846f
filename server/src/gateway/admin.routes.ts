import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { actorOf } from '../http/session.js';
import { IdParam } from '../http/pagination.js';
import { AppError } from '../errors.js';
import { CHANNEL_STATUSES, channelView, ChannelBody, ChannelPatchBody, TEST_ERROR_CODES, type TestErrorCode } from './channels.js';

export const ChannelViewSchema = z.object({
  id: z.number(),
  name: z.string(),
  type: z.string(),
  base_url: z.string(),
  key_hint: z.string().describe('last 4 characters only; the key is never shown again'),
  models: z.array(z.string()),
  model_mapping: z.record(z.string(), z.string()),
  groups: z.array(z.string()),
  priority: z.number(),
  weight: z.number(),
  status: z.string(),
  status_reason: z.string().nullable(),
  status_changed_at: z.string().nullable(),
  test_model: z.string().nullable(),
  last_test_at: z.string().nullable(),
  last_test_ok: z.boolean().nullable(),
  last_test_ms: z.number().nullable(),
  last_test_error: z.string().nullable().describe("the server's detail of the last failed test, in English"),
  last_test_error_code: z.enum(TEST_ERROR_CODES).nullable().describe('what went wrong as a stable code (the console translates it); null when the last test passed'),
  cost_ratio: z.string(),
  remark: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

const ChannelHealthSchema = z.object({
  calls_1h: z.number().describe('upstream attempts through this channel in the last hour, in every process (failed-over attempts included)'),
  errors_1h: z.number(),
  error_rate_1h: z.number().nullable().describe('errors_1h / calls_1h (0..1); null without calls'),
  last_error: z.string().nullable().describe('the last failure seen (within 7 days)'),
  last_error_at: z.string().nullable(),
});

const NO_TRAFFIC = { calls_1h: 0, errors_1h: 0, error_rate_1h: null, last_error: null, last_error_at: null };

/** /api/admin/channels: upstream channels and their health. */
export async function channelAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: channels'];

  r.get('/channels', {

    config: { permission: 'channel:view' },
    schema: {
      tags,
      summary: 'List channels (highest priority first)',
      querystring: z.object({ status: z.enum(CHANNEL_STATUSES).optional(), q: z.string().max(200).optional(), group: z.string().optional() }),
      response: { 200: z.object({ items: z.array(ChannelViewSchema.extend({ health: ChannelHealthSchema })) }) },
    },
    handler: async (req) => {
      const [items, stats] = await Promise.all([ctx.health.list(req.query), ctx.channelStats.summary()]);
      return { items: items.map((c) => ({ ...c, health: stats.get(c.id) ?? NO_TRAFFIC })) };
    },
  });

  r.post('/channels/test-all', {
    config: { permission: 'channel:edit' },
    schema: {
      tags,
      summary: 'Run the health check of every enabled or auto-disabled channel now',
      description: 'Four at a time; a channel that cannot be tested (only wildcard models, no test model) is reported, not skipped.',
      response: { 200: z.object({ items: z.array(z.object({ id: z.number(), name: z.string(), ok: z.boolean(), status: z.number().nullable(), ms: z.number(), error: z.string().nullable(), error_code: z.enum(TEST_ERROR_CODES).nullable() })) }) },
    },
    handler: async () => {
      const channels = (await ctx.health.list()).filter((c) => c.status === 'enabled' || c.status === 'auto_disabled');
      const items: { id: number; name: string; ok: boolean; status: number | null; ms: number; error: string | null; error_code: TestErrorCode | null }[] = [];
      let next = 0;
      const worker = async () => {
        while (next < channels.length) {
          const c = channels[next++]!;
          try {
            const t = await ctx.health.test(c.id);
            items.push({ id: c.id, name: c.name, ok: t.ok, status: t.status, ms: t.ms, error: t.error, error_code: t.error_code });
          } catch (err) {
            const untestable = err instanceof AppError && err.path === 'test_model';
            items.push({ id: c.id, name: c.name, ok: false, status: null, ms: 0, error: (err as Error).message, error_code: untestable ? 'channel_no_test_model' : 'upstream_error' });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, channels.length) }, worker));
      return { items: items.sort((a, b) => a.id - b.id) };
    },
  });

  r.post('/channels', {

    config: { permission: 'channel:create' },
    schema: { tags, summary: 'Add a channel', body: ChannelBody, response: { 201: ChannelViewSchema } },
    handler: async (req, reply) => reply.code(201).send(await ctx.health.create(req.body, actorOf(req))),
  });

  r.get('/channels/:id', {

    config: { permission: 'channel:view' },
    schema: { tags, summary: 'Get a channel', params: IdParam, response: { 200: ChannelViewSchema } },
    handler: async (req) => channelView(await ctx.health.get(req.params.id), ctx.box),
  });

  r.patch('/channels/:id', {

    config: { permission: 'channel:edit' },
    schema: { tags, summary: 'Edit, enable or disable a channel (omit key to keep it)', params: IdParam, body: ChannelPatchBody, response: { 200: ChannelViewSchema } },
    handler: async (req) => ctx.health.update(req.params.id, req.body, actorOf(req)),
  });

  r.delete('/channels/:id', {

    config: { permission: 'channel:disable' },
    schema: { tags, summary: 'Delete a channel', params: IdParam, response: { 204: z.null() } },
    handler: async (req, reply) => {
      await ctx.health.remove(req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  });

  r.post('/channels/:id/test', {

    config: { permission: 'channel:edit' },
    schema: {
      tags,
      summary: 'Run the health check now (a one-token chat completion)',
      params: IdParam,
      response: { 200: z.object({ ok: z.boolean(), status: z.number().nullable(), ms: z.number(), model: z.string(), error: z.string().nullable(), error_code: z.enum(TEST_ERROR_CODES).nullable(), channel: ChannelViewSchema }) },
    },
    handler: async (req) => {
      const result = await ctx.health.test(req.params.id);
      return { ...result, channel: channelView(await ctx.health.get(req.params.id), ctx.box) };
    },
  });
}
