import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). The audit trail (issue 8, part 2): who acted (kind:
 * staff, user, cli, system; role; the impersonating operator; the OS account for the CLI), why
 * (reason), and from where (user agent, request id), plus indexes for the admin list's filters.
 * Existing entries get their kind from what they already say.
 */
type Dialect = 'sqlite' | 'postgres' | 'mysql';

function dialectOf(db: Kysely<any>): Dialect {
  const name = db.getExecutor().adapter.constructor.name;
  if (name.includes('Postgres')) return 'postgres';
  if (name.includes('Mysql')) return 'mysql';
  return 'sqlite';
}

export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  const str = (n: number) => (d === 'sqlite' ? 'text' : sql.raw(`varchar(${n})`));
  const add = (name: string, type: ReturnType<typeof str> | 'bigint') => db.schema.alterTable('audit_log').addColumn(name, type as never).execute();
  await db.schema.alterTable('audit_log').addColumn('actor_kind', str(16) as never, (c) => c.notNull().defaultTo('staff')).execute();
  await add('actor_role', str(32));
  await add('impersonator_id', 'bigint');
  await add('os_user', str(64));
  await add('reason', str(500));
  await add('user_agent', str(512));
  await add('request_id', str(64));

  await db.updateTable('audit_log').set({ actor_kind: 'cli' }).where('actor_email', '=', 'cli').where('actor_id', 'is', null).execute();
  await db.updateTable('audit_log').set({ actor_kind: 'system' }).where('actor_email', '=', 'system').where('actor_id', 'is', null).execute();
  await db
    .updateTable('audit_log')
    .set({ actor_kind: 'user' })
    .where('actor_id', 'in', db.selectFrom('users').select('id').where('role', '=', 'user'))
    .execute();

  await db.schema.createIndex('audit_actor_idx').on('audit_log').columns(['actor_id', 'created_at']).execute();
  await db.schema.createIndex('audit_actor_email_idx').on('audit_log').columns(['actor_email', 'created_at']).execute();
  await db.schema.createIndex('audit_action_idx').on('audit_log').columns(['action', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  for (const i of ['audit_action_idx', 'audit_actor_email_idx', 'audit_actor_idx']) {
    let drop = db.schema.dropIndex(i);
    if (d === 'mysql') drop = drop.on('audit_log');
    await drop.execute();
  }
  for (const c of ['request_id', 'user_agent', 'reason', 'os_user', 'impersonator_id', 'actor_role', 'actor_kind']) {
    await db.schema.alterTable('audit_log').dropColumn(c).execute();
  }
}
