import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { headersOf, loadSession } from '../http/session.js';
import { CLIENT_IP_HEADER } from './auth.js';

/** better-auth's handler mounted at /api/auth/* (sign-in, sign-out, sessions), plus /api/me. */
export async function authRoutes(app: FastifyInstance, ctx: AppContext) {
  app.route({
    method: ['GET', 'POST'],
    url: '/auth/*',
    schema: { hide: true },
    handler: async (req, reply) => {
      const url = new URL(req.url, `http://${req.headers.host ?? 'localhost'}`);
      const hasBody = req.method !== 'GET' && req.body !== undefined && req.body !== null;
      const headers = headersOf(req);
      // better-auth rate-limits sign-ins per client address. Give it the address Fastify worked
      // out (which honours TRUST_PROXY), under a header of our own that a caller cannot spoof.
      headers.set(CLIENT_IP_HEADER, req.ip);
      const request = new Request(url, {
        method: req.method,
        headers,
        ...(hasBody ? { body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body) } : {}),
      });
      const res = await ctx.auth.handler(request);
      reply.code(res.status);
      res.headers.forEach((value, key) => {
        if (key !== 'set-cookie') reply.header(key, value);
      });
      const cookies = res.headers.getSetCookie();
      if (cookies.length > 0) reply.header('set-cookie', cookies);
      return reply.send(res.body ? await res.text() : null);
    },
  });

  app.withTypeProvider<ZodTypeProvider>().get('/me', {
    schema: {
      tags: ['session'],
      summary: 'The signed-in user (any role)',
      response: { 200: z.object({ id: z.number(), email: z.string(), name: z.string(), role: z.string() }) },
    },
    handler: async (req) => {
      const u = await loadSession(ctx, req);
      if (!u) throw new AppError('session_required', 'Sign in first.');
      return { id: u.id, email: u.email, name: u.name, role: u.role };
    },
  });
}
