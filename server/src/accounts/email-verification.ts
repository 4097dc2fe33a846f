import { affected, type Db, type Executor } from '../db/index.js';

const SETTING = 'require_email_verification';

/** The `require_email_verification` setting as stored (off until an operator turns it on). */
export async function getRequireEmailVerification(db: Db): Promise<boolean> {
  const row = await db.kysely.selectFrom('settings').select('value').where('key', '=', SETTING).executeTakeFirst();
  return row?.value === 'true';
}

/** Inside the caller's transaction (with its audit entry). */
export async function setRequireEmailVerification(trx: Executor, on: boolean): Promise<void> {
  const now = Date.now();
  const value = on ? 'true' : 'false';
  const r = await trx.updateTable('settings').set({ value, updated_at: now }).where('key', '=', SETTING).executeTakeFirst();
  if (affected(r) === 0) await trx.insertInto('settings').values({ key: SETTING, value, updated_at: now }).execute();
}
