import type { Kysely } from 'kysely';

/*
 * Frozen in time (no application imports). Per-key limits and labels (issue 8, spec 000 §9):
 *  - tpm_limit: prompt + completion tokens per minute (null = none);
 *  - allowed_origins: JSON array of sites allowed by the Origin / Referer header (null = any);
 *  - tags: JSON array of short labels; remark: free text for the owner and operators.
 * All nullable, so the statements are the same on all three databases.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('tpm_limit', 'integer').execute();
  await db.schema.alterTable('api_keys').addColumn('allowed_origins', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('tags', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('remark', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const c of ['remark', 'tags', 'allowed_origins', 'tpm_limit']) await db.schema.alterTable('api_keys').dropColumn(c).execute();
}
