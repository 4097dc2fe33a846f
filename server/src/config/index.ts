import { existsSync, readFileSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseIpRule } from '../lib/ip.js';

/**
 * Configuration comes from environment variables, optionally overlaid on a JSON file named by
 * `TOLLGATE_CONFIG` (or `./tollgate.config.json` when present). Environment wins over the file.
 * Everything is validated once at start; a bad value stops the process with a message naming it.
 */

const intFromEnv = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const ConfigSchema = z.object({
  port: intFromEnv(0, 65535).default(3000),
  host: z.string().min(1).default('0.0.0.0'),
  role: z.enum(['all', 'gateway', 'api', 'worker']).default('all'),
  databaseUrl: z.string().min(1).default('sqlite:./data/tollgate.db'),
  dbPoolSize: intFromEnv(1, 500).default(20),
  /** SQLite's page cache per connection, in MB: hot pages (keys, wallets, holds) fit many times over. */
  sqliteCacheMb: intFromEnv(1, 4096).default(16),
  dataDir: z.string().min(1).default('./data'),
  redisUrl: z.string().optional(),
  /** Put before every Redis key and pub/sub channel name, so several deployments can share one Redis. */
  redisPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{0,64}$/, 'letters, digits and : _ . - (at most 64)').default('tollgate:'),
  secret: z.string().optional(),
  adminEmail: z.string().email().optional(),
  adminPassword: z.string().min(8, 'TOLLGATE_ADMIN_PASSWORD must be at least 8 characters').optional(),
  publicUrl: z.string().url().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Which proxies' X-Forwarded-For / -Proto / -Host to believe: false (none), a hop count, or
   * addresses/CIDRs of the proxies; true believes any caller (see the README's Security section).
   */
  trustProxy: z.union([z.boolean(), z.number().int().min(1).max(32), z.array(z.string()).min(1)]).default(false),
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  gateway: z
    .object({
      /** How many further channels to try after the first fails with 429/5xx/network error. */
      retries: intFromEnv(0, 10).default(2),
      connectTimeoutMs: intFromEnv(100).default(10_000),
      /** Time to the first response byte from the upstream. Long prompts on slow models need minutes. */
      headersTimeoutMs: intFromEnv(100).default(300_000),
      /** Longest silence between two body chunks (streams) before the upstream is declared dead. */
      bodyTimeoutMs: intFromEnv(100).default(300_000),
      /** A hold not settled within this time is voided by the sweeper (crash safety). */
      holdTtlMs: intFromEnv(1_000).default(30 * 60_000),
      /** Output tokens reserved when the caller gives no max_tokens. */
      defaultMaxOutputTokens: intFromEnv(1).default(4096),
      /** How long a channel that failed with 429/5xx/network error is skipped. */
      cooldownMs: intFromEnv(0).default(30_000),
      bodyLimitBytes: intFromEnv(1024).default(32 * 1024 * 1024),
      /** Requests per minute per key when the key sets none; 0 = unlimited. */
      defaultKeyRpm: intFromEnv(0).default(0),
    })
    .prefault({}),
  live: z
    .object({
      /** How often each process polls the change log (keys, channels, prices). Keeps revocation under 5 s. */
      pollMs: intFromEnv(100, 5_000).default(1_000),
    })
    .prefault({}),
  login: z
    .object({
      /** Failed sign-ins on one account within `windowMinutes` that lock it. */
      maxFailures: intFromEnv(1, 1000).default(5),
      windowMinutes: intFromEnv(1, 1440).default(15),
      /** How long a locked account refuses every sign-in, the right password included. */
      lockMinutes: intFromEnv(1, 1440).default(15),
      /** Failed sign-ins from one client address (any accounts) within the window before it is refused. */
      ipMaxFailures: intFromEnv(1, 100_000).default(50),
      /**
       * Protected operations (freeze, cash adjustment, exports, …) need the password or a 2FA
       * code confirmed within this many seconds; a sign-in counts as one.
       */
      reauthWindowSeconds: intFromEnv(1, 86_400).default(300),
    })
    .prefault({}),
  /**
   * Sign-in with GitHub / Google (accounts/oauth.ts): a provider is offered only when its client id
   * and secret are both set. The URLs are the vendors' own unless set (GitHub Enterprise, or a
   * provider on loopback in the tests).
   */
  oauth: z
    .object({
      githubClientId: z.string().min(1).optional(),
      githubClientSecret: z.string().min(1).optional(),
      /** GitHub's web origin; the API is api.github.com for github.com, `<base>/api/v3` otherwise (GitHub Enterprise Server). */
      githubBaseUrl: z.string().url().default('https://github.com'),
      googleClientId: z.string().min(1).optional(),
      googleClientSecret: z.string().min(1).optional(),
      /** The OpenID issuer; its `/.well-known/openid-configuration` names the endpoints and keys. */
      googleIssuer: z.string().url().default('https://accounts.google.com'),
    })
    .prefault({}),
  /**
   * Outgoing mail (email verification, password reset). Off unless SMTP_URL or SMTP_HOST is given;
   * the product works without it (docs/SIGN-IN.md, "Email: verification and password reset").
   */
  mail: z
    .object({
      /** `smtp://user:pass@host:587` or `smtps://…:465`; wins over the separate settings. */
      url: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
      host: z.string().min(1).optional(),
      port: intFromEnv(1, 65535).optional(),
      user: z.string().optional(),
      pass: z.string().optional(),
      /** TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
      secure: z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]).optional(),
      /** The sender, `Tollgate <no-reply@example.com>`; defaults to SMTP_USER when that is an address. */
      from: z.string().min(3).optional(),
    })
    .prefault({}),
  jobs: z
    .object({
      sweepIntervalMs: intFromEnv(100).default(10_000),
      /** Minutes between scheduled channel health checks; 0 turns the schedule off. */
      channelTestIntervalMin: intFromEnv(0).default(0),
      /** The same in milliseconds, for intervals under a minute; wins over the minutes when set. */
      channelTestIntervalMs: intFromEnv(1_000).optional(),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema> & { secret: string; secretSource: 'env' | 'file' | 'generated' };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ENV_MAP: Record<string, string> = {
  PORT: 'port',
  HOST: 'host',
  TOLLGATE_ROLE: 'role',
  DATABASE_URL: 'databaseUrl',
  DB_POOL_SIZE: 'dbPoolSize',
  SQLITE_CACHE_MB: 'sqliteCacheMb',
  TOLLGATE_DATA_DIR: 'dataDir',
  REDIS_URL: 'redisUrl',
  REDIS_PREFIX: 'redisPrefix',
  TOLLGATE_SECRET: 'secret',
  TOLLGATE_ADMIN_EMAIL: 'adminEmail',
  TOLLGATE_ADMIN_PASSWORD: 'adminPassword',
  PUBLIC_URL: 'publicUrl',
  LOG_LEVEL: 'logLevel',
  TRUST_PROXY: 'trustProxy',
  METRICS_TOKEN: 'metricsToken',
  GATEWAY_RETRIES: 'gateway.retries',
  UPSTREAM_CONNECT_TIMEOUT_MS: 'gateway.connectTimeoutMs',
  UPSTREAM_HEADERS_TIMEOUT_MS: 'gateway.headersTimeoutMs',
  UPSTREAM_BODY_TIMEOUT_MS: 'gateway.bodyTimeoutMs',
  HOLD_TTL_MS: 'gateway.holdTtlMs',
  DEFAULT_MAX_OUTPUT_TOKENS: 'gateway.defaultMaxOutputTokens',
  CHANNEL_COOLDOWN_MS: 'gateway.cooldownMs',
  BODY_LIMIT_BYTES: 'gateway.bodyLimitBytes',
  DEFAULT_KEY_RPM: 'gateway.defaultKeyRpm',
  LIVE_POLL_MS: 'live.pollMs',
  LOGIN_MAX_FAILURES: 'login.maxFailures',
  LOGIN_WINDOW_MINUTES: 'login.windowMinutes',
  LOGIN_LOCK_MINUTES: 'login.lockMinutes',
  LOGIN_IP_MAX_FAILURES: 'login.ipMaxFailures',
  REAUTH_WINDOW_SECONDS: 'login.reauthWindowSeconds',
  GITHUB_CLIENT_ID: 'oauth.githubClientId',
  GITHUB_CLIENT_SECRET: 'oauth.githubClientSecret',
  OAUTH_GITHUB_BASE_URL: 'oauth.githubBaseUrl',
  GOOGLE_CLIENT_ID: 'oauth.googleClientId',
  GOOGLE_CLIENT_SECRET: 'oauth.googleClientSecret',
  OAUTH_GOOGLE_ISSUER: 'oauth.googleIssuer',
  SMTP_URL: 'mail.url',
  SMTP_HOST: 'mail.host',
  SMTP_PORT: 'mail.port',
  SMTP_USER: 'mail.user',
  SMTP_PASS: 'mail.pass',
  SMTP_SECURE: 'mail.secure',
  MAIL_FROM: 'mail.from',
  SWEEP_INTERVAL_MS: 'jobs.sweepIntervalMs',
  CHANNEL_TEST_INTERVAL_MIN: 'jobs.channelTestIntervalMin',
  CHANNEL_TEST_INTERVAL_MS: 'jobs.channelTestIntervalMs',
};

/** Names of the environment variables we read, for the README and `--help`. */
export const CONFIG_ENV_VARS = Object.keys(ENV_MAP);

function setPath(target: Record<string, unknown>, path: string, value: unknown) {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    node[p] = (node[p] as Record<string, unknown>) ?? {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function envPathFor(path: string): string {
  return Object.entries(ENV_MAP).find(([, p]) => p === path)?.[0] ?? path;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Record<string, unknown> = {}): Config {
  let raw: Record<string, unknown> = {};
  const file = env.TOLLGATE_CONFIG ?? (existsSync('tollgate.config.json') ? 'tollgate.config.json' : undefined);
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
  }
  // The file may use the environment's names (`"GATEWAY_RETRIES": 3`) or the nested settings
  // (`"gateway": {"retries": 3}`); anything else is a typo, and a typo must not pass silently.
  for (const [k, v] of Object.entries(raw)) {
    if (k in ENV_MAP) {
      delete raw[k];
      setPath(raw, ENV_MAP[k]!, v);
    } else if (!(k in ConfigSchema.shape)) {
      throw new ConfigError(`config file ${file}: unknown setting "${k}" (use the environment variable names of the README, e.g. "PORT")`);
    }
  }
  for (const [name, path] of Object.entries(ENV_MAP)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, path, v);
  }
  if (raw.trustProxy !== undefined) raw.trustProxy = parseTrustProxy(raw.trustProxy);
  for (const [path, v] of Object.entries(overrides)) if (v !== undefined) setPath(raw, path, v);

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const path = i.path.join('.');
      return `  ${envPathFor(path)} (${path}): ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const cfg = parsed.data;
  const kind = databaseKind(cfg.databaseUrl);
  if (!kind) {
    throw new ConfigError(
      `DATABASE_URL must start with sqlite:, postgres://, postgresql://, mysql:// or mariadb:// (got "${cfg.databaseUrl}")`,
    );
  }
  if (cfg.redisUrl && !/^rediss?:\/\//.test(cfg.redisUrl)) {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss:// (got "${cfg.redisUrl}")`);
  }
  for (const [p, id, secretName] of [['GITHUB', cfg.oauth.githubClientId, cfg.oauth.githubClientSecret], ['GOOGLE', cfg.oauth.googleClientId, cfg.oauth.googleClientSecret]] as const) {
    if (!id !== !secretName) throw new ConfigError(`${p}_CLIENT_ID and ${p}_CLIENT_SECRET are set together (one of them is missing)`);
    // The provider sends the browser back to PUBLIC_URL/api/auth/callback/…, the address registered with it.
    if (id && !cfg.publicUrl) throw new ConfigError(`${p}_CLIENT_ID needs PUBLIC_URL: the provider sends people back to PUBLIC_URL/api/auth/callback/${p.toLowerCase()}`);
  }
  if ((cfg.mail.url || cfg.mail.host) && !cfg.mail.from && !mailUserAddress(cfg.mail)) {
    throw new ConfigError('MAIL_FROM is required when SMTP is configured (the sender, e.g. "Tollgate <no-reply@example.com>")');
  }
  const { secret, source } = resolveSecret(cfg.secret, kind, cfg.dataDir);
  return Object.freeze({ ...cfg, secret, secretSource: source });
}

/** SMTP_USER (or the user in SMTP_URL) when it is an email address: the default sender. */
export function mailUserAddress(mail: { url?: string | undefined; user?: string | undefined }): string | null {
  let user = mail.user;
  if (mail.url) {
    try {
      user = decodeURIComponent(new URL(mail.url).username) || user;
    } catch {
      return null;
    }
  }
  return user && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(user) ? user : null;
}

/** Names proxy-addr (Fastify's trustProxy) accepts besides addresses and CIDRs. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY: `true`/`false`, a hop count (`1`), or a comma list of proxy addresses/CIDRs (`10.0.0.0/8,127.0.0.1`, `loopback`). */
export function parseTrustProxy(v: unknown): boolean | number | string[] {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 32) return v === 0 ? false : v;
    throw new ConfigError(`TRUST_PROXY: a hop count is an integer from 0 to 32 (got ${v})`);
  }
  const list = Array.isArray(v) ? v.map(String) : String(v).split(',');
  const items = list.map((x) => x.trim()).filter(Boolean);
  if (items.length === 1 && /^(true|false)$/i.test(items[0]!)) return items[0]!.toLowerCase() === 'true';
  if (items.length === 1 && /^\d+$/.test(items[0]!)) return parseTrustProxy(Number(items[0]));
  if (items.length === 0) return false;
  for (const item of items) {
    if (PROXY_RANGE_NAMES.has(item)) continue;
    try {
      parseIpRule(item);
    } catch {
      throw new ConfigError(`TRUST_PROXY: "${item}" is not an IP address, a CIDR or one of loopback, linklocal, uniquelocal (use true, false, a hop count, or a comma list)`);
    }
  }
  return items;
}

