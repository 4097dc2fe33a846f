import { APIError } from 'better-auth/api';
import { genericOAuth, type GenericOAuthConfig } from 'better-auth/plugins/generic-oauth';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Db } from '../db/index.js';
import { affected, inTransaction } from '../db/index.js';
import type { SecretBox } from '../lib/crypto.js';
import { audit, type Actor } from '../audit/index.js';
import type { ChangeFeed } from '../live/changes.js';
import { createKey } from './keys.js';
import { getRegistration } from './registration.js';

/**
 * Sign-in with GitHub and Google. Both are better-auth providers registered through its generic
 * OAuth plugin, so they use better-auth's own `POST /api/auth/sign-in/social` and
 * `/api/auth/callback/:provider`, state and PKCE, and (Google) verification of the id_token
 * against the issuer's published keys. The plugin is used rather than the built-in
 * `socialProviders` because those have the vendors' URLs fixed in code: here they come from the
 * configuration (OAUTH_GITHUB_BASE_URL for GitHub Enterprise, OAUTH_GOOGLE_ISSUER), defaulting to
 * the vendors' own, and the same code runs in production and against the loopback providers of the
 * tests.
 */
export const OAUTH_PROVIDERS = ['github', 'google'] as const;
export type OAuthProviderId = (typeof OAUTH_PROVIDERS)[number];

const trimSlash = (u: string) => u.replace(/\/+$/, '');

/** Which providers this server offers (client id and secret both set). */
export function enabledProviders(config: Config): OAuthProviderId[] {
  const o = config.oauth;
  const out: OAuthProviderId[] = [];
  if (o.githubClientId && o.githubClientSecret) out.push('github');
  if (o.googleClientId && o.googleClientSecret) out.push('google');
  return out;
}

/** GitHub's REST API for a web origin: api.github.com for github.com, `/api/v3` on GitHub Enterprise Server. */
export function githubApiUrl(base: string): string {
  const b = trimSlash(base);
  return b === 'https://github.com' ? 'https://api.github.com' : `${b}/api/v3`;
}

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

async function githubJson<T>(url: string, token: string): Promise<T | null> {
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'Tollgate' },
    redirect: 'error',
    signal: AbortSignal.timeout(10_000),
  }).catch(() => null);
  if (!res?.ok) return null;
  return (await res.json().catch(() => null)) as T | null;
}

function providerConfigs(config: Config): GenericOAuthConfig[] {
  const o = config.oauth;
  const out: GenericOAuthConfig[] = [];
  if (o.githubClientId && o.githubClientSecret) {
    const web = trimSlash(o.githubBaseUrl);
    const api = githubApiUrl(web);
    out.push({
      providerId: 'github',
      name: 'GitHub',
      clientId: o.githubClientId,
      clientSecret: o.githubClientSecret,
      authorizationUrl: `${web}/login/oauth/authorize`,
      tokenUrl: `${web}/login/oauth/access_token`,
      scopes: ['read:user', 'user:email'],
      // The address is the primary one from /user/emails, with GitHub's own word on whether it
      // is verified (the public profile address says nothing about that).
      getUserInfo: async (tokens) => {
        if (!tokens.accessToken) return null;
        const profile = await githubJson<{ id: number; login: string; name: string | null; email: string | null; avatar_url?: string }>(`${api}/user`, tokens.accessToken);
        if (!profile || typeof profile.id !== 'number') return null;
        const emails = (await githubJson<GitHubEmail[]>(`${api}/user/emails`, tokens.accessToken)) ?? [];
        const primary = Array.isArray(emails) ? emails.find((e) => e.primary) : undefined;
        const email = primary?.email ?? profile.email ?? null;
        return {
          id: String(profile.id),
          name: profile.name || profile.login || '',
          email,
          emailVerified: primary !== undefined && primary.email === email && primary.verified === true,
          ...(profile.avatar_url ? { image: profile.avatar_url } : {}),
        };
      },
    });
  }
  if (o.googleClientId && o.googleClientSecret) {
    out.push({
      providerId: 'google',
      name: 'Google',
      clientId: o.googleClientId,
      clientSecret: o.googleClientSecret,
      discoveryUrl: `${trimSlash(o.googleIssuer)}/.well-known/openid-configuration`,
      scopes: ['openid', 'email', 'profile'],
      // An id_token is always checked against the issuer's keys, audience and nonce.
      requireIdTokenVerification: true,
    });
  }
  return out;
}

/** How long start-up waits for the Google issuer's discovery document before going on without it. */
export const DISCOVERY_STARTUP_MS = 5_000;

/**
 * better-auth plugins for the configured providers (none when neither is configured).
 *
 * The plugin reads the OpenID discovery document while better-auth starts, and every better-auth
 * request (email sign-in and session checks included) waits for that start. An issuer that does
 * not answer (a firewall that drops the packets, a network where Google is blocked) must not hang
 * them: after DISCOVERY_STARTUP_MS better-auth starts without the providers, which the plugin then
 * builds on the first request that names one (its own retry, at most 10 s, only that request).
 */
