import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

/**
 * Two connections when REDIS_URL is set: one for commands (rate limits), one subscribed to the
 * notice channels (a subscribed connection can do nothing else).
 */
export interface RedisLink {
  cmd: Redis;
  sub: Redis;
  close(): Promise<void>;
}

export async function connectRedis(url: string, log: Logger): Promise<RedisLink> {
  const opts = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true };
  const cmd = new Redis(url, opts);
  const sub = new Redis(url, opts);
  for (const [name, c] of [['cmd', cmd], ['sub', sub]] as const) {
    c.on('error', (err) => log.warn({ err: err.message, conn: name }, 'redis connection error'));
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
    async close() {
      await Promise.allSettled([cmd.quit(), sub.quit()]);
    },
  };
}

export const CHANNEL_CHANGES = 'tollgate:changes';
export const CHANNEL_COOLDOWN = 'tollgate:cooldown';
