import { sql } from 'kysely';
import { z } from 'zod';
import { affected, inTransaction, insertReturningId, isUniqueViolation, toMs, type Db, type Executor } from '../db/index.js';
import type { User, Wallet } from '../db/schema.js';
import { AppError } from '../errors.js';
import { parseOr } from '../lib/validate.js';
import { audit, type Actor } from '../audit/index.js';
import { createWallet, walletView, type WalletView } from '../billing/wallets.js';
import type { ChangeFeed } from '../live/changes.js';
import { ROLES, type Role } from './roles.js';
import { checkPassword } from './password-policy.js';

/** better-auth's hasher, loaded on first use: the CLI reads users without loading better-auth. */
const hashPassword = async (pw: string) => (await import('better-auth/crypto')).hashPassword(pw);

export { ROLES, type Role };
/** Every status a user can be in (the list filter). */
export const USER_STATUSES = ['active', 'disabled', 'frozen'] as const;
/** What an edit may set; 'frozen' only through freezeUser, which needs a reason. */
export const SETTABLE_USER_STATUSES = ['active', 'disabled'] as const;
/** A freeze or unfreeze reason: required, kept in the audit log (and, for a freeze, on the user). */
export const FreezeReasonSchema = z
  .string()
  .trim()
  .min(2, 'give a reason (at least 2 characters)')
  .max(500, 'reason must be at most 500 characters')
  .regex(/^[^\p{Cc}]*$/u, 'reason must not contain control characters');

export const EmailSchema = z.string().trim().toLowerCase().pipe(z.email({ message: 'not a valid email address' })).pipe(z.string().max(254));
export const PasswordSchema = z.string().min(8, 'password must be at least 8 characters').max(128, 'password must be at most 128 characters');
/** A display name: text, 1–100 characters once trimmed, no control characters. Every route that writes users uses it. */
export const UserNameSchema = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(100, 'name must be at most 100 characters')
  .regex(/^[^\p{Cc}]*$/u, 'name must not contain control characters');
export const GroupNameSchema = z.string().trim().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'group names use letters, digits, _ . - (1–64 characters)');

export interface NewUserInput {
  email: string;
  password?: string | undefined;
  /** false: only the 8-character floor (the first admin's password from the environment). */
  policy?: boolean;
  name?: string | undefined;
  /** 'user', a built-in staff role or a custom role's name (checked by the caller). */
  role?: string | undefined;
  group?: string | undefined;
  remark?: string | undefined;
  emailVerified?: boolean;
}

export interface UserView extends WalletView {
  id: number;
  email: string;
  name: string;
  role: string;
  status: string;
  group: string;
  remark: string | null;
  created_at: string;
  last_login_at: string | null;
  /** Set while the account is frozen: why, when, by whom (an operator's email or "cli"). */
  frozen_reason: string | null;
  frozen_at: string | null;
  frozen_by: string | null;
  has_password?: boolean;
}

export function userView(u: User, w: Wallet): UserView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    status: u.status,
    group: u.group_name,
    remark: u.remark,
    created_at: new Date(toMs(u.created_at) ?? 0).toISOString(),
    last_login_at: u.last_login_at ? new Date(u.last_login_at).toISOString() : null,
    frozen_reason: u.frozen_reason ?? null,
    frozen_at: u.frozen_at ? new Date(Number(u.frozen_at)).toISOString() : null,
    frozen_by: u.frozen_by ?? null,
    ...walletView(w),
  };
}

/** The fields of a user that the audit log records (never the password). */
function auditedUser(u: User) {
  return { email: u.email, name: u.name, role: u.role, status: u.status, group: u.group_name, remark: u.remark };
}

/**
 * Create a user with a wallet (and a password login when a password is given), atomically, with
 * its audit entry when an actor is given (every route and command gives one; fixtures need not).
 */
