import type { Logger } from '../log.js';
import type { HoldInput, HoldOutcome, MoneyStore, ReleaseInput, SettleInput, SettleOutcome, UsageDraft } from './money-store.js';

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 5_000;

/**
 * A settlement is durable: when it cannot be written as the call ends (the database went away, a
 * failover, a connection reset), it is retried in the background until it lands, so a call is
 * never free because a write failed and its hold does not sit pending until the sweeper's
 * deadline. Retrying is safe because settling and releasing happen once per hold and request id:
 * a retry of a write that did commit (the answer was lost with the connection) finds the hold
 * closed and its usage record present and changes nothing.
 *
 * A hold whose write failed may still have committed just before the connection dropped; the
 * caller was refused, so that hold is looked up by request id and voided, also until it lands.
 *
 * The retries live in this process: `idle()` (shutdown) waits for them while the database is
 * reachable. A process killed during an outage leaves its holds to the sweeper.
 */
export class DurableMoneyStore implements MoneyStore {
  readonly #retrying = new Set<Promise<void>>();
  #stopped = false;
  /** Writes that failed once and are being retried; for /healthz and the metrics. */
  retryCount = 0;

  constructor(
    private readonly inner: MoneyStore,
    private readonly log?: Logger,
  ) {}

  async hold(h: HoldInput, now?: number): Promise<HoldOutcome> {
    try {
      return await this.inner.hold(h, now);
    } catch (err) {
      this.#retry(`void orphan hold ${h.requestId}`, async () => {
        await this.inner.voidByRequestId(h.requestId, Date.now());
      });
      throw err;
    }
  }

  async settle(s: SettleInput): Promise<SettleOutcome> {
    try {
      return await this.inner.settle(s);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, reqId: s.requestId }, 'settlement failed; retrying until it lands');
      this.#retry(`settle ${s.requestId}`, () => this.inner.settle(s));
      throw err;
    }
  }

  async release(r: ReleaseInput): Promise<boolean> {
    try {
      return await this.inner.release(r);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, hold: r.hold.id }, 'release failed; retrying until it lands');
      this.#retry(`release hold ${r.hold.id}`, () => this.inner.release(r));
      throw err;
    }
  }

  voidByRequestId(requestId: string, now?: number): Promise<boolean> {
    return this.inner.voidByRequestId(requestId, now);
  }
  /** A refused call's record moves no money: if the database is down it is lost, not retried (the refusal is still logged and counted). */
  record(usage: UsageDraft): Promise<boolean> {
    return this.inner.record(usage);
  }
  expireOverdue(now?: number, limit?: number): Promise<number> {
    return this.inner.expireOverdue(now, limit);
  }
  repayArrears(walletId: number, now?: number): Promise<number> {
    return this.inner.repayArrears(walletId, now);
  }

  /** Everything submitted is written, retries included; gives up waiting on retries after `retryWaitMs`. */
  async idle(retryWaitMs = 10_000): Promise<void> {
    await this.inner.idle();
    if (this.#retrying.size === 0) return;
    const deadline = new Promise<void>((r) => setTimeout(r, retryWaitMs).unref());
    await Promise.race([Promise.allSettled([...this.#retrying]), deadline]);
  }

  /** Shutdown: stop retrying (the database is about to close); what is left waits for the sweeper. */
  stop(): void {
    this.#stopped = true;
    if (this.#retrying.size > 0) this.log?.error({ count: this.#retrying.size }, 'settlements still unwritten at shutdown; their holds expire at their deadline');
  }

  #retry(what: string, write: () => Promise<unknown>) {
    this.retryCount++;
    const run = (async () => {
      for (let delay = FIRST_RETRY_MS, attempt = 1; !this.#stopped; delay = Math.min(delay * 2, MAX_RETRY_MS), attempt++) {
        await new Promise((r) => setTimeout(r, delay).unref());
        if (this.#stopped) return;
        try {
          await write();
          this.log?.info({ attempt }, `${what}: written after retrying`);
          return;
        } catch (err) {
          if (attempt % 10 === 0) this.log?.error({ err: (err as Error).message, attempt }, `${what}: still failing`);
        }
      }
    })().finally(() => {
      this.retryCount--;
      this.#retrying.delete(run);
    });
    this.#retrying.add(run);
  }
}
