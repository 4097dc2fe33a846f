// Fake GitHub and Google sign-in servers on loopback, speaking the vendors' documented protocols
// over real HTTP, so the OAuth tests run the whole redirect dance without the internet.
//
// GitHub (OAuth app, https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps),
// laid out as GitHub Enterprise Server (web at the root, REST API under /api/v3):
//   GET  /login/oauth/authorize      consent page (auto-approves) → redirect_uri?code=…&state=…
//   POST /login/oauth/access_token   form body; JSON with `Accept: application/json`, else form-encoded;
//                                    errors are 200 with {error: "bad_verification_code", …} as GitHub does
//   GET  /api/v3/user, /api/v3/user/emails   Bearer token; 401 {"message":"Bad credentials"}
// Google (OpenID Connect, https://developers.google.com/identity/openid-connect/openid-connect):
//   GET  /.well-known/openid-configuration, /o/oauth2/v2/auth, /oauth2/v3/certs (JWKS), /v1/userinfo
//   POST /token   client_secret_post or _basic; answers an id_token signed RS256 with the JWKS key,
//                 carrying iss, aud, sub, email, email_verified, nonce, iat, exp
// Both check client id, secret, redirect_uri and PKCE (S256), and a code works once.

import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  /** The public profile address (may be null; the emails list is what counts). */
  email: string | null;
  emails: { email: string; primary: boolean; verified: boolean; visibility: 'public' | 'private' | null }[];
}

export interface GoogleUser {
  sub: string;
  email: string;
  email_verified: boolean;
  name: string;
  picture?: string;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  method: string | null;
  nonce: string | null;
  scope: string;
  user: GitHubUser | GoogleUser;
  expires: number;
}

const rand = (n = 20) => randomBytes(n).toString('base64url');
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json; charset=utf-8', headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function redirect(res: ServerResponse, to: string) {
  res.writeHead(302, { location: to, 'cache-control': 'no-store' });
  res.end();
}

function pkceOk(g: Grant, verifier: string | null): boolean {
  if (!g.challenge) return true;
  if (!verifier) return false;
  if (g.method === 'S256') return b64url(createHash('sha256').update(verifier).digest()) === g.challenge;
  return verifier === g.challenge;
}

/** client_secret_basic (Authorization: Basic) or client_secret_post (in the form). */
function clientOf(req: IncomingMessage, form: URLSearchParams): { id: string | null; secret: string | null } {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':').map(decodeURIComponent);
    return { id: id ?? null, secret: secret ?? null };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

