import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from './app.js';
import type { Config } from './config/index.js';
import { createContext, type AppContext } from './context.js';
import { ensureSuperAdmin } from './accounts/bootstrap.js';
import { warmTokenizer } from './gateway/tokenizer.js';
import type { Logger } from './log.js';

export interface RunningServer {
  app: FastifyInstance;
  ctx: AppContext;
  url: string;
  /** Stop accepting, let calls in flight finish (and settle), then release everything. */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(config: Config, opts: { log?: Logger; print?: (s: string) => void } = {}): Promise<RunningServer> {
  const ctx = await createContext(config, { live: true, ...(opts.log ? { log: opts.log } : {}) });
  try {
    await ensureSuperAdmin(ctx.db, config, ctx.log, opts.print);
    const app = await buildServer(ctx);
    const unanswered = trackUnanswered(app);
    await app.listen({ port: config.port, host: config.host });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;
    ctx.log.info({ url, role: config.role, database: ctx.db.dialect, redis: Boolean(ctx.redis), secret: config.secretSource }, 'tollgate listening');
    if (config.trustProxy === true) {
      ctx.log.warn('TRUST_PROXY=true believes any caller\'s X-Forwarded-For: IP allow-lists and sign-in limits can be bypassed unless every request comes through your proxy; prefer a hop count (TRUST_PROXY=1) or the proxy addresses');
    }
    // Answer health checks first; the tokenizer's tables load a moment later (or at the first
    // call that counts tokens, whichever comes first).
    setTimeout(warmTokenizer, 250).unref();

    let closing: Promise<void> | null = null;
    const close = (graceMs = 30_000) =>
      (closing ??= (async () => {
        ctx.log.info({ inflight: ctx.relay.inflight }, 'shutting down: finishing calls in flight');
        // After the grace period, cut the streams still running; each settles for what it delivered.
        const timer = setTimeout(() => {
          ctx.relay.abortAll();
          app.server.closeAllConnections();
        }, graceMs);
        timer.unref();
        // server.close() waits for every open connection, and closes only those idle at that
        // moment: a keep-alive connection whose call ends later, or one opened but not used yet,
        // would hold the exit until its client hangs up (or the grace period). Close each as soon
        // as it has no request in progress. (Node's closeIdleConnections() is not enough: it never
        // closes a connection that has not sent a request yet.)
        const idleSweep = setInterval(() => {
          for (const [socket, n] of unanswered) if (n === 0) socket.destroy();
        }, 100);
        idleSweep.unref();
        await app.close().finally(() => clearInterval(idleSweep));
        // Connections are closed; handlers of calls whose caller left may still be settling.
        await ctx.relay.idle(graceMs);
        clearTimeout(timer);
        await ctx.close();
        ctx.log.info('stopped');
      })());
    return { app, ctx, url, close };
  } catch (err) {
    await ctx.close();
    throw err;
  }
}

/** Every open connection with the number of its requests not yet answered. */
function trackUnanswered(app: FastifyInstance): Map<Socket, number> {
  const open = new Map<Socket, number>();
  app.server.on('connection', (socket: Socket) => {
    open.set(socket, 0);
    socket.once('close', () => open.delete(socket));
  });
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    if (open.has(socket)) open.set(socket, open.get(socket)! + 1);
    res.once('close', () => {
      if (open.has(socket)) open.set(socket, open.get(socket)! - 1);
    });
  });
  return open;
}
