// Checks on the books after a test: the money rules of DESIGN.md "Money", read straight from the
// database. Expected prices are computed here independently of server/src/billing/pricing.ts, so a
// wrong formula there cannot make its own test pass.
import { sql } from 'kysely';
import { countTokens } from 'gpt-tokenizer';
import { openDatabase, type Db, type Executor } from '../../server/src/db/index.js';

/** USD-per-1M decimal string → micro-USD per 1M tokens, digit by digit. */
export function usdToMicros(usd: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(usd);
  if (!m) throw new Error(`bad test price ${usd}`);
  return BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

export interface TestPrice {
  input: string;
  output: string;
  cached?: string;
  perRequest?: string;
}

/**
 * cost = ceil(((prompt − cached)·in + cached·cachedIn + completion·out + perRequest·1e6) · multiplier / 1e12),
 * prices in micro-USD per 1M tokens, multiplier in parts per million.
 */
export function expectedCost(p: TestPrice, u: { prompt: number; completion: number; cached?: number }, multiplierPpm = 1_000_000): number {
  const cached = BigInt(u.cached ?? 0);
  const scaled =
    (BigInt(u.prompt) - cached) * usdToMicros(p.input) +
    cached * usdToMicros(p.cached ?? p.input) +
    BigInt(u.completion) * usdToMicros(p.output) +
    usdToMicros(p.perRequest ?? '0') * 1_000_000n;
  const num = scaled * BigInt(multiplierPpm);
  const den = 1_000_000_000_000n;
  return Number((num + den - 1n) / den);
}

/** Prompt tokens of a chat request as the fake upstream (and OpenAI) count them: content + 3 per message + 3. */
export function chatPromptTokens(contents: string[]): number {
  return countTokens(contents.join('')) + 3 * contents.length + 3;
}

/** Open the database a server (maybe a child process) uses, to inspect it. */
export function openTestDb(url: string): Db {
  return openDatabase(url, { poolSize: 4 });
}

export async function pendingHolds(ex: Executor): Promise<number> {
  const r = await ex.selectFrom('holds').select((eb) => eb.fn.countAll().as('n')).where('status', '=', 'pending').executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function countRows(ex: Executor, table: 'ledger_entries' | 'usage_records' | 'holds' | 'users' | 'wallets' | 'api_keys' | 'channels' | 'model_prices' | 'groups' | 'audit_log', where?: { col: string; val: unknown }): Promise<number> {
  let q = ex.selectFrom(table as 'holds').select((eb) => eb.fn.countAll().as('n'));
  if (where) q = q.where(sql.ref(where.col), '=', where.val);
  const r = await q.executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function walletRow(ex: Executor, walletId: number) {
  return ex.selectFrom('wallets').selectAll().where('id', '=', walletId).executeTakeFirstOrThrow();
}

export async function ledgerSumsOf(ex: Executor, walletId: number): Promise<Record<string, number>> {
  const rows = await ex
    .selectFrom('ledger_entries')
    .select(['bucket', sql<number>`coalesce(sum(amount_micros), 0)`.as('total')])
    .where('wallet_id', '=', walletId)
    .groupBy('bucket')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.bucket, Number(r.total)]));
}

/**
 * The invariants of one wallet: every bucket equals the sum of its ledger entries, no bucket is
 * negative, and (with `noPending`) nothing is held. Returns the problems found (empty when fine).
 */
export async function bookProblems(ex: Executor, walletId: number, opts: { noPending?: boolean } = { noPending: true }): Promise<string[]> {
  const w = await walletRow(ex, walletId);
  const sums = await ledgerSumsOf(ex, walletId);
  const out: string[] = [];
  const check = (name: string, column: number, ledger: number) => {
    if (column !== ledger) out.push(`wallet ${walletId}: ${name} is ${column} but its ledger entries sum to ${ledger}`);
  };
  check('cash', w.cash_micros, sums.cash ?? 0);
  check('gift', w.gift_micros, sums.gift ?? 0);
  check('plan', w.plan_micros, sums.plan ?? 0);
  check('credit (−credit_used)', -w.credit_used_micros, sums.credit ?? 0);
  check('arrears', w.arrears_micros, sums.arrears ?? 0);
  for (const k of ['cash_micros', 'gift_micros', 'plan_micros', 'credit_used_micros', 'pending_micros', 'arrears_micros'] as const) {
    if (w[k] < 0) out.push(`wallet ${walletId}: ${k} is negative (${w[k]})`);
  }
  if (w.credit_used_micros > w.credit_limit_micros) out.push(`wallet ${walletId}: credit used beyond its limit`);
  if (opts.noPending && w.pending_micros !== 0) out.push(`wallet ${walletId}: ${w.pending_micros} still pending`);
  return out;
}

/** Charged micro-USD of one request's usage record and its ledger entries. */
export async function chargeOf(ex: Executor, requestId: string) {
  const usage = await ex.selectFrom('usage_records').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  const entries = await ex.selectFrom('ledger_entries').selectAll().where('ref_type', '=', 'request').where('ref_id', '=', requestId).execute();
  return { usage, entries, ledgerTotal: -entries.filter((e) => e.bucket !== 'arrears').reduce((n, e) => n + e.amount_micros, 0) };
}

/** Wait until `fn` returns a truthy value (or throw after `timeoutMs`). */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 5_000, stepMs = 25): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
