import { sql } from 'kysely';
import { affected, inTransaction, insertReturningId, isUniqueViolation, type Db, type Executor, type Tx } from '../db/index.js';
import type { LedgerEntry, Wallet } from '../db/schema.js';
import { AppError } from '../errors.js';
import { audit, type Actor } from '../audit/index.js';
import { formatMicros } from '../lib/money.js';
import { availableOf, balanceOf, bucketValue, fundsOf } from './draw.js';

/** The money view of a wallet that APIs and the CLI show. */
export interface WalletView {
  wallet_id: number;
  currency: string;
  balance_micros: number;
  pending_micros: number;
  available_micros: number;
  cash_micros: number;
  gift_micros: number;
  plan_micros: number;
  credit_limit_micros: number;
  credit_used_micros: number;
  arrears_micros: number;
}

export function walletView(w: Wallet): WalletView {
  return {
    wallet_id: w.id,
    currency: w.currency,
    balance_micros: balanceOf(w),
    pending_micros: w.pending_micros,
    available_micros: Math.max(0, availableOf(w)),
    cash_micros: w.cash_micros,
    gift_micros: w.gift_micros,
    plan_micros: w.plan_micros,
    credit_limit_micros: w.credit_limit_micros,
    credit_used_micros: w.credit_used_micros,
    arrears_micros: w.arrears_micros,
  };
}

export async function createWallet(db: Db, ex: Executor, userId: number, now = Date.now()): Promise<number> {
  return insertReturningId(db, ex, 'wallets', { user_id: userId, created_at: now, updated_at: now });
}

