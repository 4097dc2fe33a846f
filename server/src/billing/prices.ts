import { z } from 'zod';
import { inTransaction, type Db } from '../db/index.js';
import type { ModelPrice } from '../db/schema.js';
import { AppError } from '../errors.js';
import { formatMicros, parseMicros } from '../lib/money.js';
import { parseOr } from '../lib/validate.js';
import type { ChangeFeed } from '../live/changes.js';
import { audit, type Actor } from '../audit/index.js';
import { GroupNameSchema } from '../accounts/users.js';
import { formatPpm, parsePpm } from './pricing.js';

/** Decimal USD as a string or number, exact to the micro-dollar, never negative. */
const Usd = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    const m = parseMicros(v, 'price');
    if (m < 0) throw new RangeError('price cannot be negative');
    return m;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

export const PriceInput = z.object({
  /** USD per 1M input (prompt) tokens */
  input: Usd,
  /** USD per 1M output (completion) tokens */
  output: Usd,
  /** USD per 1M cached input tokens; omit or null for "same as input" */
  cached_input: Usd.nullable().optional(),
  /** USD per 1M prompt tokens written to the upstream's prompt cache (Anthropic's cache writes); omit or null for "same as input" */
  cache_write: Usd.nullable().optional(),
  /** USD per call, on top of tokens */
  per_request: Usd.optional(),
});
export type PriceInput = z.input<typeof PriceInput>;

export const ModelNameSchema = z.string().trim().min(1).max(191).regex(/^[^\s,*]+$/, 'a model name without spaces, commas or *');

export interface PriceView {
  model: string;
  input_micros_per_1m: number;
  output_micros_per_1m: number;
  cached_input_micros_per_1m: number | null;
  cache_write_micros_per_1m: number | null;
  request_micros: number;
  /** The same prices as decimal USD strings, for people. */
  input_usd_per_1m: string;
  output_usd_per_1m: string;
  cached_input_usd_per_1m: string | null;
  cache_write_usd_per_1m: string | null;
  input_usd_per_1k: string;
  output_usd_per_1k: string;
  per_request_usd: string;
  updated_at: string;
}

/** Per-1K price from a per-1M price in micros, shown with enough places to stay exact. */
function per1k(microsPer1m: number): string {
  const nanoPer1k = BigInt(microsPer1m); // micro-USD per 1M tokens == nano-USD per 1K tokens
  const whole = nanoPer1k / 1_000_000_000n;
  const frac = (nanoPer1k % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

export function priceView(p: ModelPrice): PriceView {
  return {
    model: p.model,
    input_micros_per_1m: p.input_price,
    output_micros_per_1m: p.output_price,
    cached_input_micros_per_1m: p.cached_input_price,
    cache_write_micros_per_1m: p.cache_write_price,
    request_micros: p.request_price,
    input_usd_per_1m: formatMicros(p.input_price),
    output_usd_per_1m: formatMicros(p.output_price),
    cached_input_usd_per_1m: p.cached_input_price === null ? null : formatMicros(p.cached_input_price),
    cache_write_usd_per_1m: p.cache_write_price === null ? null : formatMicros(p.cache_write_price),
    input_usd_per_1k: per1k(p.input_price),
    output_usd_per_1k: per1k(p.output_price),
    per_request_usd: formatMicros(p.request_price),
    updated_at: new Date(p.updated_at).toISOString(),
  };
}

export async function listPrices(db: Db, q?: string): Promise<PriceView[]> {
  let sel = db.kysely.selectFrom('model_prices').selectAll();
  if (q) sel = sel.where('model', 'like', `%${q}%`);
  return (await sel.orderBy('model').execute()).map(priceView);
}

/** Create or replace a model's price; the gateway uses it from the next poll on, without restart. */
export async function setPrice(db: Db, feed: ChangeFeed, model: string, input: PriceInput, actor: Actor): Promise<PriceView> {
  const name = parseOr(ModelNameSchema, model, 'model');
  const v = parseOr(PriceInput, input, 'price');
  const now = Date.now();
  const row = await inTransaction(db, async (trx) => {
    const before = await trx.selectFrom('model_prices').selectAll().where('model', '=', name).executeTakeFirst();
    const values = {
      input_price: v.input,
      output_price: v.output,
      cached_input_price: v.cached_input ?? null,
      cache_write_price: v.cache_write ?? null,
      request_price: v.per_request ?? 0,
      updated_at: now,
    };
    if (before) await trx.updateTable('model_prices').set(values).where('model', '=', name).execute();
    else await trx.insertInto('model_prices').values({ model: name, ...values, created_at: now }).execute();
    const after = await trx.selectFrom('model_prices').selectAll().where('model', '=', name).executeTakeFirstOrThrow();
    await audit(trx, actor, before ? 'price.update' : 'price.create', { type: 'model', id: name }, before ? priceView(before) : null, priceView(after));
    await feed.record(trx, 'price', name);
    return after;
  });
  await feed.publish();
  return priceView(row);
}

export async function deletePrice(db: Db, feed: ChangeFeed, model: string, actor: Actor): Promise<void> {
  await inTransaction(db, async (trx) => {
    const before = await trx.selectFrom('model_prices').selectAll().where('model', '=', model).executeTakeFirst();
    if (!before) throw new AppError('not_found', `no price for model ${model}`);
    await trx.deleteFrom('model_prices').where('model', '=', model).execute();
    await audit(trx, actor, 'price.delete', { type: 'model', id: model }, priceView(before), null);
    await feed.record(trx, 'price', model);
  });
  await feed.publish();
}

export interface GroupView {
  name: string;
  multiplier: string;
  multiplier_ppm: number;
  description: string | null;
}

export async function listGroups(db: Db): Promise<GroupView[]> {
  const rows = await db.kysely.selectFrom('groups').selectAll().orderBy('name').execute();
  return rows.map((g) => ({ name: g.name, multiplier: formatPpm(g.multiplier_ppm), multiplier_ppm: g.multiplier_ppm, description: g.description }));
}

export async function setGroup(
  db: Db,
  feed: ChangeFeed,
  name: string,
  input: { multiplier: string | number; description?: string | null | undefined },
  actor: Actor,
): Promise<GroupView> {
  const g = parseOr(GroupNameSchema, name, 'name');
  let ppm: number;
  try {
    ppm = parsePpm(input.multiplier, 'multiplier');
  } catch (e) {
    throw new AppError('validation_failed', (e as Error).message, { path: 'multiplier' });
  }
  const now = Date.now();
  await inTransaction(db, async (trx) => {
    const before = await trx.selectFrom('groups').selectAll().where('name', '=', g).executeTakeFirst();
    if (before) {
      await trx
        .updateTable('groups')
        .set({ multiplier_ppm: ppm, ...(input.description !== undefined ? { description: input.description } : {}), updated_at: now })
        .where('name', '=', g)
        .execute();
    } else {
      await trx.insertInto('groups').values({ name: g, multiplier_ppm: ppm, description: input.description ?? null, created_at: now, updated_at: now }).execute();
    }
    const after = await trx.selectFrom('groups').selectAll().where('name', '=', g).executeTakeFirstOrThrow();
    const view = (x: typeof after) => ({ multiplier_ppm: x.multiplier_ppm, description: x.description });
    await audit(trx, actor, before ? 'group.update' : 'group.create', { type: 'group', id: g }, before ? view(before) : null, view(after));
    await feed.record(trx, 'group', g);
  });
  await feed.publish();
  return (await listGroups(db)).find((x) => x.name === g)!;
}
