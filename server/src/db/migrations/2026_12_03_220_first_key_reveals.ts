import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). The first `sk-` key of an account created by a GitHub
 * or Google sign-in, sealed (AES-GCM with the server secret) until the portal shows it once on the
 * first landing; the row is deleted when it is shown. One row per user at most.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const name = db.getExecutor().adapter.constructor.name;
  const d = name.includes('Postgres') ? 'postgres' : name.includes('Mysql') ? 'mysql' : 'sqlite';
  let t = db.schema.createTable('first_key_reveals');
  if (d === 'mysql') t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
  await t
    .addColumn('user_id', 'bigint', (c) => c.primaryKey())
    .addColumn('key_id', 'bigint', (c) => c.notNull())
    .addColumn('key_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('first_key_reveals').ifExists().execute();
}
