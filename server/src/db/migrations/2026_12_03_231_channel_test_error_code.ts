import type { Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). A channel's last health check keeps, beside the
 * server's English detail (last_test_error), a stable code (last_test_error_code, e.g.
 * 'upstream_auth') that the console translates (issue 7: no server English in the zh-CN UI).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('channels').addColumn('last_test_error_code', 'varchar(64)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('channels').dropColumn('last_test_error_code').execute();
}
