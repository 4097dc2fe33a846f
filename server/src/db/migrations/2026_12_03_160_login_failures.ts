import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Failed sign-ins, one row per failure, so that every
 * process sharing the database sees the same count (account lockout and the per-address limit).
 * `subject` is "e:" + a hash of the lower-cased email, or "ip:" + the client address.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const name = db.getExecutor().adapter.constructor.name;
  const d = name.includes('Postgres') ? 'postgres' : name.includes('Mysql') ? 'mysql' : 'sqlite';
  let t = db.schema.createTable('login_failures');
  if (d === 'mysql') t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
  t =
    d === 'sqlite'
      ? t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : d === 'postgres'
        ? t.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        : t.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('subject', d === 'sqlite' ? 'text' : sql.raw('varchar(80)'), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('login_failures_subject_idx').on('login_failures').columns(['subject', 'created_at']).execute();
  await db.schema.createIndex('login_failures_created_idx').on('login_failures').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('login_failures').ifExists().execute();
}
