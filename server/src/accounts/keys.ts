import { z } from 'zod';
import { inTransaction, insertReturningId, parseJsonArray, type Db, type Executor } from '../db/index.js';
import type { ApiKeyRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import { sha256Hex } from '../lib/crypto.js';
import { API_KEY_PATTERN, newApiKey } from '../lib/ids.js';
import { parseIpRule } from '../lib/ip.js';
import { parseOriginRule } from '../lib/origins.js';
import { parseOr } from '../lib/validate.js';
import { audit, type Actor } from '../audit/index.js';
import type { ChangeFeed } from '../live/changes.js';
import { GroupNameSchema } from './users.js';

export const KEY_STATUSES = ['active', 'disabled', 'locked', 'revoked'] as const;
/** The longest grace a rotation may give the previous secret. */
export const MAX_GRACE_SECONDS = 30 * 86_400;

const ModelPatternList = z
  .array(z.string().trim().min(1).max(191).regex(/^[^\s,]+$/, 'model names contain no spaces or commas'))
  .max(500);
const IpRuleList = z
  .array(
    z.string().trim().refine((r) => {
      try {
        parseIpRule(r);
        return true;
      } catch {
        return false;
      }
    }, 'not an IP address or CIDR (e.g. 203.0.113.7 or 10.0.0.0/8)'),
  )
  .max(200);

const OriginRuleList = z
  .array(
    z.string().trim().refine((r) => {
      try {
        parseOriginRule(r);
        return true;
      } catch {
        return false;
      }
    }, 'not a site: use example.com, *.example.com or https://app.example.com'),
  )
  .max(100);
const TagList = z
  .array(z.string().trim().min(1, 'tags must not be empty').max(32, 'tags are at most 32 characters').regex(/^[^\p{Cc},]*$/u, 'tags contain no commas or control characters'))
  .max(20);

export interface KeyInput {
  name?: string | undefined;
  models?: string[] | null | undefined;
  ips?: string[] | null | undefined;
  expiresAt?: number | null | undefined;
  quotaMicros?: number | null | undefined;
  group?: string | null | undefined;
  rpmLimit?: number | null | undefined;
  tpmLimit?: number | null | undefined;
  origins?: string[] | null | undefined;
  tags?: string[] | null | undefined;
  remark?: string | null | undefined;
}

export interface KeyView {
  id: number;
  user_id: number;
  name: string;
  /** Never the key itself: `sk-AbCd…wXyZ`. */
  display: string;
  prefix: string;
  status: string;
  /** active | disabled | revoked | expired | quota_exhausted — what a caller would experience. */
  state: string;
  expires_at: string | null;
  quota_micros: number | null;
  quota_used_micros: number;
  quota_pending_micros: number;
  allowed_models: string[] | null;
  allowed_ips: string[] | null;
  group: string | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  allowed_origins: string[] | null;
  tags: string[];
  remark: string | null;
  last_used_at: string | null;
  created_at: string;
  /** Set while the key is locked (suspected leak): why, when, by whom. */
  locked_reason: string | null;
  locked_at: string | null;
  locked_by: string | null;
  rotated_at: string | null;
  /** The secret the last rotation replaced, while it is still accepted. */
  previous_key: { display: string; valid_until: string } | null;
}

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function keyView(k: ApiKeyRow, now = Date.now()): KeyView {
  const models = k.allowed_models === null ? null : parseJsonArray(k.allowed_models);
  const ips = k.allowed_ips === null ? null : parseJsonArray(k.allowed_ips);
  let state = k.status;
  if (state === 'active' && k.expires_at !== null && k.expires_at <= now) state = 'expired';
  else if (state === 'active' && k.quota_micros !== null && k.quota_used_micros >= k.quota_micros) state = 'quota_exhausted';
  return {
    id: k.id,
    user_id: k.user_id,
    name: k.name,
    display: `${k.key_prefix}…${k.key_last4}`,
    prefix: k.key_prefix,
    status: k.status,
    state,
    expires_at: k.expires_at === null ? null : new Date(k.expires_at).toISOString(),
    quota_micros: k.quota_micros,
    quota_used_micros: k.quota_used_micros,
    quota_pending_micros: k.quota_pending_micros,
    allowed_models: models,
    allowed_ips: ips,
    group: k.group_name,
    rpm_limit: k.rpm_limit,
    tpm_limit: k.tpm_limit ?? null,
    allowed_origins: k.allowed_origins ? parseJsonArray(k.allowed_origins) : null,
    tags: k.tags ? parseJsonArray(k.tags) : [],
    remark: k.remark ?? null,
    last_used_at: k.last_used_at === null ? null : new Date(k.last_used_at).toISOString(),
    created_at: new Date(k.created_at).toISOString(),
    locked_reason: k.locked_reason ?? null,
    locked_at: isoOrNull(k.locked_at ?? null),
    locked_by: k.locked_by ?? null,
    rotated_at: isoOrNull(k.rotated_at ?? null),
    previous_key:
      k.prev_key_display && k.prev_key_expires_at !== null && Number(k.prev_key_expires_at) > now
        ? { display: k.prev_key_display, valid_until: new Date(Number(k.prev_key_expires_at)).toISOString() }
        : null,
  };
}

function normalizeInput(input: KeyInput, now: number) {
  const out: Record<string, unknown> = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name.length > 100) throw new AppError('validation_failed', 'name: at most 100 characters', { path: 'name' });
    out.name = name || 'default';
  }
  if (input.models !== undefined) {
    out.allowed_models = input.models === null || input.models.length === 0 ? null : JSON.stringify(parseOr(ModelPatternList, input.models, 'models'));
  }
  if (input.ips !== undefined) {
    out.allowed_ips = input.ips === null || input.ips.length === 0 ? null : JSON.stringify(parseOr(IpRuleList, input.ips, 'ips'));
  }
  if (input.expiresAt !== undefined) {
    if (input.expiresAt !== null && (!Number.isFinite(input.expiresAt) || input.expiresAt <= now)) {
      throw new AppError('validation_failed', 'expires_at: must be a time in the future', { path: 'expires_at' });
    }
    out.expires_at = input.expiresAt;
  }
  if (input.quotaMicros !== undefined) {
    if (input.quotaMicros !== null && (!Number.isSafeInteger(input.quotaMicros) || input.quotaMicros < 0)) {
      throw new AppError('validation_failed', 'quota: must be zero or more', { path: 'quota' });
    }
    out.quota_micros = input.quotaMicros;
  }
  if (input.group !== undefined) out.group_name = input.group === null ? null : parseOr(GroupNameSchema, input.group, 'group');
  if (input.rpmLimit !== undefined) {
    if (input.rpmLimit !== null && (!Number.isInteger(input.rpmLimit) || input.rpmLimit < 1 || input.rpmLimit > 1_000_000)) {
      throw new AppError('validation_failed', 'rpm_limit: a whole number from 1 to 1000000', { path: 'rpm_limit' });
    }
    out.rpm_limit = input.rpmLimit;
  }
  if (input.tpmLimit !== undefined) {
    if (input.tpmLimit !== null && (!Number.isInteger(input.tpmLimit) || input.tpmLimit < 1 || input.tpmLimit > 1_000_000_000)) {
      throw new AppError('validation_failed', 'tpm_limit: a whole number from 1 to 1000000000', { path: 'tpm_limit' });
    }
    out.tpm_limit = input.tpmLimit;
  }
  if (input.origins !== undefined) {
    out.allowed_origins = input.origins === null || input.origins.length === 0 ? null : JSON.stringify(parseOr(OriginRuleList, input.origins, 'origins').map((o) => o.toLowerCase()));
  }
  if (input.tags !== undefined) {
    out.tags = input.tags === null || input.tags.length === 0 ? null : JSON.stringify([...new Set(parseOr(TagList, input.tags, 'tags'))]);
  }
  if (input.remark !== undefined) {
    const r = input.remark === null ? '' : input.remark.trim();
    if (r.length > 1000) throw new AppError('validation_failed', 'remark: at most 1000 characters', { path: 'remark' });
    out.remark = r === '' ? null : r;
  }
  return out;
}

