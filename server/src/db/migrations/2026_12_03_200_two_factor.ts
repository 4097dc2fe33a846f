import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). TOTP two-factor sign-in (better-auth's `twoFactor`
 * plugin, mapped to snake_case in accounts/auth.ts): a flag on `users`, and one row per person
 * who started enrolling, with the TOTP secret and the backup codes (both encrypted by better-auth
 * with the server's secret), whether the secret was confirmed with a code, and the plugin's
 * count of failed codes (it locks the second factor for a while after too many).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const name = db.getExecutor().adapter.constructor.name;
  const d = name.includes('Postgres') ? 'postgres' : name.includes('Mysql') ? 'mysql' : 'sqlite';
  const bool = d === 'sqlite' ? 'integer' : 'boolean';
  const authTime = d === 'postgres' ? 'timestamptz' : d === 'mysql' ? sql`datetime(3)` : 'date';

  await db.schema
    .alterTable('users')
    .addColumn('two_factor_enabled', bool, (c) => c.notNull().defaultTo(d === 'sqlite' ? 0 : false))
    .execute();

  let t = db.schema.createTable('two_factors');
  if (d === 'mysql') t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
  t =
    d === 'sqlite'
      ? t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : d === 'postgres'
        ? t.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        : t.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('backup_codes', 'text', (c) => c.notNull())
    .addColumn('verified', bool, (c) => c.notNull().defaultTo(d === 'sqlite' ? 1 : true))
    .addColumn('failed_verification_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', authTime)
    .execute();
  await db.schema.createIndex('two_factors_user_id_uq').on('two_factors').column('user_id').unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('two_factors').ifExists().execute();
  await db.schema.alterTable('users').dropColumn('two_factor_enabled').execute();
}
