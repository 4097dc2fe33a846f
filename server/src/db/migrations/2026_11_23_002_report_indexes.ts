import { sql, type Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Indexes for the operator dashboard.
 *
 * Recharges (top-ups and manual adjustments) are a few rows among millions of charge entries, so
 * the dashboard's "recharge in this period" needs an index on them. It is partial where the
 * database has partial indexes (SQLite, PostgreSQL): the gateway writes a charge entry for every
 * call and never has to maintain it. MySQL/MariaDB have none, so there it covers every type.
 * Queries must spell the condition exactly as below (literals, not parameters) for the planner to
 * match a partial index.
 */

function dialectOf(db: Kysely<any>): 'sqlite' | 'postgres' | 'mysql' {
  const name = db.getExecutor().adapter.constructor.name;
  if (name.includes('Postgres')) return 'postgres';
  if (name.includes('Mysql')) return 'mysql';
  return 'sqlite';
}

export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  const idx = db.schema.createIndex('ledger_recharge_created_idx').on('ledger_entries');
  if (d === 'mysql') await idx.columns(['type', 'created_at']).execute();
  else await idx.column('created_at').where(sql<boolean>`type in ('topup', 'adjustment')`).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  let drop = db.schema.dropIndex('ledger_recharge_created_idx');
  if (d === 'mysql') drop = drop.on('ledger_entries');
  await drop.execute();
}