/**
 * Create a key. The plain key is returned here and nowhere else: only its SHA-256 hash is stored,
 * so this is the one time the owner can copy it.
 */
export async function createKey(db: Db, feed: ChangeFeed, userId: number, input: KeyInput, actor?: Actor): Promise<{ key: string; view: KeyView }> {
  const now = Date.now();
  const fields = normalizeInput({ name: input.name ?? 'default', ...input }, now);
  const key = newApiKey();
  const view = await inTransaction(db, async (trx) => {
    const user = await trx.selectFrom('users').select(['id']).where('id', '=', userId).executeTakeFirst();
    if (!user) throw new AppError('not_found', `no user with id ${userId}`, { path: 'user' });
    if (typeof fields.group_name === 'string') await assertGroup(trx, fields.group_name);
    const id = await insertReturningId(db, trx, 'api_keys', {
      user_id: userId,
      name: 'default',
      ...fields,
      key_hash: sha256Hex(key),
      key_prefix: key.slice(0, 7),
      key_last4: key.slice(-4),
      status: 'active',
      created_at: now,
      updated_at: now,
    });
    // A process may have cached "no such key" for this hash (someone tried it before it existed).
    await feed.record(trx, 'key', id);
    const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const view = keyView(row, now);
    if (actor) await audit(trx, actor, 'key.create', { type: 'key', id }, null, view);
    return view;
  });
  await feed.publish();
  return { key, view };
}

