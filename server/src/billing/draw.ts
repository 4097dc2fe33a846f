/**
 * The rules for taking money out of a wallet, as pure functions so that every store (and the
 * test model of the rules) applies exactly the same ones.
 *
 * Buckets are drawn plan → gift → cash → credit. Whatever cannot be drawn without uncovering
 * another call's hold becomes arrears: booked, visible, and blocking new calls until paid.
 */
export const DRAW_ORDER = ['plan', 'gift', 'cash', 'credit'] as const;
export type DrawBucket = (typeof DRAW_ORDER)[number];
export type Bucket = DrawBucket | 'arrears';

export interface WalletBuckets {
  plan_micros: number;
  gift_micros: number;
  cash_micros: number;
  credit_limit_micros: number;
  credit_used_micros: number;
  pending_micros: number;
  arrears_micros: number;
}

/** Posted funds a hold or a debit may use (before subtracting holds). */
export const fundsOf = (w: WalletBuckets) =>
  w.plan_micros + w.gift_micros + w.cash_micros + w.credit_limit_micros - w.credit_used_micros;

/** What new holds may reserve right now. */
export const availableOf = (w: WalletBuckets) => (w.arrears_micros > 0 ? 0 : fundsOf(w) - w.pending_micros);

/** The balance a user sees: money they hold in plan, gift and cash. */
export const balanceOf = (w: WalletBuckets) => w.plan_micros + w.gift_micros + w.cash_micros;

export interface DrawPlan {
  /** Amount taken from each bucket (credit: amount added to credit_used). */
  draws: Record<DrawBucket, number>;
  arrears: number;
  /** The pending amount released from the wallet (the hold, if it was still pending). */
  released: number;
}

/**
 * Plan a charge of `cost` against a wallet whose own hold of `released` is being settled.
 * Other calls' holds (pending − released) stay covered: we never draw into them.
 */
export function planCharge(w: WalletBuckets, cost: number, released: number): DrawPlan {
  const otherHolds = Math.max(0, w.pending_micros - released);
  const drawable = Math.max(0, fundsOf(w) - otherHolds);
  let left = Math.min(cost, drawable);
  const draws: Record<DrawBucket, number> = { plan: 0, gift: 0, cash: 0, credit: 0 };
  const room: Record<DrawBucket, number> = {
    plan: w.plan_micros,
    gift: w.gift_micros,
    cash: w.cash_micros,
    credit: w.credit_limit_micros - w.credit_used_micros,
  };
  for (const b of DRAW_ORDER) {
    const take = Math.min(left, Math.max(0, room[b]));
    draws[b] = take;
    left -= take;
  }
  const drawn = draws.plan + draws.gift + draws.cash + draws.credit;
  return { draws, arrears: cost - drawn, released };
}

/** Bucket value after applying a signed change, the way ledger entries record it. */
export function bucketValue(w: WalletBuckets, b: Bucket): number {
  switch (b) {
    case 'plan':
      return w.plan_micros;
    case 'gift':
      return w.gift_micros;
    case 'cash':
      return w.cash_micros;
    case 'credit':
      return -w.credit_used_micros; // credit is money owed to us: recorded as a negative balance
    case 'arrears':
      return w.arrears_micros; // debt: positive means the user owes this much
  }
}
