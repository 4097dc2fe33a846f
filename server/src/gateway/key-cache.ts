import type { IncomingHttpHeaders } from 'node:http';
import type { Db } from '../db/index.js';
import { parseJsonArray } from '../db/index.js';
import { AppError } from '../errors.js';
import { sha256Hex } from '../lib/crypto.js';
import { compileIpAllowList } from '../lib/ip.js';
import { compileOriginAllowList } from '../lib/origins.js';
import { compilePatterns, type ModelMatcher } from '../lib/patterns.js';
import type { ChangeFeed } from '../live/changes.js';

/** The key a caller presented: `Authorization: Bearer sk-…`, or `x-api-key` / `api-key` as Anthropic and Azure clients send it. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) return /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ?? auth.trim();
  const alt = headers['x-api-key'] ?? headers['api-key'];
  return typeof alt === 'string' ? alt.trim() : undefined;
}

/** Who is calling, as the gateway needs it: everything to admit, price and charge a call. */
export interface Principal {
  keyId: number;
  keyName: string;
  userId: number;
  walletId: number;
  keyStatus: string;
  userStatus: string;
  expiresAt: number | null;
  hasQuota: boolean;
  group: string;
  allowedModels: ModelMatcher | null;
  allowedModelList: string[] | null;
  ipAllowed: ((ip: string) => boolean) | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  originAllowed: ((origin: URL | null) => boolean) | null;
  /** Set when the presented secret is the one a rotation replaced: refused from this time (ms) on. */
  retiresAt: number | null;
}

interface Entry {
  p: Principal | null;
  at: number;
}

/** A safety net only: invalidation through the change feed is what makes revocation fast. */
const MAX_AGE_MS = 60_000;
const NEGATIVE_MAX_AGE_MS = 10_000;
/** Keys held at once (a Principal is ~1 KB with its compiled patterns): beyond this the cache starts over. */
const MAX_KEYS = 50_000;
/** Unknown keys remembered at once: anyone can present random keys, so they get their own small bound. */
const MAX_UNKNOWN = 10_000;

/**
 * Keys are looked up by SHA-256 hash in memory; a miss costs one joined query, and concurrent
 * misses for the same key share it. Entries are dropped when the change feed reports the key or
 * its user changed, which reaches every process within one poll (≤ 1 s by default).
 */
/**
 * The key exists but may not be used because of something done to it: locked by the operator (a
 * leak), rotated out, or its account frozen. Its owner sees each refused call in their usage
 * (costing nothing): programs still using a leaked or replaced secret, or calling a frozen
 * account, show up there. A key its owner disabled, revoked or let expire is refused without a
 * record, as before: the owner made that choice.
 */
const RECORDED_FOR_OWNER = new Set(['key_locked', 'key_rotated', 'account_frozen']);
const refusedKeys = new WeakMap<AppError, Principal>();

/** The principal of a known key that `authenticate` refused with `err`, if that was the reason. */
export function refusedPrincipal(err: unknown): Principal | null {
  return err instanceof AppError ? (refusedKeys.get(err) ?? null) : null;
}

function refusalOf(p: Principal, now: number): AppError | null {
  if (p.retiresAt !== null && p.retiresAt <= now) {
    return new AppError('key_rotated', 'This API key was replaced by a new one (rotated) and its grace period has ended. Use the new key.');
  }
  if (p.keyStatus === 'locked') return new AppError('key_locked', 'This API key is locked because it may have leaked. Its owner can rotate it in the console to get a new key.');
  if (p.keyStatus === 'revoked') return new AppError('key_disabled', 'This API key has been revoked.');
  if (p.keyStatus !== 'active') return new AppError('key_disabled', 'This API key is disabled.');
  if (p.expiresAt !== null && p.expiresAt <= now) return new AppError('key_expired', 'This API key has expired.');
  if (p.userStatus === 'frozen') return new AppError('account_frozen', 'The account that owns this API key is frozen. Its owner can see why in the console, or ask the operator.');
  if (p.userStatus !== 'active') return new AppError('account_disabled', 'The account that owns this API key is disabled.');
  return null;
}

export class KeyCache {
  readonly #byHash = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Principal | null>>();
  /** A key's current secret and, during a rotation's grace, its previous one. */
  readonly #hashesByKeyId = new Map<number, Set<string>>();
  readonly #hashesByUser = new Map<number, Set<string>>();
  #generation = 0;
  #unknown = 0;

  constructor(private readonly db: Db) {}

  subscribe(feed: ChangeFeed): void {
    feed.on('key', (ids) => {
      // A new key may have been cached as "unknown" by hash; drop all negative entries.
      this.#dropUnknown();
      for (const id of ids) if (id === null) this.clear(); else this.invalidateKey(Number(id));
    });
    feed.on('user', (ids) => {
      for (const id of ids) if (id === null) this.clear(); else this.invalidateUser(Number(id));
    });
    // A group's existence can change what a key resolves to.
    feed.on('group', () => this.clear());
  }

