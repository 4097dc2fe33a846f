import type { Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Frozen accounts (issue 8): users.status gains the
 * value 'frozen' (a string column, no change needed) and these columns say why, when and by whom:
 *  - frozen_reason: the reason the operator gave (required to freeze);
 *  - frozen_at: epoch ms;
 *  - frozen_by: the operator's email, or 'cli'.
 * All nullable (null = not frozen), so the statements are the same on all three databases.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('frozen_reason', 'text').execute();
  await db.schema.alterTable('users').addColumn('frozen_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('frozen_by', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('frozen_by').execute();
  await db.schema.alterTable('users').dropColumn('frozen_at').execute();
  await db.schema.alterTable('users').dropColumn('frozen_reason').execute();
}
