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
/** Tokens counted for one admitted call, to be corrected when it settles. */
export interface TokenReservation {
  keyId: number;
  window: number;
  tokens: number;
  shared: boolean;
}

export class RateLimiter {
  readonly #local = new Map<number, { window: number; count: number }>();
  readonly #localTokens = new Map<number, { window: number; count: number }>();
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

  /**
   * Tokens per minute (prompt + completion): the call's estimate is counted at admission and
   * corrected to what it used when it settles (`correctTokens`). A call whose estimate does not
   * fit in what is left of this minute is refused, its estimate given back.
   */
  async reserveTokens(keyId: number, limit: number, tokens: number, now = Date.now()): Promise<TokenReservation> {
    const window = Math.floor(now / WINDOW_MS);
    const shared = await this.#sharedCount(keyId, window, now, 'tpm', tokens);
    const total = shared ?? this.#localAdd(this.#localTokens, keyId, window, tokens);
    const r: TokenReservation = { keyId, window, tokens, shared: shared !== null };
    if (total > limit) {
      this.correctTokens(r, 0);
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
      throw new AppError(
        'rate_limited',
        `Token rate limit reached for this key: ${limit} tokens per minute (prompt + completion); this call is estimated at ${tokens}. ${tokens > limit ? 'Lower max_tokens or the prompt.' : `Try again in ${retryAfter}s.`}`,
        { headers: { 'retry-after': String(retryAfter) } },
      );
    }
    return r;
  }

  /** Replace a reservation's estimate by the tokens the call used (0 when it was not charged). Never throws. */
  correctTokens(r: TokenReservation, used: number): void {
    const delta = used - r.tokens;
    if (delta === 0) return;
    if (r.shared && this.redis) {
      const k = this.redis.key(`tpm:${r.keyId}:${r.window}`);
      this.redis.cmd.incrby(k, delta).catch((err: Error) => this.log?.warn({ err: err.message }, 'redis token count correction failed'));
      return;
    }
    const c = this.#localTokens.get(r.keyId);
    if (c && c.window === r.window) c.count = Math.max(0, c.count + delta);
  }

  /** The shared count, or null when Redis is not configured or cannot answer right now. */
  async #sharedCount(keyId: number, window: number, now: number, kind = 'rl', by = 1): Promise<number | null> {
    const redis = this.redis;
    if (!redis || now < this.#redisDownUntil || !redis.ready()) return null;
    try {
      const k = redis.key(`${kind}:${keyId}:${window}`);
      const res = await redis.cmd.multi().incrby(k, by).pexpire(k, WINDOW_MS + 1_000).exec();
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

  #localAdd(map: Map<number, { window: number; count: number }>, keyId: number, window: number, by: number): number {
    let c = map.get(keyId);
    if (!c || c.window !== window) {
      c = { window, count: 0 };
      map.set(keyId, c);
      if (map.size > 100_000) for (const [k, v] of map) if (v.window !== window) map.delete(k);
    }
    return (c.count += by);
  }

  #sweep(window: number) {
    for (const [k, v] of this.#local) if (v.window !== window) this.#local.delete(k);
  }
}
