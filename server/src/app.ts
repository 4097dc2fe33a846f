import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions, type RouteOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import type { AppContext } from './context.js';
import type { Config } from './config/index.js';
import { newRequestId } from './lib/ids.js';
import { jsonNestedDeeperThan, tooDeepError } from './lib/json-body.js';
import { apiErrorBody, openaiErrorBody, toAppError } from './http/errors.js';
import { requireRoutePermission, requireStaff } from './http/session.js';
import { requireStaffTwoFactor } from './accounts/two-factor.js';
import { twoFactorAdminRoutes } from './accounts/two-factor.routes.js';
import { sessionRoutes } from './accounts/sessions.routes.js';
import { reauthRoutes, requireRecentAuth } from './accounts/reauth.js';
import { isPermission, type Permission } from './lib/permissions.js';
import { CONSOLE_HTML_HEADERS, sameOriginGuard } from './http/origin.js';
import { gatewayRoutes } from './gateway/routes.js';
import { channelAdminRoutes } from './gateway/admin.routes.js';
import { accountsAdminRoutes } from './accounts/admin.routes.js';
import { rolesAdminRoutes } from './accounts/roles.routes.js';
import { authRoutes } from './accounts/auth.routes.js';
import { oauthRoutes } from './accounts/oauth.routes.js';
import { registrationAdminRoutes } from './accounts/registration.routes.js';
import { billingAdminRoutes } from './billing/admin.routes.js';
import { usageAdminRoutes } from './ops/admin.routes.js';
import { auditAdminRoutes } from './ops/audit.routes.js';
import { reportsAdminRoutes } from './ops/reports.routes.js';
import { consoleRoutes } from './console/routes.js';
import { AppError } from './errors.js';
import { anthropicAppErrorBody } from './gateway/formats/anthropic.js';

/** A /v1 error in the caller's format: Anthropic clients announce themselves with anthropic-version. */
function gatewayErrorBody(req: FastifyRequest, e: AppError) {
  return req.headers['anthropic-version'] ? anthropicAppErrorBody(e) : openaiErrorBody(e);
}

export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const VERSION = '0.1.0';

/** One /api/admin route and what it needs (the permission matrix test walks this table). */
export interface AdminRoute {
  method: string;
  url: string;
  permission: readonly Permission[];
}

/**
 * onRoute for /api/admin: records each route with its permission. A route that forgot to say what
 * it needs would be open to every staff role, so it stops the start-up instead.
 */
export function collectAdminRoute(table: AdminRoute[]) {
  return (route: RouteOptions) => {
    const declared = route.config?.permission;
    const list: readonly string[] = declared === undefined ? [] : typeof declared === 'string' ? [declared] : declared;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (list.length === 0 || !list.every(isPermission)) {
      throw new Error(`${methods.join(',')} ${route.url}: an /api/admin route declares config.permission (a known permission; see lib/permissions.ts)`);
    }
    for (const method of methods) table.push({ method, url: route.url, permission: list as Permission[] });
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every /api/admin route with its declared permission, collected as the routes are added. */
    adminRoutes: readonly AdminRoute[];
  }
}

/**
 * Fastify 5 turns a hop count into "trust nothing" (it cannot check the peer's address), so a hop
 * count is our own function: the last N addresses (the peer first) are proxies of ours. That holds
 * only when every request reaches us through those proxies, which is what TRUST_PROXY=N declares.
 */
function trustProxyOption(tp: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof tp === 'number') return (_address: string, hop: number) => hop < tp;
  return tp;
}

/**
 * One HTTP server: the gateway at /v1, the APIs at /api, the web console at /. A process started
 * with a role mounts only its part (gateway / api / worker) so the gateway can scale apart.
 */
