import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { affected } from '../db/index.js';
import { AppError } from '../errors.js';
import { audit, type Actor } from '../audit/index.js';
import { headersOf, type SessionUser } from '../http/session.js';

/** A signed-in device as its owner sees it (never the session token). */
export interface SessionView {
  id: number;
  user_agent: string | null;
  ip_address: string | null;
  created_at: string;
  /** When the session was last renewed (better-auth renews it at most once a day of use). */
  last_active_at: string;
  expires_at: string;
  /** The session this request came with. */
  current: boolean;
}

const iso = (d: Date | string) => new Date(d).toISOString();

/** The signed-in person's live sessions, newest first (better-auth's listSessions). */
export async function listOwnSessions(ctx: AppContext, req: FastifyRequest, me: SessionUser): Promise<SessionView[]> {
  const rows = await ctx.auth.api.listSessions({ headers: headersOf(req) });
  return rows
    .map((s) => ({
      id: Number(s.id),
      user_agent: s.userAgent ?? null,
      ip_address: s.ipAddress ?? null,
      created_at: iso(s.createdAt),
      last_active_at: iso(s.updatedAt),
      expires_at: iso(s.expiresAt),
      current: Number(s.id) === me.sessionId,
    }))
    .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
}

/*
 * Revoking deletes the session rows directly (what better-auth's revokeSession does: sessions live
 * only in the database here, no cookie cache, no secondary storage), so the audit entry can share
 * the transaction. The cookie of a revoked session is refused at its next request (401).
 */

/** Sign one of your own sessions out. */
export async function revokeOwnSession(ctx: AppContext, actor: Actor, me: SessionUser, sessionId: number): Promise<void> {
  await ctx.db.kysely.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('auth_sessions').select(['id', 'user_agent', 'ip_address']).where('id', '=', sessionId).where('user_id', '=', me.id).executeTakeFirst();
    if (!row) throw new AppError('not_found', `no session ${sessionId} of yours`, { path: 'id' });
    const r = await trx.deleteFrom('auth_sessions').where('id', '=', sessionId).where('user_id', '=', me.id).executeTakeFirst();
    if (affected(r) === 0) throw new AppError('not_found', `no session ${sessionId} of yours`, { path: 'id' });
    await audit(trx, actor, 'user.session_revoke', { type: 'user', id: me.id }, { session_id: Number(row.id), user_agent: row.user_agent, ip: row.ip_address }, null);
  });
}

/** "Sign out everywhere else": every session of yours but this one. Returns how many ended. */
export async function revokeOtherSessions(ctx: AppContext, actor: Actor, me: SessionUser): Promise<number> {
  return ctx.db.kysely.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('auth_sessions').where('user_id', '=', me.id).where('id', '!=', me.sessionId).executeTakeFirst();
    const ended = affected(r);
    await audit(trx, actor, 'user.sessions_revoke_others', { type: 'user', id: me.id }, null, { sessions_ended: ended });
    return ended;
  });
}