export async function walletOfUser(ex: Executor, userId: number): Promise<Wallet | undefined> {
  return ex.selectFrom('wallets').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** What staff book by hand (spec 000 §5 / 003: 充值, 扣款, 补偿, 调账); `adjustment` is the untyped legacy kind. */
export const STAFF_ENTRY_TYPES = ['topup', 'deduction', 'compensation', 'correction'] as const;
export type StaffEntryType = (typeof STAFF_ENTRY_TYPES)[number];
/** How money booked by staff came in (or went out). */
export const PAYMENT_METHODS = ['bank_transfer', 'cash', 'alipay', 'wechat', 'other'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];
/** Every ledger entry type, for filters and views. */
export const LEDGER_TYPES = [
  'charge', 'topup', 'deduction', 'compensation', 'correction', 'adjustment', 'arrears', 'arrears_repayment', 'refund', 'voucher', 'reversal',
] as const;

export interface CashAdjustment {
  walletId: number;
  userId: number;
  /** Signed micro-USD: positive adds cash, negative deducts (never below zero). */
  amount: number;
  /** The ledger entry's type: a recharge (`topup`), or what staff booked by hand. */
  type: StaffEntryType | 'adjustment';
  reason: string;
  actorId: number | null;
  /** Who made it: the audit entry is then written in the adjustment's own transaction. */
  actor?: Actor | undefined;
  /** Booked by staff (ref_type 'admin', audit action balance.adjust) rather than paid by an order. */
  byStaff?: boolean;
  paymentMethod?: PaymentMethod | null | undefined;
  /** Bank slip, transaction or receipt number. */
  externalRef?: string | null | undefined;
  /** Replaying the same key returns the first result instead of moving money twice. */
  idempotencyKey?: string | undefined;
  now?: number;
}

export interface AdjustmentResult {
  entry: LedgerEntry;
  wallet: WalletView;
  replayed: boolean;
  /** Arrears paid off from the new cash, if any. */
  arrearsRepaid: number;
}

export interface StaffAdjustmentInput {
  /** Signed micro-USD. */
  amount: number;
  reason: string;
  /** Omitted: the untyped legacy `adjustment` (either sign). */
  type?: StaffEntryType | undefined;
  paymentMethod?: PaymentMethod | undefined;
  reference?: string | undefined;
  idempotencyKey?: string | undefined;
}

/**
 * A cash entry booked by staff, as the admin API and `tollgate balance add` make it: a top-up
 * (money received, with how and a reference), a deduction, a compensation or a correction; a
 * signed amount with a reason, idempotent under a key, ledger entry and audit entry in one
 * transaction.
 */
export async function adjustUserBalance(db: Db, actor: Actor, userId: number, input: StaffAdjustmentInput): Promise<AdjustmentResult> {
  const reason = input.reason.trim();
  if (reason.length < 2) throw new AppError('validation_failed', 'reason: give a reason (at least 2 characters)', { path: 'reason' });
  if (reason.length > 500) throw new AppError('validation_failed', 'reason: at most 500 characters', { path: 'reason' });
  if (input.amount === 0) throw new AppError('validation_failed', 'amount: must not be zero', { path: 'amount' });
  const type = input.type ?? 'adjustment';
  if ((type === 'topup' || type === 'compensation') && input.amount < 0) {
    throw new AppError('validation_failed', `amount: a ${type} adds money; give a positive amount (or book a deduction)`, { path: 'amount' });
  }
  if (type === 'deduction' && input.amount > 0) {
    throw new AppError('validation_failed', 'amount: a deduction takes money away; give a negative amount', { path: 'amount' });
  }
  if (type === 'topup' && !input.paymentMethod) {
    throw new AppError('validation_failed', 'payment_method: say how the money was received', { path: 'payment_method' });
  }
  const reference = input.reference?.trim() || null;
  if (reference && reference.length > 200) throw new AppError('validation_failed', 'reference: at most 200 characters', { path: 'reference' });
  const wallet = await walletOfUser(db.kysely, userId);
  if (!wallet) throw new AppError('not_found', `no user with id ${userId}`, { path: 'id' });
  return adjustCash(db, {
    walletId: wallet.id,
    userId,
    amount: input.amount,
    type,
    byStaff: true,
    paymentMethod: input.paymentMethod ?? null,
    externalRef: reference,
    reason,
    actorId: actor.id,
    actor,
    idempotencyKey: input.idempotencyKey,
  });
}

/**
 * Add or deduct cash by hand (operator adjustment) or by a recharge. A deduction never takes cash
 * below zero and never uncovers another call's hold; a credit first pays off arrears.
 */
export async function adjustCash(db: Db, a: CashAdjustment): Promise<AdjustmentResult> {
  if (!Number.isSafeInteger(a.amount) || a.amount === 0) {
    throw new AppError('validation_failed', 'amount must be a non-zero number of micro-units', { path: 'amount' });
  }
  const idem = a.idempotencyKey ? `adj:${a.idempotencyKey}` : null;
  if (idem) {
    const replay = await replayOf(db, idem, a);
    if (replay) return replay;
  }
  const now = a.now ?? Date.now();
  try {
    return await inTransaction(db, async (trx) => {
      if (a.amount > 0) {
        await trx
          .updateTable('wallets')
          .set({ cash_micros: sql`cash_micros + ${a.amount}`, updated_at: now })
          .where('id', '=', a.walletId)
          .execute();
      } else {
        const x = -a.amount;
        const r = await trx
          .updateTable('wallets')
          .set({ cash_micros: sql`cash_micros - ${x}`, updated_at: now })
          .where('id', '=', a.walletId)
          .where('cash_micros', '>=', x)
          .where(sql<number>`plan_micros + gift_micros + cash_micros + credit_limit_micros - credit_used_micros - pending_micros`, '>=', x)
          .executeTakeFirst();
        if (affected(r) !== 1) {
          const w = await lockWallet(db, trx, a.walletId);
          const room = Math.max(0, Math.min(w.cash_micros, fundsOf(w) - w.pending_micros));
          throw new AppError(
            'insufficient_funds',
            `cannot deduct ${formatMicros(x)}: only ${formatMicros(room)} of cash can be deducted (cash ${formatMicros(w.cash_micros)}, on hold ${formatMicros(w.pending_micros)})`,
            { path: 'amount', status: 409 },
          );
        }
      }
      const w = await lockWallet(db, trx, a.walletId);
      const entryId = await insertReturningId(db, trx, 'ledger_entries', {
        wallet_id: a.walletId,
        user_id: a.userId,
        bucket: 'cash',
        type: a.type,
        amount_micros: a.amount,
        balance_after_micros: w.cash_micros,
        idempotency_key: idem,
        ref_type: a.type === 'topup' && !a.byStaff ? 'order' : 'admin',
        ref_id: null,
        reason: a.reason,
        actor_id: a.actorId,
        created_at: now,
        payment_method: a.paymentMethod ?? null,
        external_ref: a.externalRef ?? null,
      });
      let repaid = 0;
      let final = w;
      if (a.amount > 0 && w.arrears_micros > 0) {
        repaid = repayableArrears(w);
        if (repaid > 0) {
          final = await repayArrears(db, trx, w, repaid, now, {
            userId: a.userId,
            actorId: a.actorId,
            ref: { type: 'ledger', id: String(entryId) },
            idempotencyPrefix: `repay:${entryId}`,
            reason: 'arrears paid from new cash',
          });
        }
      }
      const entry = await trx.selectFrom('ledger_entries').selectAll().where('id', '=', entryId).executeTakeFirstOrThrow();
      if (a.actor) {
        await audit(
          trx, a.actor, a.type === 'topup' && !a.byStaff ? 'balance.topup' : 'balance.adjust', { type: 'user', id: a.userId },
          { cash_micros: w.cash_micros - a.amount, arrears_micros: w.arrears_micros },
          {
            cash_micros: final.cash_micros, arrears_micros: final.arrears_micros, amount_micros: a.amount, amount: formatMicros(a.amount), ledger_entry_id: entryId, arrears_repaid_micros: repaid,
            type: a.type, payment_method: a.paymentMethod ?? null, reference: a.externalRef ?? null,
          },
          a.reason,
        );
      }
      return { entry, wallet: walletView(final), replayed: false, arrearsRepaid: repaid };
    });
  } catch (err) {
    // A concurrent request with the same key may have committed while this one ran: its insert then
    // fails as a duplicate, or — for a deduction — its conditional update no longer fits because
    // the money is already gone. Either way the key was used: answer with that result.
    if (idem && (isUniqueViolation(err) || (err instanceof AppError && err.code === 'insufficient_funds'))) {
      const replay = await replayOf(db, idem, a);
      if (replay) return replay;
    }
    throw err;
  }
}

/** Arrears that the wallet's cash can pay now without uncovering money held for calls in progress. */
function repayableArrears(w: Wallet): number {
  return Math.max(0, Math.min(w.arrears_micros, w.cash_micros, fundsOf(w) - w.pending_micros));
}

interface Repayment {
  userId: number | null;
  actorId: number | null;
  ref: { type: string; id: string };
  /** Entries get `<prefix>:cash` / `<prefix>:arrears` keys; null when the wallet's lock is the guard. */
  idempotencyPrefix: string | null;
  reason: string;
}

/** Move `amount` from cash to paying arrears: two ledger entries, one wallet update. */
async function repayArrears(db: Db, trx: Tx, w: Wallet, amount: number, now: number, r: Repayment) {
  await trx
    .updateTable('wallets')
    .set({ cash_micros: sql`cash_micros - ${amount}`, arrears_micros: sql`arrears_micros - ${amount}`, updated_at: now })
    .where('id', '=', w.id)
    .execute();
  const after = { ...w, cash_micros: w.cash_micros - amount, arrears_micros: w.arrears_micros - amount };
  await trx
    .insertInto('ledger_entries')
    .values(
      (['cash', 'arrears'] as const).map((bucket) => ({
        wallet_id: w.id,
        user_id: r.userId,
        bucket,
        type: 'arrears_repayment',
        amount_micros: -amount,
        balance_after_micros: bucketValue(after, bucket),
        idempotency_key: r.idempotencyPrefix ? `${r.idempotencyPrefix}:${bucket}` : null,
        ref_type: r.ref.type,
        ref_id: r.ref.id,
        reason: r.reason,
        actor_id: r.actorId,
        created_at: now,
      })),
    )
    .execute();
  return lockWallet(db, trx, w.id);
}

/**
 * Pay a wallet's arrears from its own free cash. Arrears are booked when a call runs over what
 * could be drawn; if other calls of the account held money at that moment, and then settled for
 * less than they held (or failed), cash is left over once they finish — the account must not stay
 * blocked while it holds the money to pay. The gateway calls this when it refuses a hold for
 * arrears, so only such refused calls pay for it. Returns the amount repaid (0 when nothing could
 * be). The wallet's row lock makes it safe to run concurrently: a second run finds less to pay.
 */
export async function repayArrearsFromCash(db: Db, walletId: number, now = Date.now()): Promise<number> {
  return inTransaction(db, async (trx) => {
    const w = await lockWallet(db, trx, walletId);
    const amount = repayableArrears(w);
    if (amount === 0) return 0;
    await repayArrears(db, trx, w, amount, now, {
      userId: w.user_id,
      actorId: null,
      ref: { type: 'wallet', id: String(w.id) },
      idempotencyPrefix: null,
      reason: 'arrears paid from free cash',
    });
    return amount;
  });
}

async function replayOf(db: Db, idem: string, a: CashAdjustment): Promise<AdjustmentResult | null> {
  const entry = await db.kysely.selectFrom('ledger_entries').selectAll().where('idempotency_key', '=', idem).executeTakeFirst();
  if (!entry) return null;
  if (entry.amount_micros !== a.amount || entry.wallet_id !== a.walletId || entry.type !== a.type) {
    throw new AppError('idempotency_conflict', 'this idempotency key was already used for a different adjustment', {
      path: 'idempotency_key',
    });
  }
  const w = await db.kysely.selectFrom('wallets').selectAll().where('id', '=', a.walletId).executeTakeFirstOrThrow();
  return { entry, wallet: walletView(w), replayed: true, arrearsRepaid: 0 };
}

/** Read a wallet inside a transaction, row-locked where the database has row locks. */
export async function lockWallet(db: Db, trx: Tx, walletId: number): Promise<Wallet> {
  let q = trx.selectFrom('wallets').selectAll().where('id', '=', walletId);
  if (db.dialect !== 'sqlite') q = q.forUpdate();
  return q.executeTakeFirstOrThrow();
}

/** Sum of ledger entries per bucket — what the balances must always equal. */
export async function ledgerSums(ex: Executor, walletId: number): Promise<Record<string, number>> {
  const rows = await ex
    .selectFrom('ledger_entries')
    .select(['bucket', sql<number>`coalesce(sum(amount_micros), 0)`.as('total')])
    .where('wallet_id', '=', walletId)
    .groupBy('bucket')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.bucket, Number(r.total)]));
}
