import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * onRequest for /api: a state-changing request that carries cookies must come from our own pages.
 * Browsers say where a request comes from (Sec-Fetch-Site, Origin); a cross-site page riding the
 * session cookie is refused with 403. Requests without cookies, with an Authorization header, or
 * from tools that send neither header (curl with a cookie jar) are not a browser forgery and pass.
 * Our host is PUBLIC_URL's, or the Host header (X-Forwarded-Host only from a trusted proxy); the
 * scheme is not compared, so a TLS proxy that TRUST_PROXY does not trust still works.
 */
export function sameOriginGuard(config: Config) {
  const publicHost = config.publicUrl ? new URL(config.publicUrl).host : null;
  return async function sameOrigin(req: FastifyRequest, _reply: FastifyReply) {
    if (!STATE_CHANGING.has(req.method) || !req.headers.cookie || req.headers.authorization) return;
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') throw refused(`Sec-Fetch-Site: ${site}`);
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string | null = null;
    try {
      host = origin === 'null' ? null : new URL(origin).host;
    } catch {
      /* unparsable: refused below */
    }
    if (host !== null && (host === req.host || host === publicHost)) return;
    throw refused(`Origin: ${origin.slice(0, 100)}`);
  };
}

function refused(what: string): AppError {
  return new AppError('cross_site_request', `This request came from another site (${what}); it was refused to protect your session.`);
}

/**
 * Headers of the console's HTML. antd writes styles at run time (CSS-in-JS), hence
 * style-src 'unsafe-inline'; scripts only from our own origin.
 */
export const CONSOLE_HTML_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
};