export async function getKey(ex: Executor, id: number): Promise<ApiKeyRow> {
  const k = await ex.selectFrom('api_keys').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  if (!k) throw new AppError('not_found', `no key with id ${id}`, { path: 'id' });
  return k;
}

/** A key by id, by the full `sk-…` key, or by its hash. */
export async function resolveKey(ex: Executor, ref: string): Promise<ApiKeyRow> {
  const s = ref.trim();
  if (/^\d+$/.test(s)) return getKey(ex, Number(s));
  const hash = API_KEY_PATTERN.test(s) ? sha256Hex(s) : /^[0-9a-f]{64}$/.test(s) ? s : null;
  if (!hash) throw new AppError('validation_failed', 'give a key id or the full sk-… key', { path: 'key' });
  // The secret a rotation replaced names the same key (a leaked old secret is locked with its key).
  const k = await ex
    .selectFrom('api_keys')
    .selectAll()
    .where((eb) => eb.or([eb('key_hash', '=', hash), eb('prev_key_hash', '=', hash)]))
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!k) throw new AppError('not_found', 'no such key');
  return k;
}

export interface KeyPatch extends KeyInput {
  status?: 'active' | 'disabled' | undefined;
}

export async function updateKey(db: Db, feed: ChangeFeed, id: number, patch: KeyPatch, ownerId?: number, actor?: Actor) {
  const now = Date.now();
  const fields = normalizeInput(patch, now);
  const result = await inTransaction(db, async (trx) => {
    const before = await getKey(trx, id);
    if (ownerId !== undefined && before.user_id !== ownerId) throw new AppError('not_found', `no key with id ${id}`, { path: 'id' });
    // Revocation is final: a revoked key stays listed for the record, and nothing about it changes.
    if (before.status === 'revoked') {
      throw new AppError('key_revoked', 'This key is revoked; a revoked key cannot be enabled or changed.', patch.status !== undefined ? { path: 'status' } : {});
    }
    // A lock ends with a rotation (a new secret), not by switching the leaked one back on.
    if (before.status === 'locked' && patch.status !== undefined) {
      throw new AppError('conflict', 'This key is locked because it may have leaked; rotate it to get a new secret.', { path: 'status' });
    }
    if (patch.status !== undefined) fields.status = patch.status;
    if (typeof fields.group_name === 'string') await assertGroup(trx, fields.group_name);
    if (Object.keys(fields).length > 0) {
      await trx.updateTable('api_keys').set({ ...fields, updated_at: now }).where('id', '=', id).execute();
      await feed.record(trx, 'key', id);
    }
    const after = await getKey(trx, id);
    if (actor && Object.keys(fields).length > 0) await audit(trx, actor, 'key.update', { type: 'key', id }, keyView(before, now), keyView(after, now));
    return { before, after };
  });
  await feed.publish();
  return result;
}

