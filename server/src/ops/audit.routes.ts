import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit/index.js';
import { applyAuditFilter, auditPages, listAuditLog, type AuditEntryView } from '../audit/query.js';
import { auditRetentionDays, setAuditRetentionDays } from '../audit/retention.js';
import type { AppContext } from '../context.js';
import { PageQuery, pageOf } from '../http/pagination.js';
import { actorOf } from '../http/session.js';
import { CsvFormatQuery, csvCell, csvLine, isoTimeIn, sendCsv } from './export.js';
import { TimeParam } from './usage.js';

const AuditFilterQuery = z.object({
  from: TimeParam.optional().describe('ISO time or epoch ms (inclusive)'),
  to: TimeParam.optional().describe('ISO time or epoch ms (exclusive)'),
  actor: z.string().trim().max(254).optional().describe('actor id, or the exact email (cli and system are emails too)'),
  action: z.string().trim().max(64).optional().describe('an action such as key.create, or a prefix such as key.*'),
  target_type: z.string().trim().max(32).optional().describe('user, key, channel, model, group, setting, usage, audit_log'),
  target_id: z.string().trim().max(191).optional(),
});

export const AuditEntrySchema = z.object({
  id: z.number(),
  created_at: z.string(),
  actor_kind: z.string().describe('staff, user, cli or system'),
  actor_id: z.number().nullable(),
  actor_email: z.string().nullable(),
  actor_role: z.string().nullable(),
  impersonator_id: z.number().nullable().describe('the operator acting as actor_id, if any'),
  os_user: z.string().nullable().describe('the OS account that ran the tollgate command (cli)'),
  action: z.string(),
  target_type: z.string(),
  target_id: z.string().nullable(),
  before: z.unknown().describe('the object before the change (secrets never stored)'),
  after: z.unknown(),
  reason: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
});

const COLUMNS: { header: string; zh: string; value: (e: AuditEntryView, time: (ms: number) => string) => string | number | null; text?: boolean }[] = [
  { header: 'id', zh: 'ID', value: (e) => e.id },
  { header: 'time', zh: '时间', value: (e, t) => t(Date.parse(e.created_at)) },
  { header: 'actor_kind', zh: '操作者类型', value: (e) => e.actor_kind },
  { header: 'actor_id', zh: '操作者ID', value: (e) => e.actor_id },
  { header: 'actor_email', zh: '操作者', value: (e) => e.actor_email, text: true },
  { header: 'actor_role', zh: '角色', value: (e) => e.actor_role },
  { header: 'impersonator_id', zh: '模拟者ID', value: (e) => e.impersonator_id },
  { header: 'os_user', zh: '系统用户', value: (e) => e.os_user, text: true },
  { header: 'action', zh: '操作', value: (e) => e.action },
  { header: 'target_type', zh: '对象类型', value: (e) => e.target_type },
  { header: 'target_id', zh: '对象ID', value: (e) => e.target_id, text: true },
  { header: 'before', zh: '旧值', value: (e) => (e.before === null ? null : JSON.stringify(e.before)), text: true },
  { header: 'after', zh: '新值', value: (e) => (e.after === null ? null : JSON.stringify(e.after)), text: true },
  { header: 'reason', zh: '原因', value: (e) => e.reason, text: true },
  { header: 'ip', zh: 'IP', value: (e) => e.ip },
  { header: 'user_agent', zh: 'User-Agent', value: (e) => e.user_agent, text: true },
  { header: 'request_id', zh: '请求ID', value: (e) => e.request_id, text: true },
];

/** /api/admin/audit-logs: the audit trail, its CSV export and its retention. */
export async function auditAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: audit'];

  r.get('/audit-logs', {
    config: { permission: 'audit:view' },
    schema: {
      tags,
      summary: 'Audit entries, newest first (audit:view)',
      querystring: PageQuery.extend(AuditFilterQuery.shape),
      response: { 200: pageOf(AuditEntrySchema) },
    },
    handler: async (req) => {
      const { page, page_size, ...f } = req.query;
      return listAuditLog(ctx.db.kysely, f, page, page_size);
    },
  });

  r.get('/audit-logs/export.csv', {
    config: { permission: 'audit:export', reauth: true },
    schema: {
      tags,
      summary: 'Export audit entries as CSV, oldest first (audit:export; the export is itself audited)',
      querystring: AuditFilterQuery.extend(CsvFormatQuery.shape),
      produces: ['text/csv'],
      response: { 200: z.string() },
    },
    handler: async (req, reply) => {
      const { tz, lang, ...f } = req.query;
      applyAuditFilter(ctx.db.kysely.selectFrom('audit_log'), f); // a bad filter is a 400 before any byte is sent
      // Written before the first row is read, so the file includes its own export entry when the filter matches it.
      await audit(ctx.db.kysely, actorOf(req), 'audit_log.export', { type: 'audit_log', id: null }, null, { filter: f, format: 'csv' });
      const time = isoTimeIn(tz);
      const zh = lang === 'zh-CN';
      async function* lines() {
        yield Buffer.from('\uFEFF' + csvLine(COLUMNS.map((c) => csvCell(zh ? c.zh : c.header))));
        for await (const page of auditPages(ctx.db.kysely, f)) {
          let chunk = '';
          for (const e of page) chunk += csvLine(COLUMNS.map((c) => csvCell(c.value(e, time), c.text)));
          yield Buffer.from(chunk);
        }
      }
      return sendCsv(reply, Readable.from(lines(), { objectMode: false }), 'audit', tz);
    },
  });

  r.get('/audit-logs/settings', {
    config: { permission: 'audit:view' },
    schema: { tags, summary: 'Audit log retention (audit:view)', response: { 200: z.object({ retention_days: z.number().int() }) } },
    handler: async (req) => {
      return { retention_days: await auditRetentionDays(ctx.db.kysely) };
    },
  });

  r.put('/audit-logs/settings', {
    config: { permission: 'audit:edit' },
    schema: {
      tags,
      summary: 'Set how many days audit entries are kept (audit:edit, the super-admin only; older entries are purged hourly)',
      body: z.object({ retention_days: z.number().int().min(1).max(36_500) }),
      response: { 200: z.object({ retention_days: z.number().int() }) },
    },
    handler: async (req) => {
      return { retention_days: await setAuditRetentionDays(ctx.db, actorOf(req), req.body.retention_days) };
    },
  });
}
