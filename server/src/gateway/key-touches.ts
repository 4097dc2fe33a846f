import type { Db } from '../db/index.js';

/**
 * "Last used" times of keys, gathered in memory and written every few seconds in one
 * transaction, so the hot path does not pay a write per call for a display field.
 */
export class KeyTouches {
  #pending = new Map<number, number>();

  constructor(private readonly db: Db) {}

  touch(keyId: number, at: number): void {
    this.#pending.set(keyId, at);
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    await this.db.kysely.transaction().execute(async (trx) => {
      for (const [id, at] of batch) {
        await trx
          .updateTable('api_keys')
          .set({ last_used_at: at })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
          .execute();
      }
    });
  }
}