/** Permanently revoke (status `revoked`), or also hide from lists (`deleted`). Effective everywhere within one poll. */
export async function revokeKey(db: Db, feed: ChangeFeed, id: number, opts: { delete?: boolean; ownerId?: number; actor?: Actor } = {}) {
  const now = Date.now();
  const result = await inTransaction(db, async (trx) => {
    const before = await getKey(trx, id);
    if (opts.ownerId !== undefined && before.user_id !== opts.ownerId) throw new AppError('not_found', `no key with id ${id}`, { path: 'id' });
    await trx
      .updateTable('api_keys')
      .set({ status: 'revoked', updated_at: now, ...(opts.delete ? { deleted_at: now } : {}) })
      .where('id', '=', id)
      .execute();
    await feed.record(trx, 'key', id);
    const after = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    if (opts.actor) await audit(trx, opts.actor, opts.delete ? 'key.delete' : 'key.revoke', { type: 'key', id }, keyView(before, now), opts.delete ? null : keyView(after, now));
    return { before, after };
  });
  await feed.publish();
  return result;
}

/** `0`, `90`, `90s`, `10m`, `24h`, `7d` → seconds; at most 30 days. */
export function parseGrace(v: string | number, path = 'grace'): number {
  const m = typeof v === 'number' ? [String(v), String(v), 's'] : /^\s*(\d{1,9})\s*([smhd]?)\s*$/i.exec(v);
  const n = m ? Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[(m[2] || 's').toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_GRACE_SECONDS) {
    throw new AppError('validation_failed', `${path}: a duration from 0 to 30 days, like 0, 90s, 10m, 24h or 7d (got "${v}")`, { path });
  }
  return n;
}

/**
 * Give a key a new secret. The previous one keeps working for `graceSeconds` (0 = refused at
 * once), then answers 401 `key_rotated`; a secret rotated out earlier is forgotten (401
 * `invalid_api_key`). A locked key is unlocked by its rotation, and its leaked secret gets no
 * grace. The key keeps its id, settings, quota and history. Returns the new secret, shown only here.
 */