function consentPage(title: string, approveUrl: string): string {
  // A consent screen the way the vendors show one for an app already trusted: it goes on by itself.
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;padding:40px">
<h1 data-testid="fake-consent">${title}</h1><p>Tollgate wants to know who you are.</p>
<form id="f" method="get" action="${approveUrl.split('?')[0]}">${[...new URL(approveUrl).searchParams].map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('')}
<button type="submit">Authorize</button></form><script>document.getElementById('f').submit()</script></body></html>`;
}

export interface FakeOAuthServer {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Requests seen, for assertions ("the token endpoint got the PKCE verifier"). */
  requests: { method: string; path: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

/** A free port on loopback, for a server whose address must be known before it starts (PUBLIC_URL). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface FakeGitHub extends FakeOAuthServer {
  /** Who is signed in at "GitHub" (the next authorization is theirs). */
  user: GitHubUser;
}

export async function startFakeGitHub(opts: { clientId?: string; clientSecret?: string; user: GitHubUser }): Promise<FakeGitHub> {
  const clientId = opts.clientId ?? 'Iv1.' + rand(8);
  const clientSecret = opts.clientSecret ?? rand(20);
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, GitHubUser>();
  const requests: FakeOAuthServer['requests'] = [];
  const state: FakeGitHub = { url: '', clientId, clientSecret, requests, user: opts.user, close: async () => {} };

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? 'GET', path: u.pathname, headers: req.headers, body });
    try {
      if (req.method === 'GET' && u.pathname === '/login/oauth/authorize') {
        const q = u.searchParams;
        if (q.get('client_id') !== clientId) return send(res, 404, '<h1>404: application not found</h1>', 'text/html');
        const redirectUri = q.get('redirect_uri');
        if (!redirectUri) return send(res, 400, '<h1>redirect_uri is required</h1>', 'text/html');
        if (!q.has('approve')) return send(res, 200, consentPage('Authorize Tollgate · GitHub', `${state.url}/login/oauth/authorize?${q}&approve=1`), 'text/html; charset=utf-8');
        const code = rand(10);
        codes.set(code, {
          clientId,
          redirectUri,
          challenge: q.get('code_challenge'),
          method: q.get('code_challenge_method'),
          nonce: null,
          scope: q.get('scope') ?? '',
          user: state.user,
          expires: Date.now() + 10 * 60_000,
        });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        if (q.has('state')) back.searchParams.set('state', q.get('state')!);
        return redirect(res, back.toString());
      }
      if (req.method === 'POST' && u.pathname === '/login/oauth/access_token') {
        const form = new URLSearchParams(req.headers['content-type']?.includes('json') ? Object.entries(JSON.parse(body || '{}') as Record<string, string>) : body);
        const json = (req.headers.accept ?? '').includes('application/json');
        const answer = (o: Record<string, string>) =>
          json ? send(res, 200, o) : send(res, 200, new URLSearchParams(o).toString(), 'application/x-www-form-urlencoded; charset=utf-8');
        const client = clientOf(req, form);
        if (client.id !== clientId || client.secret !== clientSecret) {
          return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
        }
        const g = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!g || g.expires < Date.now() || (form.get('redirect_uri') && form.get('redirect_uri') !== g.redirectUri)) {
          return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
        }
        if (!pkceOk(g, form.get('code_verifier'))) return answer({ error: 'bad_verification_code', error_description: 'The code_verifier does not match.' });
        const token = 'gho_' + rand(27);
        tokens.set(token, g.user as GitHubUser);
        return answer({ access_token: token, token_type: 'bearer', scope: g.scope.split(/[ ,]+/).filter(Boolean).join(',') });
      }
      if (req.method === 'GET' && (u.pathname === '/api/v3/user' || u.pathname === '/api/v3/user/emails')) {
        const m = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '');
        const who = m ? tokens.get(m[1]!) : undefined;
        if (!who) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
        if (u.pathname === '/api/v3/user') {
          return send(res, 200, { login: who.login, id: who.id, node_id: 'U_' + who.id, avatar_url: `${state.url}/avatars/${who.id}`, type: 'User', name: who.name, email: who.email });
        }
        return send(res, 200, who.emails);
      }
      send(res, 404, { message: 'Not Found' });
    } catch (e) {
      send(res, 500, { message: String(e) });
    }
  });
  state.url = await listen(server);
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

export interface FakeGoogle extends FakeOAuthServer {
  user: GoogleUser;
  /** Sign id_tokens with a key the JWKS does not publish (a forged token). */
  forgeSignature: boolean;
  /** Leave discovery requests unanswered (an issuer behind a firewall that drops packets). */
  hangDiscovery: boolean;
}

function signJwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const head = b64url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const sig = createSign('RSA-SHA256').update(`${head}.${payload}`).sign(key);
  return `${head}.${payload}.${b64url(sig)}`;
}

export async function startFakeGoogle(opts: { clientId?: string; clientSecret?: string; user: GoogleUser; hangDiscovery?: boolean }): Promise<FakeGoogle> {
  const clientId = opts.clientId ?? `${Math.floor(Math.random() * 1e12)}-${rand(8).toLowerCase()}.apps.googleusercontent.com`;
  const clientSecret = opts.clientSecret ?? 'GOCSPX-' + rand(20);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const kid = rand(8);
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, GoogleUser>();
  const requests: FakeOAuthServer['requests'] = [];
  const state: FakeGoogle = { url: '', clientId, clientSecret, requests, user: opts.user, forgeSignature: false, hangDiscovery: opts.hangDiscovery ?? false, close: async () => {} };

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? 'GET', path: u.pathname, headers: req.headers, body });
    const iss = state.url;
    try {
      if (req.method === 'GET' && u.pathname === '/.well-known/openid-configuration') {
        if (state.hangDiscovery) return;
        return send(res, 200, {
          issuer: iss,
          authorization_endpoint: `${iss}/o/oauth2/v2/auth`,
          token_endpoint: `${iss}/token`,
          userinfo_endpoint: `${iss}/v1/userinfo`,
          revocation_endpoint: `${iss}/revoke`,
          jwks_uri: `${iss}/oauth2/v3/certs`,
          response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'email', 'profile'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
          claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
          code_challenge_methods_supported: ['plain', 'S256'],
          grant_types_supported: ['authorization_code', 'refresh_token'],
        });
      }
      if (req.method === 'GET' && u.pathname === '/oauth2/v3/certs') {
        const jwk = publicKey.export({ format: 'jwk' });
        return send(res, 200, { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] });
      }
      if (req.method === 'GET' && u.pathname === '/o/oauth2/v2/auth') {
        const q = u.searchParams;
        const redirectUri = q.get('redirect_uri');
        if (q.get('client_id') !== clientId || !redirectUri) return send(res, 400, '<h1>Error 400: invalid_request</h1><p>The OAuth client was not found.</p>', 'text/html');
        const back = new URL(redirectUri);
        if (q.get('response_type') !== 'code' || !(q.get('scope') ?? '').split(' ').includes('openid')) {
          back.searchParams.set('error', 'invalid_request');
          if (q.has('state')) back.searchParams.set('state', q.get('state')!);
          return redirect(res, back.toString());
        }
        if (!q.has('approve')) return send(res, 200, consentPage('Sign in with Google', `${state.url}/o/oauth2/v2/auth?${q}&approve=1`), 'text/html; charset=utf-8');
        const code = '4/0' + rand(30);
        codes.set(code, {
          clientId,
          redirectUri,
          challenge: q.get('code_challenge'),
          method: q.get('code_challenge_method'),
          nonce: q.get('nonce'),
          scope: q.get('scope') ?? '',
          user: state.user,
          expires: Date.now() + 10 * 60_000,
        });
        back.searchParams.set('code', code);
        if (q.has('state')) back.searchParams.set('state', q.get('state')!);
        back.searchParams.set('scope', q.get('scope') ?? '');
        back.searchParams.set('authuser', '0');
        back.searchParams.set('prompt', 'none');
        return redirect(res, back.toString());
      }
      if (req.method === 'POST' && u.pathname === '/token') {
        const form = new URLSearchParams(body);
        const client = clientOf(req, form);
        if (client.id !== clientId || client.secret !== clientSecret) return send(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });
        if (form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
        const g = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!g || g.expires < Date.now() || form.get('redirect_uri') !== g.redirectUri) return send(res, 400, { error: 'invalid_grant', error_description: 'Bad Request' });
        if (!pkceOk(g, form.get('code_verifier'))) return send(res, 400, { error: 'invalid_grant', error_description: 'Invalid code verifier.' });
        const user = g.user as GoogleUser;
        const accessToken = 'ya29.' + rand(40);
        tokens.set(accessToken, user);
        const now = Math.floor(Date.now() / 1000);
        const idToken = signJwt(state.forgeSignature ? forger : privateKey, kid, {
          iss,
          azp: clientId,
          aud: clientId,
          sub: user.sub,
          email: user.email,
          email_verified: user.email_verified,
          at_hash: b64url(createHash('sha256').update(accessToken).digest().subarray(0, 16)),
          ...(g.nonce ? { nonce: g.nonce } : {}),
          name: user.name,
          ...(user.picture ? { picture: user.picture } : {}),
          iat: now,
          exp: now + 3600,
        });
        return send(res, 200, { access_token: accessToken, expires_in: 3599, scope: g.scope, token_type: 'Bearer', id_token: idToken });
      }
      if (req.method === 'GET' && u.pathname === '/v1/userinfo') {
        const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
        const who = m ? tokens.get(m[1]!) : undefined;
        if (!who) return send(res, 401, { error: 'invalid_request', error_description: 'Invalid Credentials' }, 'application/json; charset=utf-8', { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
        return send(res, 200, { sub: who.sub, name: who.name, picture: who.picture, email: who.email, email_verified: who.email_verified });
      }
      send(res, 404, { error: 'not_found' });
    } catch (e) {
      send(res, 500, { error: String(e) });
    }
  });
  state.url = await listen(server);
  state.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return state;
}
