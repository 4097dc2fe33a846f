import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { actorOf } from '../http/session.js';
import { getRequire2faForStaff, setRequire2faForStaff } from './two-factor.js';

const Setting = z.object({ require_2fa_for_staff: z.boolean() });

/** Staff: whether every staff account must use two-factor sign-in (under /api/admin). */
export async function twoFactorAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['sign-in'];

  r.get('/settings/two-factor', {
    config: { permission: 'setting:view' },
    schema: { tags, summary: 'Whether staff must sign in with a second factor', response: { 200: Setting } },
    handler: async () => ({ require_2fa_for_staff: await getRequire2faForStaff(ctx.db.kysely) }),
  });

  r.put('/settings/two-factor', {
    config: { permission: 'setting:edit' },
    schema: {
      tags,
      summary: 'Require two-factor sign-in of every staff account (409 until your own account has it)',
      body: Setting,
      response: { 200: Setting },
    },
    handler: async (req) => ({
      require_2fa_for_staff: await setRequire2faForStaff(ctx.db, actorOf(req), req.body.require_2fa_for_staff, !!req.sessionUser?.twoFactorEnabled),
    }),
  });
}
