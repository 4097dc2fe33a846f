// Custom roles: composed from permissions by the super-admin, assigned to staff, and followed by
// every process through the change feed (a second server on the same database).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/books.js';

let a: TestServer;
let b: TestServer;
let root: ApiClient;
let admin: ApiClient;
const PASSWORD = 'role-password-1';

beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer({ db: a.db });
  root = new ApiClient(a.url);
  await root.signIn();
  expect((await root.post('/api/admin/users', { email: 'admin@roles.test', password: PASSWORD, role: 'admin' })).status).toBe(201);
  admin = new ApiClient(a.url);
  await admin.signIn('admin@roles.test', PASSWORD);
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

const error = (r: { status: number; body: any }, status: number, code: string, path?: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  if (path !== undefined) expect(r.body.error.path).toBe(path);
};

describe('custom roles', () => {
  it('lists the built-in roles with their permissions and the catalogue grouped by resource', async () => {
    const r = await root.get('/api/admin/roles');
    expect(r.status).toBe(200);
    expect(r.body.items.slice(0, 8).map((x: { name: string }) => x.name)).toEqual(['user', 'super_admin', 'admin', 'operator', 'finance', 'auditor', 'support', 'readonly']);
    const finance = r.body.items.find((x: { name: string }) => x.name === 'finance');
    expect(finance).toMatchObject({ built_in: true, permissions: expect.arrayContaining(['balance:adjust', 'user:edit']) });
    expect(r.body.items.find((x: { name: string }) => x.name === 'super_admin').users).toBe(1);
    expect(r.body.permission_groups.find((g: { resource: string }) => g.resource === 'key').permissions).toEqual(['key:view', 'key:create', 'key:edit', 'key:export', 'key:disable', 'key:reveal']);
    expect(r.body.super_admin_only).toEqual(['staff:edit', 'role:edit', 'audit:edit']);
    // An admin may look (role:view) but not compose (role:edit).
    expect((await admin.get('/api/admin/roles')).status).toBe(200);
    const denied = await admin.post('/api/admin/roles', { name: 'mine', permissions: ['balance:adjust'] });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'forbidden', permission: 'role:edit' });
  });

  it('refuses bad roles with the field that is wrong, and stores nothing', async () => {
    error(await root.post('/api/admin/roles', { name: 'Desk Team', permissions: [] }), 400, 'validation_failed', 'name');
    error(await root.post('/api/admin/roles', { name: 'desk', permissions: ['ticket:view', 'ticket:fly'] }), 400, 'validation_failed', 'permissions.1');
    error(await root.post('/api/admin/roles', { name: 'desk', permissions: ['user:view', 'staff:edit'] }), 400, 'validation_failed', 'permissions.1');
    error(await root.post('/api/admin/roles', { name: 'desk', permissions: ['role:edit'] }), 400, 'validation_failed', 'permissions.0');
    error(await root.post('/api/admin/roles', { name: 'desk', permissions: 'ticket:view' }), 400, 'validation_failed', 'permissions');
    error(await root.post('/api/admin/roles', { name: 'finance', permissions: [] }), 409, 'already_exists', 'name');
    error(await root.patch('/api/admin/roles/finance', { permissions: ['user:view'] }), 409, 'conflict');
    error(await root.delete('/api/admin/roles/super_admin'), 409, 'conflict');
    error(await root.patch('/api/admin/roles/nobody', { permissions: [] }), 404, 'not_found');
    error(await root.post('/api/admin/users', { email: 'x@roles.test', password: PASSWORD, role: 'no-such-role' }), 400, 'validation_failed', 'role');
    const names = (await root.get('/api/admin/roles')).body.items.map((x: { name: string }) => x.name);
    expect(names).not.toContain('desk');
    expect(await a.ctx.db.kysely.selectFrom('users').select('id').where('email', '=', 'x@roles.test').executeTakeFirst()).toBeUndefined();
  });

  it('a custom role gives exactly its permissions; a change reaches the other process through the change feed', async () => {
    const made = await root.post('/api/admin/roles', { name: 'ticket-desk', description: 'first line', permissions: ['ticket:view', 'user:view', 'ticket:edit'] });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    // Stored in the catalogue's order, whatever order they were sent in.
    expect(made.body).toMatchObject({ name: 'ticket-desk', built_in: false, description: 'first line', permissions: ['user:view', 'ticket:view', 'ticket:edit'], users: 0 });
    const u = await root.post('/api/admin/users', { email: 'desk@roles.test', password: PASSWORD, role: 'ticket-desk' });
    expect(u.status, JSON.stringify(u.body)).toBe(201);
    expect(u.body.role).toBe('ticket-desk');

    // Signed in on process B: the role was created through A.
    const desk = new ApiClient(b.url);
    await desk.signIn('desk@roles.test', PASSWORD);
    await until(async () => (await desk.get('/api/admin/users')).status === 200, 5_000);
    const me = await desk.get('/api/me');
    expect(me.body).toMatchObject({ role: 'ticket-desk', permissions: ['user:view', 'ticket:view', 'ticket:edit'] });
    const channels = await desk.get('/api/admin/channels');
    expect(channels.status).toBe(403);
    expect(channels.body.error.permission).toBe('channel:view');

    // Edited on A; B follows within a few poll intervals.
    const edited = await root.patch('/api/admin/roles/ticket-desk', { permissions: ['user:view', 'channel:view'] });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ permissions: ['user:view', 'channel:view'], description: 'first line', users: 1 });
    const t0 = Date.now();
    await until(async () => (await desk.get('/api/admin/channels')).status === 200, 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await desk.get('/api/me')).body.permissions).toEqual(['user:view', 'channel:view']);

    // Held: cannot be deleted. Once nobody holds it, it can; the holder of a deleted role has nothing.
    error(await root.delete('/api/admin/roles/ticket-desk'), 409, 'conflict');
    expect((await root.patch(`/api/admin/users/${u.body.id}`, { role: 'support' })).status).toBe(200);
    expect((await root.delete('/api/admin/roles/ticket-desk')).status).toBe(204);
    error(await root.delete('/api/admin/roles/ticket-desk'), 404, 'not_found');
    expect((await desk.get('/api/me')).body.role).toBe('support');
  }, 60_000);

  it('only a super-admin assigns a custom role', async () => {
    expect((await root.post('/api/admin/roles', { name: 'viewer', permissions: ['user:view'] })).status).toBe(201);
    const c = await root.post('/api/admin/users', { email: 'cust@roles.test', password: PASSWORD });
    const r = await admin.patch(`/api/admin/users/${c.body.id}`, { role: 'viewer' });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ permission: 'staff:edit', path: 'role' });
    expect((await root.patch(`/api/admin/users/${c.body.id}`, { role: 'viewer' })).body.role).toBe('viewer');
    const staff = await root.get('/api/admin/users?staff=true&page_size=100');
    expect(staff.body.items.map((x: { email: string }) => x.email).sort()).toEqual(['admin@roles.test', 'admin@test.local', 'cust@roles.test', 'desk@roles.test']);
    const customers = await root.get('/api/admin/users?staff=false&page_size=100');
    expect(customers.body.items.every((x: { role: string }) => x.role === 'user')).toBe(true);
  });
});
