// A plain admin must not be able to become a super-admin: no password reset, no edit, no
// disabling and no keys on another operator's account. Only a super-admin acts on staff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
let root: ApiClient;
let admin: ApiClient;
const ids: { root?: number; otherAdmin?: number; user?: number; rootKey?: number } = {};
const db = () => srv.ctx.db.kysely;

beforeAll(async () => {
  srv = await startTestServer();
  root = new ApiClient(srv.url);
  ids.root = Number((await root.signIn()).body.user.id);
  for (const [email, role] of [['plain-admin@test.local', 'admin'], ['other-admin@test.local', 'admin'], ['someone@test.local', 'user']] as const) {
    const r = await root.post('/api/admin/users', { email, password: 'password-123', role });
    expect(r.status).toBe(201);
    if (email === 'other-admin@test.local') ids.otherAdmin = r.body.id;
    if (role === 'user') ids.user = r.body.id;
  }
  const k = await root.post('/api/admin/keys', { user_id: ids.root, name: 'root own key' });
  expect(k.status).toBe(201);
  ids.rootKey = k.body.id;
  admin = new ApiClient(srv.url);
  await admin.signIn('plain-admin@test.local', 'password-123');
});
afterAll(async () => {
  await srv?.stop();
});

const forbidden = (r: { status: number; body: any }) => {
  expect(r.status).toBe(403);
  expect(r.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('super-admin') });
};

describe('a plain admin against staff accounts', () => {
  it('cannot reset a super-admin password; the old password still works', async () => {
    forbidden(await admin.post(`/api/admin/users/${ids.root}/password`, { password: 'taken-over-123' }));
    forbidden(await admin.post(`/api/admin/users/${ids.otherAdmin}/password`, { password: 'taken-over-123' }));
    await new ApiClient(srv.url).signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    const stolen = await new ApiClient(srv.url).request('POST', '/api/auth/sign-in/email', { email: ADMIN_EMAIL, password: 'taken-over-123' });
    expect(stolen.status).not.toBe(200);
  });

  it('cannot edit or disable a super-admin or another admin', async () => {
    forbidden(await admin.patch(`/api/admin/users/${ids.root}`, { name: 'pwned' }));
    forbidden(await admin.patch(`/api/admin/users/${ids.root}`, { status: 'disabled' }));
    forbidden(await admin.patch(`/api/admin/users/${ids.otherAdmin}`, { status: 'disabled' }));
    const rows = await db().selectFrom('users').select(['id', 'name', 'status']).where('id', 'in', [ids.root!, ids.otherAdmin!]).execute();
    for (const u of rows) expect(u.status).toBe('active');
    expect(rows.find((u) => u.id === ids.root)!.name).not.toBe('pwned');
  });

  it("cannot create, edit or revoke keys on a staff member's wallet", async () => {
    const before = await db().selectFrom('api_keys').select('id').execute();
    forbidden(await admin.post('/api/admin/keys', { user_id: ids.root, name: 'mine now' }));
    forbidden(await admin.post('/api/admin/keys', { user_id: ids.otherAdmin, name: 'mine now' }));
    forbidden(await admin.patch(`/api/admin/keys/${ids.rootKey}`, { status: 'disabled' }));
    forbidden(await admin.post(`/api/admin/keys/${ids.rootKey}/revoke`));
    forbidden(await admin.delete(`/api/admin/keys/${ids.rootKey}`));
    expect((await db().selectFrom('api_keys').select('id').execute()).length).toBe(before.length);
    const k = await db().selectFrom('api_keys').selectAll().where('id', '=', ids.rootKey!).executeTakeFirstOrThrow();
    expect(k.status).toBe('active');
    expect(k.deleted_at).toBeNull();
  });

  it('still manages plain users and its own account', async () => {
    expect((await admin.patch(`/api/admin/users/${ids.user}`, { name: 'Renamed' })).status).toBe(200);
    expect((await admin.post(`/api/admin/users/${ids.user}/password`, { password: 'new-password-1' })).status).toBe(204);
    expect((await admin.post('/api/admin/keys', { user_id: ids.user, name: 'for them' })).status).toBe(201);
    const me = Number((await admin.get('/api/auth/get-session')).body.user.id);
    expect((await admin.patch(`/api/admin/users/${me}`, { name: 'Me' })).status).toBe(200);
  });

  it('a super-admin acts on staff accounts', async () => {
    expect((await root.patch(`/api/admin/users/${ids.otherAdmin}`, { status: 'disabled' })).status).toBe(200);
    expect((await root.post('/api/admin/keys', { user_id: ids.otherAdmin, name: 'by root' })).status).toBe(201);
  });
});
