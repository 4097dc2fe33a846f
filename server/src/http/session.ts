import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import type { Actor } from '../audit/index.js';

export interface SessionUser {
  id: number;
  email: string;
  name: string;
  role: string;
  status: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    sessionUser?: SessionUser;
  }
}

export const STAFF_ROLES = new Set(['admin', 'super_admin']);

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
  const u = s.user as typeof s.user & { role?: string; status?: string };
  const user: SessionUser = { id: Number(u.id), email: u.email, name: u.name, role: u.role ?? 'user', status: u.status ?? 'active' };
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

/** preHandler: a signed-in operator (admin or super-admin). */
export function requireStaff(ctx: AppContext) {
  return async function requireStaff(req: FastifyRequest, _reply: FastifyReply) {
    const u = await loadSession(ctx, req);
    if (!u) throw new AppError('session_required', 'Sign in first.');
    if (!STAFF_ROLES.has(u.role)) throw new AppError('forbidden', 'This needs an operator account.');
  };
}

/** The audit actor of a request: the signed-in user (staff or not), where from, and the request id. */
export function actorOf(req: FastifyRequest): Actor {
  const u = req.sessionUser;
  const ua = req.headers['user-agent'];
  return {
    kind: u && STAFF_ROLES.has(u.role) ? 'staff' : 'user',
    id: u?.id ?? null,
    email: u?.email ?? null,
    role: u?.role ?? null,
    ip: req.ip,
    userAgent: typeof ua === 'string' ? ua : null,
    requestId: String(req.id),
  };
}
