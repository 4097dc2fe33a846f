// Fixtures for the console, dashboard and export tests: usage records, users and sessions written
// straight into the database at chosen times, so that buckets and totals can be checked exactly.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../server/src/context.js';
import type { NewUsageRecord } from '../../server/src/db/schema.js';
import { nativeTime } from '../../server/src/ops/buckets.js';
import type { ApiClient } from '../support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../support/server.js';

let seq = 0;

export type UsageSeed = Partial<NewUsageRecord> & Pick<NewUsageRecord, 'user_id' | 'key_id' | 'wallet_id'>;

export function usageRow(r: UsageSeed): NewUsageRecord {
  return {
    request_id: `req_seed_${Date.now().toString(36)}_${++seq}_${randomBytes(3).toString('hex')}`,
    created_at: Date.now(),
    endpoint: 'chat.completions',
    model: 'gpt-4o-mini',
    upstream_model: 'gpt-4o-mini',
    channel_id: null,
    stream: 0,
    prompt_tokens: 10,
    completion_tokens: 5,
    cached_tokens: 0,
    input_price: 150_000,
    output_price: 600_000,
    cached_input_price: 150_000,
    request_price: 0,
    multiplier_ppm: 1_000_000,
    charged_micros: 5,
    cost_micros: 3,
    arrears_micros: 0,
    status_code: 200,
    error_code: null,
    error_message: null,
    latency_ms: 120,
    ttfb_ms: 40,
    attempts: 1,
    usage_source: 'upstream',
    client_ip: '127.0.0.1',
    ...r,
  };
}

/** Insert usage records in batches (one statement per batch, as the gateway's group commit does). */
export async function insertUsage(ctx: AppContext, rows: UsageSeed[], batch = 500): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) {
    await ctx.db.kysely.insertInto('usage_records').values(rows.slice(i, i + batch).map(usageRow)).execute();
  }
}

export async function setUserCreatedAt(ctx: AppContext, userId: number | 'all', ms: number): Promise<void> {
  let q = ctx.db.kysely.updateTable('users').set({ created_at: nativeTime(ctx.db.dialect, ms) });
  if (userId !== 'all') q = q.where('id', '=', userId);
  await q.execute();
}

export async function setSessionsCreatedAt(ctx: AppContext, ms: number): Promise<void> {
  await ctx.db.kysely.updateTable('auth_sessions').set({ created_at: nativeTime(ctx.db.dialect, ms) }).execute();
}

/** A session row as better-auth writes one on sign-in (only its creation time matters here). */
export async function insertSession(ctx: AppContext, userId: number, ms: number): Promise<void> {
  const t = nativeTime(ctx.db.dialect, ms);
  await ctx.db.kysely
    .insertInto('auth_sessions')
    .values({ token: `tok_${randomBytes(12).toString('hex')}`, user_id: userId, created_at: t, updated_at: t, expires_at: nativeTime(ctx.db.dialect, ms + 86_400_000), ip_address: null, user_agent: null })
    .execute();
}

/** A ledger entry of the given type and amount at a chosen time (balances are not kept in step: reports only). */
export async function insertLedger(ctx: AppContext, e: { walletId: number; userId: number; type: string; amount: number; at: number; bucket?: string }): Promise<void> {
  await ctx.db.kysely
    .insertInto('ledger_entries')
    .values({
      wallet_id: e.walletId,
      user_id: e.userId,
      bucket: e.bucket ?? 'cash',
      type: e.type,
      amount_micros: e.amount,
      balance_after_micros: 0,
      idempotency_key: null,
      ref_type: 'test',
      ref_id: null,
      reason: 'fixture',
      actor_id: null,
      created_at: e.at,
    })
    .execute();
}

let ipSeq = 0;

/**
 * Sign in from an address of its own: better-auth allows 3 sign-ins per 10 s per client address,
 * and a test file signs in more users than that. The server must run with TRUST_PROXY=true for the
 * X-Forwarded-For address to count.
 */
export async function signInAs(api: ApiClient, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<ApiClient> {
  const ip = `198.51.100.${(++ipSeq % 250) + 1}`;
  const r = await api.request('POST', '/api/auth/sign-in/email', { email, password }, { 'x-forwarded-for': ip });
  if (r.status !== 200) throw new Error(`sign-in failed: ${r.status} ${JSON.stringify(r.body)}`);
  return api;
}
