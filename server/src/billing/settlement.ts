import type { NewUsageRecord, Wallet } from '../db/schema.js';
import { bucketValue, DRAW_ORDER, planCharge, type Bucket, type WalletBuckets } from './draw.js';

/**
 * Planning of a batch of settlements and releases, shared by every store so that SQLite,
 * PostgreSQL and MySQL apply exactly the same rules. The stores read the wallets (locked), hand
 * them here, and write back what comes out: per-wallet and per-key deltas, ledger rows and usage
 * rows. Items are applied in order, each seeing the wallet as the items before it left it.
 */

export interface HeldAmount {
  id: number;
  amount: number;
  /** Whether the key's own quota was reserved too. */
  keyQuota: boolean;
}

/** Usage record fields the caller knows; money fields are filled in by settlement. */
export type UsageDraft = Omit<NewUsageRecord, 'charged_micros' | 'arrears_micros'>;

export interface SettleInput {
  hold: HeldAmount;
  requestId: string;
  walletId: number;
  userId: number;
  keyId: number;
  cost: number;
  usage: UsageDraft;
  now: number;
}

export interface SettleOutcome {
  charged: number;
  arrears: number;
  /** The request had already been settled: nothing was moved this time. */
  duplicate: boolean;
}

export interface ReleaseInput {
  hold: HeldAmount;
  walletId: number;
  keyId: number;
  status: 'voided' | 'expired';
  /** A record of the failed call, written in the same transaction. */
  usage?: UsageDraft | undefined;
  now: number;
}

export interface LedgerRow {
  wallet_id: number;
  user_id: number | null;
  bucket: Bucket;
  type: string;
  amount_micros: number;
  balance_after_micros: number;
  idempotency_key: string | null;
  ref_type: string | null;
  ref_id: string | null;
  reason: string | null;
  actor_id: number | null;
  created_at: number;
}

export interface WalletDelta {
  plan: number;
  gift: number;
  cash: number;
  creditUsed: number;
  /** Subtracted from pending_micros. */
  released: number;
  arrears: number;
}

export interface KeyDelta {
  /** Subtracted from quota_pending_micros. */
  released: number;
  /** Added to quota_used_micros. */
  used: number;
}

export interface SettlementPlan {
  outcomes: SettleOutcome[];
  wallets: Map<number, WalletDelta>;
  keys: Map<number, KeyDelta>;
  ledger: LedgerRow[];
  usage: NewUsageRecord[];
}

const emptyDelta = (): WalletDelta => ({ plan: 0, gift: 0, cash: 0, creditUsed: 0, released: 0, arrears: 0 });

/**
 * @param wallets the wallets of the batch as read under lock (not modified)
 * @param posted  holds of the batch that were still pending and are now posted
 */
export function planSettlements(items: SettleInput[], wallets: Map<number, Wallet | WalletBuckets>, posted: Set<number>): SettlementPlan {
  const state = new Map<number, WalletBuckets>();
  const out: SettlementPlan = { outcomes: [], wallets: new Map(), keys: new Map(), ledger: [], usage: [] };
  for (const s of items) {
    const w0 = state.get(s.walletId) ?? wallets.get(s.walletId);
    if (!w0) throw new Error(`wallet ${s.walletId} not found`);
    const isPosted = posted.has(s.hold.id);
    // A hold the sweeper already expired reserves nothing any more: the cost is drawn from what
    // is available, and the rest becomes arrears.
    const released = isPosted ? s.hold.amount : 0;
    const p = planCharge(w0, s.cost, released);
    const w: WalletBuckets = {
      ...w0,
      plan_micros: w0.plan_micros - p.draws.plan,
      gift_micros: w0.gift_micros - p.draws.gift,
      cash_micros: w0.cash_micros - p.draws.cash,
      credit_used_micros: w0.credit_used_micros + p.draws.credit,
      pending_micros: w0.pending_micros - released,
      arrears_micros: w0.arrears_micros + p.arrears,
    };
    state.set(s.walletId, w);
    const d = out.wallets.get(s.walletId) ?? emptyDelta();
    d.plan += p.draws.plan;
    d.gift += p.draws.gift;
    d.cash += p.draws.cash;
    d.creditUsed += p.draws.credit;
    d.released += released;
    d.arrears += p.arrears;
    out.wallets.set(s.walletId, d);
    if (s.hold.keyQuota) {
      const k = out.keys.get(s.keyId) ?? { released: 0, used: 0 };
      k.released += isPosted ? s.hold.amount : 0;
      k.used += s.cost;
      out.keys.set(s.keyId, k);
    }
    const entry = (bucket: Bucket, type: string, amount: number): LedgerRow => ({
      wallet_id: s.walletId,
      user_id: s.userId,
      bucket,
      type,
      amount_micros: amount,
      balance_after_micros: bucketValue(w, bucket),
      idempotency_key: `req:${s.requestId}:${bucket}`,
      ref_type: 'request',
      ref_id: s.requestId,
      reason: null,
      actor_id: null,
      created_at: s.now,
    });
    for (const b of DRAW_ORDER) if (p.draws[b] > 0) out.ledger.push(entry(b, 'charge', -p.draws[b]));
    if (p.arrears > 0) out.ledger.push(entry('arrears', 'arrears', p.arrears));
    out.usage.push({ ...s.usage, charged_micros: s.cost - p.arrears, arrears_micros: p.arrears });
    out.outcomes.push({ charged: s.cost - p.arrears, arrears: p.arrears, duplicate: false });
  }
  return out;
}

export interface ReleasePlan {
  wallets: Map<number, number>;
  keys: Map<number, number>;
  usage: NewUsageRecord[];
  outcomes: boolean[];
}

/** Releases of a batch; `live` are the holds that were still pending and are now voided/expired. */
export function planReleases(items: ReleaseInput[], live: Set<number>): ReleasePlan {
  const out: ReleasePlan = { wallets: new Map(), keys: new Map(), usage: [], outcomes: [] };
  for (const r of items) {
    const was = live.has(r.hold.id);
    out.outcomes.push(was);
    if (was) {
      out.wallets.set(r.walletId, (out.wallets.get(r.walletId) ?? 0) + r.hold.amount);
      if (r.hold.keyQuota) out.keys.set(r.keyId, (out.keys.get(r.keyId) ?? 0) + r.hold.amount);
    }
    if (r.usage) out.usage.push({ ...r.usage, charged_micros: 0, arrears_micros: 0 });
  }
  return out;
}
