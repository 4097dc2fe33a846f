// The permission matrix: every built-in role against every /api/admin route, taken from the route
// table the server builds as routes are added, so a new route is in the matrix the day it lands.
// Calls are harmless (an empty body, ids that do not exist): an allowed role gets past the permission
// check and stops at validation or a 404; a role without the permission gets 403 naming it.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectAdminRoute, type AdminRoute } from '../../server/src/app.js';
import { BUILT_IN_PERMISSIONS, BUILT_IN_ROLES, missingPermission, PERMISSIONS, type BuiltInRole } from '../../server/src/lib/permissions.js';
import { ApiClient } from '../support/api.js';
import { runCli, startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
let root: ApiClient;
const clients = new Map<BuiltInRole, ApiClient>();
const ids = new Map<BuiltInRole, number>();
const PASSWORD = 'role-password-1';

beforeAll(async () => {
  srv = await startTestServer();
  root = new ApiClient(srv.url);
  const me = await root.signIn();
  clients.set('super_admin', root);
  ids.set('super_admin', Number(me.body.user.id));
  for (const role of BUILT_IN_ROLES) {
    if (role === 'super_admin') continue;
    const r = await root.post('/api/admin/users', { email: `${role}@perm.test`, password: PASSWORD, role });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.role).toBe(role);
    ids.set(role, r.body.id);
    const c = new ApiClient(srv.url);
    await c.signIn(`${role}@perm.test`, PASSWORD);
    clients.set(role, c);
  }
}, 120_000);
afterAll(async () => {
  await srv?.stop();
});

/** A route's URL with every parameter an id no row has. */
const concrete = (url: string) => url.replace(/:[a-z_]+/g, '999999999');

describe('the permission matrix', () => {
  it('covers every /api/admin route, each with a known permission', () => {
    const table = srv.app.adminRoutes;
    expect(table.length).toBeGreaterThanOrEqual(28);
    for (const r of table) {
      expect(r.url.startsWith('/api/admin/'), r.url).toBe(true);
      expect(r.permission.length, `${r.method} ${r.url}`).toBeGreaterThan(0);
      for (const p of r.permission) expect(PERMISSIONS).toContain(p);
    }
    // Spot checks that the table is the real one.
    const find = (m: string, u: string) => table.find((r) => r.method === m && r.url === u)?.permission;
    expect(find('POST', '/api/admin/users/:id/balance-adjustments')).toEqual(['user:edit', 'balance:adjust']);
    expect(find('GET', '/api/admin/users')).toEqual(['user:view']);
    expect(find('DELETE', '/api/admin/channels/:id')).toEqual(['channel:disable']);
  });

  for (const role of BUILT_IN_ROLES) {
    it(`${role}: 403 forbidden exactly where the role lacks the route's permission`, async () => {
      const c = clients.get(role)!;
      const held = BUILT_IN_PERMISSIONS[role];
      const wrong: string[] = [];
      for (const route of srv.app.adminRoutes) {
        const url = concrete(route.url);
        const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
        const res = await c.request(route.method, url, body);
        const missing = missingPermission(held, route.permission);
        const label = `${route.method} ${route.url} → ${res.status} ${route.method === 'HEAD' ? '' : JSON.stringify(res.body).slice(0, 160)}`;
        if (role === 'user') {
          if (res.status !== 403 || (route.method !== 'HEAD' && res.body.error.code !== 'forbidden')) wrong.push(`customer let through: ${label}`);
        } else if (missing) {
          if (res.status !== 403) wrong.push(`expected 403 (${missing}): ${label}`);
          else if (route.method !== 'HEAD') {
            const e = res.body.error;
            if (e.code !== 'forbidden' || e.permission !== missing || e.message !== `needs permission ${missing}`) wrong.push(`wrong 403 body: ${label}`);
          }
        } else if (res.status === 403 || res.status === 401 || res.status >= 500) {
          wrong.push(`expected to pass the check: ${label}`);
        }
      }
      expect(wrong).toEqual([]);
    }, 60_000);
  }

  it('/api/me lists exactly the permissions of the role', async () => {
    for (const role of BUILT_IN_ROLES) {
      const me = await clients.get(role)!.get('/api/me');
      expect(me.status).toBe(200);
      expect(me.body.role).toBe(role);
      expect([...me.body.permissions].sort()).toEqual([...BUILT_IN_PERMISSIONS[role]].sort());
    }
    expect((await clients.get('super_admin')!.get('/api/me')).body.permissions).toEqual(PERMISSIONS);
  });

  it('a server refuses to start with an /api/admin route that declares no permission', async () => {
    const boot = async (permission: unknown) => {
      const table: AdminRoute[] = [];
      const app = Fastify();
      try {
        await app.register(
          async (admin) => {
            admin.addHook('onRoute', collectAdminRoute(table));
            admin.get('/declared', { config: { permission: 'user:view' } }, async () => 'ok');
            admin.get('/other', permission === undefined ? {} : { config: { permission: permission as never } }, async () => 'x');
          },
          { prefix: '/api/admin' },
        );
        await app.ready();
        return table;
      } finally {
        await app.close().catch(() => {});
      }
    };
    await expect(boot(undefined)).rejects.toThrow(/GET \/api\/admin\/other: an \/api\/admin route declares config.permission/);
    await expect(boot('user:veiw')).rejects.toThrow(/declares config.permission/);
    await expect(boot([])).rejects.toThrow(/declares config.permission/);
    expect((await boot(['key:view', 'key:edit'])).map((r) => `${r.method} ${r.url} ${r.permission.join('+')}`)).toEqual([
      'GET /api/admin/declared user:view', 'HEAD /api/admin/declared user:view', 'GET /api/admin/other key:view+key:edit', 'HEAD /api/admin/other key:view+key:edit',
    ]);
  });
});