export function oauthPlugins(config: Config, log: Logger) {
  const configs = providerConfigs(config);
  if (configs.length === 0) return [];
  const plugin = genericOAuth({ config: configs });
  const init = plugin.init.bind(plugin);
  plugin.init = (async (ctx: Parameters<typeof init>[0]) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), DISCOVERY_STARTUP_MS);
      timer.unref();
    });
    const started = init(ctx);
    started.catch(() => {});
    const done = await Promise.race([started, late]);
    clearTimeout(timer);
    if (done) return done;
    log.warn({ providers: configs.map((c) => c.providerId), waitedMs: DISCOVERY_STARTUP_MS }, 'sign-in providers not ready (no answer from the OpenID issuer); they are set up on their first use');
    return { context: { genericOAuthPendingDiscovery: new Map(configs.map((c) => [c.providerId, c])) } };
  }) as typeof plugin.init;
  return [plugin];
}

/** The endpoint context better-auth hands its database hooks (what we read of it). */
export interface HookContext {
  path?: string;
  params?: Record<string, unknown>;
  headers?: Headers;
  request?: Request;
}

/** The provider when a hook runs inside an OAuth callback (`/callback/:id`), else null. */
export function oauthProviderOf(ctx: HookContext | null | undefined): OAuthProviderId | null {
  if (!ctx || typeof ctx.path !== 'string' || !ctx.path.startsWith('/callback')) return null;
  const id = ctx.params?.id;
  return (OAUTH_PROVIDERS as readonly string[]).includes(String(id)) ? (id as OAuthProviderId) : null;
}

/** The audit actor of an OAuth callback, from the headers our route gave better-auth. */
export function oauthActor(ctx: HookContext | null | undefined, clientIpHeader: string, who: { id: number | null; email: string | null; role?: string | null }): Actor {
  const h = ctx?.headers ?? ctx?.request?.headers;
  return {
    kind: who.role && who.role !== 'user' ? 'staff' : 'user',
    id: who.id,
    email: who.email,
    role: who.role ?? null,
    ip: h?.get(clientIpHeader) ?? null,
    userAgent: h?.get('user-agent') ?? null,
  };
}

/**
 * An account an OAuth sign-in would create needs an address the provider verified; then the
 * registration switch: `closed` refuses it, and
 * so does `invite_only` (an invite code is entered on the sign-up form, which OAuth skips). The
 * code travels to the sign-in page as `?error=`.
 */
export async function admitOAuthSignUp(db: Db, providerVerifiedEmail: boolean): Promise<void> {
  if (!providerVerifiedEmail) {
    throw new APIError('FORBIDDEN', { code: 'provider_email_not_verified', message: 'The provider has not verified this email address; verify it there first, then sign in again.' });
  }
  const mode = await getRegistration(db);
  if (mode === 'closed') throw new APIError('FORBIDDEN', { code: 'registration_closed', message: 'Sign-up is closed on this server; ask an operator for an account.' });
  if (mode === 'invite_only') throw new APIError('FORBIDDEN', { code: 'registration_invite_only', message: 'New accounts need an invite code: sign up with it first, then sign in.' });
}

/** Staff sign in with their password (and second factor), never through a provider. */
export function refuseStaff(role: unknown): void {
  if (typeof role === 'string' && role !== 'user') {
    throw new APIError('FORBIDDEN', { code: 'oauth_staff_refused', message: 'Staff accounts sign in with email and password.' });
  }
}

/** An account with a second factor signs in with password and code, never through a provider (which would skip the code). */
export function refuseTwoFactor(enabled: boolean): void {
  if (enabled) {
    throw new APIError('FORBIDDEN', { code: 'oauth_two_factor', message: 'This account uses two-factor sign-in: sign in with your email, password and code.' });
  }
}

/**
 * The first key of an account created by an OAuth sign-in: made now, kept sealed until the portal
 * shows it on the first landing (`takeFirstKey`), then only its hash remains, as for any key.
 */
export async function grantFirstKey(db: Db, feed: ChangeFeed, box: SecretBox, userId: number, actor: Actor): Promise<void> {
  const { key, view } = await createKey(db, feed, userId, { name: 'default' }, actor);
  await db.kysely.insertInto('first_key_reveals').values({ user_id: userId, key_id: view.id, key_sealed: box.seal(key), created_at: Date.now() }).execute();
}

/**
 * The first key, once: the row is deleted in the same transaction that reads it, so a second call
 * (another tab, a reload) gets null. Null too when the key was revoked meanwhile.
 */
export async function takeFirstKey(db: Db, box: SecretBox, userId: number, actor: Actor): Promise<{ id: number; name: string; key: string } | null> {
  return inTransaction(db, async (trx) => {
    const row = await trx.selectFrom('first_key_reveals').selectAll().where('user_id', '=', userId).executeTakeFirst();
    if (!row) return null;
    const del = await trx.deleteFrom('first_key_reveals').where('user_id', '=', userId).executeTakeFirst();
    if (affected(del) !== 1) return null;
    const k = await trx.selectFrom('api_keys').select(['id', 'name', 'status']).where('id', '=', Number(row.key_id)).where('deleted_at', 'is', null).executeTakeFirst();
    if (!k || k.status !== 'active') return null;
    await audit(trx, actor, 'key.first_key_shown', { type: 'key', id: Number(k.id) });
    return { id: Number(k.id), name: k.name, key: box.open(row.key_sealed) };
  });
}
