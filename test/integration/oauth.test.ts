// Sign-in with GitHub and Google (accounts/oauth.ts), against loopback providers that speak the
// vendors' protocols (test/support/fake-oauth.ts), the whole redirect dance with a cookie jar:
//  - the first sign-in creates the account, its wallet and one sk- key, shown once (POST
//    /api/me/first-key answers it once, then 404); the key works on /v1;
//  - a second sign-in is the same user and makes no new key;
//  - registration closed (or invite_only) refuses a new account: back to the sign-in page with
//    ?error=registration_closed, nobody created; an existing linked account still signs in;
//  - an address that matches an account links only when the provider says it is verified (and the
//    account's own address is verified); otherwise ?error=account_not_linked and nothing changes;
//  - a callback whose state does not match the browser's (another browser, a forged state) is
//    refused; a forged id_token signature (Google) is refused;
//  - a new account needs an address the provider verified; frozen accounts, staff accounts and
//    accounts with two-factor sign-in are refused; audit entries name the provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startFakeGitHub, startFakeGoogle, type FakeGitHub, type FakeGoogle, type GitHubUser } from '../support/fake-oauth.js';
import { freePort } from '../support/fake-oauth.js';
import { ADMIN_EMAIL, startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
let gh: FakeGitHub;
let gg: FakeGoogle;
let admin: ApiClient;

const ghUser = (id: number, email: string, verified = true): GitHubUser => ({
  id,
  login: `octo${id}`,
  name: `Octo ${id}`,
  email: null,
  emails: [
    { email, primary: true, verified, visibility: 'private' },
    { email: `${id}+octo${id}@users.noreply.github.com`, primary: false, verified: true, visibility: null },
  ],
});

/** A browser's cookie jar for our server, following redirects by hand (providers are another origin). */
let ipSeq = 0;
class Browser {
  cookies = new Map<string, string>();
  // Each browser from its own address (TRUST_PROXY), so better-auth's sign-in rate limit stays out of the way.
  ip = `198.51.100.${(++ipSeq % 250) + 1}`;
  get cookie() {
    return [...this.cookies.values()].join('; ');
  }
  store(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const name = pair.split('=')[0]!;
      if (/max-age=0/i.test(c) || pair.endsWith('=')) this.cookies.delete(name);
      else this.cookies.set(name, pair);
    }
  }
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const ours = url.startsWith(srv.url);
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(ours ? { 'x-forwarded-for': this.ip } : {}), ...(ours && this.cookies.size ? { cookie: this.cookie } : {}), ...(ours && init.method === 'POST' ? { origin: srv.url } : {}), ...(init.headers as Record<string, string>) },
    });
    if (ours) this.store(res);
    return res;
  }
  /** Click "Sign in with …": the authorization URL at the provider. */
  async start(provider: 'github' | 'google'): Promise<string> {
    const r = await this.fetch(`${srv.url}/api/auth/sign-in/social`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider, callbackURL: '/console', newUserCallbackURL: '/console/overview?welcome=1', errorCallbackURL: '/console/login' }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { url: string; redirect: boolean };
    expect(body.redirect).toBe(true);
    return body.url;
  }
  /** At the provider: the consent page, approved; answers the redirect back to our callback. */
  async consent(authorizeUrl: string): Promise<string> {
    const page = await this.fetch(authorizeUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('fake-consent');
    const approved = await this.fetch(`${authorizeUrl}&approve=1`);
    expect(approved.status).toBe(302);
    return approved.headers.get('location')!;
  }
  /** Back at our callback: where it sends the browser. */
  async callback(callbackUrl: string): Promise<URL> {
    expect(callbackUrl.startsWith(srv.url)).toBe(true);
    const r = await this.fetch(callbackUrl);
    expect(r.status).toBe(302);
    return new URL(r.headers.get('location')!, srv.url);
  }
  async signIn(provider: 'github' | 'google'): Promise<URL> {
    return this.callback(await this.consent(await this.start(provider)));
  }
  async api(method: string, path: string) {
    const r = await this.fetch(srv.url + path, { method, headers: method === 'POST' ? { 'content-type': 'application/json' } : {}, ...(method === 'POST' ? { body: '{}' } : {}) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
}

const count = async (table: 'users' | 'api_keys' | 'wallets', where?: { col: string; val: number | string }) => {
  let q = srv.ctx.db.kysely.selectFrom(table as 'users').select((eb) => eb.fn.countAll().as('n'));
  if (where) q = q.where(where.col as 'id', '=', where.val as number);
  return Number((await q.executeTakeFirstOrThrow()).n);
};
const userByEmail = (email: string) => srv.ctx.db.kysely.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
const setMode = (mode: 'open' | 'closed' | 'invite_only') => admin.put('/api/admin/settings/registration', { mode });

beforeAll(async () => {
  gh = await startFakeGitHub({ user: ghUser(1001, 'octo@example.com') });
  gg = await startFakeGoogle({ user: { sub: '110169484474386276334', email: 'gina@example.com', email_verified: true, name: 'Gina Google' } });
  // The providers send the browser back to PUBLIC_URL, so the server's port is chosen first.
  const port = await freePort();
  srv = await startTestServer({
    env: {
      TRUST_PROXY: 'true',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      GITHUB_CLIENT_ID: gh.clientId,
      GITHUB_CLIENT_SECRET: gh.clientSecret,
      OAUTH_GITHUB_BASE_URL: gh.url,
      GOOGLE_CLIENT_ID: gg.clientId,
      GOOGLE_CLIENT_SECRET: gg.clientSecret,
      OAUTH_GOOGLE_ISSUER: gg.url,
    },
  });
  admin = new ApiClient(srv.url);
  await admin.signIn();
});
afterAll(async () => {
  await srv?.stop();
  await gh?.close();
  await gg?.close();
});

describe('GET /api/auth-providers', () => {
  it('lists the configured providers', async () => {
    expect((await new ApiClient(srv.url).get('/api/auth-providers')).body).toEqual({ providers: ['github', 'google'] });
  });
});

describe.each(['github', 'google'] as const)('sign-in with %s', (provider) => {
  const email = provider === 'github' ? 'octo@example.com' : 'gina@example.com';

  it('the first sign-in creates the account, its wallet and one key, shown once', async () => {
    const users0 = await count('users');
    const b = new Browser();
    const landing = await b.signIn(provider);
    expect(landing.pathname + landing.search).toBe('/console/overview?welcome=1');
    const me = await b.api('GET', '/api/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email, role: 'user' });
    expect(await count('users')).toBe(users0 + 1);
    const u = (await userByEmail(email))!;
    expect(Boolean(u.email_verified)).toBe(true);
    expect(await count('wallets', { col: 'user_id', val: u.id })).toBe(1);
    expect(await count('api_keys', { col: 'user_id', val: u.id })).toBe(1);

    const first = await b.api('POST', '/api/me/first-key');
    expect(first.status).toBe(200);
    expect(first.body.key).toMatch(/^sk-[A-Za-z0-9]{32}$/);
    // the key is real: the gateway knows it
    const models = await fetch(`${srv.url}/v1/models`, { headers: { authorization: `Bearer ${first.body.key}` } });
    expect(models.status).toBe(200);
    // once
    expect((await b.api('POST', '/api/me/first-key')).status).toBe(404);
    const keys = await b.api('GET', '/api/console/keys');
    expect(JSON.stringify(keys.body)).not.toContain(first.body.key);

    const log = await srv.ctx.db.kysely.selectFrom('audit_log').select(['action', 'after_json', 'actor_id']).where('target_id', '=', String(u.id)).where('target_type', '=', 'user').orderBy('id').execute();
    expect(log.map((l) => l.action)).toEqual(['auth.sign_up', 'auth.sign_in']);
    expect(JSON.parse(log[0]!.after_json!)).toMatchObject({ provider, email });
    expect(JSON.parse(log[1]!.after_json!)).toEqual({ provider });
  });

  it('a second sign-in is the same user, without a new key', async () => {
    const u = (await userByEmail(email))!;
    const b = new Browser();
    const landing = await b.signIn(provider);
    expect(landing.pathname + landing.search).toBe('/console');
    expect((await b.api('GET', '/api/me')).body.id).toBe(Number(u.id));
    expect(await count('api_keys', { col: 'user_id', val: u.id })).toBe(1);
    expect((await b.api('POST', '/api/me/first-key')).status).toBe(404);
  });

  it('a callback with a state that is not this browser’s is refused', async () => {
    const a = new Browser();
    const back = await a.consent(await a.start(provider));
    // Another browser (no state cookie) delivers A's callback: refused, no session.
    const other = new Browser();
    const refused = await other.callback(back);
    expect(refused.pathname).toBe('/console/login');
    expect(refused.searchParams.get('error')).toMatch(/state/);
    expect((await other.api('GET', '/api/me')).status).toBe(401);
    // A's own browser with a state that was altered: refused too.
    const forged = new URL(back);
    forged.searchParams.set('state', forged.searchParams.get('state')!.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')));
    const r2 = await a.callback(forged.toString());
    expect(r2.searchParams.get('error')).toMatch(/state/);
    expect((await a.api('GET', '/api/me')).status).toBe(401);
  });
});

describe('registration switch', () => {
  it('closed: a new account is refused with registration_closed and nobody is created; a linked account still signs in', async () => {
    await setMode('closed');
    try {
      gh.user = ghUser(2002, 'closed-out@example.com');
      const users0 = await count('users');
      const b = new Browser();
      const landing = await b.signIn('github');
      expect(landing.pathname).toBe('/console/login');
      expect(landing.searchParams.get('error')).toBe('registration_closed');
      expect(landing.searchParams.get('error_description')).toMatch(/closed/);
      expect(await count('users')).toBe(users0);
      expect(await userByEmail('closed-out@example.com')).toBeUndefined();
      expect((await b.api('GET', '/api/me')).status).toBe(401);
      const failed = await srv.ctx.db.kysely.selectFrom('audit_log').select('after_json').where('action', '=', 'auth.sign_in_failed').orderBy('id', 'desc').executeTakeFirstOrThrow();
      expect(JSON.parse(failed.after_json!)).toEqual({ provider: 'github', code: 'registration_closed' });

      gh.user = ghUser(1001, 'octo@example.com');
      const again = await new Browser().signIn('github');
      expect(again.pathname).toBe('/console');
    } finally {
      await setMode('open');
    }
  });

  it('invite_only: a new account through a provider is refused too', async () => {
    await setMode('invite_only');
    try {
      gg.user = { sub: '300', email: 'no-invite@example.com', email_verified: true, name: 'No Invite' };
      const landing = await new Browser().signIn('google');
      expect(landing.searchParams.get('error')).toBe('registration_invite_only');
      expect(await userByEmail('no-invite@example.com')).toBeUndefined();
    } finally {
      await setMode('open');
    }
  });
});

describe('linking to an existing account by address', () => {
  it('links when the provider and the account both say the address is verified; the password still works', async () => {
    const made = await admin.post('/api/admin/users', { email: 'pat@example.com', password: 'pat-secret-word-1' });
    expect(made.status).toBe(201);
    await srv.ctx.db.kysely.updateTable('users').set({ email_verified: srv.ctx.db.dialect === 'sqlite' ? 1 : true }).where('id', '=', made.body.id).execute();
    const keys0 = await count('api_keys', { col: 'user_id', val: made.body.id });
    gg.user = { sub: '400', email: 'pat@example.com', email_verified: true, name: 'Pat' };
    const b = new Browser();
    const landing = await b.signIn('google');
    expect(landing.pathname).toBe('/console');
    expect((await b.api('GET', '/api/me')).body.id).toBe(made.body.id);
    const acc = await srv.ctx.db.kysely.selectFrom('auth_accounts').select(['provider_id', 'account_id']).where('user_id', '=', made.body.id).execute();
    expect(acc.map((a) => a.provider_id).sort()).toEqual(['credential', 'google']);
    // not a new account: no first key
    expect(await count('api_keys', { col: 'user_id', val: made.body.id })).toBe(keys0);
    await new ApiClient(srv.url).signIn('pat@example.com', 'pat-secret-word-1');
  });

  it('does not link when the provider does not vouch for the address (GitHub primary address unverified)', async () => {
    const made = await admin.post('/api/admin/users', { email: 'quinn@example.com', password: 'lantern-ocean-77' });
    expect(made.status).toBe(201);
    await srv.ctx.db.kysely.updateTable('users').set({ email_verified: srv.ctx.db.dialect === 'sqlite' ? 1 : true }).where('id', '=', made.body.id).execute();
    gh.user = ghUser(5005, 'quinn@example.com', false);
    const b = new Browser();
    const landing = await b.signIn('github');
    expect(landing.pathname).toBe('/console/login');
    expect(landing.searchParams.get('error')).toBe('account_not_linked');
    expect((await b.api('GET', '/api/me')).status).toBe(401);
    const acc = await srv.ctx.db.kysely.selectFrom('auth_accounts').select('provider_id').where('user_id', '=', made.body.id).execute();
    expect(acc.map((a) => a.provider_id)).toEqual(['credential']);
  });

  it('does not link to an account whose own address was never verified', async () => {
    const made = await admin.post('/api/admin/users', { email: 'rory@example.com', password: 'copper-meadow-58' });
    expect(made.status).toBe(201);
    gg.user = { sub: '500', email: 'rory@example.com', email_verified: true, name: 'Rory' };
    const landing = await new Browser().signIn('google');
    expect(landing.searchParams.get('error')).toBe('account_not_linked');
    const acc = await srv.ctx.db.kysely.selectFrom('auth_accounts').select('provider_id').where('user_id', '=', made.body.id).execute();
    expect(acc.map((a) => a.provider_id)).toEqual(['credential']);
  });

  it('never links a staff account (staff sign in with their password)', async () => {
    gg.user = { sub: '600', email: ADMIN_EMAIL, email_verified: true, name: 'Admin' };
    const b = new Browser();
    const landing = await b.signIn('google');
    expect(landing.searchParams.get('error')).toBe('oauth_staff_refused');
    expect((await b.api('GET', '/api/me')).status).toBe(401);
  });
});

describe('refusals', () => {
  it('a new account needs an address the provider verified', async () => {
    gh.user = ghUser(6006, 'unverified-new@example.com', false);
    const b = new Browser();
    const landing = await b.signIn('github');
    expect(landing.pathname).toBe('/console/login');
    expect(landing.searchParams.get('error')).toBe('provider_email_not_verified');
    expect(await userByEmail('unverified-new@example.com')).toBeUndefined();
    expect((await b.api('GET', '/api/me')).status).toBe(401);
  });

  it('an account with two-factor sign-in is refused through a provider (it would skip the code)', async () => {
    gh.user = ghUser(1001, 'octo@example.com');
    const u = (await userByEmail('octo@example.com'))!;
    const on = srv.ctx.db.dialect === 'sqlite' ? 1 : true;
    await srv.ctx.db.kysely.updateTable('users').set({ two_factor_enabled: on }).where('id', '=', u.id).execute();
    try {
      const b = new Browser();
      const landing = await b.signIn('github');
      expect(landing.searchParams.get('error')).toBe('oauth_two_factor');
      expect((await b.api('GET', '/api/me')).status).toBe(401);
    } finally {
      await srv.ctx.db.kysely.updateTable('users').set({ two_factor_enabled: srv.ctx.db.dialect === 'sqlite' ? 0 : false }).where('id', '=', u.id).execute();
    }
    expect((await new Browser().signIn('github')).pathname).toBe('/console');
  });

  it('a frozen account is refused with account_frozen', async () => {
    gh.user = ghUser(1001, 'octo@example.com');
    const u = (await userByEmail('octo@example.com'))!;
    expect((await admin.post(`/api/admin/users/${u.id}/freeze`, { reason: 'chargeback under review' })).status).toBe(200);
    try {
      const b = new Browser();
      const landing = await b.signIn('github');
      expect(landing.pathname).toBe('/console/login');
      expect(landing.searchParams.get('error')).toBe('account_frozen');
      expect((await b.api('GET', '/api/me')).status).toBe(401);
    } finally {
      await admin.post(`/api/admin/users/${u.id}/unfreeze`, { reason: 'resolved' });
    }
  });

  it('a Google id_token not signed with the issuer’s published key is refused', async () => {
    gg.forgeSignature = true;
    try {
      gg.user = { sub: '700', email: 'forged@example.com', email_verified: true, name: 'Forged' };
      const b = new Browser();
      const landing = await b.signIn('google');
      expect(landing.searchParams.get('error')).toBeTruthy();
      expect(await userByEmail('forged@example.com')).toBeUndefined();
      expect((await b.api('GET', '/api/me')).status).toBe(401);
    } finally {
      gg.forgeSignature = false;
    }
  });

  it('the token exchange sent the PKCE verifier and the client secret', async () => {
    const tokenCalls = gh.requests.filter((r) => r.path === '/login/oauth/access_token');
    expect(tokenCalls.length).toBeGreaterThan(0);
    const form = new URLSearchParams(tokenCalls[0]!.body);
    expect(form.get('code_verifier')).toBeTruthy();
    expect(tokenCalls[0]!.headers.accept).toContain('application/json');
  });
});

describe('an OpenID issuer that does not answer at start-up', () => {
  it('does not hold up sign-in; Google is set up on its first use once the issuer answers', async () => {
    const slow = await startFakeGoogle({ user: { sub: '800', email: 'late@example.com', email_verified: true, name: 'Late' }, hangDiscovery: true });
    const port = await freePort();
    const s2 = await startTestServer({
      env: { TRUST_PROXY: 'true', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, GOOGLE_CLIENT_ID: slow.clientId, GOOGLE_CLIENT_SECRET: slow.clientSecret, OAUTH_GOOGLE_ISSUER: slow.url },
    });
    try {
      const t0 = Date.now();
      await new ApiClient(s2.url).signIn();
      // at most the start-up wait (5 s), not a hung request
      expect(Date.now() - t0).toBeLessThan(8_000);
      slow.hangDiscovery = false;
      const srv0 = srv;
      srv = s2;
      try {
        const landing = await new Browser().signIn('google');
        expect(landing.pathname).toBe('/console/overview');
      } finally {
        srv = srv0;
      }
    } finally {
      await s2.stop();
      await slow.close();
    }
  });
});