export async function buildServer(ctx: AppContext): Promise<FastifyInstance> {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => newRequestId(),
    requestIdHeader: false,
    bodyLimit: config.gateway.bodyLimitBytes,
    trustProxy: trustProxyOption(config.trustProxy),
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // Fastify's JSON parser (with its prototype-poisoning guard), behind a nesting cap: a body
  // nested thousands of levels deep parses, then overflows the stack of whatever walks it.
  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonNestedDeeperThan(text)) return done(tooDeepError(), undefined);
    // PostgreSQL text cannot hold NUL (a write fails with 22021, which used to surface as a 500), and no
    // name, email or setting needs one: the back office refuses it up front. The gateway relays prompts untouched.
    if (req.url.startsWith('/v1') || !(text.includes('\\u0000') || text.includes('\u0000'))) return defaultJsonParser(req, text, done);
    defaultJsonParser(req, text, (err, value) => {
      const path = err ? undefined : pathOfNul(value);
      if (path === undefined) return done(err, value);
      done(new AppError('validation_failed', `${path || 'body'}: text must not contain NUL characters (\\u0000)`, { path }), undefined);
    });
  });

  // The same for the address: an id or name with %00 in it reaches a query as a parameter.
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/api') && /%00|\u0000/i.test(req.url)) {
      throw new AppError('validation_failed', 'the address must not contain NUL characters (%00)', { path: 'url' });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toAppError(err);
    if (e.status >= 500 && e.code === 'internal') req.log.error({ err, url: req.url }, 'request failed');
    if (e.headers) reply.headers(e.headers);
    reply.header('x-request-id', req.id);
    return reply.code(e.status).send(req.url.startsWith('/v1') ? gatewayErrorBody(req, e) : apiErrorBody(e));
  });

  const serveGateway = config.role === 'all' || config.role === 'gateway';
  const serveApi = config.role === 'all' || config.role === 'api';

  // A health check must answer even when a dependency hangs: each check has its own deadline.
  // Only the database makes the process unable to serve (503); without Redis it serves on its
  // in-process fallbacks, so it reports Redis down but stays in the load balancer's rotation.
  app.get('/healthz', { schema: { hide: true } }, async (_req, reply) => {
    const t0 = performance.now();
    const [db, redis] = await Promise.all([
      probe(() => sql`select 1`.execute(ctx.db.kysely), HEALTH_DB_TIMEOUT_MS),
      ctx.redis ? probe(() => ctx.redis!.cmd.ping(), HEALTH_REDIS_TIMEOUT_MS) : Promise.resolve('off' as const),
    ]);
    const ok = db === 'ok';
    return reply.code(ok ? 200 : 503).send({
      status: ok && redis !== 'down' ? 'ok' : 'degraded',
      version: VERSION,
      role: config.role,
      database: { dialect: ctx.db.dialect, status: db },
      redis,
      inflight: ctx.relay.inflight,
      check_ms: Math.round((performance.now() - t0) * 100) / 100,
    });
  });

  const metricsToken = config.metricsToken ? Buffer.from(`Bearer ${config.metricsToken}`) : null;
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (metricsToken) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== metricsToken.length || !timingSafeEqual(given, metricsToken)) {
        throw new AppError('unauthenticated', 'Send Authorization: Bearer <METRICS_TOKEN>.', { headers: { 'www-authenticate': 'Bearer' } });
      }
    }
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  if (serveApi) {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Tollgate API',
          version: VERSION,
          description:
            'The OpenAI-compatible gateway (/v1, authenticated with an `sk-` key) and the admin API (/api/admin, authenticated with a session cookie from /api/auth/sign-in/email). Money is in integer micro-USD (1 USD = 1 000 000).',
        },
        components: {
          securitySchemes: {
            apiKey: { type: 'http', scheme: 'bearer', description: 'An sk-… key' },
            anthropicKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An sk-… key, as Anthropic clients send it' },
            session: { type: 'apiKey', in: 'cookie', name: 'tollgate.session_token' },
          },
        },
      },
      transform: jsonSchemaTransform,
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
    app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  if (serveGateway) await app.register((i) => gatewayRoutes(i, ctx), { prefix: '/v1' });

  const adminRoutes: AdminRoute[] = [];
  app.decorate('adminRoutes', adminRoutes);

  if (serveApi) {
    const sameOrigin = sameOriginGuard(config);
    await app.register(
      async (i) => {
        i.addHook('onRequest', sameOrigin);
        await authRoutes(i, ctx);
        await oauthRoutes(i, ctx);
        await sessionRoutes(i, ctx);
        await reauthRoutes(i, ctx);
      },
      { prefix: '/api' },
    );
    await app.register(
      async (admin) => {
        admin.addHook('onRequest', sameOrigin);
        admin.addHook('onRoute', collectAdminRoute(adminRoutes));
        // onRequest: a caller without an operator session, or without the route's permission,
        // learns nothing (not even validation errors).
        admin.addHook('onRequest', requireStaff(ctx));
        admin.addHook('onRequest', requireStaffTwoFactor(ctx));
        admin.addHook('onRequest', requireRoutePermission(ctx));
        admin.addHook('onRequest', requireRecentAuth(ctx));
        await admin.register((i) => channelAdminRoutes(i, ctx));
        await admin.register((i) => billingAdminRoutes(i, ctx));
        await admin.register((i) => accountsAdminRoutes(i, ctx));
        await admin.register((i) => registrationAdminRoutes(i, ctx));
        await admin.register((i) => twoFactorAdminRoutes(i, ctx));
        await admin.register((i) => rolesAdminRoutes(i, ctx));
        await admin.register((i) => usageAdminRoutes(i, ctx));
        await admin.register((i) => reportsAdminRoutes(i, ctx));
        await admin.register((i) => auditAdminRoutes(i, ctx));
      },
      { prefix: '/api/admin' },
    );
    await app.register(
      (i) => {
        i.addHook('onRequest', sameOrigin);
        return consoleRoutes(i, ctx);
      },
      { prefix: '/api/console' },
    );
    app.addHook('onResponse', async (req, reply) => {
      if (req.url.startsWith('/api/') && !req.url.startsWith('/api/docs')) {
        // The route pattern (`/api/admin/users/:id`), never the URL: one series per route, not per id.
        const route = req.routeOptions.url ?? 'unmatched';
        ctx.metrics.apiRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
        ctx.metrics.apiLatency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
        req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'api');
      }
    });
    if (existsSync(WEB_DIST + 'index.html')) {
      await app.register(fastifyStatic, {
        root: WEB_DIST,
        wildcard: false,
        index: false,
        maxAge: '1h',
        immutable: false,
        // The web build writes .br and .gz beside each asset (web/vite.config.ts): sent to browsers that take them.
        preCompressed: true,
        // No reply.sendFile/download decorators: adding them to the reply prototype after the
        // gateway's routes exist cost streaming calls a quarter of their throughput (measured with
        // npm run bench: 2,850 vs 3,850 req/s at 32 connections). The SPA fallback below sends
        // index.html itself.
        decorateReply: false,
        // index.html names the hashed chunks, so it is revalidated on every load (cached for an hour, a
        // browser kept asking for the previous build's chunks after an upgrade); the hashed files
        // under /assets never change and are cached for good.
        setHeaders: (reply, path) => {
          reply.header('x-content-type-options', 'nosniff');
          if (path.endsWith('.html')) reply.headers({ ...CONSOLE_HTML_HEADERS, 'cache-control': 'no-cache' });
          else if (path.includes('/assets/')) reply.header('cache-control', 'public, max-age=31536000, immutable');
        },
      });
    }
  }

  app.setNotFoundHandler(async (req, reply) => {
    if (req.url.startsWith('/v1')) {
      const e = new AppError('not_found', `Invalid URL (${req.method} ${req.url.split('?')[0]})`);
      if (serveGateway) await ctx.relay.refusedRoute(req, e);
      return reply.code(404).header('x-request-id', req.id).send(gatewayErrorBody(req, e));
    }
    if (req.url.startsWith('/api')) return reply.code(404).send(apiErrorBody(new AppError('not_found', `No such endpoint: ${req.method} ${req.url.split('?')[0]}`)));
    // A built file that does not exist (an old chunk asked for by a tab opened before an upgrade)
    // is a 404, not the SPA's index.html under a .js name.
    if (req.url.startsWith('/assets/')) return reply.code(404).type('text/plain').send('Not found');
    // Everything else belongs to the single-page app, which routes on the client.
    if (serveApi && req.method === 'GET' && existsSync(WEB_DIST + 'index.html')) {
      // Read on each miss (about a kilobyte): a rebuilt console is served without a restart.
      return reply.headers({ ...CONSOLE_HTML_HEADERS, 'cache-control': 'no-cache' }).type('text/html; charset=utf-8').send(await readFile(WEB_DIST + 'index.html'));
    }
    return reply.code(404).type('text/plain').send(serveApi ? 'The web console is not built: run `npm run build`.' : 'Not found');
  });

  return app;
}

const HEALTH_DB_TIMEOUT_MS = 1_000;
const HEALTH_REDIS_TIMEOUT_MS = 500;

/** 'ok' when `check` succeeds within `ms`, else 'down'. */
async function probe(check: () => Promise<unknown>, ms: number): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => resolve('down'), ms);
  });
  try {
    return await Promise.race([check().then(() => 'ok' as const, () => 'down' as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Dotted path of the first string (value or key) holding a NUL character, or undefined. Depth is already capped. */
function pathOfNul(v: unknown, at = ''): string | undefined {
  if (typeof v === 'string') return v.includes('\u0000') ? at : undefined;
  if (v === null || typeof v !== 'object') return undefined;
  for (const [k, child] of Object.entries(v)) {
    const p = at ? `${at}.${k}` : k;
    if (k.includes('\u0000')) return p;
    const found = pathOfNul(child, p);
    if (found !== undefined) return found;
  }
  return undefined;
}
