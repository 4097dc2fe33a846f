import { betterAuth } from 'better-auth';
import { APIError } from 'better-auth/api';
import { twoFactor } from 'better-auth/plugins';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { deriveKey } from '../lib/crypto.js';
import type { Logger } from '../log.js';
import { createWallet } from '../billing/wallets.js';
import { isStaffRole } from '../lib/permissions.js';
import { pickMailLanguage, resetPasswordMail, verifyEmailMail, type Mailer } from '../mail/index.js';
import { getRequireEmailVerification } from './email-verification.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.js';
import type { SecretBox } from '../lib/crypto.js';
import type { ChangeFeed } from '../live/changes.js';
import { audit } from '../audit/index.js';
import { admitOAuthSignUp, grantFirstKey, oauthActor, oauthPlugins, oauthProviderOf, refuseStaff, refuseTwoFactor, type HookContext } from './oauth.js';

/** Set by our route from Fastify's `req.ip`; whatever a caller sends under this name is replaced. */
export const CLIENT_IP_HEADER = 'x-tollgate-client-ip';

/** How long a password-reset link works (seconds). */
export const RESET_TOKEN_TTL_S = 3600;
/** How long an email-verification link works (seconds). */
export const VERIFY_TOKEN_TTL_S = 24 * 3600;

/**
 * Human sign-in (sessions in a cookie) is better-auth, over our own Kysely connection and tables
 * (`users`, `auth_sessions`, `auth_accounts`, `auth_verifications`, created by our migrations in
 * the shape better-auth expects). Two-factor sign-in is better-auth's `twoFactor` plugin (TOTP
 * and backup codes, table `two_factors`; docs/SIGN-IN.md). OAuth and organizations are plugins
 * that the accounts work adds here.
 */
