import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { audit } from '../audit/index.js';
import { actorOf, headersOf, loadSession } from '../http/session.js';
import { isStaffRole, PERMISSIONS } from '../lib/permissions.js';
import { CLIENT_IP_HEADER } from './auth.js';
import { findUserByEmail, findUserById, UserNameSchema } from './users.js';
import { checkPassword } from './password-policy.js';
import { getRequireEmailVerification } from './email-verification.js';
import { claimInvite, finishInvite, getRegistration, REGISTRATION_MODES } from './registration.js';
import { mustEnrol2fa } from './two-factor.js';

const hashPassword = async (pw: string) => (await import('better-auth/crypto')).hashPassword(pw);

const ImageSchema = z.string().max(2048, 'image must be at most 2048 characters');
const EmailField = z.string().max(254, 'email must be at most 254 characters');

/**
 * better-auth's routes that write users check types loosely (a number name was stored as
 * "12345.0", a 5 MB name was accepted, null or an object gave a 500). Ours are checked here first,
 * with the same rules as the admin API; what better-auth checks itself (password, email shape)
 * it still checks.
 */
const USER_WRITES: Record<string, z.ZodType<Record<string, unknown>>> = {
  '/api/auth/sign-up/email': z.looseObject({ name: UserNameSchema, email: EmailField, password: z.string(), image: ImageSchema.optional() }),
  '/api/auth/update-user': z.looseObject({ name: UserNameSchema.optional(), image: ImageSchema.nullable().optional() }),
  '/api/auth/change-email': z.looseObject({ newEmail: EmailField }),
};

function checkUserWrite(pathname: string, body: unknown): unknown {
  const schema = USER_WRITES[pathname];
  if (!schema) return body;
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join('.') || 'body';
  throw new AppError('validation_failed', `${path}: ${issue.message}`, { path, details: r.error.issues.map((i) => ({ path: i.path.join('.') || 'body', message: i.message })) });
}

type SignUpBody = { email: string; password?: unknown; inviteCode?: unknown; name?: unknown };

/**
 * Sign-up answers this whether the address was free (account created) or already registered
 * (nothing changes), so sign-up cannot be used to find out who has an account.
 */
export const SIGN_UP_ACCEPTED = {
  status: 'accepted',
  message: 'If this address can be registered, its account is ready: sign in with the password you chose.',
} as const;

/**
 * The registration switch, the password policy and invite codes, before better-auth sees a
 * sign-up. Returns 'exists' when the address is already registered (the caller answers as for a
 * new account), else the invite taken (or null).
 */
async function admitSignUp(ctx: AppContext, b: SignUpBody): Promise<number | null | 'exists'> {
  const mode = await getRegistration(ctx.db);
  if (mode === 'closed') throw new AppError('registration_closed', 'Sign-up is closed on this server; ask an operator for an account.');
  if (typeof b.password !== 'string') throw new AppError('validation_failed', 'password: a password is required', { path: 'password' });
  checkPassword(b.password, b.email);
  const inviteId = mode === 'invite_only' ? await claimInvite(ctx.db, b.inviteCode) : null;
  delete b.inviteCode;
  const existing = await findUserByEmail(ctx.db.kysely, b.email);
  if (!existing) return inviteId;
  // As long as creating one would take (the hash), and the invite stays used: an answer that
  // came sooner, or an invite that survived, would tell that the address is registered.
  await hashPassword(b.password);
  if (inviteId !== null) await finishInvite(ctx.db, inviteId, existing.id);
  return 'exists';
}

interface ResetTarget {
  id: number;
  email: string;
  role: string;
  sessions: number;
}

/**
 * The password policy on better-auth's change-password and reset-password. For a reset, returns
 * whose password the token would set (for the audit entry), or null.
 */
