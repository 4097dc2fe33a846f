import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';

/**
 * Two connections when REDIS_URL is set: one for commands (rate limits, publishing), one
 * subscribed to the notice channels (a subscribed connection can do nothing else).
 *
 * Redis is an accelerator here, never a dependency of a call: everything that uses it has a
 * local fallback. So a command must fail fast when Redis is away — no offline queue (a queued
 * command would wait for the reconnect), a short timeout (a hung server must not hold a call),
 * no retries — and the caller falls back at once.
 */
export interface RedisLink {
  cmd: Redis;
  sub: Redis;
  /** Key and channel names with the deployment's prefix (`REDIS_PREFIX`, default `tollgate:`). */
  key(name: string): string;
  /** Whether the command connection can take a command right now. */
  ready(): boolean;
  close(): Promise<void>;
}

export const REDIS_COMMAND_TIMEOUT_MS = 250;

export async function connectRedis(url: string, log: Logger, prefix = 'tollgate:'): Promise<RedisLink> {
  // Loaded only when REDIS_URL is set (a third of a second of start-up otherwise spent for nothing).
  const { Redis } = await import('ioredis');
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2_000,
    // Keep trying to come back, at most every 2 s; calls use the local fallback meanwhile.
    retryStrategy: (times) => Math.min(100 * times, 2_000),
  };
  const cmd = new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: REDIS_COMMAND_TIMEOUT_MS });
  // The subscriber resubscribes by itself after a reconnect; it sends no commands on the hot path.
  const sub = new Redis(url, { ...common, maxRetriesPerRequest: 1 });
  let lastWarn = 0;
  for (const [name, c] of [['cmd', cmd], ['sub', sub]] as const) {
    c.on('error', (err) => {
      // A Redis that is down reports an error on every reconnect attempt: say it, not 10 times a second.
      if (Date.now() - lastWarn < 10_000) return;
      lastWarn = Date.now();
      log.warn({ err: err.message, conn: name }, 'redis connection error (using in-process fallbacks)');
    });
  }
  try {
    await Promise.all([cmd.connect(), sub.connect()]);
  } catch (err) {
    cmd.disconnect();
    sub.disconnect();
    throw new Error(`cannot connect to REDIS_URL: ${(err as Error).message}`);
  }
  return {
    cmd,
    sub,
    key: (name) => prefix + name,
    ready: () => cmd.status === 'ready',
    async close() {
      await Promise.allSettled([cmd.quit(), sub.quit()]);
    },
  };
}

/** Pub/sub channel names (prefixed by `RedisLink.key`). */
export const CHANNEL_CHANGES = 'changes';
export const CHANNEL_COOLDOWN = 'cooldown';
