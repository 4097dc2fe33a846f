import { describe, expect, it } from 'vitest';
import { DurableMoneyStore } from './durable.js';
import type { MoneyStore, ReleaseInput, SettleInput } from './money-store.js';

/** A store whose writes fail while `down` is set, recording what reached it. */
function flakyStore() {
  const seen = { settles: 0, releases: 0, voided: [] as string[], down: true };
  const fail = () => Promise.reject(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }));
  const store: MoneyStore = {
    hold: () => (seen.down ? fail() : Promise.resolve({ ok: true, holdId: 1 })),
    settle: () => (seen.settles++, seen.down ? fail() : Promise.resolve({ charged: 5, arrears: 0, duplicate: false })),
    release: () => (seen.releases++, seen.down ? fail() : Promise.resolve(true)),
    voidByRequestId: (id) => (seen.down ? fail() : (seen.voided.push(id), Promise.resolve(true))),
    record: () => (seen.down ? fail() : Promise.resolve(true)),
    expireOverdue: () => Promise.resolve(0),
    repayArrears: () => Promise.resolve(0),
    idle: () => Promise.resolve(),
  };
  return { store, seen };
}

const settle = { requestId: 'req_1', hold: { id: 1, amount: 10, keyQuota: false } } as SettleInput;
const release = { hold: { id: 2, amount: 10, keyQuota: false }, status: 'voided' } as ReleaseInput;

describe('DurableMoneyStore', () => {
  it('a settlement or release that fails is retried until it lands; idle() waits for it', async () => {
    const { store, seen } = flakyStore();
    const d = new DurableMoneyStore(store);
    await expect(d.settle(settle)).rejects.toThrow(/Connection terminated/);
    await expect(d.release(release)).rejects.toThrow();
    expect(d.retryCount).toBe(2);
    await new Promise((r) => setTimeout(r, 700));
    expect(seen.settles).toBeGreaterThan(2);
    seen.down = false;
    await d.idle(10_000);
    expect(d.retryCount).toBe(0);
    const settled = seen.settles;
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.settles).toBe(settled); // no further writes once it landed
  });

  it('a hold whose write failed is voided by request id once the database answers', async () => {
    const { store, seen } = flakyStore();
    const d = new DurableMoneyStore(store);
    await expect(d.hold({ requestId: 'req_9' } as never)).rejects.toThrow();
    seen.down = false;
    await d.idle(10_000);
    expect(seen.voided).toEqual(['req_9']);
  });

  it('stop() ends the retries', async () => {
    const { store, seen } = flakyStore();
    const d = new DurableMoneyStore(store);
    await expect(d.settle(settle)).rejects.toThrow();
    d.stop();
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.settles).toBeLessThanOrEqual(2);
  });
});