  /** Resolve a presented key, or throw the 401/403 a caller should see. */
  async authenticate(presented: string | undefined, now = Date.now()): Promise<Principal> {
    if (!presented) {
      throw new AppError('unauthenticated', 'You did not provide an API key. Send it as "Authorization: Bearer sk-…".');
    }
    const hash = sha256Hex(presented);
    let e = this.#byHash.get(hash);
    if (!e || now - e.at > (e.p ? MAX_AGE_MS : NEGATIVE_MAX_AGE_MS)) {
      const p = await this.#load(hash);
      e = { p, at: now };
    }
    const p = e.p;
    if (!p) throw new AppError('invalid_api_key', 'Incorrect API key provided.');
    const refusal = refusalOf(p, now);
    if (refusal) {
      if (RECORDED_FOR_OWNER.has(refusal.code)) refusedKeys.set(refusal, p);
      throw refusal;
    }
    return p;
  }

  #load(hash: string): Promise<Principal | null> {
    let pending = this.#inflight.get(hash);
    if (pending) return pending;
    const generation = this.#generation;
    pending = this.#query(hash)
      .then((p) => {
        // Do not cache a result that an invalidation raced past while the query ran.
        if (generation === this.#generation) this.#store(hash, p);
        return p;
      })
      .finally(() => this.#inflight.delete(hash));
    this.#inflight.set(hash, pending);
    return pending;
  }

  async #query(hash: string): Promise<Principal | null> {
    const r = await this.db.kysely
      .selectFrom('api_keys as k')
      .innerJoin('users as u', 'u.id', 'k.user_id')
      .innerJoin('wallets as w', 'w.user_id', 'u.id')
      .select([
        'k.id', 'k.name', 'k.status', 'k.expires_at', 'k.quota_micros', 'k.allowed_models', 'k.allowed_ips',
        'k.group_name', 'k.rpm_limit', 'k.deleted_at', 'u.id as user_id', 'u.status as user_status',
        'u.group_name as user_group', 'w.id as wallet_id', 'k.key_hash', 'k.prev_key_expires_at', 'k.tpm_limit', 'k.allowed_origins',
      ])
      .where((eb) => eb.or([eb('k.key_hash', '=', hash), eb('k.prev_key_hash', '=', hash)]))
      .executeTakeFirst();
    if (!r || r.deleted_at !== null) return null;
    const models = r.allowed_models === null ? null : parseJsonArray(r.allowed_models);
    return {
      keyId: r.id,
      keyName: r.name,
      userId: r.user_id,
      walletId: r.wallet_id,
      keyStatus: r.status,
      userStatus: r.user_status,
      expiresAt: r.expires_at,
      hasQuota: r.quota_micros !== null,
      group: r.group_name ?? r.user_group,
      allowedModels: models && models.length > 0 ? compilePatterns(models) : null,
      allowedModelList: models && models.length > 0 ? models : null,
      ipAllowed: compileIpAllowList(r.allowed_ips === null ? [] : parseJsonArray(r.allowed_ips)),
      rpmLimit: r.rpm_limit,
      tpmLimit: r.tpm_limit,
      originAllowed: compileOriginAllowList(r.allowed_origins === null ? [] : parseJsonArray(r.allowed_origins)),
      retiresAt: r.key_hash === hash ? null : Number(r.prev_key_expires_at ?? 0),
    };
  }

  #store(hash: string, p: Principal | null) {
    if (this.#byHash.size - this.#unknown >= MAX_KEYS) this.clear();
    if (!p && this.#unknown >= MAX_UNKNOWN) this.#dropUnknown();
    const before = this.#byHash.get(hash);
    if (before && before.p === null) this.#unknown--;
    this.#byHash.set(hash, { p, at: Date.now() });
    if (!p) {
      this.#unknown++;
      return;
    }
    let byKey = this.#hashesByKeyId.get(p.keyId);
    if (!byKey) this.#hashesByKeyId.set(p.keyId, (byKey = new Set()));
    byKey.add(hash);
    let set = this.#hashesByUser.get(p.userId);
    if (!set) this.#hashesByUser.set(p.userId, (set = new Set()));
    set.add(hash);
  }

  #dropUnknown(): void {
    for (const [h, e] of this.#byHash) if (e.p === null) this.#byHash.delete(h);
    this.#unknown = 0;
  }

  #delete(hash: string): void {
    if (this.#byHash.get(hash)?.p === null) this.#unknown--;
    this.#byHash.delete(hash);
  }

  /** Entries held, known and unknown keys (for tests). */
  get size(): { keys: number; unknown: number } {
    return { keys: this.#byHash.size - this.#unknown, unknown: this.#unknown };
  }

  invalidateKey(keyId: number): void {
    this.#generation++;
    for (const h of this.#hashesByKeyId.get(keyId) ?? []) this.#delete(h);
    this.#hashesByKeyId.delete(keyId);
  }

  invalidateUser(userId: number): void {
    this.#generation++;
    for (const h of this.#hashesByUser.get(userId) ?? []) this.#delete(h);
    this.#hashesByUser.delete(userId);
  }

  clear(): void {
    this.#generation++;
    this.#unknown = 0;
    this.#byHash.clear();
    this.#hashesByKeyId.clear();
    this.#hashesByUser.clear();
  }
}
