import { sql } from 'kysely';
import type { Db } from '../db/index.js';

const MINUTE = 60_000;
/** Rows older than this are pruned: the console shows the last hour, the last error of a day. */
const KEEP_MS = 7 * 24 * 3600_000;

interface Pending {
  ok: number;
  err: number;
  lastError: string | null;
  lastErrorAt: number | null;
}

export interface ChannelHealthStats {
  /** Upstream attempts in the last hour (every process), those that failed, and their share. */
  calls_1h: number;
  errors_1h: number;
  error_rate_1h: number | null;
  last_error: string | null;
  last_error_at: string | null;
}

/**
 * Every upstream attempt counted per channel and minute — also the attempts that failed over to
 * another channel, which leave no usage record of their own — so the console can show a channel
 * that fails every call as failing. Counted in memory on the hot path; each process adds its
 * counts to the shared rows every few seconds (the same pattern as key last-used times).
 */
export class ChannelStats {
  #pending = new Map<string, Pending>();
  #lastPrune = 0;

  constructor(private readonly db: Db) {}

  ok(channelId: number, at = Date.now()): void {
    this.#slot(channelId, at).ok++;
  }

  fail(channelId: number, message: string, at = Date.now()): void {
    const p = this.#slot(channelId, at);
    p.err++;
    p.lastError = message.slice(0, 500);
    p.lastErrorAt = at;
  }

  #slot(channelId: number, at: number): Pending {
    const k = `${channelId}:${at - (at % MINUTE)}`;
    let p = this.#pending.get(k);
    if (!p) this.#pending.set(k, (p = { ok: 0, err: 0, lastError: null, lastErrorAt: null }));
    return p;
  }

  async flush(): Promise<void> {
    if (this.#pending.size > 0) {
      const batch = this.#pending;
      this.#pending = new Map();
      const rows = [...batch].map(([k, p]) => {
        const [channel, minute] = k.split(':').map(Number) as [number, number];
        return { channel_id: channel, minute, ok_count: p.ok, error_count: p.err, last_error: p.lastError, last_error_at: p.lastErrorAt };
      });
      try {
        await this.db.kysely.transaction().execute(async (trx) => {
          for (const row of rows) {
            const q = trx.insertInto('channel_minute_stats').values(row);
            // Counts add up over processes; the newest error of the minute wins.
            if (this.db.dialect === 'mysql') {
              await q
                .onDuplicateKeyUpdate({
                  ok_count: sql`ok_count + values(ok_count)`,
                  error_count: sql`error_count + values(error_count)`,
                  last_error: sql`if(values(last_error_at) >= coalesce(last_error_at, 0), values(last_error), last_error)`,
                  last_error_at: sql`nullif(greatest(coalesce(last_error_at, 0), coalesce(values(last_error_at), 0)), 0)`,
                })
                .execute();
            } else {
              await q
                .onConflict((oc) =>
                  oc.columns(['channel_id', 'minute']).doUpdateSet({
                    ok_count: sql`channel_minute_stats.ok_count + excluded.ok_count`,
                    error_count: sql`channel_minute_stats.error_count + excluded.error_count`,
                    last_error: sql`case when excluded.last_error_at >= coalesce(channel_minute_stats.last_error_at, 0) then excluded.last_error else channel_minute_stats.last_error end`,
                    last_error_at: sql`case when excluded.last_error_at >= coalesce(channel_minute_stats.last_error_at, 0) then excluded.last_error_at else channel_minute_stats.last_error_at end`,
                  }),
                )
                .execute();
            }
          }
        });
      } catch (err) {
        // Not lost on a database hiccup: the counts go back to be written with the next flush.
        for (const [k, p] of batch) {
          const cur = this.#pending.get(k);
          if (!cur) this.#pending.set(k, p);
          else {
            cur.ok += p.ok;
            cur.err += p.err;
            if (!cur.lastErrorAt) Object.assign(cur, { lastError: p.lastError, lastErrorAt: p.lastErrorAt });
          }
        }
        throw err;
      }
    }
    const now = Date.now();
    if (now - this.#lastPrune > 3600_000) {
      this.#lastPrune = now;
      await this.db.kysely.deleteFrom('channel_minute_stats').where('minute', '<', now - KEEP_MS).execute();
    }
  }

  /** Last-hour figures and the last error (within the kept week) of every channel that has any. */
  async summary(now = Date.now()): Promise<Map<number, ChannelHealthStats>> {
    const since = now - (now % MINUTE) - 59 * MINUTE;
    const hour = await this.db.kysely
      .selectFrom('channel_minute_stats')
      .select((eb) => ['channel_id', eb.fn.sum<number>('ok_count').as('ok'), eb.fn.sum<number>('error_count').as('err')])
      .where('minute', '>=', since)
      .groupBy('channel_id')
      .execute();
    // The newest error of each channel: its time first (one row per channel), then that row.
    const latest = await this.db.kysely
      .selectFrom('channel_minute_stats')
      .select((eb) => ['channel_id', eb.fn.max('last_error_at').as('at')])
      .where('last_error_at', 'is not', null)
      .groupBy('channel_id')
      .execute();
    const errors = latest.length
      ? await this.db.kysely
          .selectFrom('channel_minute_stats')
          .select(['channel_id', 'last_error', 'last_error_at'])
          .where('last_error_at', 'in', latest.map((r) => Number(r.at)))
          .orderBy('last_error_at', 'desc')
          .execute()
      : [];
    const out = new Map<number, ChannelHealthStats>();
    const get = (id: number) => {
      let s = out.get(id);
      if (!s) out.set(id, (s = { calls_1h: 0, errors_1h: 0, error_rate_1h: null, last_error: null, last_error_at: null }));
      return s;
    };
    for (const r of hour) {
      const s = get(Number(r.channel_id));
      s.errors_1h = Number(r.err);
      s.calls_1h = Number(r.ok) + s.errors_1h;
      s.error_rate_1h = s.calls_1h > 0 ? Math.round((s.errors_1h / s.calls_1h) * 10_000) / 10_000 : null;
    }
    for (const r of errors) {
      const s = get(Number(r.channel_id));
      if (s.last_error_at) continue;
      s.last_error = r.last_error;
      s.last_error_at = new Date(Number(r.last_error_at)).toISOString();
    }
    return out;
  }
}
