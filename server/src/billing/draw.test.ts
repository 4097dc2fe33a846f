import { describe, expect, it } from 'vitest';
import { availableOf, balanceOf, bucketValue, fundsOf, planCharge, type WalletBuckets } from './draw.js';
import { planReleases, planSettlements, type SettleInput } from './settlement.js';

const wallet = (w: Partial<WalletBuckets>): WalletBuckets => ({
  plan_micros: 0,
  gift_micros: 0,
  cash_micros: 0,
  credit_limit_micros: 0,
  credit_used_micros: 0,
  pending_micros: 0,
  arrears_micros: 0,
  ...w,
});

describe('planCharge', () => {
  it('draws plan → gift → cash → credit', () => {
    const w = wallet({ plan_micros: 100, gift_micros: 50, cash_micros: 1_000, credit_limit_micros: 500, pending_micros: 1_500 });
    expect(planCharge(w, 120, 1_500)).toEqual({ draws: { plan: 100, gift: 20, cash: 0, credit: 0 }, arrears: 0, released: 1_500 });
    expect(planCharge(w, 1_100, 1_500).draws).toEqual({ plan: 100, gift: 50, cash: 950, credit: 0 });
    expect(planCharge(w, 1_400, 1_500).draws).toEqual({ plan: 100, gift: 50, cash: 1_000, credit: 250 });
    expect(planCharge(w, 1_650, 1_650 > w.pending_micros ? 1_500 : 0)).toMatchObject({ draws: { plan: 100, gift: 50, cash: 1_000, credit: 500 }, arrears: 0 });
  });

  it('uses only what is left of the credit line', () => {
    const w = wallet({ cash_micros: 10, credit_limit_micros: 100, credit_used_micros: 70, pending_micros: 40 });
    expect(planCharge(w, 40, 40)).toEqual({ draws: { plan: 0, gift: 0, cash: 10, credit: 30 }, arrears: 0, released: 40 });
    expect(planCharge(w, 60, 40)).toEqual({ draws: { plan: 0, gift: 0, cash: 10, credit: 30 }, arrears: 20, released: 40 });
  });

  it('never draws into money held for other calls; the rest is arrears', () => {
    // 1000 cash; our hold 300, other calls hold 500 → we may take at most 500
    const w = wallet({ cash_micros: 1_000, pending_micros: 800 });
    expect(planCharge(w, 200, 300)).toEqual({ draws: { plan: 0, gift: 0, cash: 200, credit: 0 }, arrears: 0, released: 300 });
    expect(planCharge(w, 500, 300)).toEqual({ draws: { plan: 0, gift: 0, cash: 500, credit: 0 }, arrears: 0, released: 300 });
    expect(planCharge(w, 600, 300)).toEqual({ draws: { plan: 0, gift: 0, cash: 500, credit: 0 }, arrears: 100, released: 300 });
    // the other holds are spread over buckets: still only the uncovered part is drawable
    const mixed = wallet({ plan_micros: 100, gift_micros: 100, cash_micros: 100, pending_micros: 250 });
    expect(planCharge(mixed, 300, 50)).toEqual({ draws: { plan: 100, gift: 0, cash: 0, credit: 0 }, arrears: 200, released: 50 });
  });

  it('books everything as arrears when nothing can be drawn', () => {
    expect(planCharge(wallet({}), 50, 0)).toEqual({ draws: { plan: 0, gift: 0, cash: 0, credit: 0 }, arrears: 50, released: 0 });
    // an expired hold (released 0) while others hold everything
    expect(planCharge(wallet({ cash_micros: 100, pending_micros: 100 }), 30, 0).arrears).toBe(30);
  });

  it('charges nothing for a zero cost, and the arrears never go negative', () => {
    expect(planCharge(wallet({ cash_micros: 100, pending_micros: 100 }), 0, 100)).toEqual({ draws: { plan: 0, gift: 0, cash: 0, credit: 0 }, arrears: 0, released: 100 });
    // pending below our own hold (inconsistent input) must not create drawable money out of thin air
    const p = planCharge(wallet({ cash_micros: 100, pending_micros: 10 }), 500, 50);
    expect(p.draws.cash).toBe(100);
    expect(p.arrears).toBe(400);
  });

  it('sums of draws plus arrears always equal the cost', () => {
    let s = 1;
    const r = (n: number) => ((s = (s * 16807) % 2147483647), s % n);
    for (let i = 0; i < 5_000; i++) {
      const w = wallet({
        plan_micros: r(1_000),
        gift_micros: r(1_000),
        cash_micros: r(1_000),
        credit_limit_micros: r(1_000),
        credit_used_micros: 0,
        pending_micros: r(3_000),
      });
      w.credit_used_micros = r(w.credit_limit_micros + 1);
      const released = r(w.pending_micros + 1);
      const cost = r(4_000);
      const p = planCharge(w, cost, released);
      const drawn = p.draws.plan + p.draws.gift + p.draws.cash + p.draws.credit;
      expect(drawn + p.arrears).toBe(cost);
      expect(p.arrears).toBeGreaterThanOrEqual(0);
      expect(p.draws.plan).toBeLessThanOrEqual(w.plan_micros);
      expect(p.draws.gift).toBeLessThanOrEqual(w.gift_micros);
      expect(p.draws.cash).toBeLessThanOrEqual(w.cash_micros);
      expect(p.draws.credit).toBeLessThanOrEqual(w.credit_limit_micros - w.credit_used_micros);
      // other calls' holds stay covered
      expect(fundsOf(w) - drawn).toBeGreaterThanOrEqual(Math.min(fundsOf(w), w.pending_micros - released));
      // a later bucket is used only when the earlier ones are empty
      if (p.draws.gift > 0) expect(p.draws.plan).toBe(w.plan_micros);
      if (p.draws.cash > 0) expect(p.draws.gift).toBe(w.gift_micros);
      if (p.draws.credit > 0) expect(p.draws.cash).toBe(w.cash_micros);
    }
  });
});