export async function createUser(db: Db, input: NewUserInput, actor?: Actor): Promise<{ user: User; wallet: Wallet }> {
  const email = parseOr(EmailSchema, input.email, 'email');
  const password = input.password === undefined ? undefined : parseOr(PasswordSchema, input.password, 'password');
  if (password !== undefined && input.policy !== false) checkPassword(password, email);
  const group = input.group === undefined ? 'default' : parseOr(GroupNameSchema, input.group, 'group');
  const name = input.name === undefined || input.name.trim() === '' ? email.split('@')[0]!.slice(0, 100) : parseOr(UserNameSchema, input.name, 'name');
  const hash = password ? await hashPassword(password) : null;
  const now = new Date();
  try {
    return await inTransaction(db, async (trx) => {
      if (group !== 'default') await assertGroupExists(trx, group);
      const userId = await insertReturningId(db, trx, 'users', {
        name,
        email,
        email_verified: db.dialect === 'sqlite' ? (input.emailVerified ? 1 : 0) : Boolean(input.emailVerified),
        image: null,
        created_at: db.dialect === 'sqlite' ? now.toISOString() : now,
        updated_at: db.dialect === 'sqlite' ? now.toISOString() : now,
        role: input.role ?? 'user',
        status: 'active',
        group_name: group,
        remark: input.remark ?? null,
      });
      if (hash) {
        await trx
          .insertInto('auth_accounts')
          .values({
            account_id: String(userId),
            provider_id: 'credential',
            user_id: userId,
            password: hash,
            access_token: null,
            refresh_token: null,
            id_token: null,
            access_token_expires_at: null,
            refresh_token_expires_at: null,
            scope: null,
            created_at: db.dialect === 'sqlite' ? now.toISOString() : now,
            updated_at: db.dialect === 'sqlite' ? now.toISOString() : now,
          })
          .execute();
      }
      await createWallet(db, trx, userId, now.getTime());
      const user = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
      const wallet = await trx.selectFrom('wallets').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
      if (actor) await audit(trx, actor, 'user.create', { type: 'user', id: userId }, null, auditedUser(user));
      return { user, wallet };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('already_exists', `a user with email ${email} already exists`, { path: 'email' });
    throw err;
  }
}

/** Set (or replace) a user's password login; their sessions end. */
export async function setPassword(db: Db, userId: number, password: string, actor?: Actor, opts: { policy?: boolean } = {}): Promise<void> {
  const pw = parseOr(PasswordSchema, password, 'password');
  if (opts.policy !== false) {
    const u = await db.kysely.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirst();
    if (!u) throw new AppError('not_found', `user ${userId} not found`);
    checkPassword(pw, u.email);
  }
  const hash = await hashPassword(pw);
  const now = new Date();
  const ts = db.dialect === 'sqlite' ? now.toISOString() : now;
  await inTransaction(db, async (trx) => {
    const r = await trx
      .updateTable('auth_accounts')
      .set({ password: hash, updated_at: ts })
      .where('user_id', '=', userId)
      .where('provider_id', '=', 'credential')
      .executeTakeFirst();
    if (affected(r) === 0) {
      await trx
        .insertInto('auth_accounts')
        .values({
          account_id: String(userId), provider_id: 'credential', user_id: userId, password: hash,
          access_token: null, refresh_token: null, id_token: null, access_token_expires_at: null,
          refresh_token_expires_at: null, scope: null, created_at: ts, updated_at: ts,
        })
        .execute();
    }
    // A new password ends every existing session.
    const ended = await trx.deleteFrom('auth_sessions').where('user_id', '=', userId).executeTakeFirst();
    if (actor) await audit(trx, actor, 'user.password_reset', { type: 'user', id: userId }, null, { sessions_ended: affected(ended) });
  });
}

export async function findUserByEmail(ex: Executor, email: string): Promise<User | undefined> {
  return ex.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
}

export async function findUserById(ex: Executor, id: number): Promise<User | undefined> {
  return ex.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A user by id, or by email when the reference contains "@". */
export async function resolveUser(ex: Executor, ref: string | number): Promise<User> {
  const s = String(ref).trim();
  const u = s.includes('@') ? await findUserByEmail(ex, s) : /^\d+$/.test(s) ? await findUserById(ex, Number(s)) : undefined;
  if (!u) throw new AppError('not_found', `no user ${s}`, { path: 'user' });
  return u;
}

export async function getUserWithWallet(ex: Executor, userId: number): Promise<{ user: User; wallet: Wallet }> {
  const user = await findUserById(ex, userId);
  if (!user) throw new AppError('not_found', `no user with id ${userId}`, { path: 'id' });
  const wallet = await ex.selectFrom('wallets').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
  return { user, wallet };
}

export interface UserPatch {
  name?: string | undefined;
  /** 'user', a built-in staff role or a custom role's name (checked by the caller). */
  role?: string | undefined;
  status?: (typeof SETTABLE_USER_STATUSES)[number] | undefined;
  group?: string | undefined;
  remark?: string | null | undefined;
}

export async function updateUser(db: Db, feed: ChangeFeed, userId: number, patch: UserPatch, actor?: Actor): Promise<{ before: User; after: User }> {
  return inTransaction(db, async (trx) => {
    const before = await findUserById(trx, userId);
    if (!before) throw new AppError('not_found', `no user with id ${userId}`, { path: 'id' });
    // A freeze is lifted only by an unfreeze, which records its reason.
    if (before.status === 'frozen' && patch.status !== undefined) {
      throw new AppError('conflict', 'This account is frozen; unfreeze it (with a reason) instead of changing its status.', { path: 'status' });
    }
    const set: Record<string, unknown> = {};
    if (patch.name !== undefined) set.name = parseOr(UserNameSchema, patch.name, 'name');
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.remark !== undefined) set.remark = patch.remark;
    if (patch.group !== undefined) {
      const g = parseOr(GroupNameSchema, patch.group, 'group');
      await assertGroupExists(trx, g);
      set.group_name = g;
    }
    if (Object.keys(set).length === 0) return { before, after: before };
    const now = new Date();
    set.updated_at = db.dialect === 'sqlite' ? now.toISOString() : now;
    await trx.updateTable('users').set(set).where('id', '=', userId).execute();
    if (patch.status === 'disabled') await trx.deleteFrom('auth_sessions').where('user_id', '=', userId).execute();
    await feed.record(trx, 'user', userId);
    const after = (await findUserById(trx, userId))!;
    if (actor) {
      // Only what changed: an entry that lists every field hides the one that moved.
      const b = auditedUser(before) as Record<string, unknown>;
      const a = auditedUser(after) as Record<string, unknown>;
      const keys = Object.keys(a).filter((k) => a[k] !== b[k]);
      if (keys.length > 0) {
        await audit(trx, actor, 'user.update', { type: 'user', id: userId }, Object.fromEntries(keys.map((k) => [k, b[k]])), Object.fromEntries(keys.map((k) => [k, a[k]])));
      }
    }
    return { before, after };
  }).finally(() => feed.publish());
}

/**
 * Freeze an account: its keys are refused (403 account_frozen) by every process within one poll
 * of the change feed, its sessions end, and it cannot sign in until unfrozen. The audit entry is
 * written in the same transaction.
 */
export async function freezeUser(db: Db, feed: ChangeFeed, userId: number, reasonIn: string, actor: Actor): Promise<{ before: User; after: User }> {
  const reason = parseOr(FreezeReasonSchema, reasonIn, 'reason');
  return inTransaction(db, async (trx) => {
    const before = await findUserById(trx, userId);
    if (!before) throw new AppError('not_found', `no user with id ${userId}`, { path: 'id' });
    if (before.status === 'frozen') throw new AppError('conflict', `This account is already frozen (${before.frozen_reason ?? 'no reason recorded'}).`);
    if (before.status !== 'active') throw new AppError('conflict', `This account is ${before.status}; only an active account can be frozen.`);
    const now = new Date();
    const r = await trx
      .updateTable('users')
      .set({ status: 'frozen', frozen_reason: reason, frozen_at: now.getTime(), frozen_by: actor.email ?? 'unknown', updated_at: db.dialect === 'sqlite' ? now.toISOString() : now })
      .where('id', '=', userId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (affected(r) !== 1) throw new AppError('conflict', 'The account changed while it was being frozen; try again.');
    await trx.deleteFrom('auth_sessions').where('user_id', '=', userId).execute();
    await feed.record(trx, 'user', userId);
    const after = (await findUserById(trx, userId))!;
    await audit(trx, actor, 'user.freeze', { type: 'user', id: userId }, { status: before.status }, { status: 'frozen', reason }, reason);
    return { before, after };
  }).finally(() => feed.publish());
}

/** Lift a freeze (reason required, kept in the audit log); the account is active again. */
export async function unfreezeUser(db: Db, feed: ChangeFeed, userId: number, reasonIn: string, actor: Actor): Promise<{ before: User; after: User }> {
  const reason = parseOr(FreezeReasonSchema, reasonIn, 'reason');
  return inTransaction(db, async (trx) => {
    const before = await findUserById(trx, userId);
    if (!before) throw new AppError('not_found', `no user with id ${userId}`, { path: 'id' });
    if (before.status !== 'frozen') throw new AppError('conflict', `This account is not frozen (it is ${before.status}).`);
    const now = new Date();
    const r = await trx
      .updateTable('users')
      .set({ status: 'active', frozen_reason: null, frozen_at: null, frozen_by: null, updated_at: db.dialect === 'sqlite' ? now.toISOString() : now })
      .where('id', '=', userId)
      .where('status', '=', 'frozen')
      .executeTakeFirst();
    if (affected(r) !== 1) throw new AppError('conflict', 'The account changed while it was being unfrozen; try again.');
    await feed.record(trx, 'user', userId);
    const after = (await findUserById(trx, userId))!;
    await audit(trx, actor, 'user.unfreeze', { type: 'user', id: userId },
      { status: 'frozen', reason: before.frozen_reason, frozen_at: before.frozen_at, frozen_by: before.frozen_by }, { status: 'active', reason }, reason);
    return { before, after };
  }).finally(() => feed.publish());
}

export interface UserListQuery {
  q?: string | undefined;
  status?: string | undefined;
  role?: string | undefined;
  /** true: staff only (every role but user); false: customers only. */
  staff?: boolean | undefined;
  group?: string | undefined;
  page: number;
  pageSize: number;
  sort?: 'id' | 'created_at' | 'balance' | 'last_login_at' | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export async function listUsers(ex: Executor, q: UserListQuery) {
  let base = ex.selectFrom('users').innerJoin('wallets', 'wallets.user_id', 'users.id');
  if (q.q) {
    const like = `%${q.q.trim().toLowerCase()}%`;
    const asId = /^\d+$/.test(q.q.trim()) ? Number(q.q.trim()) : null;
    base = base.where((eb) =>
      eb.or([
        eb(sql`lower(users.email)`, 'like', like),
        eb(sql`lower(users.name)`, 'like', like),
        ...(asId !== null ? [eb('users.id', '=', asId)] : []),
      ]),
    );
  }
  if (q.status) base = base.where('users.status', '=', q.status);
  if (q.role) base = base.where('users.role', '=', q.role);
  if (q.staff !== undefined) base = base.where('users.role', q.staff ? '<>' : '=', 'user');
  if (q.group) base = base.where('users.group_name', '=', q.group);
  const total = Number((await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
  const order = q.order ?? 'desc';
  const sortExpr =
    q.sort === 'balance'
      ? sql`wallets.cash_micros + wallets.gift_micros + wallets.plan_micros`
      : q.sort === 'created_at'
        ? sql.ref('users.created_at')
        : q.sort === 'last_login_at'
          ? sql.ref('users.last_login_at')
          : sql.ref('users.id');
  const rows = await base
    .selectAll('users')
    .select([
      'wallets.id as w_id', 'wallets.currency as w_currency', 'wallets.cash_micros as w_cash', 'wallets.gift_micros as w_gift',
      'wallets.plan_micros as w_plan', 'wallets.credit_limit_micros as w_climit', 'wallets.credit_used_micros as w_cused',
      'wallets.pending_micros as w_pending', 'wallets.arrears_micros as w_arrears',
    ])
    .orderBy(sortExpr, order)
    .orderBy('users.id', order)
    .limit(q.pageSize)
    .offset((q.page - 1) * q.pageSize)
    .execute();
  const items = rows.map((r) =>
    userView(r, {
      id: r.w_id, user_id: r.id, org_id: null, currency: r.w_currency, cash_micros: r.w_cash, gift_micros: r.w_gift,
      plan_micros: r.w_plan, credit_limit_micros: r.w_climit, credit_used_micros: r.w_cused, pending_micros: r.w_pending,
      arrears_micros: r.w_arrears, created_at: 0, updated_at: 0,
    }),
  );
  return { items, total, page: q.page, page_size: q.pageSize };
}

async function assertGroupExists(ex: Executor, name: string) {
  const g = await ex.selectFrom('groups').select('name').where('name', '=', name).executeTakeFirst();
  if (!g) throw new AppError('validation_failed', `group "${name}" does not exist`, { path: 'group' });
}
