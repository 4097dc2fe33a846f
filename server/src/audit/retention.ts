import { inTransaction, type Db, type Executor } from '../db/index.js';
import { AppError } from '../errors.js';
import { audit, type Actor } from './index.js';

export const AUDIT_RETENTION_KEY = 'audit_retention_days';
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;

/** Days an audit entry is kept (the `audit_retention_days` setting, 365 when unset). */
export async function auditRetentionDays(ex: Executor): Promise<number> {
  const row = await ex.selectFrom('settings').select('value').where('key', '=', AUDIT_RETENTION_KEY).executeTakeFirst();
  const n = row ? Number(row.value) : NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : DEFAULT_AUDIT_RETENTION_DAYS;
}

/** Change the retention; the change is itself an audit entry, in the same transaction. */
export async function setAuditRetentionDays(db: Db, actor: Actor, days: number): Promise<number> {
  if (!Number.isSafeInteger(days) || days < 1 || days > 36_500) {
    throw new AppError('validation_failed', 'retention_days: a whole number of days from 1 to 36500', { path: 'retention_days' });
  }
  const now = Date.now();
  await inTransaction(db, async (trx) => {
    const before = await auditRetentionDays(trx);
    const r = await trx.updateTable('settings').set({ value: String(days), updated_at: now }).where('key', '=', AUDIT_RETENTION_KEY).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) await trx.insertInto('settings').values({ key: AUDIT_RETENTION_KEY, value: String(days), updated_at: now }).execute();
    await audit(trx, actor, 'setting.update', { type: 'setting', id: AUDIT_RETENTION_KEY }, { value: before }, { value: days });
  });
  return days;
}

/**
 * Delete entries older than the retention, a batch at a time (a year of entries in one statement
 * would hold a long lock on MySQL). Returns how many went.
 */
export async function purgeAuditLog(db: Db, now = Date.now(), batch = 5000): Promise<number> {
  const cutoff = now - (await auditRetentionDays(db.kysely)) * DAY_MS;
  let total = 0;
  for (;;) {
    const ids = await db.kysely.selectFrom('audit_log').select('id').where('created_at', '<', cutoff).orderBy('id').limit(batch).execute();
    if (ids.length === 0) return total;
    const r = await db.kysely.deleteFrom('audit_log').where('id', 'in', ids.map((x) => x.id)).executeTakeFirst();
    total += Number(r.numDeletedRows);
    if (ids.length < batch) return total;
  }
}
