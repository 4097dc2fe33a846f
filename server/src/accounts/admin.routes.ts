import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { actorOf, assertPermission, mayActOnStaff } from '../http/session.js';
import { isStaffRole } from '../lib/permissions.js';
import { IdParam, PageQuery, UsdAmount, pageOf } from '../http/pagination.js';
import { parseMicros } from '../lib/money.js';
import type { LedgerEntry } from '../db/schema.js';
import { adjustUserBalance, LEDGER_TYPES, PAYMENT_METHODS, STAFF_ENTRY_TYPES, type PaymentMethod } from '../billing/wallets.js';
import { keyView, createKey, listKeys, lockKey, MAX_GRACE_SECONDS, revokeKey, rotateKey, updateKey, getKey, KEY_STATUSES } from './keys.js';
import { createUser, freezeUser, getUserWithWallet, listUsers, SETTABLE_USER_STATUSES, setPassword, unfreezeUser, UserNameSchema, updateUser, userView, USER_STATUSES } from './users.js';
import { roleExists } from './role-store.js';

export const UserViewSchema = z.object({
  id: z.number(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  status: z.string(),
  group: z.string(),
  remark: z.string().nullable(),
  created_at: z.string(),
  last_login_at: z.string().nullable(),
  frozen_reason: z.string().nullable().describe('why the account is frozen (null when it is not)'),
  frozen_at: z.string().nullable(),
  frozen_by: z.string().nullable().describe("the operator's email, or cli"),
  wallet_id: z.number(),
  currency: z.string(),
  balance_micros: z.number().describe('plan + gift + cash, in micro-USD'),
  pending_micros: z.number().describe('held for calls in progress'),
  available_micros: z.number(),
  cash_micros: z.number(),
  gift_micros: z.number(),
  plan_micros: z.number(),
  credit_limit_micros: z.number(),
  credit_used_micros: z.number(),
  arrears_micros: z.number(),
});

export const KeyViewSchema = z.object({
  id: z.number(),
  user_id: z.number(),
  name: z.string(),
  display: z.string(),
  prefix: z.string(),
  status: z.string(),
  state: z.string(),
  expires_at: z.string().nullable(),
  quota_micros: z.number().nullable(),
  quota_used_micros: z.number(),
  quota_pending_micros: z.number(),
  allowed_models: z.array(z.string()).nullable(),
  allowed_ips: z.array(z.string()).nullable(),
  group: z.string().nullable(),
  rpm_limit: z.number().nullable(),
  tpm_limit: z.number().nullable().describe('prompt + completion tokens per minute; null = none'),
  allowed_origins: z.array(z.string()).nullable().describe('sites allowed by Origin / Referer; null = any'),
  tags: z.array(z.string()),
  remark: z.string().nullable(),
  last_used_at: z.string().nullable(),
  created_at: z.string(),
  locked_reason: z.string().nullable().describe('why the key is locked (suspected leak); null when it is not'),
  locked_at: z.string().nullable(),
  locked_by: z.string().nullable(),
  rotated_at: z.string().nullable(),
  previous_key: z
    .object({ display: z.string(), valid_until: z.string() })
    .nullable()
    .describe('the secret the last rotation replaced, while it is still accepted'),
});

/** Rotation: how long the previous secret keeps working. */
export const RotateBody = z
  .object({
    grace_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0).describe('how long the previous secret keeps working (0 = refused at once; at most 30 days)'),
  })
  .strict()
  .default({ grace_seconds: 0 });
export const RotatedKeySchema = KeyViewSchema.extend({ key: z.string().describe('the new secret, shown only this once'), grace_seconds: z.number() });

export const LedgerEntrySchema = z.object({
  id: z.number(),
  bucket: z.string(),
  type: z.string(),
  amount_micros: z.number(),
  balance_after_micros: z.number(),
  ref_type: z.string().nullable(),
  ref_id: z.string().nullable(),
  reason: z.string().nullable(),
  actor_id: z.number().nullable(),
  created_at: z.string(),
  payment_method: z.enum(PAYMENT_METHODS).nullable().describe('staff top-ups: how the money came in'),
  reference: z.string().nullable().describe('staff top-ups: bank slip / transaction number'),
});

