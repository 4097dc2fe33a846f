import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit/index.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { actorOf, headersOf, loadSession, type SessionUser } from '../http/session.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A protected operation (freeze, cash adjustment, exports, …): the person must have confirmed
     * their password or a two-factor code within `login.reauthWindowSeconds` (a sign-in counts).
     */
    reauth?: boolean;
  }
}

const ms = (t: Date | string | number) => (t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t));

/** When the person behind this session last proved who they are: the sign-in or a later confirmation. */
async function verifiedAt(ctx: AppContext, u: SessionUser): Promise<number> {
  const s = await ctx.db.kysely.selectFrom('auth_sessions').select(['created_at', 'reauth_at']).where('id', '=', u.sessionId).executeTakeFirst();
  if (!s) return 0;
  return Math.max(ms(s.created_at), Number(s.reauth_at ?? 0));
}

/**
 * onRequest on /api/admin, after the permission check: a route whose config says `reauth` answers
 * 403 `reauth_required` unless the session proved itself recently. The console asks for the
 * password (or a code) then, calls POST /api/me/reauth and sends the request again.
 */
export function requireRecentAuth(ctx: AppContext) {
  const windowMs = ctx.config.login.reauthWindowSeconds * 1000;
  return async function requireRecentAuth(req: FastifyRequest, _reply: FastifyReply) {
    if (!req.routeOptions.config.reauth) return;
    const u = req.sessionUser;
    if (!u) throw new AppError('session_required', 'Sign in first.');
    if (Date.now() - (await verifiedAt(ctx, u)) > windowMs) {
      throw new AppError(
        'reauth_required',
        `This is a protected operation: confirm your password (or a two-factor code) first with POST /api/me/reauth; it counts for ${Math.round(windowMs / 60_000) || 1} minutes.`,
      );
    }
  };
}

/** Failed confirmations per session, so a stolen cookie cannot guess a password or a code for long. */
const failures = new Map<number, { count: number; since: number }>();
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 15 * 60_000;

async function passwordMatches(ctx: AppContext, userId: number, password: string): Promise<boolean> {
  const acc = await ctx.db.kysely
    .selectFrom('auth_accounts')
    .select('password')
    .where('user_id', '=', userId)
    .where('provider_id', '=', 'credential')
    .executeTakeFirst();
  if (!acc?.password) return false;
  const auth = await ctx.auth.$context;
  return auth.password.verify({ hash: acc.password, password });
}

async function codeMatches(ctx: AppContext, req: FastifyRequest, u: SessionUser, code: string): Promise<boolean> {
  if (!u.twoFactorEnabled) return false;
  // better-auth's own check of a TOTP code for a signed-in user (no session is created or changed).
  try {
    await ctx.auth.api.verifyTOTP({ body: { code }, headers: headersOf(req) });
    return true;
  } catch {
    return false;
  }
}

export async function reauthRoutes(app: FastifyInstance, ctx: AppContext) {
  app.withTypeProvider<ZodTypeProvider>().get('/me/reauth', {
    schema: {
      tags: ['session'],
      summary: 'Until when protected operations are allowed without confirming your password again (null: confirm first)',
      response: { 200: z.object({ valid_until: z.string().nullable(), window_seconds: z.number() }) },
    },
    handler: async (req) => {
      const u = await loadSession(ctx, req);
      if (!u) throw new AppError('session_required', 'Sign in first.');
      const until = (await verifiedAt(ctx, u)) + ctx.config.login.reauthWindowSeconds * 1000;
      return { valid_until: until > Date.now() ? new Date(until).toISOString() : null, window_seconds: ctx.config.login.reauthWindowSeconds };
    },
  });

  app.withTypeProvider<ZodTypeProvider>().post('/me/reauth', {
    schema: {
      tags: ['session'],
      summary: 'Confirm your password or a two-factor code: protected operations are allowed for the next few minutes (REAUTH_WINDOW_SECONDS)',
      body: z
        .object({
          password: z.string().min(1).max(256).optional(),
          code: z.string().regex(/^\d{6}$/, 'a 6-digit code from your authenticator app').optional(),
        })
        .strict()
        .refine((b) => b.password !== undefined || b.code !== undefined, { message: 'give your password or a two-factor code', path: ['password'] }),
      response: { 200: z.object({ valid_until: z.string().describe('protected operations are allowed until then') }) },
    },
    handler: async (req) => {
      const u = await loadSession(ctx, req);
      if (!u) throw new AppError('session_required', 'Sign in first.');
      const now = Date.now();
      const f = failures.get(u.sessionId);
      if (f && now - f.since < FAILURE_WINDOW_MS && f.count >= MAX_FAILURES) {
        throw new AppError('rate_limited', 'Too many wrong confirmations: sign in again.', { headers: { 'retry-after': String(Math.ceil((f.since + FAILURE_WINDOW_MS - now) / 1000)) } });
      }
      const ok = req.body.code !== undefined ? await codeMatches(ctx, req, u, req.body.code) : await passwordMatches(ctx, u.id, req.body.password!);
      const actor = actorOf(req);
      if (!ok) {
        failures.set(u.sessionId, f && now - f.since < FAILURE_WINDOW_MS ? { count: f.count + 1, since: f.since } : { count: 1, since: now });
        await audit(ctx.db.kysely, actor, 'session.reauth_failed', { type: 'user', id: u.id }, undefined, { method: req.body.code !== undefined ? 'totp' : 'password' });
        throw new AppError('invalid_credentials', req.body.code !== undefined ? 'That code is not right.' : 'That password is not right.', {
          path: req.body.code !== undefined ? 'code' : 'password',
        });
      }
      failures.delete(u.sessionId);
      await ctx.db.kysely.transaction().execute(async (trx) => {
        await trx.updateTable('auth_sessions').set({ reauth_at: now }).where('id', '=', u.sessionId).execute();
        await audit(trx, actor, 'session.reauth', { type: 'user', id: u.id }, undefined, { method: req.body.code !== undefined ? 'totp' : 'password' });
      });
      return { valid_until: new Date(now + ctx.config.login.reauthWindowSeconds * 1000).toISOString() };
    },
  });
}
