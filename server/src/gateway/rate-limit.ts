import type { RedisLink } from '../live/redis.js';
import { AppError } from '../errors.js';

const WINDOW_MS = 60_000;

/**
 * Requests per minute per key, in fixed one-minute windows. In one process the counters live in
 * memory; with Redis they are shared (INCR + PEXPIRE in one round trip), so N processes together
 * admit the limit, not N times it.
 */
export class RateLimiter {
  readonly #local = new Map<number, { window: number; count: number }>();

  constructor(private readonly redis: RedisLink | null) {}

  async check(keyId: number, limit: number, now = Date.now()): Promise<void> {
    const window = Math.floor(now / WINDOW_MS);
    let count: number;
    if (this.redis) {
      const k = `tollgate:rl:${keyId}:${window}`;
      const res = await this.redis.cmd.multi().incr(k).pexpire(k, WINDOW_MS + 1_000).exec();
      count = Number(res?.[0]?.[1] ?? 0);
    } else {
      let c = this.#local.get(keyId);
      if (!c || c.window !== window) {
        c = { window, count: 0 };
        this.#local.set(keyId, c);
        if (this.#local.size > 100_000) this.#sweep(window);
      }
      count = ++c.count;
    }
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
      throw new AppError('rate_limited', `Rate limit reached for this key: ${limit} requests per minute. Try again in ${retryAfter}s.`, {
        headers: { 'retry-after': String(retryAfter) },
      });
    }
  }

  #sweep(window: number) {
    for (const [k, v] of this.#local) if (v.window !== window) this.#local.delete(k);
  }
}
