import type { SelectQueryBuilder } from 'kysely';
import type { Executor } from '../db/index.js';
import type { Database } from '../db/schema.js';
import { AppError } from '../errors.js';

/** Filters of the admin list and its CSV export. Times are epoch ms; `to` is exclusive. */
export interface AuditFilter {
  from?: number | undefined;
  to?: number | undefined;
  /** A number is an actor id; anything else is matched against the actor's email (exactly). */
  actor?: string | undefined;
  action?: string | undefined;
  target_type?: string | undefined;
  target_id?: string | undefined;
}

type AuditQuery = SelectQueryBuilder<Database, 'audit_log', object>;

export function applyAuditFilter(q: AuditQuery, f: AuditFilter): AuditQuery {
  if (f.from !== undefined && f.to !== undefined && f.to <= f.from) throw new AppError('validation_failed', 'to: must be after from', { path: 'to' });
  if (f.from !== undefined) q = q.where('created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('created_at', '<', f.to);
  if (f.actor !== undefined && f.actor.trim() !== '') {
    const a = f.actor.trim();
    q = /^\d+$/.test(a) ? q.where('actor_id', '=', Number(a)) : q.where('actor_email', '=', a.toLowerCase());
  }
  if (f.action !== undefined && f.action !== '') {
    // `key.` (or `key.*`) selects every action on keys.
    const prefix = f.action.endsWith('.*') ? f.action.slice(0, -1) : f.action.endsWith('.') ? f.action : null;
    q = prefix ? q.where('action', 'like', `${prefix.replace(/[%_\\]/g, '\\$&')}%`) : q.where('action', '=', f.action);
  }
  if (f.target_type !== undefined && f.target_type !== '') q = q.where('target_type', '=', f.target_type);
  if (f.target_id !== undefined && f.target_id !== '') q = q.where('target_id', '=', f.target_id);
  return q;
}

export interface AuditEntryView {
  id: number;
  created_at: string;
  actor_kind: string;
  actor_id: number | null;
  actor_email: string | null;
  actor_role: string | null;
  impersonator_id: number | null;
  os_user: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

const parse = (s: string | null): unknown => {
  if (s === null) return null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

type Row = Awaited<ReturnType<ReturnType<typeof selectRows>['execute']>>[number];
const selectRows = (q: AuditQuery) => q.selectAll();

export function auditEntryView(r: Row): AuditEntryView {
  return {
    id: Number(r.id),
    created_at: new Date(Number(r.created_at)).toISOString(),
    actor_kind: r.actor_kind,
    actor_id: r.actor_id === null ? null : Number(r.actor_id),
    actor_email: r.actor_email,
    actor_role: r.actor_role,
    impersonator_id: r.impersonator_id === null ? null : Number(r.impersonator_id),
    os_user: r.os_user,
    action: r.action,
    target_type: r.target_type,
    target_id: r.target_id,
    before: parse(r.before_json),
    after: parse(r.after_json),
    reason: r.reason,
    ip: r.ip,
    user_agent: r.user_agent,
    request_id: r.request_id,
  };
}

/** Newest first, paged like every other admin list. */
export async function listAuditLog(ex: Executor, f: AuditFilter, page: number, pageSize: number) {
  const base = applyAuditFilter(ex.selectFrom('audit_log'), f);
  const total = Number((await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
  const rows = await base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(pageSize).offset((page - 1) * pageSize).execute();
  return { items: rows.map(auditEntryView), total, page, page_size: pageSize };
}

/** Matching entries oldest first, in keyset pages (never an OFFSET), for the CSV export. */
export async function* auditPages(ex: Executor, f: AuditFilter, size = 1000): AsyncGenerator<AuditEntryView[]> {
  let after: { created_at: number; id: number } | null = null;
  for (;;) {
    let q = applyAuditFilter(ex.selectFrom('audit_log'), f);
    if (after) {
      const { created_at: c, id } = after;
      q = q.where('created_at', '>=', c).where((eb) => eb.or([eb('created_at', '>', c), eb('id', '>', id)]));
    }
    const rows = await q.selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').limit(size).execute();
    if (rows.length === 0) return;
    yield rows.map(auditEntryView);
    if (rows.length < size) return;
    const last = rows.at(-1)!;
    after = { created_at: Number(last.created_at), id: Number(last.id) };
  }
}
