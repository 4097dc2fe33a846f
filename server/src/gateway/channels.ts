import { z } from 'zod';
import { affected, inTransaction, insertReturningId, parseJsonArray, type Db } from '../db/index.js';
import type { ChannelRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { SecretBox } from '../lib/crypto.js';
import { parseOr } from '../lib/validate.js';
import { scrubSecrets } from '../lib/scrub.js';
import type { ChangeFeed } from '../live/changes.js';
import type { Logger } from '../log.js';
import { audit, SYSTEM_ACTOR, type Actor } from '../audit/index.js';
import { formatPpm, parsePpm } from '../billing/pricing.js';
import { GroupNameSchema } from '../accounts/users.js';
import { isWildcard } from '../lib/patterns.js';
import { channelOptions, toChannel } from './catalog.js';
import { CHANNEL_TYPES, providerFor } from './providers/index.js';
import type { FailureKind } from './providers/types.js';
import type { UpstreamPools } from './upstream.js';

export const CHANNEL_STATUSES = ['enabled', 'disabled', 'auto_disabled'] as const;

const ModelName = z.string().trim().min(1).max(191).regex(/^[^\s,]+$/, 'model names contain no spaces or commas');
const Ratio = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parsePpm(v, 'cost_ratio');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/** The channel fields as sent over the wire (what the API documents and validates). */
export const ChannelBody = z.object({
  name: z.string().trim().min(1, 'name is required').max(100),
  type: z
    .enum(CHANNEL_TYPES as [string, ...string[]])
    .optional()
    .describe('default openai (any OpenAI-compatible API); anthropic (native Messages API, base URL = API root); or a preset: deepseek, qwen, dashscope, moonshot, zhipu, openrouter, groq'),
  base_url: z
    .string()
    .trim()
    .url('base_url must be a URL such as https://api.openai.com/v1')
    .refine((u) => /^https?:\/\//.test(u), 'base_url must start with http:// or https://'),
  key: z.string().trim().min(1, 'key is required').max(4096),
  models: z.array(ModelName).min(1, 'list at least one model (or "*")').max(1000),
  model_mapping: z.record(ModelName, ModelName).nullable().optional(),
  groups: z.array(GroupNameSchema).min(1).max(100).optional().describe('default ["default"]'),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional().describe('larger is tried first; default 0'),
  weight: z.number().int().min(0).max(1_000_000).optional().describe('share of traffic within a priority tier; default 1'),
  status: z.enum(['enabled', 'disabled']).optional(),
  test_model: ModelName.nullable().optional(),
  cost_ratio: z.union([z.number(), z.string()]).optional().describe('upstream cost as a fraction of list price, e.g. "0.7"'),
  remark: z.string().max(2000).nullable().optional(),
  stream_usage: z.boolean().optional().describe('ask an OpenAI-compatible upstream for usage in streams (stream_options.include_usage); turn off for a strict upstream that rejects it. Default true'),
});
export const ChannelPatchBody = ChannelBody.partial().extend({ status: z.enum(CHANNEL_STATUSES).optional() });

/** The same fields with the cost ratio turned into parts per million, as the service stores them.
 * (No zod defaults anywhere here: a default inside .partial() would reset fields on every PATCH.) */
const ChannelInput = ChannelBody.extend({ cost_ratio: Ratio.optional() });
const ChannelPatch = ChannelPatchBody.extend({ cost_ratio: Ratio.optional() });
export type ChannelInput = z.input<typeof ChannelInput>;
export type ChannelPatch = z.input<typeof ChannelPatch>;

export interface ChannelView {
  id: number;
  name: string;
  type: string;
  base_url: string;
  /** The upstream key is never shown again; only its last 4 characters. */
  key_hint: string;
  models: string[];
  model_mapping: Record<string, string>;
  groups: string[];
  priority: number;
  weight: number;
  status: string;
  status_reason: string | null;
  status_changed_at: string | null;
  test_model: string | null;
  last_test_at: string | null;
  last_test_ok: boolean | null;
  last_test_ms: number | null;
  last_test_error: string | null;
  last_test_error_code: TestErrorCode | null;
  cost_ratio: string;
  remark: string | null;
  stream_usage: boolean;
  created_at: string;
  updated_at: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function channelView(r: ChannelRow, box: SecretBox): ChannelView {
  let hint = '';
  try {
    const k = box.open(r.key_sealed);
    hint = k.length > 8 ? `…${k.slice(-4)}` : '…';
  } catch {
    hint = '(unreadable)';
  }
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    base_url: r.base_url,
    key_hint: hint,
    models: parseJsonArray(r.models),
    model_mapping: r.model_mapping ? (JSON.parse(r.model_mapping) as Record<string, string>) : {},
    groups: parseJsonArray(r.groups),
    priority: r.priority,
    weight: r.weight,
    status: r.status,
    status_reason: r.status_reason,
    status_changed_at: iso(r.status_changed_at),
    test_model: r.test_model,
    last_test_at: iso(r.last_test_at),
    last_test_ok: r.last_test_ok === null ? null : r.last_test_ok === 1,
    last_test_ms: r.last_test_ms,
    last_test_error: r.last_test_error,
    // Tests recorded before codes existed read as the generic upstream error.
    last_test_error_code: r.last_test_error ? (((TEST_ERROR_CODES as readonly string[]).includes(r.last_test_error_code ?? '') ? r.last_test_error_code : 'upstream_error') as TestErrorCode) : null,
    cost_ratio: formatPpm(r.cost_ratio_ppm),
    remark: r.remark,
    stream_usage: channelOptions(r.options).stream_usage !== false,
    created_at: new Date(r.created_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}

export interface TestResult {
  ok: boolean;
  status: number | null;
  ms: number;
  model: string;
  /** The server's detail, in English (with the upstream's own words). */
  error: string | null;
  /** What went wrong as a stable code the console translates; null when the test passed. */
  error_code: TestErrorCode | null;
}

/** Channel test failures, by what an operator has to do about them. */
export const TEST_ERROR_CODES = [
  'upstream_auth', 'upstream_quota', 'upstream_rate_limited', 'upstream_model_not_found', 'upstream_error',
  'upstream_client_error', 'upstream_malformed', 'upstream_timeout', 'upstream_unreachable', 'channel_no_test_model',
] as const;
export type TestErrorCode = (typeof TEST_ERROR_CODES)[number];

const CODE_OF_KIND: Record<FailureKind, TestErrorCode> = {
  auth: 'upstream_auth',
  quota: 'upstream_quota',
  rate_limit: 'upstream_rate_limited',
  mismatch: 'upstream_model_not_found',
  server: 'upstream_error',
  client: 'upstream_client_error',
  timeout: 'upstream_timeout',
  network: 'upstream_unreachable',
};

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT';
}

/**
 * Channel administration and health: create/edit/delete, the health check (by hand or on a
 * schedule), and auto-disabling a channel whose key or account the upstream rejected.
 */
export class ChannelHealth {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly feed: ChangeFeed,
    private readonly pools: UpstreamPools,
    private readonly log: Logger,
  ) {}

  async get(id: number): Promise<ChannelRow> {
    const r = await this.db.kysely.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new AppError('not_found', `no channel with id ${id}`, { path: 'id' });
    return r;
  }

  async list(q: { status?: string | undefined; q?: string | undefined; group?: string | undefined } = {}): Promise<ChannelView[]> {
    let sel = this.db.kysely.selectFrom('channels').selectAll();
    if (q.status) sel = sel.where('status', '=', q.status);
    if (q.q) {
      const like = `%${q.q}%`;
      sel = sel.where((eb) => eb.or([eb('name', 'like', like), eb('base_url', 'like', like), eb('models', 'like', like)]));
    }
    const rows = await sel.orderBy('priority', 'desc').orderBy('id').execute();
    return rows.map((r) => channelView(r, this.box)).filter((c) => !q.group || c.groups.includes(q.group));
  }

  async create(input: ChannelInput, actor: Actor): Promise<ChannelView> {
    const v = parseOr(ChannelInput, input, 'channel');
    const groups = [...new Set(v.groups ?? ['default'])];
    await this.#assertGroups(groups);
    const now = Date.now();
    const row = await inTransaction(this.db, async (trx) => {
      const id = await insertReturningId(this.db, trx, 'channels', {
        name: v.name,
        type: v.type ?? 'openai',
        base_url: v.base_url,
        key_sealed: this.box.seal(v.key),
        models: JSON.stringify(v.models),
        model_mapping: v.model_mapping && Object.keys(v.model_mapping).length > 0 ? JSON.stringify(v.model_mapping) : null,
        groups: JSON.stringify(groups),
        priority: v.priority ?? 0,
        weight: v.weight ?? 1,
        status: v.status ?? 'enabled',
        status_reason: null,
        status_changed_at: now,
        test_model: v.test_model ?? null,
        cost_ratio_ppm: v.cost_ratio ?? 1_000_000,
        remark: v.remark ?? null,
        options: v.stream_usage === false ? JSON.stringify({ stream_usage: false }) : null,
        created_at: now,
        updated_at: now,
      });
      const r = await trx.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      await audit(trx, actor, 'channel.create', { type: 'channel', id }, null, channelView(r, this.box));
      await this.feed.record(trx, 'channel', id);
      return r;
    });
    await this.feed.publish();
    return channelView(row, this.box);
  }

  async update(id: number, patch: ChannelPatch, actor: Actor): Promise<ChannelView> {
    const v = parseOr(ChannelPatch, patch, 'channel');
    if (v.groups) await this.#assertGroups(v.groups);
    const now = Date.now();
    const row = await inTransaction(this.db, async (trx) => {
      const before = await trx.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirst();
      if (!before) throw new AppError('not_found', `no channel with id ${id}`, { path: 'id' });
      // The key goes wherever base_url points: moving a channel to another address with its stored
      // key would let anyone who may edit channels send the key to a server of their own.
      if (v.base_url !== undefined && v.base_url !== before.base_url && v.key === undefined) {
        throw new AppError('validation_failed', 'key: send the upstream key again when changing base_url', { path: 'key' });
      }
      const set: Record<string, unknown> = { updated_at: now };
      if (v.name !== undefined) set.name = v.name;
      if (v.type !== undefined) set.type = v.type;
      if (v.base_url !== undefined) set.base_url = v.base_url;
      if (v.key !== undefined) set.key_sealed = this.box.seal(v.key);
      if (v.models !== undefined) set.models = JSON.stringify(v.models);
      if (v.model_mapping !== undefined) set.model_mapping = v.model_mapping && Object.keys(v.model_mapping).length > 0 ? JSON.stringify(v.model_mapping) : null;
      if (v.groups !== undefined) set.groups = JSON.stringify([...new Set(v.groups)]);
      if (v.priority !== undefined) set.priority = v.priority;
      if (v.weight !== undefined) set.weight = v.weight;
      if (v.test_model !== undefined) set.test_model = v.test_model;
      if (v.cost_ratio !== undefined) set.cost_ratio_ppm = v.cost_ratio;
      if (v.remark !== undefined) set.remark = v.remark;
      if (v.stream_usage !== undefined) set.options = JSON.stringify({ ...channelOptions(before.options), stream_usage: v.stream_usage });
      if (v.status !== undefined && v.status !== before.status) {
        set.status = v.status;
        set.status_changed_at = now;
        set.status_reason = v.status === 'enabled' ? null : `set to ${v.status} by ${actor.email ?? 'operator'}`;
      }
      await trx.updateTable('channels').set(set).where('id', '=', id).execute();
      const after = await trx.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      await audit(trx, actor, 'channel.update', { type: 'channel', id }, channelView(before, this.box), channelView(after, this.box));
      await this.feed.record(trx, 'channel', id);
      return after;
    });
    await this.feed.publish();
    return channelView(row, this.box);
  }

  async remove(id: number, actor: Actor): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      const before = await trx.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirst();
      if (!before) throw new AppError('not_found', `no channel with id ${id}`, { path: 'id' });
      await trx.deleteFrom('channels').where('id', '=', id).execute();
      await audit(trx, actor, 'channel.delete', { type: 'channel', id }, channelView(before, this.box), null);
      await this.feed.record(trx, 'channel', id);
    });
    await this.feed.publish();
  }

  /** Take a channel out of rotation because the upstream rejected its key or account. */
  async autoDisable(id: number, reasonText: string): Promise<boolean> {
    const now = Date.now();
    const reason = scrubSecrets(reasonText);
    try {
      const changed = await inTransaction(this.db, async (trx) => {
        const n = affected(
          await trx
            .updateTable('channels')
            .set({ status: 'auto_disabled', status_reason: reason, status_changed_at: now, updated_at: now })
            .where('id', '=', id)
            .where('status', '=', 'enabled')
            .executeTakeFirst(),
        );
        if (n === 1) {
          await audit(trx, SYSTEM_ACTOR, 'channel.auto_disable', { type: 'channel', id }, { status: 'enabled' }, { status: 'auto_disabled', reason });
          await this.feed.record(trx, 'channel', id);
        }
        return n === 1;
      });
      if (changed) {
        await this.feed.publish();
        this.log.warn({ channel: id, reason }, 'channel auto-disabled');
      }
      return changed;
    } catch (err) {
      this.log.error({ err, channel: id }, 'auto-disable failed');
      return false;
    }
  }

  /**
   * Send a one-token chat completion through the channel and record how it went. With
   * `applyStatus` (the scheduled check) a passing auto-disabled channel is put back in rotation
   * and a key/quota failure takes it out.
   */
  async test(id: number, opts: { applyStatus?: boolean; timeoutMs?: number } = {}): Promise<TestResult> {
    const row = await this.get(id);
    const ch = toChannel(row, this.box);
    const model = ch.testModel ?? ch.models.find((m) => !isWildcard(m)) ?? [...ch.mapping.keys()][0];
    if (!model) {
      throw new AppError('validation_failed', 'this channel lists only wildcard models: set a test_model to test it', { path: 'test_model' });
    }
    const provider = providerFor(ch.type);
    const up = provider.build(ch, 'chat.completions', {
      model: ch.mapping.get(model) ?? model,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    });
    const t0 = performance.now();
    let result: TestResult;
    let failureKind: string | null = null;
    try {
      const res = await this.pools.request(ch.origin, {
        path: up.path,
        method: 'POST',
        headers: up.headers,
        body: up.body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
      const text = await res.body.text();
      const ms = Math.round(performance.now() - t0);
      if (res.statusCode >= 400) {
        const f = provider.classifyFailure(res.statusCode, text);
        failureKind = f.kind;
        result = { ok: false, status: res.statusCode, ms, model, error: scrubSecrets(`${res.statusCode} ${f.code ?? ''} ${f.message}`.trim(), [ch.apiKey]), error_code: CODE_OF_KIND[f.kind] };
      } else {
        try {
          JSON.parse(text);
          result = { ok: true, status: res.statusCode, ms, model, error: null, error_code: null };
        } catch {
          result = { ok: false, status: res.statusCode, ms, model, error: 'the upstream answered with invalid JSON', error_code: 'upstream_malformed' };
        }
      }
    } catch (err) {
      result = {
        ok: false,
        status: null,
        ms: Math.round(performance.now() - t0),
        model,
        error: scrubSecrets(`request failed: ${(err as Error).message}`, [ch.apiKey]),
        error_code: isTimeout(err) ? 'upstream_timeout' : 'upstream_unreachable',
      };
    }
    const now = Date.now();
    await this.db.kysely
      .updateTable('channels')
      .set({ last_test_at: now, last_test_ok: result.ok ? 1 : 0, last_test_ms: result.ms, last_test_error: result.error, last_test_error_code: result.error_code })
      .where('id', '=', id)
      .execute();
    if (opts.applyStatus) {
      if (result.ok && row.status === 'auto_disabled') {
        await this.db.kysely
          .updateTable('channels')
          .set({ status: 'enabled', status_reason: 're-enabled: health check passed', status_changed_at: now, updated_at: now })
          .where('id', '=', id)
          .where('status', '=', 'auto_disabled')
          .execute();
        await this.feed.notify('channel', id);
        this.log.info({ channel: id }, 'channel re-enabled by health check');
      } else if (!result.ok && (failureKind === 'auth' || failureKind === 'quota')) {
        await this.autoDisable(id, `health check: ${result.error}`);
      }
    }
    return result;
  }

  /** The scheduled check: every enabled or auto-disabled channel, one at a time. */
  async testAll(): Promise<void> {
    const rows = await this.db.kysely.selectFrom('channels').select(['id']).where('status', 'in', ['enabled', 'auto_disabled']).execute();
    for (const r of rows) {
      try {
        await this.test(r.id, { applyStatus: true });
      } catch (err) {
        this.log.warn({ channel: r.id, err: (err as Error).message }, 'scheduled channel test skipped');
      }
    }
  }

  async #assertGroups(groups: string[]) {
    const found = await this.db.kysely.selectFrom('groups').select('name').where('name', 'in', groups).execute();
    const missing = groups.filter((g) => !found.some((f) => f.name === g));
    if (missing.length > 0) throw new AppError('validation_failed', `unknown group(s): ${missing.join(', ')}`, { path: 'groups' });
  }
}

