import { pino } from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type Db } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Logger } from '../log.js';
import type { ChangeFeed } from '../live/changes.js';
import type { RedisLink } from '../live/redis.js';
import type { ChannelHealth } from '../gateway/channels.js';
import type { UpstreamPools } from '../gateway/upstream.js';

/**
 * What a CLI command works with: the configuration and the (migrated) database, and on demand the
 * change feed that tells running servers about an edit, and the channel service. Nothing else of
 * the server (Fastify, better-auth, the relay, upstream pools) is loaded unless a command asks,
 * which is what makes `tollgate price list` start in a fraction of a second.
 */
export class CliContext {
  #redis: RedisLink | null = null;
  #feed: Promise<ChangeFeed> | null = null;
  #pools: UpstreamPools | null = null;
  #health: Promise<ChannelHealth> | null = null;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly db: Db,
  ) {}

  static async open(): Promise<CliContext> {
    const config = loadConfig();
    // Logs go to stderr so stdout carries only the command's answer.
    const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
    const db = openDatabase(config.databaseUrl, { poolSize: config.dbPoolSize, checkpointer: false });
    try {
      await migrateToLatest(db);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new CliContext(config, log, db);
  }

  /** The change feed, connected to Redis when it is configured (running servers then hear at once). */
  feed(): Promise<ChangeFeed> {
    return (this.#feed ??= (async () => {
      const { ChangeFeed } = await import('../live/changes.js');
      if (this.config.redisUrl) {
        const { connectRedis } = await import('../live/redis.js');
        this.#redis = await connectRedis(this.config.redisUrl, this.log, this.config.redisPrefix);
      }
      return new ChangeFeed(this.db, this.#redis, this.log, this.config.live.pollMs);
    })());
  }

  health(): Promise<ChannelHealth> {
    return (this.#health ??= (async () => {
      const [{ ChannelHealth }, { UpstreamPools }, { SecretBox }, feed] = await Promise.all([
        import('../gateway/channels.js'),
        import('../gateway/upstream.js'),
        import('../lib/crypto.js'),
        this.feed(),
      ]);
      this.#pools = new UpstreamPools(this.config.gateway);
      return new ChannelHealth(this.db, new SecretBox(this.config.secret), feed, this.#pools, this.log);
    })());
  }

  async close(): Promise<void> {
    await this.#feed?.catch(() => {});
    await this.#health?.catch(() => {});
    await this.#pools?.close();
    await this.#redis?.close();
    await this.db.close();
  }
}

/** Run `fn` with an open context, closing it whatever happens. */
export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await CliContext.open();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