describe('wallet views', () => {
  it('available is funds minus holds, and zero while in arrears', () => {
    const w = wallet({ plan_micros: 1, gift_micros: 2, cash_micros: 3, credit_limit_micros: 10, credit_used_micros: 4, pending_micros: 5 });
    expect(fundsOf(w)).toBe(12);
    expect(availableOf(w)).toBe(7);
    expect(balanceOf(w)).toBe(6);
    expect(availableOf({ ...w, arrears_micros: 1 })).toBe(0);
  });

  it('records credit as a negative bucket and arrears as a positive one', () => {
    const w = wallet({ cash_micros: 5, credit_used_micros: 30, arrears_micros: 7 });
    expect(bucketValue(w, 'credit')).toBe(-30);
    expect(bucketValue(w, 'arrears')).toBe(7);
    expect(bucketValue(w, 'cash')).toBe(5);
  });
});

const settle = (id: number, walletId: number, cost: number, hold: number, extra: Partial<SettleInput> = {}): SettleInput => ({
  hold: { id, amount: hold, keyQuota: false },
  requestId: `req_${id}`,
  walletId,
  userId: 1,
  keyId: 1,
  cost,
  usage: { request_id: `req_${id}` } as SettleInput['usage'],
  now: 1,
  ...extra,
});

describe('planSettlements', () => {
  it('applies a batch in order, each item seeing what the previous left', () => {
    const w = { ...wallet({ gift_micros: 30, cash_micros: 200, pending_micros: 150 }), id: 1 };
    const plan = planSettlements([settle(1, 1, 40, 50), settle(2, 1, 60, 100)], new Map([[1, w]]), new Set([1, 2]));
    expect(plan.wallets.get(1)).toEqual({ plan: 0, gift: 30, cash: 70, creditUsed: 0, released: 150, arrears: 0 });
    expect(plan.ledger.map((e) => [e.ref_id, e.bucket, e.amount_micros, e.balance_after_micros])).toEqual([
      ['req_1', 'gift', -30, 0],
      ['req_1', 'cash', -10, 190],
      ['req_2', 'cash', -60, 130],
    ]);
    expect(plan.outcomes).toEqual([
      { charged: 40, arrears: 0, duplicate: false },
      { charged: 60, arrears: 0, duplicate: false },
    ]);
    expect(plan.usage.map((u) => [u.charged_micros, u.arrears_micros])).toEqual([
      [40, 0],
      [60, 0],
    ]);
  });

  it('a hold that was no longer pending releases nothing and its cost is drawn from what is free, the rest arrears', () => {
    const w = { ...wallet({ cash_micros: 100, pending_micros: 80 }), id: 1 };
    // hold 7 was expired by the sweeper; 80 pending belongs to another call
    const plan = planSettlements([settle(7, 1, 50, 50)], new Map([[1, w]]), new Set());
    expect(plan.wallets.get(1)).toEqual({ plan: 0, gift: 0, cash: 20, creditUsed: 0, released: 0, arrears: 30 });
    expect(plan.ledger.map((e) => [e.bucket, e.type, e.amount_micros, e.balance_after_micros])).toEqual([
      ['cash', 'charge', -20, 80],
      ['arrears', 'arrears', 30, 30],
    ]);
    expect(plan.outcomes[0]).toEqual({ charged: 20, arrears: 30, duplicate: false });
  });

  it('moves the key quota from pending to used only for posted holds', () => {
    const w = { ...wallet({ cash_micros: 1_000, pending_micros: 100 }), id: 1 };
    const a = settle(1, 1, 30, 100, { hold: { id: 1, amount: 100, keyQuota: true }, keyId: 9 });
    const plan = planSettlements([a], new Map([[1, w]]), new Set([1]));
    expect(plan.keys.get(9)).toEqual({ released: 100, used: 30 });
    const late = planSettlements([a], new Map([[1, w]]), new Set());
    expect(late.keys.get(9)).toEqual({ released: 0, used: 30 });
  });

  it('gives every ledger row an idempotency key per request and bucket', () => {
    const w = { ...wallet({ gift_micros: 5, cash_micros: 100, pending_micros: 50 }), id: 1 };
    const plan = planSettlements([settle(3, 1, 50, 50)], new Map([[1, w]]), new Set([3]));
    expect(plan.ledger.map((e) => e.idempotency_key)).toEqual(['req:req_3:gift', 'req:req_3:cash']);
  });
});

describe('planReleases', () => {
  it('releases only holds that were still pending, and records every call', () => {
    const base = { walletId: 1, keyId: 2, status: 'voided' as const, now: 1 };
    const plan = planReleases(
      [
        { ...base, hold: { id: 1, amount: 10, keyQuota: true }, usage: { request_id: 'a' } as never },
        { ...base, hold: { id: 2, amount: 20, keyQuota: false } },
        { ...base, hold: { id: 3, amount: 40, keyQuota: true } },
      ],
      new Set([1, 2]),
    );
    expect(plan.outcomes).toEqual([true, true, false]);
    expect(plan.wallets.get(1)).toBe(30);
    expect(plan.keys.get(2)).toBe(10);
    expect(plan.usage).toHaveLength(1);
    expect(plan.usage[0]).toMatchObject({ request_id: 'a', charged_micros: 0, arrears_micros: 0 });
  });
});