export async function rotateKey(
  db: Db,
  feed: ChangeFeed,
  id: number,
  graceSeconds: number,
  actor: Actor,
  opts: { ownerId?: number } = {},
): Promise<{ key: string; view: KeyView; graceSeconds: number }> {
  const now = Date.now();
  const key = newApiKey();
  const result = await inTransaction(db, async (trx) => {
    const before = await getKey(trx, id);
    if (opts.ownerId !== undefined && before.user_id !== opts.ownerId) throw new AppError('not_found', `no key with id ${id}`, { path: 'id' });
    if (before.status === 'revoked') throw new AppError('key_revoked', 'This key is revoked; create a new key instead.');
    const grace = before.status === 'locked' ? 0 : graceSeconds;
    await trx
      .updateTable('api_keys')
      .set({
        key_hash: sha256Hex(key),
        key_prefix: key.slice(0, 7),
        key_last4: key.slice(-4),
        prev_key_hash: before.key_hash,
        prev_key_display: `${before.key_prefix}…${before.key_last4}`,
        prev_key_expires_at: now + grace * 1000,
        rotated_at: now,
        ...(before.status === 'locked' ? { status: 'active', locked_reason: null, locked_at: null, locked_by: null } : {}),
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
    await feed.record(trx, 'key', id);
    const after = await getKey(trx, id);
    await audit(trx, actor, 'key.rotate', { type: 'key', id }, keyView(before, now), { ...keyView(after, now), grace_seconds: grace });
    return { view: keyView(after, now), graceSeconds: grace };
  });
  await feed.publish();
  return { key, ...result };
}

/** Leak lock: the key (both secrets, if a rotation's grace is running) is refused at once with 401 `key_locked`. */
export async function lockKey(db: Db, feed: ChangeFeed, id: number, reasonIn: string, actor: Actor): Promise<{ before: ApiKeyRow; after: ApiKeyRow }> {
  const reason = parseOr(LockReasonSchema, reasonIn, 'reason');
  const now = Date.now();
  const result = await inTransaction(db, async (trx) => {
    const before = await getKey(trx, id);
    if (before.status === 'revoked') throw new AppError('key_revoked', 'This key is revoked already; it cannot be used.');
    if (before.status === 'locked') throw new AppError('conflict', `This key is already locked (${before.locked_reason ?? ''}).`);
    await trx
      .updateTable('api_keys')
      .set({ status: 'locked', locked_reason: reason, locked_at: now, locked_by: actor.email ?? 'unknown', updated_at: now })
      .where('id', '=', id)
      .execute();
    await feed.record(trx, 'key', id);
    const after = await getKey(trx, id);
    await audit(trx, actor, 'key.lock', { type: 'key', id }, { status: before.status }, { status: 'locked', reason }, reason);
    return { before, after };
  });
  await feed.publish();
  return result;
}

const LockReasonSchema = z
  .string()
  .trim()
  .min(2, 'give a reason (at least 2 characters)')
  .max(500, 'reason must be at most 500 characters')
  .regex(/^[^\p{Cc}]*$/u, 'reason must not contain control characters');

export interface KeyListQuery {
  userId?: number | undefined;
  status?: string | undefined;
  q?: string | undefined;
  page: number;
  pageSize: number;
}

export async function listKeys(ex: Executor, q: KeyListQuery) {
  let base = ex.selectFrom('api_keys').innerJoin('users', 'users.id', 'api_keys.user_id').where('api_keys.deleted_at', 'is', null);
  if (q.userId !== undefined) base = base.where('api_keys.user_id', '=', q.userId);
  if (q.status) base = base.where('api_keys.status', '=', q.status);
  if (q.q) {
    const like = `%${q.q.trim()}%`;
    base = base.where((eb) =>
      eb.or([
        eb('api_keys.name', 'like', like),
        eb('api_keys.key_prefix', 'like', like),
        eb('api_keys.tags', 'like', like),
        // Within one owner's keys the email matches all or none: it would only blur the search.
        ...(q.userId === undefined ? [eb('users.email', 'like', like.toLowerCase())] : []),
      ]),
    );
  }
  const total = Number((await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
  const rows = await base
    .selectAll('api_keys')
    .select('users.email as owner_email')
    .orderBy('api_keys.id', 'desc')
    .limit(q.pageSize)
    .offset((q.page - 1) * q.pageSize)
    .execute();
  const now = Date.now();
  return { items: rows.map((r) => ({ ...keyView(r, now), owner_email: r.owner_email })), total, page: q.page, page_size: q.pageSize };
}

async function assertGroup(ex: Executor, name: string) {
  const g = await ex.selectFrom('groups').select('name').where('name', '=', name).executeTakeFirst();
  if (!g) throw new AppError('validation_failed', `group "${name}" does not exist`, { path: 'group' });
}