async function checkNewPassword(ctx: AppContext, req: FastifyRequest, pathname: string, body: unknown): Promise<ResetTarget | null> {
  const b = body as { newPassword?: unknown; token?: unknown } | undefined;
  if (req.method !== 'POST' || typeof b?.newPassword !== 'string') return null;
  let email: string | undefined;
  let target: ResetTarget | null = null;
  if (pathname === '/api/auth/change-password') {
    email = (await loadSession(ctx, req))?.email;
  } else if (pathname === '/api/auth/reset-password' && typeof b.token === 'string') {
    const v = await ctx.db.kysely.selectFrom('auth_verifications').select('value').where('identifier', '=', `reset-password:${b.token}`).executeTakeFirst();
    const u = v ? await ctx.db.kysely.selectFrom('users').select(['id', 'email', 'role']).where('id', '=', Number(v.value)).executeTakeFirst() : undefined;
    email = u?.email;
    if (u) {
      const n = await ctx.db.kysely.selectFrom('auth_sessions').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', u.id).executeTakeFirstOrThrow();
      target = { id: Number(u.id), email: u.email, role: u.role, sessions: Number(n.n) };
    }
  }
  // No session or no such token: better-auth gives its own 401/400.
  if (email !== undefined) checkPassword(b.newPassword, email, 'newPassword');
  return target;
}

/**
 * The user a verification link names (the token is a JWT signed by better-auth, which checks it;
 * here it is only read, to audit a change that better-auth then makes).
 */
async function verifyTarget(ctx: AppContext, token: string | null) {
  if (!token) return null;
  let email: unknown;
  try {
    email = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { email?: unknown }).email;
  } catch {
    return null;
  }
  if (typeof email !== 'string') return null;
  const u = await ctx.db.kysely.selectFrom('users').select(['id', 'email', 'role', 'email_verified']).where('email', '=', email.toLowerCase()).executeTakeFirst();
  return u ? { id: Number(u.id), email: u.email, role: u.role, verified: Boolean(u.email_verified) } : null;
}

/**
 * A reset request is answered no sooner than this after it arrived, registered address or not,
 * so its timing does not tell them apart (the mail itself goes out in the background).
 */
const RESET_REQUEST_FLOOR_MS = 250;

/**
 * The origin the caller reached: Host (or X-Forwarded-Host / -Proto, which Fastify reads only from
 * a proxy TRUST_PROXY trusts). better-auth sees this, never the forwarded headers themselves.
 */
function trustedOrigin(req: FastifyRequest): string {
  return `${req.protocol}://${req.host || 'localhost'}`;
}

/** better-auth routes where signed-in users change their own account, and the action audited. */
const SELF_CHANGES: Record<string, string> = {
  '/api/auth/update-user': 'user.update',
  '/api/auth/change-email': 'user.update',
  '/api/auth/change-password': 'user.password_change',
};

/** better-auth's two-factor routes whose outcome goes on the audit trail. */
const TWO_FACTOR_PATHS = new Set([
  '/api/auth/two-factor/verify-totp',
  '/api/auth/two-factor/verify-backup-code',
  '/api/auth/two-factor/disable',
  '/api/auth/two-factor/generate-backup-codes',
]);
const SECOND_FACTOR_PATHS: Record<string, string> = {
  '/api/auth/two-factor/verify-totp': 'totp',
  '/api/auth/two-factor/verify-backup-code': 'backup_code',
};

/**
 * The person a pending second-factor sign-in belongs to: better-auth's signed `two_factor` cookie
 * holds the identifier of a verification row whose value is the user id. Read before better-auth
 * answers (a right code consumes the row), so a wrong code can be put on the right account.
 */