export function createAuth(db: Db, config: Config, log: Logger, deps: { feed: ChangeFeed; box: SecretBox; mailer: Mailer }) {
  const { mailer } = deps;
  const ts = (d = new Date()) => (db.dialect === 'sqlite' ? d.toISOString() : d);
  // Links in mails open the console: at PUBLIC_URL, else at the address the browser used (the
  // request URL our route builds from Host, honouring TRUST_PROXY).
  const consoleUrl = (request: Request | undefined, path: string, token: string) => {
    const origin = config.publicUrl ? new URL(config.publicUrl).origin : request ? new URL(request.url).origin : `http://localhost:${config.port}`;
    return `${origin}/console/${path}?token=${encodeURIComponent(token)}`;
  };
  return betterAuth({
    appName: 'Tollgate',
    database: { db: db.kysely as never, type: db.dialect },
    secret: deriveKey(config.secret, 'better-auth').toString('base64'),
    baseURL: config.publicUrl ?? `http://localhost:${config.port}`,
    basePath: '/api/auth',
    // PUBLIC_URL's origin (better-auth trusts baseURL's), and the host the browser reached, since
    // the SPA is served by this same server: our route builds the request URL from the Host
    // header, or from X-Forwarded-Host only when TRUST_PROXY trusts the proxy, and strips the
    // forwarded headers before better-auth sees them.
    trustedOrigins: (request?: Request) => {
      if (!request) return [];
      const host = new URL(request.url).host;
      return [`http://${host}`, `https://${host}`];
    },
    // Sign-up does not sign in: a session for a new address and none for a registered one would
    // tell them apart (auth.routes.ts answers both alike). The length floor is the policy's; the
    // rest of the policy (not the email, not a common password) is checked in auth.routes.ts.
    // Reset and verification mails go out in the background (Mailer.send never waits or throws),
    // so a registered address answers as fast as an unknown one and a mail failure is only logged.
    emailAndPassword: {
      enabled: true,
      minPasswordLength: PASSWORD_MIN_LENGTH,
      maxPasswordLength: PASSWORD_MAX_LENGTH,
      autoSignIn: false,
      resetPasswordTokenExpiresIn: RESET_TOKEN_TTL_S,
      revokeSessionsOnPasswordReset: true,
      sendResetPassword: async ({ user, token }, request) => {
        if (!mailer.enabled) {
          log.warn({ to: user.email }, 'password reset asked for, but mail is off (SMTP not configured): the console tells people to ask the operator');
          return;
        }
        const url = consoleUrl(request, 'reset-password', token);
        mailer.send('reset_password', user.email, resetPasswordMail(pickMailLanguage(request?.headers), { name: user.name, url, minutes: RESET_TOKEN_TTL_S / 60 }));
      },
    },
    emailVerification: {
      sendOnSignUp: mailer.enabled,
      autoSignInAfterVerification: false,
      expiresIn: VERIFY_TOKEN_TTL_S,
      sendVerificationEmail: async ({ user, token }, request) => {
        if (!mailer.enabled) {
          log.warn({ to: user.email }, 'verification mail asked for, but mail is off (SMTP not configured)');
          return;
        }
        const url = consoleUrl(request, 'verify-email', token);
        mailer.send('verify_email', user.email, verifyEmailMail(pickMailLanguage(request?.headers), { name: user.name, url, hours: VERIFY_TOKEN_TTL_S / 3600 }));
      },
    },
    session: {
      modelName: 'auth_sessions',
      fields: { userId: 'user_id', expiresAt: 'expires_at', ipAddress: 'ip_address', userAgent: 'user_agent', createdAt: 'created_at', updatedAt: 'updated_at' },
      expiresIn: 7 * 24 * 3600,
      updateAge: 24 * 3600,
    },
    user: {
      modelName: 'users',
      fields: { emailVerified: 'email_verified', createdAt: 'created_at', updatedAt: 'updated_at' },
      additionalFields: {
        role: { type: 'string', required: false, defaultValue: 'user', input: false },
        status: { type: 'string', required: false, defaultValue: 'active', input: false },
        group_name: { type: 'string', required: false, defaultValue: 'default', input: false },
      },
    },
    account: {
      // An OAuth sign-in whose address matches an account links to it only when the provider says
      // the address is verified (Google's email_verified, GitHub's primary verified address) and
      // the account's own address is verified too: a password account someone registered with
      // another person's address is not handed to them. No provider is trusted without that.
      accountLinking: { enabled: true, trustedProviders: [], requireLocalEmailVerified: true },
      modelName: 'auth_accounts',
      fields: {
        userId: 'user_id', accountId: 'account_id', providerId: 'provider_id', accessToken: 'access_token',
        refreshToken: 'refresh_token', idToken: 'id_token', accessTokenExpiresAt: 'access_token_expires_at',
        refreshTokenExpiresAt: 'refresh_token_expires_at', createdAt: 'created_at', updatedAt: 'updated_at',
      },
    },
    verification: {
      modelName: 'auth_verifications',
      fields: { expiresAt: 'expires_at', createdAt: 'created_at', updatedAt: 'updated_at' },
    },
    advanced: {
      database: { generateId: 'serial' },
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      cookiePrefix: 'tollgate',
      // better-auth skips its origin and callbackURL checks when NODE_ENV=test; the tests must see
      // the checks production runs.
      disableOriginCheck: false,
      useSecureCookies: config.publicUrl?.startsWith('https://') ?? false,
    },
    plugins: [
      ...oauthPlugins(config, log),
      twoFactor({
        issuer: 'Tollgate',
        // The secret and the backup codes are stored encrypted with the server's secret (the
        // plugin's default); a sign-in waiting for its code has 10 minutes, 5 tries per challenge,
        // and 10 wrong codes in a row lock the second factor for 15 minutes.
        backupCodeOptions: { amount: 10, length: 10, storeBackupCodes: 'encrypted' },
        schema: {
          user: { fields: { twoFactorEnabled: 'two_factor_enabled' } },
          twoFactor: {
            modelName: 'two_factors',
            fields: { userId: 'user_id', backupCodes: 'backup_codes', failedVerificationCount: 'failed_verification_count', lockedUntil: 'locked_until' },
          },
        },
      }),
    ],
    rateLimit: { enabled: true, window: 60, max: 100, storage: 'memory' },
    telemetry: { enabled: false },
    databaseHooks: {
      user: {
        create: {
          // The registration switch applies to accounts an OAuth sign-in would create, and such an
          // account needs an address the provider has verified (else anyone could take anyone's).
          before: async (user, hctx) => {
            if (oauthProviderOf(hctx as HookContext | null)) await admitOAuthSignUp(db, user.emailVerified === true);
          },
          // Every user, however created (sign-up, OAuth), gets a wallet; an OAuth sign-up also
          // gets its first key, shown once on the first landing.
          after: async (user, hctx) => {
            const id = Number(user.id);
            const has = await db.kysely.selectFrom('wallets').select('id').where('user_id', '=', id).executeTakeFirst();
            if (!has) await createWallet(db, db.kysely, id);
            const provider = oauthProviderOf(hctx as HookContext | null);
            if (provider) {
              const actor = oauthActor(hctx as HookContext, CLIENT_IP_HEADER, { id, email: user.email, role: 'user' });
              await audit(db.kysely, actor, 'auth.sign_up', { type: 'user', id }, null, { email: user.email, role: 'user', provider });
              await grantFirstKey(db, deps.feed, deps.box, id, actor);
            }
          },
        },
      },
      account: {
        create: {
          // Linking a provider to a staff account is refused (staff sign in with their password).
          before: async (account, hctx) => {
            if (!oauthProviderOf(hctx as HookContext | null)) return;
            const u = await db.kysely.selectFrom('users').select(['role']).where('id', '=', Number(account.userId)).executeTakeFirst();
            refuseStaff(u?.role);
          },
        },
      },
      session: {
        create: {
          before: async (session, hctx) => {
            const u = await db.kysely.selectFrom('users').select(['status', 'role', 'email_verified', 'two_factor_enabled']).where('id', '=', Number(session.userId)).executeTakeFirst();
            if (u?.status === 'frozen') throw new APIError('FORBIDDEN', { code: 'account_frozen', message: 'This account is frozen. Contact the operator to have it unfrozen.' });
            if (!u || u.status !== 'active') throw new APIError('FORBIDDEN', { code: 'account_disabled', message: 'This account is disabled.' });
            if (oauthProviderOf(hctx as HookContext | null)) {
              refuseStaff(u.role);
              // A provider sign-in would skip the second factor (better-auth asks for it only after a password).
              refuseTwoFactor(Boolean(u.two_factor_enabled));
            }
            // Checked after the password (a session is being made), so it tells nothing to someone
            // without it. Staff are exempt (operators made their accounts); without mail nobody
            // could verify, so the setting then has no effect.
            if (!u.email_verified && !isStaffRole(u.role) && mailer.enabled && (await getRequireEmailVerification(db))) {
              throw new APIError('FORBIDDEN', { code: 'EMAIL_NOT_VERIFIED', message: 'Verify your email address first: open the link in the mail we sent, or ask for a new one.' });
            }
          },
          after: async (session, hctx) => {
            await db.kysely
              .updateTable('users')
              .set({ last_login_at: Date.now(), updated_at: ts() })
              .where('id', '=', Number(session.userId))
              .execute()
              .catch((err) => log.warn({ err }, 'could not record last login'));
            const provider = oauthProviderOf(hctx as HookContext | null);
            if (provider) {
              const id = Number(session.userId);
              const u = await db.kysely.selectFrom('users').select(['email', 'role']).where('id', '=', id).executeTakeFirst();
              const actor = oauthActor(hctx as HookContext, CLIENT_IP_HEADER, { id, email: u?.email ?? null, role: u?.role ?? 'user' });
              await audit(db.kysely, actor, 'auth.sign_in', { type: 'user', id }, null, { provider });
            }
          },
        },
      },
    },
    logger: { disabled: false, level: 'warn', log: (level, message) => log[level === 'debug' ? 'debug' : level === 'info' ? 'info' : level === 'warn' ? 'warn' : 'error']({ src: 'auth' }, message) },
  });
}

export type Auth = ReturnType<typeof createAuth>;
