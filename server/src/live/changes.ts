import type { Db, Executor } from '../db/index.js';
import type { Logger } from '../log.js';
import { CHANNEL_CHANGES, type RedisLink } from './redis.js';

export type ChangeKind = 'key' | 'user' | 'channel' | 'price' | 'group' | 'setting' | 'role';
const LATE_COMMIT_WINDOW_MS = 10_000;
type Handler = (refIds: (string | null)[]) => void | Promise<void>;

/**
 * How a change made by one process (an admin edit, a CLI command, a revoked key) reaches every
 * other process without a restart: the change is appended to `change_log` in the same transaction
 * as the edit; every process polls the log (every `pollMs`) and, where Redis is configured, is
 * nudged to poll at once by a pub/sub notice. The log, not the notice, is the source of truth, so
 * a lost notice only delays a change by one poll.
 */
export class ChangeFeed {
  readonly #handlers = new Map<ChangeKind, Handler[]>();
  #lastId = 0;
  readonly #seen = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | null = null;
  #again = false;
  #started = false;

  constructor(
    private readonly db: Db,
    private readonly redis: RedisLink | null,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  /** Record a change inside the caller's transaction (or on its own). Call `publish()` after commit. */
  async record(ex: Executor, kind: ChangeKind, refId: string | number | null = null): Promise<void> {
    await ex
      .insertInto('change_log')
      .values({ kind, ref_id: refId === null ? null : String(refId), created_at: Date.now() })
      .execute();
  }

  /**
   * Tell other processes (and this one) to look at the log now. The promise resolves once this
   * process has applied the change, so an API call can answer after its own change is live here
   * (the next gateway call through this process already sees it).
   */
  publish(): Promise<void> {
    if (this.redis) this.redis.cmd.publish(this.redis.key(CHANNEL_CHANGES), String(process.pid)).catch(() => {});
    return this.#started ? this.pollNow() : Promise.resolve();
  }

  /** record + publish, for changes that are not part of a larger transaction. */
  async notify(kind: ChangeKind, refId: string | number | null = null): Promise<void> {
    await this.record(this.db.kysely, kind, refId);
    await this.publish();
  }

  on(kind: ChangeKind, handler: Handler): void {
    const list = this.#handlers.get(kind) ?? [];
    list.push(handler);
    this.#handlers.set(kind, list);
  }

  async start(): Promise<void> {
    const row = await this.db.kysely
      .selectFrom('change_log')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst();
    this.#lastId = Number(row?.max ?? 0);
    this.#started = true;
    this.#timer = setInterval(() => void this.pollNow(), this.pollMs);
    this.#timer.unref();
    if (this.redis) {
      const name = this.redis.key(CHANNEL_CHANGES);
      await this.redis.sub.subscribe(name);
      this.redis.sub.on('message', (channel) => {
        if (channel === name) void this.pollNow();
      });
    }
  }

  stop(): void {
    this.#started = false;
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Poll once; concurrent callers share the running poll, and one more runs after it if asked. */
  pollNow(): Promise<void> {
    if (this.#polling) {
      this.#again = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pollOnce();
        } while (this.#again);
      } catch (err) {
        this.log.warn({ err }, 'change feed poll failed');
      } finally {
        this.#polling = null;
      }
    })();
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    const now = Date.now();
    // Ids are handed out at insert but become visible at commit, so a lower id can appear after a
    // higher one was read. Re-reading the last few seconds catches those; `#seen` skips repeats.
    const rows = await this.db.kysely
      .selectFrom('change_log')
      .select(['id', 'kind', 'ref_id', 'created_at'])
      .where((eb) => eb.or([eb('id', '>', this.#lastId), eb('created_at', '>', now - LATE_COMMIT_WINDOW_MS)]))
      .orderBy('id')
      .limit(5000)
      .execute();
    const fresh = rows.filter((r) => !this.#seen.has(r.id));
    for (const [id, at] of this.#seen) if (at < now - 2 * LATE_COMMIT_WINDOW_MS) this.#seen.delete(id);
    if (fresh.length === 0) return;
    const byKind = new Map<ChangeKind, (string | null)[]>();
    for (const r of fresh) {
      this.#seen.set(r.id, r.created_at);
      if (r.id > this.#lastId) this.#lastId = r.id;
      const list = byKind.get(r.kind as ChangeKind) ?? [];
      list.push(r.ref_id);
      byKind.set(r.kind as ChangeKind, list);
    }
    for (const [kind, refs] of byKind) {
      for (const h of this.#handlers.get(kind) ?? []) {
        try {
          await h(refs);
        } catch (err) {
          this.log.error({ err, kind }, 'change handler failed');
        }
      }
    }
  }

  /** Drop log rows older than `olderThanMs`; every live process has long since read them. */
  async prune(olderThanMs = 24 * 3600_000): Promise<void> {
    await this.db.kysely.deleteFrom('change_log').where('created_at', '<', Date.now() - olderThanMs).execute();
  }
}