describe('what the roles mean', () => {
  const user = async () => {
    const r = await root.post('/api/admin/users', { email: `cust-${Math.random().toString(36).slice(2)}@perm.test`, password: PASSWORD });
    expect(r.status).toBe(201);
    return r.body.id as number;
  };

  it('finance adjusts cash by hand; operator and admin cannot (balance:adjust), and nothing moves', async () => {
    const id = await user();
    const ok = await clients.get('finance')!.post(`/api/admin/users/${id}/balance-adjustments`, { amount: '12.5', reason: 'wire transfer 42' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.user.cash_micros).toBe(12_500_000);
    for (const role of ['operator', 'admin', 'support', 'auditor'] as const) {
      const r = await clients.get(role)!.post(`/api/admin/users/${id}/balance-adjustments`, { amount: '100', reason: 'free money' });
      expect(r.status).toBe(403);
      expect(r.body.error.permission).toBe(role === 'support' || role === 'auditor' ? 'user:edit' : 'balance:adjust');
    }
    expect((await root.get(`/api/admin/users/${id}`)).body.cash_micros).toBe(12_500_000);
  });

  it('only a super-admin makes staff or changes roles (staff:edit), naming the field', async () => {
    const id = await user();
    for (const role of ['admin', 'operator'] as const) {
      const c = clients.get(role)!;
      const made = await c.post('/api/admin/users', { email: `sneaky-${role}@perm.test`, password: PASSWORD, role: 'finance' });
      expect(made.status).toBe(403);
      expect(made.body.error).toMatchObject({ code: 'forbidden', permission: 'staff:edit', path: 'role' });
      const promoted = await c.patch(`/api/admin/users/${id}`, { role: 'super_admin' });
      expect(promoted.status).toBe(403);
      expect(promoted.body.error).toMatchObject({ permission: 'staff:edit', path: 'role' });
    }
    expect((await root.get(`/api/admin/users/${id}`)).body.role).toBe('user');
    const r = await root.patch(`/api/admin/users/${id}`, { role: 'support' });
    expect(r.status).toBe(200);
    expect(r.body.role).toBe('support');
  });

  it('finance edits a customer but may not disable one (user:disable)', async () => {
    const id = await user();
    const f = clients.get('finance')!;
    expect((await f.patch(`/api/admin/users/${id}`, { remark: 'pays by wire' })).status).toBe(200);
    const d = await f.patch(`/api/admin/users/${id}`, { status: 'disabled' });
    expect(d.status).toBe(403);
    expect(d.body.error).toMatchObject({ permission: 'user:disable', path: 'status' });
    expect((await root.get(`/api/admin/users/${id}`)).body.status).toBe('active');
  });

  it('a non-super-admin still cannot act on another staff account', async () => {
    const r = await clients.get('operator')!.post(`/api/admin/users/${ids.get('finance')}/password`, { password: 'taken-over-123' });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toMatch(/super-admin/);
  });
});

describe('tollgate user add --role', () => {
  it('accepts the eight role names exactly; the password signs in and the role holds', async () => {
    const bad = await runCli(['user', 'add', '--email', 'god@perm.test', '--role', 'god'], srv.env);
    expect(bad.code).not.toBe(0);
    const choices = /Allowed choices are (.*)\./.exec(bad.stderr)?.[1]?.split(', ');
    expect(choices?.sort()).toEqual(['admin', 'auditor', 'finance', 'operator', 'readonly', 'super_admin', 'support', 'user']);
    const ok = await runCli(['user', 'add', '--email', 'cli-finance@perm.test', '--password', PASSWORD, '--role', 'finance', '--json'], srv.env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ email: 'cli-finance@perm.test', role: 'finance' });
    const c = new ApiClient(srv.url);
    await c.signIn('cli-finance@perm.test', PASSWORD);
    const me = await c.get('/api/me');
    expect(me.body).toMatchObject({ role: 'finance', permissions: expect.arrayContaining(['balance:adjust', 'user:edit']) });
    expect((await c.get('/api/admin/channels')).body.error).toMatchObject({ code: 'forbidden', permission: 'channel:view' });
  }, 60_000);
});