async function pendingSecondFactorUser(ctx: AppContext, req: FastifyRequest): Promise<{ id: number; email: string; role: string } | null> {
  const m = /(?:^|;\s*)(?:__Secure-)?tollgate\.two_factor=([^;]+)/.exec(req.headers.cookie ?? '');
  if (!m) return null;
  let signed: string;
  try {
    signed = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  const identifier = signed.slice(0, signed.lastIndexOf('.'));
  if (!identifier.startsWith('2fa-')) return null;
  const v = await ctx.db.kysely.selectFrom('auth_verifications').select('value').where('identifier', '=', identifier).executeTakeFirst();
  const id = Number(v?.value);
  if (!Number.isSafeInteger(id)) return null;
  const u = await ctx.db.kysely.selectFrom('users').select(['id', 'email', 'role']).where('id', '=', id).executeTakeFirst();
  return u ? { id: Number(u.id), email: u.email, role: u.role } : null;
}

/**
 * The second step of a sign-in with 2FA (a code or a backup code, no session yet): a right code is
 * the `auth.sign_in` (the password step alone wrote nothing), a wrong one `auth.sign_in_failed`.
 */
async function auditSecondFactor(ctx: AppContext, req: FastifyRequest, method: string, who: { id: number; email: string; role: string } | null, status: number, text: string | null) {
  const base = actorOf(req);
  if (status >= 200 && status < 300) {
    let user: { id?: unknown; email?: unknown; role?: unknown } | undefined;
    try {
      user = (JSON.parse(text ?? '{}') as { user?: typeof user }).user;
    } catch {
      user = undefined;
    }
    const id = Number(user?.id ?? who?.id);
    if (!Number.isSafeInteger(id)) return;
    const role = typeof user?.role === 'string' ? user.role : (who?.role ?? 'user');
    const email = typeof user?.email === 'string' ? user.email : (who?.email ?? null);
    await audit(ctx.db.kysely, { ...base, kind: isStaffRole(role) ? 'staff' : 'user', id, email, role }, 'auth.sign_in', { type: 'user', id }, null, { second_factor: method });
    return;
  }
  let code: string | null = null;
  try {
    const j = JSON.parse(text ?? '{}') as { code?: unknown };
    code = typeof j.code === 'string' ? j.code : null;
  } catch {
    code = null;
  }
  await audit(ctx.db.kysely, { ...base, kind: 'user', id: null, email: who?.email ?? null, role: null }, 'auth.sign_in_failed', { type: 'user', id: who?.id ?? null }, null, {
    email: who?.email ?? null,
    status,
    code,
    second_factor: method,
  });
}

/**
 * Sign-ins and sign-ups, successful or not, go on the audit trail with the address and user agent.
 * A failure records the email that was tried (never the password) and why it failed.
 */
async function auditSignIn(ctx: AppContext, req: FastifyRequest, what: 'sign_in' | 'sign_up', body: unknown, status: number, text: string | null) {
  const tried = typeof (body as { email?: unknown } | undefined)?.email === 'string' ? String((body as { email: string }).email).trim().toLowerCase().slice(0, 254) : null;
  const base = actorOf(req);
  if (status >= 200 && status < 300) {
    let user: { id?: unknown; email?: unknown; role?: unknown } | undefined;
    try {
      user = (JSON.parse(text ?? '{}') as { user?: typeof user }).user;
    } catch {
      user = undefined;
    }
    const id = Number(user?.id);
    if (!Number.isSafeInteger(id)) return;
    const role = typeof user?.role === 'string' ? user.role : 'user';
    const email = typeof user?.email === 'string' ? user.email : tried;
    const actor = { ...base, kind: isStaffRole(role) ? ('staff' as const) : ('user' as const), id, email, role };
    await audit(ctx.db.kysely, actor, what === 'sign_in' ? 'auth.sign_in' : 'auth.sign_up', { type: 'user', id }, null, what === 'sign_up' ? { email, role } : null);
    return;
  }
  let code: string | null = null;
  try {
    const j = JSON.parse(text ?? '{}') as { code?: unknown; message?: unknown };
    code = typeof j.code === 'string' ? j.code : typeof j.message === 'string' ? j.message.slice(0, 200) : null;
  } catch {
    code = null;
  }
  const known = tried ? await ctx.db.kysely.selectFrom('users').select('id').where('email', '=', tried).executeTakeFirst() : undefined;
  await audit(
    ctx.db.kysely,
    { ...base, kind: 'user', id: null, email: tried, role: null },
    what === 'sign_in' ? 'auth.sign_in_failed' : 'auth.sign_up_failed',
    { type: 'user', id: known?.id ?? null },
    null,
    { email: tried, status, code },
  );
}

/**
 * An OAuth callback that did not sign anyone in (refused by the registration switch, a frozen
 * account, a state that does not match, the provider's own error) redirects to the sign-in page
 * with `?error=`: that is an `auth.sign_in_failed` entry. Successes are audited by the hooks in
 * auth.ts, which know the user.
 */
async function auditOAuthFailure(ctx: AppContext, req: FastifyRequest, provider: string, res: Response) {
  const location = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !location) return;
  const error = new URL(location, 'http://x').searchParams.get('error');
  if (!error) return;
  await audit(ctx.db.kysely, { ...actorOf(req), kind: 'user', id: null, email: null, role: null }, 'auth.sign_in_failed', { type: 'user', id: null }, null, {
    provider: provider.slice(0, 40),
    code: error.slice(0, 100),
  });
}

