import type { Config } from './config/index.js';
import { openDatabase, type Db } from './db/index.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger, type Logger } from './log.js';
import { SecretBox } from './lib/crypto.js';
import { ChangeFeed } from './live/changes.js';
import { connectRedis, type RedisLink } from './live/redis.js';
import { createMoneyStore, type MoneyStore } from './billing/money-store.js';
import { Catalog } from './gateway/catalog.js';
import { ChannelHealth } from './gateway/channels.js';
import { KeyCache } from './gateway/key-cache.js';
import { KeyTouches } from './gateway/key-touches.js';
import { ChannelStats } from './gateway/channel-stats.js';
import { RateLimiter } from './gateway/rate-limit.js';
import { Relay } from './gateway/relay.js';
import { Cooldowns } from './gateway/router.js';
import { UpstreamPools } from './gateway/upstream.js';
import { createAuth, type Auth } from './accounts/auth.js';
import { SignInGuard } from './accounts/lockout.js';
import { Mailer } from './mail/index.js';
import { RoleStore } from './accounts/role-store.js';
import { commitObserver, createMetrics, type Metrics } from './ops/metrics.js';
import { Jobs } from './ops/jobs.js';
import { purgeAuditLog } from './audit/retention.js';

/**
 * The composition root: every long-lived part of a process, built once and passed down. Commands
 * of the CLI use the same context (without listening), so they act on the same rules.
 */
export interface AppContext {
  config: Config;
  log: Logger;
  db: Db;
  redis: RedisLink | null;
  box: SecretBox;
  feed: ChangeFeed;
  catalog: Catalog;
  keys: KeyCache;
  limiter: RateLimiter;
  cooldowns: Cooldowns;
  pools: UpstreamPools;
  money: MoneyStore;
  health: ChannelHealth;
  touches: KeyTouches;
  channelStats: ChannelStats;
  metrics: Metrics;
  relay: Relay;
  auth: Auth;
  signInGuard: SignInGuard;
  /** Outgoing mail (verification, password reset); `enabled` is false without SMTP. */
  mailer: Mailer;
  /** Each role's permissions, in memory (built-in and custom roles). */
  roles: RoleStore;
  jobs: Jobs;
  close(): Promise<void>;
}

export interface ContextOptions {
  log?: Logger;
  /** Start the change feed, caches and jobs (a server); the CLI only needs the database. */
  live?: boolean;
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<AppContext> {
  const log = opts.log ?? createLogger(config.logLevel);
  const db = openDatabase(config.databaseUrl, {
    poolSize: config.dbPoolSize,
    sqliteCacheMb: config.sqliteCacheMb,
    onConnectionError: (err) => log.warn({ err: err.message }, 'database connection lost; it is replaced on the next query'),
  });
  let redis: RedisLink | null = null;
  try {
    await migrateToLatest(db);
    if (config.redisUrl) redis = await connectRedis(config.redisUrl, log, config.redisPrefix);
  } catch (err) {
    await db.close();
    throw err;
  }
  const box = new SecretBox(config.secret);
  const feed = new ChangeFeed(db, redis, log, config.live.pollMs);
  const catalog = new Catalog(db, box, log);
  const keys = new KeyCache(db);
  const limiter = new RateLimiter(redis, log);
  const cooldowns = new Cooldowns(redis, log);
  const pools = new UpstreamPools(config.gateway);
  const metrics = createMetrics(db);
  const money = createMoneyStore(db, commitObserver(metrics), log);
  const health = new ChannelHealth(db, box, feed, pools, log);
  const touches = new KeyTouches(db);
  const channelStats = new ChannelStats(db);
  const relay = new Relay({ config, catalog, keys, limiter, cooldowns, pools, money, health, touches, channelStats, metrics, log });
  const mailer = new Mailer(config.mail, log);
  const auth = createAuth(db, config, log, { feed, box, mailer });
  const signInGuard = new SignInGuard(db, config.login);
  const roles = new RoleStore(db, log);
  const jobs = new Jobs(db, log, metrics);

  if (opts.live) {
    mailer.check();
    if (mailer.enabled && !config.publicUrl) {
      log.warn('SMTP is on but PUBLIC_URL is not set: links in mails use the Host the browser sent; set PUBLIC_URL so a forged Host cannot point a reset link elsewhere');
    }
    keys.subscribe(feed);
    roles.subscribe(feed);
    await roles.load();
    feed.on('channel', () => catalog.loadChannels());
    feed.on('price', () => catalog.loadPrices());
    feed.on('group', () => catalog.loadGroups());
    await catalog.load();
    await feed.start();
    await cooldowns.start();
    jobs
      .add({ name: 'sweep-holds', everyMs: config.jobs.sweepIntervalMs, exclusive: false, run: () => money.expireOverdue() })
      .add({ name: 'flush-key-touches', everyMs: 5_000, exclusive: false, run: () => touches.flush() })
      .add({ name: 'flush-channel-stats', everyMs: 5_000, exclusive: false, run: () => channelStats.flush() })
      .add({ name: 'prune-change-log', everyMs: 3600_000, exclusive: true, run: () => feed.prune() })
      .add({ name: 'purge-audit-log', everyMs: 3600_000, exclusive: true, run: () => purgeAuditLog(db) })
      .add({ name: 'prune-login-failures', everyMs: 3600_000, exclusive: true, run: () => signInGuard.prune() });
    if (db.sqlite) {
      // SQLite gathers no planner statistics by itself; without them some report queries pick
      // poor plans once the usage table is large. `optimize` is cheap when nothing changed.
      const optimize = () => db.kysely.connection().execute(async () => void db.sqlite!.exec('PRAGMA analysis_limit = 1000; PRAGMA optimize;'));
      await optimize();
      jobs.add({ name: 'sqlite-optimize', everyMs: 3600_000, exclusive: false, run: optimize });
    }
    const channelTestEveryMs = config.jobs.channelTestIntervalMs ?? config.jobs.channelTestIntervalMin * 60_000;
    if (channelTestEveryMs > 0) {
      jobs.add({ name: 'test-channels', everyMs: channelTestEveryMs, exclusive: true, run: () => health.testAll() });
    }
    jobs.start();
  }

  let closed = false;
  return {
    config, log, db, redis, box, feed, catalog, keys, limiter, cooldowns, pools, money, health, touches, channelStats, metrics, relay, auth, signInGuard, mailer, roles, jobs,
    async close() {
      if (closed) return;
      closed = true;
      feed.stop();
      await jobs.stop();
      await money.idle();
      money.stop();
      await mailer.close().catch((err) => log.warn({ err }, 'could not finish sending mail'));
      await touches.flush().catch((err) => log.warn({ err }, 'could not flush key last-used times'));
      await channelStats.flush().catch((err) => log.warn({ err }, 'could not flush channel statistics'));
      await pools.close();
      await redis?.close();
      await db.close();
    },
  };
}
