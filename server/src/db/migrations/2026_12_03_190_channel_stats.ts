import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Channel health over time (issue 7): every upstream
 * attempt, including those that failed over to another channel and so never reached a usage
 * record, counted per channel and minute. Each process adds its counts (an additive upsert), so
 * the rows are the sum over all processes. `last_error` is the last failure seen in that minute.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const name = db.getExecutor().adapter.constructor.name;
  let t = db.schema
    .createTable('channel_minute_stats')
    .addColumn('channel_id', 'bigint', (c) => c.notNull())
    .addColumn('minute', 'bigint', (c) => c.notNull())
    .addColumn('ok_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'bigint')
    .addPrimaryKeyConstraint('channel_minute_stats_pk', ['channel_id', 'minute']);
  if (name.includes('Mysql')) t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
  await t.execute();
  await db.schema.createIndex('channel_minute_stats_minute_idx').on('channel_minute_stats').column('minute').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('channel_minute_stats').execute();
}
