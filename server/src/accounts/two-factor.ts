import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { affected, type Db, type Executor } from '../db/index.js';
import { AppError } from '../errors.js';
import { audit, type Actor } from '../audit/index.js';
import { isStaffRole } from '../lib/permissions.js';
import type { SessionUser } from '../http/session.js';

/** The `settings` row: "1" when every staff account must sign in with a second factor. */
export const REQUIRE_2FA_SETTING = 'require_2fa_for_staff';

export async function getRequire2faForStaff(ex: Executor): Promise<boolean> {
  const row = await ex.selectFrom('settings').select('value').where('key', '=', REQUIRE_2FA_SETTING).executeTakeFirst();
  return row?.value === '1';
}

/**
 * Turn the requirement on or off, with its audit entry in the same transaction. Turning it on
 * needs the actor's own 2FA first: otherwise the switch would shut its author out of the back
 * office the moment it is saved.
 */
export async function setRequire2faForStaff(db: Db, actor: Actor, on: boolean, actorHas2fa: boolean): Promise<boolean> {
  if (on && !actorHas2fa) {
    throw new AppError('conflict', 'require_2fa_for_staff: turn on two-factor sign-in for your own account (Profile) before requiring it of all staff.', {
      path: 'require_2fa_for_staff',
    });
  }
  const value = on ? '1' : '0';
  return db.kysely.transaction().execute(async (trx) => {
    const before = await getRequire2faForStaff(trx);
    const now = Date.now();
    const r = await trx.updateTable('settings').set({ value, updated_at: now }).where('key', '=', REQUIRE_2FA_SETTING).executeTakeFirst();
    if (affected(r) === 0) await trx.insertInto('settings').values({ key: REQUIRE_2FA_SETTING, value, updated_at: now }).execute();
    if (before !== on) await audit(trx, actor, 'setting.update', { type: 'setting', id: REQUIRE_2FA_SETTING }, { require_2fa_for_staff: before }, { require_2fa_for_staff: on });
    return on;
  });
}

/** True when this person must enrol a second factor before they may use the back office. */
export async function mustEnrol2fa(ctx: AppContext, u: SessionUser): Promise<boolean> {
  if (u.twoFactorEnabled || !isStaffRole(u.role)) return false;
  return getRequire2faForStaff(ctx.db.kysely);
}

/**
 * onRequest on /api/admin, after requireStaff: while `require_2fa_for_staff` is on, staff without
 * a confirmed second factor get 403 `two_factor_required` everywhere in the back office (enrolment
 * itself is under /api/auth/two-factor/*, and /api/me says so, so the console can send them there).
 */
export function requireStaffTwoFactor(ctx: AppContext) {
  return async function requireStaffTwoFactor(req: FastifyRequest, _reply: FastifyReply) {
    const u = req.sessionUser;
    if (u && (await mustEnrol2fa(ctx, u))) {
      throw new AppError('two_factor_required', 'This server requires two-factor sign-in for staff: set it up on your Profile page first.');
    }
  };
}
