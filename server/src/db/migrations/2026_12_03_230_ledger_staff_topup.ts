import type { Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Staff top-ups and other cash adjustments made by hand
 * (issue 7) say how the money came in and where to find it:
 *  - payment_method: 'bank_transfer' | 'cash' | 'alipay' | 'wechat' | 'other' (null when not given);
 *  - external_ref: the bank slip, transaction or receipt number the operator typed in.
 * Both nullable, so the statements are the same on all three databases. The ledger tab filters a
 * wallet's entries by type, newest first: (wallet_id, type, id) serves that without scanning the
 * wallet's charges.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('ledger_entries').addColumn('payment_method', 'varchar(32)').execute();
  await db.schema.alterTable('ledger_entries').addColumn('external_ref', 'varchar(200)').execute();
  await db.schema.createIndex('ledger_wallet_type_idx').on('ledger_entries').columns(['wallet_id', 'type', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('ledger_wallet_type_idx').on('ledger_entries').execute();
  await db.schema.alterTable('ledger_entries').dropColumn('external_ref').execute();
  await db.schema.alterTable('ledger_entries').dropColumn('payment_method').execute();
}
