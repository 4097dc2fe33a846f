import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Invite codes for registration "invite_only": staff
 * create them, a sign-up uses one up. Only a hash of the code is kept (the code is shown once).
 * The registration switch itself is a row of `settings` (key "registration"), no table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const name = db.getExecutor().adapter.constructor.name;
  const d = name.includes('Postgres') ? 'postgres' : name.includes('Mysql') ? 'mysql' : 'sqlite';
  let t = db.schema.createTable('invite_codes');
  if (d === 'mysql') t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
  t =
    d === 'sqlite'
      ? t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : d === 'postgres'
        ? t.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        : t.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('code_hash', d === 'sqlite' ? 'text' : sql.raw('varchar(64)'), (c) => c.notNull().unique())
    .addColumn('note', 'text')
    .addColumn('created_by', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('used_at', 'bigint')
    .addColumn('used_by', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('invite_codes').ifExists().execute();
}
