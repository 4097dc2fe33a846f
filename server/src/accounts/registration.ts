import { createHash } from 'node:crypto';
import { affected, type Db } from '../db/index.js';
import { AppError } from '../errors.js';
import { randomBase62 } from '../lib/ids.js';

export const REGISTRATION_MODES = ['open', 'closed', 'invite_only'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];
const SETTING = 'registration';

/** Who may sign up: the `registration` setting, `open` until an operator changes it. */
export async function getRegistration(db: Db): Promise<RegistrationMode> {
  const row = await db.kysely.selectFrom('settings').select('value').where('key', '=', SETTING).executeTakeFirst();
  return (REGISTRATION_MODES as readonly string[]).includes(row?.value ?? '') ? (row!.value as RegistrationMode) : 'open';
}

export async function setRegistration(db: Db, mode: RegistrationMode): Promise<void> {
  const now = Date.now();
  const r = await db.kysely.updateTable('settings').set({ value: mode, updated_at: now }).where('key', '=', SETTING).executeTakeFirst();
  if (affected(r) === 0) {
    await db.kysely
      .insertInto('settings')
      .values({ key: SETTING, value: mode, updated_at: now })
      .execute()
      // Two operators at once: the other insert won; ours is the later word.
      .catch(() => db.kysely.updateTable('settings').set({ value: mode, updated_at: now }).where('key', '=', SETTING).execute());
  }
}

const hashCode = (code: string) => createHash('sha256').update(code.trim()).digest('hex');

export interface InviteView {
  id: number;
  note: string | null;
  created_at: string;
  expires_at: string | null;
  used_at: string | null;
  used_by: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** A new invite code; the code is returned this once (only its hash is stored). */
export async function createInvite(db: Db, opts: { note?: string | undefined; expiresInDays?: number | undefined; createdBy: number | null }) {
  const code = 'inv-' + randomBase62(20);
  const now = Date.now();
  await db.kysely
    .insertInto('invite_codes')
    .values({
      code_hash: hashCode(code),
      note: opts.note ?? null,
      created_by: opts.createdBy,
      created_at: now,
      expires_at: opts.expiresInDays ? now + opts.expiresInDays * 86_400_000 : null,
      used_at: null,
      used_by: null,
    })
    .execute();
  const row = await db.kysely.selectFrom('invite_codes').selectAll().where('code_hash', '=', hashCode(code)).executeTakeFirstOrThrow();
  return { code, invite: inviteView(row) };
}

function inviteView(r: { id: number; note: string | null; created_at: number; expires_at: number | null; used_at: number | null; used_by: number | null }): InviteView {
  return { id: Number(r.id), note: r.note, created_at: iso(r.created_at)!, expires_at: iso(r.expires_at), used_at: iso(r.used_at), used_by: r.used_by === null ? null : Number(r.used_by) };
}

export async function listInvites(db: Db): Promise<InviteView[]> {
  const rows = await db.kysely.selectFrom('invite_codes').selectAll().orderBy('id', 'desc').limit(500).execute();
  return rows.map(inviteView);
}

export async function deleteInvite(db: Db, id: number): Promise<void> {
  const r = await db.kysely.deleteFrom('invite_codes').where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  if (affected(r) === 0) throw new AppError('not_found', `no unused invite ${id}`);
}

/**
 * Take an invite for a sign-up in one conditional UPDATE, so two sign-ups cannot share one code.
 * Returns its id (to record who used it, or to hand it back if the sign-up fails).
 */
export async function claimInvite(db: Db, code: unknown): Promise<number> {
  if (typeof code !== 'string' || code.trim() === '' || code.length > 200) {
    throw new AppError('invite_invalid', 'inviteCode: sign-up needs a valid invite code.', { path: 'inviteCode' });
  }
  const now = Date.now();
  const row = await db.kysely.selectFrom('invite_codes').select('id').where('code_hash', '=', hashCode(code)).executeTakeFirst();
  const r = row
    ? await db.kysely
        .updateTable('invite_codes')
        .set({ used_at: now })
        .where('id', '=', row.id)
        .where('used_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirst()
    : null;
  if (!row || affected(r!) === 0) throw new AppError('invite_invalid', 'inviteCode: this invite code is not valid, used or expired.', { path: 'inviteCode' });
  return Number(row.id);
}

export async function finishInvite(db: Db, id: number, userId: number | null): Promise<void> {
  if (userId === null) await db.kysely.updateTable('invite_codes').set({ used_at: null }).where('id', '=', id).execute();
  else await db.kysely.updateTable('invite_codes').set({ used_by: userId }).where('id', '=', id).execute();
}
