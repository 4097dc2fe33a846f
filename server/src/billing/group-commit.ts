/**
 * Group commit: callers submit one item each and get their own result, but items that arrive
 * while a batch is being written go together into the next batch, in one transaction. At low load
 * every batch has one item (no added wait); under load one commit (one fsync on PostgreSQL and
 * MySQL, one WAL append on SQLite) serves many calls.
 */
export type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export class GroupCommit<I, O> {
  #queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  #running: Promise<void> | null = null;

  constructor(
    private readonly flush: (items: I[]) => Promise<Outcome<O>[]>,
    private readonly maxBatch = 256,
    /** Told the size of every batch as it is cut (for /metrics). */
    private readonly onBatch?: (size: number) => void,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  /** Resolves when everything submitted so far is written. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    // Let the current turn of the event loop add its items before the first batch is cut.
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch);
        this.onBatch?.(batch.length);
        let results: Outcome<O>[];
        try {
          results = await this.flush(batch.map((b) => b.item));
        } catch (err) {
          results = batch.map(() => ({ ok: false, error: err }));
        }
        batch.forEach((b, i) => {
          const r = results[i];
          if (r?.ok) b.resolve(r.value);
          else b.reject(r ? r.error : new Error('group commit lost an item'));
        });
      }
    } finally {
      this.#running = null;
    }
  }
}
