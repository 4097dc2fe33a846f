import type { Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Protocols (issue 9):
 *  - channels.options: JSON of per-channel switches for what a strict upstream rejects
 *    (`{"stream_usage": false}` stops asking for usage in streams); null = defaults;
 *  - model_prices.cache_write_price: micro-USD per 1M prompt tokens written to the upstream's
 *    prompt cache (Anthropic charges them above input); null = the input price;
 *  - usage_records: cache-write and reasoning token counts, and the cache-write price applied.
 * Added columns are nullable or have a default, so the statements are the same on all three databases.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('channels').addColumn('options', 'text').execute();
  await db.schema.alterTable('model_prices').addColumn('cache_write_price', 'bigint').execute();
  await db.schema.alterTable('usage_records').addColumn('cache_write_tokens', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('usage_records').addColumn('reasoning_tokens', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('usage_records').addColumn('cache_write_price', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('usage_records').dropColumn('cache_write_price').execute();
  await db.schema.alterTable('usage_records').dropColumn('reasoning_tokens').execute();
  await db.schema.alterTable('usage_records').dropColumn('cache_write_tokens').execute();
  await db.schema.alterTable('model_prices').dropColumn('cache_write_price').execute();
  await db.schema.alterTable('channels').dropColumn('options').execute();
}
