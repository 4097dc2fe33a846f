import type { Logger } from '../log.js';
import { CHANNEL_COOLDOWN, type RedisLink } from '../live/redis.js';
import type { Channel, Tier } from './catalog.js';

/**
 * Channels that just failed (429, 5xx, network) are skipped for a while. Every process learns of
 * a cooldown through Redis pub/sub, so reading one on the hot path is a map lookup.
 */
export class Cooldowns {
  readonly #until = new Map<number, number>();

  constructor(
    private readonly redis: RedisLink | null,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (!this.redis) return;
    const name = this.redis.key(CHANNEL_COOLDOWN);
    await this.redis.sub.subscribe(name);
    this.redis.sub.on('message', (channel, message) => {
      if (channel !== name) return;
      try {
        const { id, until } = JSON.parse(message) as { id: number; until: number };
        this.#apply(id, until);
      } catch {
        /* not ours */
      }
    });
  }

  cool(channelId: number, ms: number, now = Date.now()): void {
    if (ms <= 0) return;
    const until = now + ms;
    this.#apply(channelId, until);
    this.redis?.cmd.publish(this.redis.key(CHANNEL_COOLDOWN), JSON.stringify({ id: channelId, until })).catch((err) => {
      this.log.warn({ err: (err as Error).message }, 'cooldown broadcast failed');
    });
  }

  clear(channelId: number): void {
    this.#until.delete(channelId);
  }

  isCooling(channelId: number, now = Date.now()): boolean {
    const u = this.#until.get(channelId);
    if (u === undefined) return false;
    if (u <= now) {
      this.#until.delete(channelId);
      return false;
    }
    return true;
  }

  #apply(id: number, until: number) {
    const cur = this.#until.get(id) ?? 0;
    if (until > cur) this.#until.set(id, until);
  }
}

/**
 * Pick the next channel: the highest-priority tier that still has an untried channel, weighted
 * random inside it. Cooling channels are used only when nothing else is left.
 */
export function pickChannel(tiers: Tier[], tried: ReadonlySet<number>, cooldowns: Cooldowns, now = Date.now()): Channel | null {
  for (const preferWarm of [true, false]) {
    for (const tier of tiers) {
      let total = 0;
      let candidates: Channel[] | null = null;
      for (const c of tier.channels) {
        if (tried.has(c.id) || (preferWarm && cooldowns.isCooling(c.id, now))) continue;
        (candidates ??= []).push(c);
        total += c.weight;
      }
      if (!candidates) continue;
      if (candidates.length === 1 || total <= 0) return candidates[0]!;
      let r = Math.random() * total;
      for (const c of candidates) {
        r -= c.weight;
        if (r < 0) return c;
      }
      return candidates.at(-1)!;
    }
  }
  return null;
}