export const KeyInputSchema = z.object({
  name: z.string().max(100).optional(),
  models: z.array(z.string()).nullable().optional().describe('allowed model names or * patterns; null/empty = all'),
  ips: z.array(z.string()).nullable().optional().describe('allowed IPs or CIDRs; null/empty = any'),
  expires_at: z.union([z.string(), z.number()]).nullable().optional().describe('ISO time or epoch ms; null = never'),
  quota: UsdAmount.nullable().optional().describe("the key's own spending cap in USD; null = no cap"),
  group: z.string().nullable().optional(),
  rpm_limit: z.number().int().nullable().optional(),
  tpm_limit: z.number().int().nullable().optional().describe('prompt + completion tokens per minute (estimated at admission, corrected at settlement); null = none'),
  origins: z.array(z.string()).nullable().optional().describe('sites allowed by the Origin / Referer header: example.com, *.example.com, https://app.example.com; null/empty = any'),
  tags: z.array(z.string()).nullable().optional(),
  remark: z.string().max(1000).nullable().optional(),
});

/** Turn the API's key fields into the service's input (USD → micros, time → ms), with field paths on errors. */
export function keyInputFrom(b: z.infer<typeof KeyInputSchema>) {
  let expiresAt: number | null | undefined;
  if (b.expires_at !== undefined) {
    if (b.expires_at === null) expiresAt = null;
    else {
      expiresAt = typeof b.expires_at === 'number' ? b.expires_at : Date.parse(b.expires_at);
      if (!Number.isFinite(expiresAt)) throw new AppError('validation_failed', 'expires_at: not a time (use ISO 8601)', { path: 'expires_at' });
    }
  }
  let quotaMicros: number | null | undefined;
  if (b.quota !== undefined) {
    try {
      quotaMicros = b.quota === null ? null : parseMicros(b.quota, 'quota');
    } catch (e) {
      throw new AppError('validation_failed', `quota: ${(e as Error).message}`, { path: 'quota' });
    }
  }
  return {
    name: b.name, models: b.models, ips: b.ips, expiresAt, quotaMicros, group: b.group, rpmLimit: b.rpm_limit,
    tpmLimit: b.tpm_limit, origins: b.origins, tags: b.tags, remark: b.remark,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Staff accounts are the keys to the house: a plain admin who could reset a super-admin's
 * password, edit or disable them, or mint keys on their wallet could become them. Only a
 * super-admin acts on another staff account; anyone may act on plain users and on themselves.
 */
async function assertMayActOn(ctx: AppContext, req: FastifyRequest, targetUserId: number) {
  if (mayActOnStaff(ctx, req) || req.sessionUser?.id === targetUserId) return;
  const target = await ctx.db.kysely.selectFrom('users').select('role').where('id', '=', targetUserId).executeTakeFirst();
  if (target && isStaffRole(target.role)) throw new AppError('forbidden', 'Only a super-admin can act on another operator account.');
}

async function assertRoleExists(ctx: AppContext, role: string) {
  if (!(await roleExists(ctx.db.kysely, role))) throw new AppError('validation_failed', `role: no role named '${role}'`, { path: 'role' });
}

async function assertMayActOnKey(ctx: AppContext, req: FastifyRequest, keyId: number) {
  const key = await ctx.db.kysely.selectFrom('api_keys').select('user_id').where('id', '=', keyId).executeTakeFirst();
  if (key) await assertMayActOn(ctx, req, key.user_id);
}

/** /api/admin: users, their balances, and keys. */
export async function accountsAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: users'];

  r.get('/users', {

    config: { permission: 'user:view' },
    schema: {
      tags,
      summary: 'List users',
      querystring: PageQuery.extend({
        q: z.string().max(200).optional().describe('email, name or id'),
        status: z.enum(USER_STATUSES).optional(),
        role: z.string().max(32).optional(),
        staff: z.enum(['true', 'false']).optional().describe('true: staff only (every role but user); false: customers only'),
        group: z.string().optional(),
        sort: z.enum(['id', 'created_at', 'balance', 'last_login_at']).default('id'),
        order: z.enum(['asc', 'desc']).default('desc'),
      }),
      response: { 200: pageOf(UserViewSchema) },
    },
    handler: async (req) => {
      const q = req.query;
      return listUsers(ctx.db.kysely, { q: q.q, status: q.status, role: q.role, staff: q.staff === undefined ? undefined : q.staff === 'true', group: q.group, page: q.page, pageSize: q.page_size, sort: q.sort, order: q.order });
    },
  });

  r.post('/users', {

    config: { permission: 'user:create' },
    schema: {
      tags,
      summary: 'Create a user (with a wallet)',
      body: z.object({
        email: z.string(),
        password: z.string().optional(),
        name: UserNameSchema.or(z.literal('').describe('empty: the part of the email before @')).optional(),
        role: z.string().max(32).default('user').describe('user, a built-in staff role or a custom role'),
        group: z.string().optional(),
        remark: z.string().max(2000).optional(),
      }),
      response: { 201: UserViewSchema },
    },
    handler: async (req, reply) => {
      const b = req.body;
      // Making someone staff is managing staff.
      if (isStaffRole(b.role)) assertPermission(ctx, req, 'staff:edit', 'role');
      await assertRoleExists(ctx, b.role);
      const { user, wallet } = await createUser(ctx.db, { ...b, email: b.email }, actorOf(req));
      return reply.code(201).send(userView(user, wallet));
    },
  });

  r.get('/users/:id', {

    config: { permission: 'user:view' },
    schema: { tags, summary: 'Get a user', params: IdParam, response: { 200: UserViewSchema.extend({ key_count: z.number() }) } },
    handler: async (req) => {
      const { user, wallet } = await getUserWithWallet(ctx.db.kysely, req.params.id);
      const n = await ctx.db.kysely.selectFrom('api_keys').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user.id).where('deleted_at', 'is', null).executeTakeFirst();
      return { ...userView(user, wallet), key_count: Number(n?.n ?? 0) };
    },
  });

  r.patch('/users/:id', {

    config: { permission: 'user:edit' },
    schema: {
      tags,
      summary: 'Edit a user (name, status, role, group, remark)',
      params: IdParam,
      body: z.object({
        name: UserNameSchema.optional(),
        status: z.enum(SETTABLE_USER_STATUSES).optional().describe('frozen accounts change only through /freeze and /unfreeze'),
        role: z.string().max(32).optional().describe('user, a built-in staff role or a custom role'),
        group: z.string().optional(),
        remark: z.string().max(2000).nullable().optional(),
      }),
      response: { 200: UserViewSchema },
    },
    handler: async (req) => {
      await assertMayActOn(ctx, req, req.params.id);
      if (req.body.role !== undefined) {
        assertPermission(ctx, req, 'staff:edit', 'role');
        await assertRoleExists(ctx, req.body.role);
      }
      if (req.body.status === 'disabled') assertPermission(ctx, req, 'user:disable', 'status');
      if (req.params.id === req.sessionUser?.id && (req.body.status === 'disabled' || (req.body.role && req.body.role !== req.sessionUser.role))) {
        throw new AppError('own_account', 'You cannot disable yourself or change your own role.', { path: req.body.status ? 'status' : 'role' });
      }
      const { after } = await updateUser(ctx.db, ctx.feed, req.params.id, req.body, actorOf(req));
      const { user, wallet } = await getUserWithWallet(ctx.db.kysely, after.id);
      return userView(user, wallet);
    },
  });

  // The reason is checked by the service (400 with path "reason"), so a missing one reads the same as a blank one.
  const ReasonBody = z.object({ reason: z.string().optional().describe('required: why (kept on the account and in the audit log)') }).optional();
  r.post('/users/:id/freeze', {
    config: { permission: 'user:disable', reauth: true },
    schema: {
      tags,
      summary: "Freeze an account (reason required): its keys are refused with 403 account_frozen everywhere within seconds, its sessions end, it cannot sign in",
      params: IdParam,
      body: ReasonBody,
      response: { 200: UserViewSchema },
    },
    handler: async (req) => {
      await getUserWithWallet(ctx.db.kysely, req.params.id);
      await assertMayActOn(ctx, req, req.params.id);
      if (req.params.id === req.sessionUser?.id) throw new AppError('own_account', 'You cannot freeze your own account.');
      await freezeUser(ctx.db, ctx.feed, req.params.id, req.body?.reason ?? '', actorOf(req));
      const { user, wallet } = await getUserWithWallet(ctx.db.kysely, req.params.id);
      return userView(user, wallet);
    },
  });

  r.post('/users/:id/unfreeze', {
    config: { permission: 'user:disable', reauth: true },
    schema: { tags, summary: 'Unfreeze an account (reason required); its keys work again within seconds', params: IdParam, body: ReasonBody, response: { 200: UserViewSchema } },
    handler: async (req) => {
      await getUserWithWallet(ctx.db.kysely, req.params.id);
      await assertMayActOn(ctx, req, req.params.id);
      await unfreezeUser(ctx.db, ctx.feed, req.params.id, req.body?.reason ?? '', actorOf(req));
      const { user, wallet } = await getUserWithWallet(ctx.db.kysely, req.params.id);
      return userView(user, wallet);
    },
  });

  r.post('/users/:id/password', {

    config: { permission: 'user:edit' },
    schema: { tags, summary: "Set a user's password (ends their sessions)", params: IdParam, body: z.object({ password: z.string() }), response: { 204: z.null() } },
    handler: async (req, reply) => {
      await getUserWithWallet(ctx.db.kysely, req.params.id);
      await assertMayActOn(ctx, req, req.params.id);
      await setPassword(ctx.db, req.params.id, req.body.password, actorOf(req));
      return reply.code(204).send(null);
    },
  });

  r.post('/users/:id/balance-adjustments', {

    config: { permission: ['user:edit', 'balance:adjust'], reauth: true },
    schema: {
      tags,
      summary: 'Book cash by hand: a staff top-up, deduction, compensation or correction (user:edit + balance:adjust; needs a reason; idempotent)',
      description:
        'Positive amounts add cash (and pay off arrears first); negative amounts deduct and never take cash below zero or uncover a call in progress. ' +
        'type: topup (money received: payment_method required, positive), deduction (negative), compensation (positive), correction (either sign); ' +
        'omitted, the entry is an untyped manual adjustment. Send the same Idempotency-Key (header or field) to retry safely.',
      params: IdParam,
      body: z.object({
        amount: UsdAmount.describe('USD, signed, e.g. "25" or "-3.5"'),
        type: z.enum(STAFF_ENTRY_TYPES).optional().describe('top-up 充值, deduction 扣款, compensation 补偿, correction 调账'),
        payment_method: z.enum(PAYMENT_METHODS).optional().describe('how the money came in; required for a top-up'),
        reference: z.string().trim().max(200).optional().describe('bank slip, transaction or receipt number'),
        reason: z.string().trim().min(2, 'give a reason (at least 2 characters)').max(500),
        idempotency_key: z.string().min(1).max(128).optional(),
      }),
      response: { 200: z.object({ entry: LedgerEntrySchema, user: UserViewSchema, replayed: z.boolean(), arrears_repaid_micros: z.number() }) },
    },
    handler: async (req) => {
      let amount: number;
      try {
        amount = parseMicros(req.body.amount, 'amount');
      } catch (e) {
        throw new AppError('validation_failed', `amount: ${(e as Error).message}`, { path: 'amount' });
      }
      const headerKey = req.headers['idempotency-key'];
      const res = await adjustUserBalance(ctx.db, actorOf(req), req.params.id, {
        amount,
        type: req.body.type,
        paymentMethod: req.body.payment_method,
        reference: req.body.reference,
        reason: req.body.reason,
        idempotencyKey: req.body.idempotency_key ?? (typeof headerKey === 'string' ? headerKey : undefined),
      });
      const fresh = await getUserWithWallet(ctx.db.kysely, req.params.id);
      return { entry: entryView(res.entry), user: userView(fresh.user, fresh.wallet), replayed: res.replayed, arrears_repaid_micros: res.arrearsRepaid };
    },
  });

  r.get('/users/:id/ledger', {

    config: { permission: 'user:view' },
    schema: {
      tags,
      summary: "A user's ledger entries, newest first",
      params: IdParam,
      querystring: PageQuery.extend({ type: LedgerTypeFilter }),
      response: { 200: pageOf(LedgerEntrySchema) },
    },
    handler: async (req) => {
      const { wallet } = await getUserWithWallet(ctx.db.kysely, req.params.id);
      let base = ctx.db.kysely.selectFrom('ledger_entries').where('wallet_id', '=', wallet.id);
      const types = ledgerTypes(req.query.type);
      if (types.length > 0) base = base.where('type', 'in', types);
      const total = Number((await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
      const rows = await base.selectAll().orderBy('id', 'desc').limit(req.query.page_size).offset((req.query.page - 1) * req.query.page_size).execute();
      return { items: rows.map(entryView), total, page: req.query.page, page_size: req.query.page_size };
    },
  });

  const keyTags = ['admin: keys'];
  r.get('/keys', {
    config: { permission: 'key:view' },
    schema: {
      tags: keyTags,
      summary: 'List API keys (never the key itself)',
      querystring: PageQuery.extend({ user_id: z.coerce.number().int().positive().optional(), status: z.enum(KEY_STATUSES).optional(), q: z.string().max(200).optional() }),
      response: { 200: pageOf(KeyViewSchema.extend({ owner_email: z.string() })) },
    },
    handler: async (req) => listKeys(ctx.db.kysely, { userId: req.query.user_id, status: req.query.status, q: req.query.q, page: req.query.page, pageSize: req.query.page_size }),
  });

  r.post('/keys', {

    config: { permission: 'key:create' },
    schema: {
      tags: keyTags,
      summary: 'Create a key for a user; the response is the only time the key is shown',
      body: KeyInputSchema.extend({ user_id: z.number().int().positive() }),
      response: { 201: KeyViewSchema.extend({ key: z.string() }) },
    },
    handler: async (req, reply) => {
      await assertMayActOn(ctx, req, req.body.user_id);
      const { key, view } = await createKey(ctx.db, ctx.feed, req.body.user_id, keyInputFrom(req.body), actorOf(req));
      return reply.code(201).send({ ...view, key });
    },
  });

  r.patch('/keys/:id', {

    config: { permission: 'key:edit' },
    schema: {
      tags: keyTags,
      summary: 'Edit, disable or enable a key',
      params: IdParam,
      body: KeyInputSchema.extend({ status: z.enum(['active', 'disabled']).optional() }),
      response: { 200: KeyViewSchema },
    },
    handler: async (req) => {
      await assertMayActOnKey(ctx, req, req.params.id);
      const { after } = await updateKey(ctx.db, ctx.feed, req.params.id, { ...keyInputFrom(req.body), status: req.body.status }, undefined, actorOf(req));
      return keyView(after);
    },
  });

  r.post('/keys/:id/rotate', {
    config: { permission: 'key:edit' },
    schema: {
      tags: keyTags,
      summary: 'Rotate a key: a new secret (shown once); the previous one works for grace_seconds, then 401 key_rotated',
      description: 'The key keeps its id, settings, quota and history. Rotating a locked key unlocks it; its leaked secret gets no grace.',
      params: IdParam,
      body: RotateBody,
      response: { 200: RotatedKeySchema },
    },
    handler: async (req) => {
      await getKey(ctx.db.kysely, req.params.id);
      await assertMayActOnKey(ctx, req, req.params.id);
      const { key, view, graceSeconds } = await rotateKey(ctx.db, ctx.feed, req.params.id, req.body.grace_seconds, actorOf(req));
      return { ...view, key, grace_seconds: graceSeconds };
    },
  });

  r.post('/keys/:id/lock', {
    config: { permission: 'key:disable' },
    schema: {
      tags: keyTags,
      summary: 'Lock a key that may have leaked (reason required): refused at once everywhere with 401 key_locked; its owner sees a notice',
      params: IdParam,
      body: z.object({ reason: z.string().optional().describe('required: why') }).optional(),
      response: { 200: KeyViewSchema },
    },
    handler: async (req) => {
      await getKey(ctx.db.kysely, req.params.id);
      await assertMayActOnKey(ctx, req, req.params.id);
      const { after } = await lockKey(ctx.db, ctx.feed, req.params.id, req.body?.reason ?? '', actorOf(req));
      return keyView(after);
    },
  });

  r.post('/keys/:id/revoke', {

    config: { permission: 'key:disable' },
    schema: { tags: keyTags, summary: 'Revoke a key for good (refused everywhere within seconds)', params: IdParam, response: { 200: KeyViewSchema } },
    handler: async (req) => {
      await assertMayActOnKey(ctx, req, req.params.id);
      const { after } = await revokeKey(ctx.db, ctx.feed, req.params.id, { actor: actorOf(req) });
      return keyView(after);
    },
  });

  r.delete('/keys/:id', {

    config: { permission: 'key:disable' },
    schema: { tags: keyTags, summary: 'Delete a key (revokes it and hides it from lists)', params: IdParam, response: { 204: z.null() } },
    handler: async (req, reply) => {
      await getKey(ctx.db.kysely, req.params.id);
      await assertMayActOnKey(ctx, req, req.params.id);
      await revokeKey(ctx.db, ctx.feed, req.params.id, { delete: true, actor: actorOf(req) });
      return reply.code(204).send(null);
    },
  });
}

/** `type=topup,deduction` (or the parameter repeated): entries of those types only. */
const LedgerTypeFilter = z.string().max(300).optional().describe(`entry types, comma-separated: ${LEDGER_TYPES.join(', ')}`);

function ledgerTypes(v: string | undefined): string[] {
  const types = (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = types.find((x) => !(LEDGER_TYPES as readonly string[]).includes(x));
  if (unknown !== undefined) throw new AppError('validation_failed', `type: unknown entry type "${unknown}" (one of ${LEDGER_TYPES.join(', ')})`, { path: 'type' });
  return types;
}

function entryView(e: LedgerEntry) {
  return {
    id: e.id, bucket: e.bucket, type: e.type, amount_micros: e.amount_micros, balance_after_micros: e.balance_after_micros,
    ref_type: e.ref_type, ref_id: e.ref_id, reason: e.reason, actor_id: e.actor_id, created_at: iso(e.created_at),
    payment_method: (PAYMENT_METHODS as readonly string[]).includes(e.payment_method ?? '') ? (e.payment_method as PaymentMethod) : null,
    reference: e.external_ref,
  };
}
