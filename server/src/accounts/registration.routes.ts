import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { actorOf } from '../http/session.js';
import { IdParam } from '../http/pagination.js';
import { audit } from '../ops/audit.js';
import { AppError } from '../errors.js';
import { getRequireEmailVerification, setRequireEmailVerification } from './email-verification.js';
import { createInvite, deleteInvite, getRegistration, listInvites, REGISTRATION_MODES, setRegistration } from './registration.js';

const InviteSchema = z.object({
  id: z.number(),
  note: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  used_at: z.string().nullable(),
  used_by: z.number().nullable(),
});

/** Staff: the registration switch and invite codes (under /api/admin). */
export async function registrationAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['sign-in'];

  r.get('/settings/registration', {
    config: { permission: 'setting:view' },
    schema: { tags, summary: 'Who may sign up', response: { 200: z.object({ mode: z.enum(REGISTRATION_MODES) }) } },
    handler: async () => ({ mode: await getRegistration(ctx.db) }),
  });

  r.put('/settings/registration', {
    config: { permission: 'setting:edit' },
    schema: {
      tags,
      summary: 'Set who may sign up: open, closed, or invite_only (sign-up needs an invite code)',
      body: z.object({ mode: z.enum(REGISTRATION_MODES) }),
      response: { 200: z.object({ mode: z.enum(REGISTRATION_MODES) }) },
    },
    handler: async (req) => {
      const before = await getRegistration(ctx.db);
      await setRegistration(ctx.db, req.body.mode);
      await audit(ctx.db.kysely, actorOf(req), 'settings.registration', { type: 'setting', id: null }, { mode: before }, { mode: req.body.mode });
      return { mode: req.body.mode };
    },
  });

  r.get('/settings/email-verification', {
    config: { permission: 'setting:view' },
    schema: {
      tags,
      summary: 'Whether customers must verify their email before signing in, and whether mail is on at all',
      response: { 200: z.object({ required: z.boolean(), mail: z.boolean() }) },
    },
    handler: async () => ({ required: await getRequireEmailVerification(ctx.db), mail: ctx.mailer.enabled }),
  });

  r.put('/settings/email-verification', {
    config: { permission: 'setting:edit' },
    schema: {
      tags,
      summary: 'Require customers to verify their email before signing in (needs SMTP; staff are exempt)',
      body: z.object({ required: z.boolean() }),
      response: { 200: z.object({ required: z.boolean(), mail: z.boolean() }) },
    },
    handler: async (req) => {
      if (req.body.required && !ctx.mailer.enabled) {
        throw new AppError('validation_failed', 'required: mail is off (set SMTP_URL or SMTP_HOST first); nobody could verify an address', { path: 'required' });
      }
      const before = await getRequireEmailVerification(ctx.db);
      await ctx.db.kysely.transaction().execute(async (trx) => {
        await setRequireEmailVerification(trx, req.body.required);
        if (before !== req.body.required) {
          await audit(trx, actorOf(req), 'setting.update', { type: 'setting', id: 'require_email_verification' }, { require_email_verification: before }, { require_email_verification: req.body.required });
        }
      });
      return { required: req.body.required, mail: ctx.mailer.enabled };
    },
  });

  r.get('/invites', {
    config: { permission: 'user:view' },
    schema: { tags, summary: 'Invite codes (the codes themselves are shown only when created)', response: { 200: z.object({ data: z.array(InviteSchema) }) } },
    handler: async () => ({ data: await listInvites(ctx.db) }),
  });

  r.post('/invites', {
    config: { permission: 'user:create' },
    schema: {
      tags,
      summary: 'Create an invite code (shown once)',
      body: z.object({ note: z.string().max(200).optional(), expires_in_days: z.number().int().min(1).max(365).optional() }),
      response: { 201: InviteSchema.extend({ code: z.string() }) },
    },
    handler: async (req, reply) => {
      const { code, invite } = await createInvite(ctx.db, { note: req.body.note, expiresInDays: req.body.expires_in_days, createdBy: req.sessionUser?.id ?? null });
      await audit(ctx.db.kysely, actorOf(req), 'invite.create', { type: 'invite', id: invite.id }, null, { note: invite.note, expires_at: invite.expires_at });
      return reply.code(201).send({ ...invite, code });
    },
  });

  r.delete('/invites/:id', {
    config: { permission: 'user:create' },
    schema: { tags, summary: 'Delete an unused invite code', params: IdParam, response: { 204: z.null() } },
    handler: async (req, reply) => {
      await deleteInvite(ctx.db, req.params.id);
      await audit(ctx.db.kysely, actorOf(req), 'invite.delete', { type: 'invite', id: req.params.id });
      return reply.code(204).send(null);
    },
  });
}