/** better-auth's handler mounted at /api/auth/* (sign-in, sign-out, sessions), plus /api/me. */
export async function authRoutes(app: FastifyInstance, ctx: AppContext) {
  app.route({
    method: ['GET', 'POST'],
    url: '/auth/*',
    schema: { hide: true },
    handler: async (req, reply) => {
      const url = new URL(req.url, trustedOrigin(req));
      const hasBody = req.method !== 'GET' && req.body !== undefined && req.body !== null;
      // Only JSON (parsed, with its nesting cap): a text/plain body is what a cross-site form can send.
      if (hasBody && typeof req.body === 'string') throw new AppError('unsupported_media_type', 'Send the body as application/json.');
      if (hasBody && (typeof req.body !== 'object' || Array.isArray(req.body))) throw new AppError('bad_request', 'The request body must be a JSON object.');
      const body = hasBody ? checkUserWrite(url.pathname, req.body) : undefined;
      const isSignUp = url.pathname === '/api/auth/sign-up/email' && req.method === 'POST';
      let inviteId: number | null = null;
      if (isSignUp) {
        if (body === undefined) throw new AppError('validation_failed', 'email: an email address is required', { path: 'email' });
        const gate = await admitSignUp(ctx, body as SignUpBody);
        if (gate === 'exists') return reply.code(200).type('application/json; charset=utf-8').send(SIGN_UP_ACCEPTED);
        inviteId = gate;
      }
      const resetTarget = await checkNewPassword(ctx, req, url.pathname, body);
      const isResetRequest = req.method === 'POST' && url.pathname === '/api/auth/request-password-reset';
      const started = Date.now();
      const verifying = req.method === 'GET' && url.pathname === '/api/auth/verify-email' ? await verifyTarget(ctx, url.searchParams.get('token')) : null;
      const headers = headersOf(req);
      for (const name of [...headers.keys()]) if (name.startsWith('x-forwarded-') || name === 'forwarded') headers.delete(name);
      // better-auth rate-limits sign-ins per client address. Give it the address Fastify worked
      // out (which honours TRUST_PROXY), under a header of our own that a caller cannot spoof.
      headers.set(CLIENT_IP_HEADER, req.ip);
      const request = new Request(url, { method: req.method, headers, ...(hasBody ? { body: JSON.stringify(body) } : {}) });
      // A signed-in user changing their own account through better-auth: keep the values before.
      const selfChange = req.method === 'POST' ? SELF_CHANGES[url.pathname] : undefined;
      const twoFactorPath = req.method === 'POST' && TWO_FACTOR_PATHS.has(url.pathname) ? url.pathname : undefined;
      const me = selfChange || twoFactorPath ? await loadSession(ctx, req) : null;
      const before = me ? await findUserById(ctx.db.kysely, me.id) : undefined;
      // A code sent without a session is the second step of a sign-in.
      const secondFactor = twoFactorPath && !me ? SECOND_FACTOR_PATHS[twoFactorPath] : undefined;
      const pending = secondFactor ? await pendingSecondFactorUser(ctx, req) : null;
      // Lockout (accounts/lockout.ts): checked before better-auth sees the password, so a locked
      // account is refused even with the right one; counted from better-auth's answer.
      const signInEmail =
        url.pathname === '/api/auth/sign-in/email' && req.method === 'POST' && typeof (body as { email?: unknown } | undefined)?.email === 'string'
          ? (body as { email: string }).email
          : null;
      if (signInEmail !== null) await ctx.signInGuard.check(signInEmail, req.ip);
      const res = await ctx.auth.handler(request);
      if (signInEmail !== null) {
        if (res.status === 401) await ctx.signInGuard.recordFailure(signInEmail, req.ip);
        else if (res.ok) await ctx.signInGuard.recordSuccess(signInEmail);
      }
      if (isResetRequest) {
        const wait = RESET_REQUEST_FLOOR_MS - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (resetTarget && res.ok) {
        // The password changed and better-auth ended every session; the mailbox's owner proved
        // themselves, so an account lock from failed guesses ends too.
        await ctx.signInGuard.recordSuccess(resetTarget.email);
        const actor = { ...actorOf(req), kind: isStaffRole(resetTarget.role) ? ('staff' as const) : ('user' as const), id: resetTarget.id, email: resetTarget.email, role: resetTarget.role };
        await audit(ctx.db.kysely, actor, 'auth.password_reset', { type: 'user', id: resetTarget.id }, null, { via: 'email', sessions_ended: resetTarget.sessions });
      }
      if (verifying && !verifying.verified && res.ok) {
        const now = await ctx.db.kysely.selectFrom('users').select('email_verified').where('id', '=', verifying.id).executeTakeFirst();
        if (now?.email_verified) {
          const actor = { ...actorOf(req), kind: isStaffRole(verifying.role) ? ('staff' as const) : ('user' as const), id: verifying.id, email: verifying.email, role: verifying.role };
          await audit(ctx.db.kysely, actor, 'auth.email_verified', { type: 'user', id: verifying.id }, { email_verified: false }, { email_verified: true, email: verifying.email });
        }
      }
      if (isSignUp) {
        const created = res.ok ? ((await res.clone().json().catch(() => null)) as { user?: { id?: unknown } } | null) : null;
        const userId = created?.user?.id !== undefined ? Number(created.user.id) : null;
        if (inviteId !== null) await finishInvite(ctx.db, inviteId, userId);
      }
      reply.code(res.status);
      res.headers.forEach((value, key) => {
        // A sign-up's answer must look the same whether or not better-auth created anyone.
        if (key !== 'set-cookie' && (!isSignUp || key === 'content-type')) reply.header(key, value);
      });
      // Behind a TLS proxy that TRUST_PROXY trusts, the session cookie must never travel over plain HTTP.
      const secure = req.protocol === 'https';
      const cookies = res.headers.getSetCookie().map((c) => (secure && !/;\s*secure\b/i.test(c) ? `${c}; Secure` : c));
      if (cookies.length > 0) reply.header('set-cookie', cookies);
      const text = res.body ? await res.text() : null;
      if (selfChange && before && res.status >= 200 && res.status < 300) {
        const after = await findUserById(ctx.db.kysely, before.id);
        const pick = (u: typeof before) => ({ name: u.name, email: u.email, image: u.image });
        const b0 = pick(before) as Record<string, unknown>;
        const a0 = (after ? pick(after) : {}) as Record<string, unknown>;
        const changed = Object.keys(b0).filter((k) => b0[k] !== a0[k]);
        if (selfChange === 'user.password_change' || changed.length > 0) {
          await audit(ctx.db.kysely, actorOf(req), selfChange, { type: 'user', id: before.id },
            selfChange === 'user.password_change' ? null : Object.fromEntries(changed.map((k) => [k, b0[k]])),
            selfChange === 'user.password_change' ? null : Object.fromEntries(changed.map((k) => [k, a0[k]])));
        }
      }
      if (req.method === 'GET' && url.pathname.startsWith('/api/auth/callback/')) await auditOAuthFailure(ctx, req, url.pathname.slice('/api/auth/callback/'.length), res);
      if (twoFactorPath && before && res.status >= 200 && res.status < 300) {
        // Enrolment is confirmed by the first right code (verify-totp with a session).
        const after = await findUserById(ctx.db.kysely, before.id);
        const action =
          twoFactorPath === '/api/auth/two-factor/disable'
            ? 'user.two_factor_disable'
            : twoFactorPath === '/api/auth/two-factor/generate-backup-codes'
              ? 'user.backup_codes_regenerate'
              : !before.two_factor_enabled && after?.two_factor_enabled
                ? 'user.two_factor_enable'
                : null;
        if (action) {
          await audit(ctx.db.kysely, actorOf(req), action, { type: 'user', id: before.id },
            action === 'user.backup_codes_regenerate' ? null : { two_factor_enabled: !!before.two_factor_enabled },
            action === 'user.backup_codes_regenerate' ? null : { two_factor_enabled: !!after?.two_factor_enabled });
        }
      }
      if (secondFactor) await auditSecondFactor(ctx, req, secondFactor, pending, res.status, text);
      if (req.method === 'POST' && (url.pathname === '/api/auth/sign-in/email' || url.pathname === '/api/auth/sign-up/email')) {
        await auditSignIn(ctx, req, url.pathname.endsWith('sign-up/email') ? 'sign_up' : 'sign_in', body, res.status, text);
      }
      // Created, or lost a race to another sign-up of the same address: the same answer as for a
      // registered address (no better-auth headers, no cookie).
      if (isSignUp && (res.ok || res.status === 422)) {
        reply.removeHeader('set-cookie');
        reply.removeHeader('content-length');
        return reply.code(200).type('application/json; charset=utf-8').send(SIGN_UP_ACCEPTED);
      }
      return reply.send(text);
    },
  });

  app.withTypeProvider<ZodTypeProvider>().get('/registration', {
    schema: {
      tags: ['session'],
      summary: 'Who may sign up here (open, closed or invite_only), and whether mail (verification, password reset) is on: for the sign-in and sign-up pages',
      response: {
        200: z.object({
          mode: z.enum(REGISTRATION_MODES),
          mail: z.boolean().describe('SMTP is configured: verification and password-reset mails are sent; otherwise the operator resets passwords'),
          require_email_verification: z.boolean().describe('Customers must verify their email before they can sign in (only when mail is on)'),
        }),
      },
    },
    handler: async () => ({
      mode: await getRegistration(ctx.db),
      mail: ctx.mailer.enabled,
      require_email_verification: ctx.mailer.enabled && (await getRequireEmailVerification(ctx.db)),
    }),
  });

  app.withTypeProvider<ZodTypeProvider>().get('/me', {
    schema: {
      tags: ['session'],
      summary: 'The signed-in user (any role) and the permissions their role gives',
      response: {
        200: z.object({
          id: z.number(),
          email: z.string(),
          name: z.string(),
          role: z.string(),
          permissions: z.array(z.string()).describe('`resource:action`, e.g. `user:edit`; empty for a customer'),
          two_factor_enabled: z.boolean().describe('sign-in asks for a TOTP code (or a backup code) after the password'),
          two_factor_required: z
            .boolean()
            .describe('staff on a server that requires 2FA, without it yet: /api/admin answers 403 two_factor_required until they enrol'),
        }),
      },
    },
    handler: async (req) => {
      const u = await loadSession(ctx, req);
      if (!u) throw new AppError('session_required', 'Sign in first.');
      const held = ctx.roles.permissionsOf(u.role);
      // In the catalogue's order (grouped by resource), which is also what the console shows.
      return {
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        permissions: PERMISSIONS.filter((p) => held.has(p)),
        two_factor_enabled: u.twoFactorEnabled,
        two_factor_required: await mustEnrol2fa(ctx, u),
      };
    },
  });
}
