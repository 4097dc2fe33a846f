import { sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely';

/*
 * Frozen in time: this file must never import application code, so that it keeps producing the
 * same schema whatever the application later becomes. It runs on SQLite, PostgreSQL and
 * MySQL/MariaDB.
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

  // Helpers that hide the three dialects' spelling of the same thing.
  const table = (name: string) => {
    let t = db.schema.createTable(name);
    if (d === 'mysql') t = t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`);
    return t;
  };
  const withId = <T extends string>(t: CreateTableBuilder<T, never>) =>
    d === 'sqlite'
      ? t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : d === 'postgres'
        ? t.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        : t.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement());
  const authTime = d === 'postgres' ? 'timestamptz' : d === 'mysql' ? sql`datetime(3)` : 'date';
  const bool = d === 'sqlite' ? 'integer' : 'boolean';
  const str = (n = 255) => (d === 'mysql' ? sql.raw(`varchar(${n})`) : d === 'postgres' ? sql.raw(`varchar(${n})`) : 'text');
  const text = 'text';
  const big = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(0);

  // ---- identity (shape required by better-auth, with our columns added) ----
  await withId(table('users'))
    .addColumn('name', str(), (c) => c.notNull())
    .addColumn('email', str(), (c) => c.notNull().unique())
    .addColumn('email_verified', bool, (c) => c.notNull())
    .addColumn('image', text)
    .addColumn('created_at', authTime, (c) => c.notNull())
    .addColumn('updated_at', authTime, (c) => c.notNull())
    .addColumn('role', str(32), (c) => c.notNull().defaultTo('user'))
    .addColumn('status', str(32), (c) => c.notNull().defaultTo('active'))
    .addColumn('group_name', str(64), (c) => c.notNull().defaultTo('default'))
    .addColumn('remark', text)
    .addColumn('last_login_at', 'bigint')
    .execute();

  await withId(table('auth_sessions'))
    .addColumn('expires_at', authTime, (c) => c.notNull())
    .addColumn('token', str(), (c) => c.notNull().unique())
    .addColumn('created_at', authTime, (c) => c.notNull())
    .addColumn('updated_at', authTime, (c) => c.notNull())
    .addColumn('ip_address', text)
    .addColumn('user_agent', text)
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('auth_sessions_user_id_idx').on('auth_sessions').column('user_id').execute();

  await withId(table('auth_accounts'))
    .addColumn('account_id', str(), (c) => c.notNull())
    .addColumn('provider_id', str(64), (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('access_token', text)
    .addColumn('refresh_token', text)
    .addColumn('id_token', text)
    .addColumn('access_token_expires_at', authTime)
    .addColumn('refresh_token_expires_at', authTime)
    .addColumn('scope', text)
    .addColumn('password', text)
    .addColumn('created_at', authTime, (c) => c.notNull())
    .addColumn('updated_at', authTime, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('auth_accounts_user_id_idx').on('auth_accounts').column('user_id').execute();

  await withId(table('auth_verifications'))
    .addColumn('identifier', str(), (c) => c.notNull())
    .addColumn('value', text, (c) => c.notNull())
    .addColumn('expires_at', authTime, (c) => c.notNull())
    .addColumn('created_at', authTime, (c) => c.notNull())
    .addColumn('updated_at', authTime, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('auth_verifications_identifier_idx').on('auth_verifications').column('identifier').execute();

  // ---- money ----
  await withId(table('wallets'))
    .addColumn('user_id', 'bigint', (c) => c.references('users.id').onDelete('restrict'))
    .addColumn('org_id', 'bigint')
    .addColumn('currency', str(8), (c) => c.notNull().defaultTo('USD'))
    .addColumn('cash_micros', 'bigint', big)
    .addColumn('gift_micros', 'bigint', big)
    .addColumn('plan_micros', 'bigint', big)
    .addColumn('credit_limit_micros', 'bigint', big)
    .addColumn('credit_used_micros', 'bigint', big)
    .addColumn('pending_micros', 'bigint', big)
    .addColumn('arrears_micros', 'bigint', big)
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    // The last line of defence: whatever a bug does, no bucket can go below zero.
    .addCheckConstraint(
      'wallets_non_negative',
      sql`cash_micros >= 0 and gift_micros >= 0 and plan_micros >= 0 and credit_used_micros >= 0 and pending_micros >= 0 and arrears_micros >= 0 and credit_limit_micros >= 0`,
    )
    .execute();
  await db.schema.createIndex('wallets_user_id_uq').on('wallets').column('user_id').unique().execute();
  await db.schema.createIndex('wallets_org_id_uq').on('wallets').column('org_id').unique().execute();

  await withId(table('ledger_entries'))
    .addColumn('wallet_id', 'bigint', (c) => c.notNull().references('wallets.id').onDelete('restrict'))
    .addColumn('user_id', 'bigint')
    .addColumn('bucket', str(16), (c) => c.notNull())
    .addColumn('type', str(32), (c) => c.notNull())
    .addColumn('amount_micros', 'bigint', (c) => c.notNull())
    .addColumn('balance_after_micros', 'bigint', (c) => c.notNull())
    .addColumn('idempotency_key', str(191))
    .addColumn('ref_type', str(32))
    .addColumn('ref_id', str(191))
    .addColumn('reason', text)
    .addColumn('actor_id', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ledger_idempotency_uq').on('ledger_entries').column('idempotency_key').unique().execute();
  await db.schema.createIndex('ledger_wallet_idx').on('ledger_entries').columns(['wallet_id', 'id']).execute();
  await db.schema.createIndex('ledger_ref_idx').on('ledger_entries').columns(['ref_type', 'ref_id']).execute();

  await withId(table('holds'))
    .addColumn('request_id', str(64), (c) => c.notNull().unique())
    .addColumn('wallet_id', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'bigint', (c) => c.notNull())
    .addColumn('amount_micros', 'bigint', (c) => c.notNull())
    .addColumn('key_quota', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('status', str(16), (c) => c.notNull().defaultTo('pending'))
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('settled_at', 'bigint')
    .execute();
  await db.schema.createIndex('holds_status_expires_idx').on('holds').columns(['status', 'expires_at']).execute();

  // ---- access ----
  await withId(table('api_keys'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', str(), (c) => c.notNull())
    .addColumn('key_hash', str(64), (c) => c.notNull().unique())
    .addColumn('key_prefix', str(16), (c) => c.notNull())
    .addColumn('key_last4', str(8), (c) => c.notNull())
    .addColumn('status', str(16), (c) => c.notNull().defaultTo('active'))
    .addColumn('expires_at', 'bigint')
    .addColumn('quota_micros', 'bigint')
    .addColumn('quota_used_micros', 'bigint', big)
    .addColumn('quota_pending_micros', 'bigint', big)
    .addColumn('allowed_models', text)
    .addColumn('allowed_ips', text)
    .addColumn('group_name', str(64))
    .addColumn('rpm_limit', 'integer')
    .addColumn('last_used_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .addCheckConstraint('api_keys_quota_non_negative', sql`quota_used_micros >= 0 and quota_pending_micros >= 0`)
    .execute();
  await db.schema.createIndex('api_keys_user_idx').on('api_keys').column('user_id').execute();

  // ---- catalogue and routing ----
  await table('groups')
    .addColumn('name', str(64), (c) => c.primaryKey())
    .addColumn('multiplier_ppm', 'bigint', (c) => c.notNull().defaultTo(1_000_000))
    .addColumn('description', text)
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await table('model_prices')
    .addColumn('model', str(191), (c) => c.primaryKey())
    .addColumn('input_price', 'bigint', (c) => c.notNull())
    .addColumn('output_price', 'bigint', (c) => c.notNull())
    .addColumn('cached_input_price', 'bigint')
    .addColumn('request_price', 'bigint', big)
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await withId(table('channels'))
    .addColumn('name', str(), (c) => c.notNull())
    .addColumn('type', str(32), (c) => c.notNull().defaultTo('openai'))
    .addColumn('base_url', str(1024), (c) => c.notNull())
    .addColumn('key_sealed', text, (c) => c.notNull())
    .addColumn('models', text, (c) => c.notNull())
    .addColumn('model_mapping', text)
    .addColumn('groups', text, (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('weight', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', str(16), (c) => c.notNull().defaultTo('enabled'))
    .addColumn('status_reason', text)
    .addColumn('status_changed_at', 'bigint')
    .addColumn('test_model', str(191))
    .addColumn('last_test_at', 'bigint')
    .addColumn('last_test_ok', 'smallint')
    .addColumn('last_test_ms', 'integer')
    .addColumn('last_test_error', text)
    .addColumn('cost_ratio_ppm', 'bigint', (c) => c.notNull().defaultTo(1_000_000))
    .addColumn('remark', text)
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // ---- metering ----
  await withId(table('usage_records'))
    .addColumn('request_id', str(64), (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'bigint', (c) => c.notNull())
    .addColumn('wallet_id', 'bigint', (c) => c.notNull())
    .addColumn('endpoint', str(32), (c) => c.notNull())
    .addColumn('model', str(191), (c) => c.notNull())
    .addColumn('upstream_model', str(191))
    .addColumn('channel_id', 'bigint')
    .addColumn('stream', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('prompt_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('completion_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cached_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('input_price', 'bigint', big)
    .addColumn('output_price', 'bigint', big)
    .addColumn('cached_input_price', 'bigint', big)
    .addColumn('request_price', 'bigint', big)
    .addColumn('multiplier_ppm', 'bigint', (c) => c.notNull().defaultTo(1_000_000))
    .addColumn('charged_micros', 'bigint', big)
    .addColumn('cost_micros', 'bigint', big)
    .addColumn('arrears_micros', 'bigint', big)
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('error_code', str(64))
    .addColumn('error_message', text)
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('ttfb_ms', 'integer')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('usage_source', str(16), (c) => c.notNull())
    .addColumn('client_ip', str(64))
    .execute();
  for (const [name, cols] of [
    ['usage_created_idx', ['created_at']],
    ['usage_user_created_idx', ['user_id', 'created_at']],
    ['usage_key_created_idx', ['key_id', 'created_at']],
    ['usage_model_created_idx', ['model', 'created_at']],
    ['usage_channel_created_idx', ['channel_id', 'created_at']],
  ] as const) {
    await db.schema.createIndex(name).on('usage_records').columns([...cols]).execute();
  }

  // ---- operations ----
  await withId(table('change_log'))
    .addColumn('kind', str(32), (c) => c.notNull())
    .addColumn('ref_id', str(191))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await withId(table('audit_log'))
    .addColumn('actor_id', 'bigint')
    .addColumn('actor_email', str())
    .addColumn('action', str(64), (c) => c.notNull())
    .addColumn('target_type', str(32), (c) => c.notNull())
    .addColumn('target_id', str(191))
    .addColumn('before_json', text)
    .addColumn('after_json', text)
    .addColumn('ip', str(64))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_created_idx').on('audit_log').column('created_at').execute();
  await db.schema.createIndex('audit_target_idx').on('audit_log').columns(['target_type', 'target_id']).execute();

  await table('job_leases')
    .addColumn('name', str(64), (c) => c.primaryKey())
    .addColumn('holder', str(128), (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  await table('settings')
    .addColumn('key', str(128), (c) => c.primaryKey())
    .addColumn('value', text, (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  const now = Date.now();
  await db
    .insertInto('groups')
    .values({ name: 'default', multiplier_ppm: 1_000_000, description: 'Everyone starts here', created_at: now, updated_at: now })
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'settings', 'job_leases', 'audit_log', 'change_log', 'usage_records', 'channels', 'model_prices', 'groups',
    'api_keys', 'holds', 'ledger_entries', 'wallets', 'auth_verifications', 'auth_accounts', 'auth_sessions', 'users',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
