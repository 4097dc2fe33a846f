import type { RedisLink } from '../live/redis.js';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';

const WINDOW_MS = 60_000;
/** After a Redis command failed, count in memory for this long before trying Redis again. */
const REDIS_BACKOFF_MS = 2_000;

/**
 * Requests per minute per key, in fixed one-minute windows. In one process the counters live in
 * memory; with Redis they are shared (INCR + PEXPIRE in one round trip), so N processes together
 * admit the limit, not N times it. When Redis is unreachable or slow the counters fall back to
 * memory at once (each process then admits up to the limit on its own): a limiter must never
 * turn a Redis outage into failed or stalled calls.
 */
export class RateLimiter {
  readonly #local = new Map<number, { window: number; count: number }>();
  #redisDownUntil = 0;

  constructor(
    private readonly redis: RedisLink | null,
    private readonly log?: Logger,
  ) {}

  async check(keyId: number, limit: number, now = Date.now()): Promise<void> {
    const window = Math.floor(now / WINDOW_MS);
    const count = (await this.#sharedCount(keyId, window, now)) ?? this.#localCount(keyId, window);
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
      throw new AppError('rate_limited', `Rate limit reached for this key: ${limit} requests per minute. Try again in ${retryAfter}s.`, {
        headers: { 'retry-after': String(retryAfter) },
      });
    }
  }

  /** The shared count, or null when Redis is not configured or cannot answer right now. */
  async #sharedCount(keyId: number, window: number, now: number): Promise<number | null> {
    const redis = this.redis;
    if (!redis || now < this.#redisDownUntil || !redis.ready()) return null;
    try {
      const k = redis.key(`rl:${keyId}:${window}`);
      const res = await redis.cmd.multi().incr(k).pexpire(k, WINDOW_MS + 1_000).exec();
      const n = Number(res?.[0]?.[1]);
      if (!Number.isFinite(n)) throw new Error('unexpected reply to INCR');
      return n;
    } catch (err) {
      this.#redisDownUntil = Date.now() + REDIS_BACKOFF_MS;
      this.log?.warn({ err: (err as Error).message }, 'redis rate limit failed; counting in memory');
      return null;
    }
  }

  #localCount(keyId: number, window: number): number {
    let c = this.#local.get(keyId);
    if (!c || c.window !== window) {
      c = { window, count: 0 };
      this.#local.set(keyId, c);
      if (this.#local.size > 100_000) this.#sweep(window);
    }
    return ++c.count;
  }

  #sweep(window: number) {
    for (const [k, v] of this.#local) if (v.window !== window) this.#local.delete(k);
  }
}
