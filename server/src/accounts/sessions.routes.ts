import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { actorOf, loadSession } from '../http/session.js';
import { IdParam } from '../http/pagination.js';
import { listOwnSessions, revokeOtherSessions, revokeOwnSession } from './sessions.js';

const SessionSchema = z.object({
  id: z.number(),
  user_agent: z.string().nullable(),
  ip_address: z.string().nullable(),
  created_at: z.string(),
  last_active_at: z.string().describe('when the session was last renewed (at most once a day of use)'),
  expires_at: z.string(),
  current: z.boolean().describe('the session this request came with'),
});

/** The signed-in person's own sessions (any role), under /api: list, revoke one, revoke the others. */
export async function sessionRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['session'];
  const me = async (req: Parameters<typeof loadSession>[1]) => {
    const u = await loadSession(ctx, req);
    if (!u) throw new AppError('session_required', 'Sign in first.');
    return u;
  };

  r.get('/sessions', {
    schema: { tags, summary: 'Your signed-in devices (sessions), newest first', response: { 200: z.object({ data: z.array(SessionSchema) }) } },
    handler: async (req) => ({ data: await listOwnSessions(ctx, req, await me(req)) }),
  });

  r.delete('/sessions/:id', {
    schema: { tags, summary: 'Sign one of your sessions out (its cookie stops working at once)', params: IdParam, response: { 204: z.null() } },
    handler: async (req, reply) => {
      const u = await me(req);
      await revokeOwnSession(ctx, actorOf(req), u, req.params.id);
      return reply.code(204).send(null);
    },
  });

  r.post('/sessions/revoke-others', {
    schema: { tags, summary: 'Sign out everywhere else: every session of yours but this one', response: { 200: z.object({ revoked: z.number() }) } },
    handler: async (req) => {
      const u = await me(req);
      return { revoked: await revokeOtherSessions(ctx, actorOf(req), u) };
    },
  });
}