export function databaseKind(url: string): 'sqlite' | 'postgres' | 'mysql' | null {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  if (/^(mysql|mariadb):\/\//.test(url)) return 'mysql';
  return null;
}

/**
 * The secret encrypts channel keys and signs sessions. The embedded default keeps one in the data
 * folder so `npm start` works with nothing configured; a shared database needs the same secret in
 * every process, so there it must be given explicitly.
 */
function resolveSecret(given: string | undefined, kind: string, dataDir: string) {
  if (given) {
    if (given.length < 32) throw new ConfigError('TOLLGATE_SECRET must be at least 32 characters');
    return { secret: given, source: 'env' as const };
  }
  if (kind !== 'sqlite') {
    throw new ConfigError(
      'TOLLGATE_SECRET is required with PostgreSQL or MySQL (every process sharing the database needs the same one); generate one with: openssl rand -base64 48',
    );
  }
  const file = join(resolve(dataDir), 'secret.key');
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return { secret: s, source: 'file' as const };
    throw new ConfigError(`${file} holds a secret shorter than 32 characters; delete it or set TOLLGATE_SECRET`);
  }
  mkdirSync(dirname(file), { recursive: true });
  const s = randomBytes(48).toString('base64');
  writeFileSync(file, s + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secret: s, source: 'generated' as const };
}
