import { betterAuth } from 'better-auth';
import { APIError } from 'better-auth/api';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { deriveKey } from '../lib/crypto.js';
import type { Logger } from '../log.js';
import { createWallet } from '../billing/wallets.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.js';

/** Set by our route from Fastify's `req.ip`; whatever a caller sends under this name is replaced. */
export const CLIENT_IP_HEADER = 'x-tollgate-client-ip';

/**
 * Human sign-in (sessions in a cookie) is better-auth, over our own Kysely connection and tables
 * (`users`, `auth_sessions`, `auth_accounts`, `auth_verifications`, created by our migrations in
 * the shape better-auth expects). OAuth, 2FA and organizations are better-auth plugins that the
 * accounts work adds here.
 */
export function createAuth(db: Db, config: Config, log: Logger) {
  const ts = (d = new Date()) => (db.dialect === 'sqlite' ? d.toISOString() : d);
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
    emailAndPassword: { enabled: true, minPasswordLength: PASSWORD_MIN_LENGTH, maxPasswordLength: PASSWORD_MAX_LENGTH, autoSignIn: false },
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
    rateLimit: { enabled: true, window: 60, max: 100, storage: 'memory' },
    telemetry: { enabled: false },
    databaseHooks: {
      user: {
        create: {
          // Every user, however created (sign-up, OAuth later), gets a wallet.
          after: async (user) => {
            const id = Number(user.id);
            const has = await db.kysely.selectFrom('wallets').select('id').where('user_id', '=', id).executeTakeFirst();
            if (!has) await createWallet(db, db.kysely, id);
          },
        },
      },
      session: {
        create: {
          before: async (session) => {
            const u = await db.kysely.selectFrom('users').select(['status']).where('id', '=', Number(session.userId)).executeTakeFirst();
            if (u?.status === 'frozen') throw new APIError('FORBIDDEN', { message: 'This account is frozen. Contact the operator to have it unfrozen.' });
            if (!u || u.status !== 'active') throw new APIError('FORBIDDEN', { message: 'This account is disabled.' });
          },
          after: async (session) => {
            await db.kysely
              .updateTable('users')
              .set({ last_login_at: Date.now(), updated_at: ts() })
              .where('id', '=', Number(session.userId))
              .execute()
              .catch((err) => log.warn({ err }, 'could not record last login'));
          },
        },
      },
    },
    logger: { disabled: false, level: 'warn', log: (level, message) => log[level === 'debug' ? 'debug' : level === 'info' ? 'info' : level === 'warn' ? 'warn' : 'error']({ src: 'auth' }, message) },
  });
}

export type Auth = ReturnType<typeof createAuth>;
