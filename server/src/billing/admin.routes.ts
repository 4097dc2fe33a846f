import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { actorOf } from '../http/session.js';
import { deletePrice, listGroups, listPrices, setGroup, setPrice } from './prices.js';

const UsdPrice = z.union([z.string(), z.number()]);

export const PriceViewSchema = z.object({
  model: z.string(),
  input_micros_per_1m: z.number(),
  output_micros_per_1m: z.number(),
  cached_input_micros_per_1m: z.number().nullable(),
  cache_write_micros_per_1m: z.number().nullable(),
  request_micros: z.number(),
  input_usd_per_1m: z.string(),
  output_usd_per_1m: z.string(),
  cached_input_usd_per_1m: z.string().nullable(),
  cache_write_usd_per_1m: z.string().nullable(),
  input_usd_per_1k: z.string(),
  output_usd_per_1k: z.string(),
  per_request_usd: z.string(),
  updated_at: z.string(),
});

export const GroupViewSchema = z.object({ name: z.string(), multiplier: z.string(), multiplier_ppm: z.number(), description: z.string().nullable() });

/** /api/admin: model prices and group multipliers (live for the gateway within a second). */
export async function billingAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: prices'];

  r.get('/prices', {

    config: { permission: 'price:view' },
    schema: { tags, summary: 'List model prices', querystring: z.object({ q: z.string().max(191).optional() }), response: { 200: z.object({ items: z.array(PriceViewSchema) }) } },
    handler: async (req) => ({ items: await listPrices(ctx.db, req.query.q) }),
  });

  r.put('/prices/:model', {

    config: { permission: 'price:edit' },
    schema: {
      tags,
      summary: 'Set a model price (USD per 1M tokens; per call for per_request)',
      params: z.object({ model: z.string() }),
      body: z.object({
        input: UsdPrice.describe('USD per 1M prompt tokens'),
        output: UsdPrice.describe('USD per 1M completion tokens'),
        cached_input: UsdPrice.nullable().optional().describe('USD per 1M prompt tokens read from the upstream cache; null = same as input'),
        cache_write: UsdPrice.nullable().optional().describe("USD per 1M prompt tokens written to the upstream cache (Anthropic's cache writes); null = same as input"),
        per_request: UsdPrice.optional().describe('USD per call'),
      }),
      response: { 200: PriceViewSchema },
    },
    handler: async (req) => setPrice(ctx.db, ctx.feed, req.params.model, req.body, actorOf(req)),
  });

  r.delete('/prices/:model', {

    config: { permission: 'price:disable' },
    schema: { tags, summary: 'Remove a model price (the model can no longer be called)', params: z.object({ model: z.string() }), response: { 204: z.null() } },
    handler: async (req, reply) => {
      await deletePrice(ctx.db, ctx.feed, req.params.model, actorOf(req));
      return reply.code(204).send(null);
    },
  });

  r.get('/groups', {

    config: { permission: 'price:view' },
    schema: { tags, summary: 'List groups and their price multipliers', response: { 200: z.object({ items: z.array(GroupViewSchema) }) } },
    handler: async () => ({ items: await listGroups(ctx.db) }),
  });

  r.put('/groups/:name', {

    config: { permission: 'price:edit' },
    schema: {
      tags,
      summary: 'Create or change a group (multiplier like "1.5")',
      params: z.object({ name: z.string() }),
      body: z.object({ multiplier: z.union([z.string(), z.number()]), description: z.string().max(500).nullable().optional() }),
      response: { 200: GroupViewSchema },
    },
    handler: async (req) => setGroup(ctx.db, ctx.feed, req.params.name, req.body, actorOf(req)),
  });
}
