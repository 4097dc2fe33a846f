import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { actorOf, loadSession } from '../http/session.js';
import { enabledProviders, OAUTH_PROVIDERS, takeFirstKey } from './oauth.js';

/** The sign-in page's provider buttons, and the first key of an account an OAuth sign-in made. */
export async function oauthRoutes(app: FastifyInstance, ctx: AppContext) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/auth-providers', {
    schema: {
      tags: ['session'],
      summary: 'Which "Sign in with …" buttons the sign-in page shows (providers this server has credentials for)',
      response: { 200: z.object({ providers: z.array(z.enum(OAUTH_PROVIDERS)) }) },
    },
    handler: async () => ({ providers: enabledProviders(ctx.config) }),
  });

  r.post('/me/first-key', {
    schema: {
      tags: ['session'],
      summary: 'The first sk- key of an account created by a GitHub/Google sign-in, answered once (404 afterwards)',
      response: { 200: z.object({ id: z.number(), name: z.string(), key: z.string() }) },
    },
    handler: async (req) => {
      const u = await loadSession(ctx, req);
      if (!u) throw new AppError('session_required', 'Sign in first.');
      const k = await takeFirstKey(ctx.db, ctx.box, u.id, actorOf(req));
      if (!k) throw new AppError('not_found', 'There is no first key to show (it is shown once).');
      return k;
    },
  });
}
