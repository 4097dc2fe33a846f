import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Roles (issue 8): one row per role a user may hold.
 * Built-in roles are seeded with built_in = 1; their permissions are defined in code
 * (lib/permissions.ts) and their `permissions` column is left '[]' and not read. Custom roles keep
 * their permissions here as a JSON array of `resource:action` strings.
 */
function dialectOf(db: Kysely<any>): 'sqlite' | 'postgres' | 'mysql' {
  const name = db.getExecutor().adapter.constructor.name;
  if (name.includes('Postgres')) return 'postgres';
  if (name.includes('Mysql')) return 'mysql';
  return 'sqlite';
}

const BUILT_IN = ['super_admin', 'admin', 'operator', 'finance', 'auditor', 'support', 'readonly', 'user'];

export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  let t = db.schema.createTable('roles');
  if (d === 'mysql') t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
  await t
    .addColumn('name', d === 'sqlite' ? 'text' : sql.raw('varchar(32)'), (c) => c.primaryKey())
    .addColumn('description', 'text')
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('built_in', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  const now = Date.now();
  await db
    .insertInto('roles')
    .values(BUILT_IN.map((name) => ({ name, description: null, permissions: '[]', built_in: 1, created_at: now, updated_at: now })))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('roles').execute();
}
