import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import type { Actor } from '../audit/index.js';
import { isStaffRole, missingPermission, type Permission } from '../lib/permissions.js';

export interface SessionUser {
  id: number;
  email: string;
  name: string;
  role: string;
  status: string;
  /** A TOTP secret confirmed with a code (better-auth's twoFactorEnabled). */
  twoFactorEnabled: boolean;
  /** The id of the session (row of auth_sessions) the request came with. */
  sessionId: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    sessionUser?: SessionUser;
  }
  interface FastifyContextConfig {
    /**
     * What an /api/admin route needs: one permission, or several that must all be held. Every
     * /api/admin route declares it (the server refuses to start otherwise); one hook checks it.
     */
    permission?: Permission | readonly Permission[];
  }
}

export function headersOf(req: FastifyRequest): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) h.append(k, x);
    else h.set(k, String(v));
  }
  return h;
}

/** The signed-in user, or null. */
export async function loadSession(ctx: AppContext, req: FastifyRequest): Promise<SessionUser | null> {
  if (req.sessionUser) return req.sessionUser;
  if (!req.headers.cookie) return null;
  const s = await ctx.auth.api.getSession({ headers: headersOf(req) });
  if (!s) return null;
  const u = s.user as typeof s.user & { role?: string; status?: string; twoFactorEnabled?: boolean | number | null };
  const user: SessionUser = {
    id: Number(u.id),
    email: u.email,
    name: u.name,
    role: u.role ?? 'user',
    status: u.status ?? 'active',
    twoFactorEnabled: !!u.twoFactorEnabled,
    sessionId: Number(s.session.id),
  };
  if (user.status !== 'active') return null;
  req.sessionUser = user;
  return user;
}

/** preHandler: a signed-in user of any role. */
export function requireUser(ctx: AppContext) {
  return async function requireUser(req: FastifyRequest, _reply: FastifyReply) {
    const u = await loadSession(ctx, req);
    if (!u) throw new AppError('session_required', 'Sign in first.');
  };
}

/** preHandler: a signed-in staff member (any role but `user`). */
export function requireStaff(ctx: AppContext) {
  return async function requireStaff(req: FastifyRequest, _reply: FastifyReply) {
    const u = await loadSession(ctx, req);
    if (!u) throw new AppError('session_required', 'Sign in first.');
    if (!isStaffRole(u.role)) throw new AppError('forbidden', 'This needs an operator account.');
  };
}

/** The permissions the signed-in user holds through their role. */
export function permissionsOf(ctx: AppContext, req: FastifyRequest): ReadonlySet<Permission> {
  return ctx.roles.permissionsOf(req.sessionUser?.role ?? 'user');
}

/** 403 `forbidden` naming the first permission of `needed` the signed-in user lacks. */
export function assertPermission(ctx: AppContext, req: FastifyRequest, needed: Permission | readonly Permission[], path?: string): void {
  const missing = missingPermission(permissionsOf(ctx, req), needed);
  if (missing) throw new AppError('forbidden', `needs permission ${missing}`, { permission: missing, ...(path ? { path } : {}) });
}

/**
 * onRequest, after requireStaff: the one check of the permission the route declares in its config.
 * A route without a declaration is refused (never reached: app.ts stops the start-up first).
 */
export function requireRoutePermission(ctx: AppContext) {
  return async function requireRoutePermission(req: FastifyRequest, _reply: FastifyReply) {
    const needed = req.routeOptions.config.permission;
    if (!needed) throw new AppError('forbidden', 'This endpoint declares no permission.');
    assertPermission(ctx, req, needed);
  };
}

/** Only a super-admin (holder of staff:edit) acts on another staff account. */
export const mayActOnStaff = (ctx: AppContext, req: FastifyRequest) => permissionsOf(ctx, req).has('staff:edit');

/** The audit actor of a request: the signed-in user (staff or not), where from, and the request id. */
export function actorOf(req: FastifyRequest): Actor {
  const u = req.sessionUser;
  const ua = req.headers['user-agent'];
  return {
    kind: u && isStaffRole(u.role) ? 'staff' : 'user',
    id: u?.id ?? null,
    email: u?.email ?? null,
    role: u?.role ?? null,
    ip: req.ip,
    userAgent: typeof ua === 'string' ? ua : null,
    requestId: String(req.id),
  };
}
