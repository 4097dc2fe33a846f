import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Key rotation and leak lock (issue 8):
 *  - a rotation gives a key a new secret and keeps the previous one working until a deadline:
 *    prev_key_hash (SHA-256, unique, looked up like key_hash), prev_key_display (`sk-AbCd…wXyZ`),
 *    prev_key_expires_at (epoch ms; the previous secret is refused from then on), rotated_at;
 *  - a lock (status 'locked', a string column) records why, when and by whom: locked_reason,
 *    locked_at, locked_by (an email or 'cli').
 * All nullable, so the statements are the same on all three databases.
 */
function dialectOf(db: Kysely<any>): 'sqlite' | 'postgres' | 'mysql' {
  const name = db.getExecutor().adapter.constructor.name;
  return name.includes('Postgres') ? 'postgres' : name.includes('Mysql') ? 'mysql' : 'sqlite';
}

export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  const str = (n: number) => (d === 'sqlite' ? 'text' : sql.raw(`varchar(${n})`));
  await db.schema.alterTable('api_keys').addColumn('prev_key_hash', str(64)).execute();
  await db.schema.alterTable('api_keys').addColumn('prev_key_display', str(32)).execute();
  await db.schema.alterTable('api_keys').addColumn('prev_key_expires_at', 'bigint').execute();
  await db.schema.alterTable('api_keys').addColumn('rotated_at', 'bigint').execute();
  await db.schema.alterTable('api_keys').addColumn('locked_reason', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('locked_at', 'bigint').execute();
  await db.schema.alterTable('api_keys').addColumn('locked_by', 'text').execute();
  await db.schema.createIndex('api_keys_prev_hash_idx').on('api_keys').column('prev_key_hash').unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  let drop = db.schema.dropIndex('api_keys_prev_hash_idx');
  if (dialectOf(db) === 'mysql') drop = drop.on('api_keys');
  await drop.execute();
  for (const c of ['locked_by', 'locked_at', 'locked_reason', 'rotated_at', 'prev_key_expires_at', 'prev_key_display', 'prev_key_hash']) {
    await db.schema.alterTable('api_keys').dropColumn(c).execute();
  }
}
