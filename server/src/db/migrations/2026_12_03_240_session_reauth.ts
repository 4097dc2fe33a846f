import type { Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Re-authentication (issue 8): when the person behind a
 * session last confirmed their password or a two-factor code, epoch ms; null = only the sign-in
 * (the session's created_at) counts. Protected operations need one within a few minutes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('auth_sessions').addColumn('reauth_at', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('auth_sessions').dropColumn('reauth_at').execute();
}
