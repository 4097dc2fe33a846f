// The audit trail (issue 8, part 2): every audited action leaves exactly one entry with the right
// old and new values and no secrets, written in the change's own transaction (a refused change
// leaves none); the CLI's entries name the OS account; the admin list filters and pages; the CSV
// export is itself audited; the purge removes only entries older than the retention.
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeAuditLog } from '../../server/src/audit/retention.js';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, runCli, startTestServer, type TestServer } from '../support/server.js';

let up: FakeUpstream;
let srv: TestServer;
let api: ApiClient;
let adminId: number;
const db = () => srv.ctx.db.kysely;
const UA = 'audit-test/1.0 (+https://tollgate.test)';
const UPSTREAM_SECRET = 'sk-upstream-audit-secret-QRST';

async function lastId(): Promise<number> {
  const r = await db().selectFrom('audit_log').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
  return Number(r?.m ?? 0);
}

async function since(mark: number) {
  return db().selectFrom('audit_log').selectAll().where('id', '>', mark).orderBy('id').execute();
}

type Entry = Awaited<ReturnType<typeof since>>[number];
const json = (s: string | null) => (s === null ? null : JSON.parse(s));

/** Run `fn`; exactly one new entry, with this action, must appear. */
async function one(action: string, fn: () => Promise<unknown>): Promise<Entry & { before: any; after: any }> {
  const mark = await lastId();
  await fn();
  const rows = await since(mark);
  expect(rows.map((r) => r.action)).toEqual([action]);
  const e = rows[0]!;
  return { ...e, before: json(e.before_json), after: json(e.after_json) };
}

/** Run `fn`, which must fail with `status`; no entry may appear. */
async function none(status: number, fn: () => Promise<{ status: number; body: unknown }>) {
  const mark = await lastId();
  const r = await fn();
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(await since(mark)).toEqual([]);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  api = new ApiClient(srv.url);
  const me = await api.request('POST', '/api/auth/sign-in/email', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }, { 'user-agent': UA });
  expect(me.status).toBe(200);
  adminId = Number(me.body.user.id);
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

const post = (path: string, body: unknown) => api.request('POST', path, body, { 'user-agent': UA });

describe('audit trail', () => {
  it('records the first super-admin and the sign-in, with address, user agent and request id', async () => {
    const created = await db().selectFrom('audit_log').selectAll().where('action', '=', 'user.create').where('target_id', '=', String(adminId)).execute();
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ actor_kind: 'system', actor_email: 'system' });
    const signIns = await db().selectFrom('audit_log').selectAll().where('action', '=', 'auth.sign_in').execute();
    expect(signIns).toHaveLength(1);
    expect(signIns[0]).toMatchObject({ actor_kind: 'staff', actor_email: ADMIN_EMAIL, actor_role: 'super_admin', target_type: 'user', target_id: String(adminId), ip: '127.0.0.1', user_agent: UA });
    expect(signIns[0]!.request_id).toBeTruthy();
    expect(Number(signIns[0]!.actor_id)).toBe(adminId);
  });

  it('records a failed sign-in with the email tried, never the password', async () => {
    const guess = 'wrong-password-guess-42';
    const e = await one('auth.sign_in_failed', () => new ApiClient(srv.url).request('POST', '/api/auth/sign-in/email', { email: ADMIN_EMAIL, password: guess }, { 'user-agent': UA }));
    expect(e).toMatchObject({ actor_id: null, actor_email: ADMIN_EMAIL, target_id: String(adminId), user_agent: UA });
    expect(e.after).toMatchObject({ email: ADMIN_EMAIL, status: 401 });
    expect(JSON.stringify(e)).not.toContain(guess);
  });

  it('groups, users, passwords: one entry each, with old and new values', async () => {
    const g = await one('group.create', () => api.put('/api/admin/groups/vip', { multiplier: '1.5', description: 'good customers' }));
    expect(g.before).toBeNull();
    expect(g.after).toEqual({ multiplier_ppm: 1_500_000, description: 'good customers' });

    const password = 'user-password-secret-1';
    const c = await one('user.create', async () => expect((await post('/api/admin/users', { email: 'Ann@Example.com', password, group: 'vip', remark: 'vip' })).status).toBe(201));
    expect(c).toMatchObject({ actor_kind: 'staff', actor_email: ADMIN_EMAIL, actor_role: 'super_admin', target_type: 'user', ip: '127.0.0.1', user_agent: UA });
    expect(c.after).toEqual({ email: 'ann@example.com', name: 'ann', role: 'user', status: 'active', group: 'vip', remark: 'vip' });
    expect(JSON.stringify(c)).not.toContain(password);
    const userId = Number(c.target_id);

    const u = await one('user.update', () => api.patch(`/api/admin/users/${userId}`, { name: 'Ann Lee', group: 'default', status: 'active' }));
    // only what changed
    expect(u.before).toEqual({ name: 'ann', group: 'vip' });
    expect(u.after).toEqual({ name: 'Ann Lee', group: 'default' });

    const newPassword = 'another-secret-pw-2';
    const p = await one('user.password_reset', async () => expect((await post(`/api/admin/users/${userId}/password`, { password: newPassword })).status).toBe(204));
    expect(p.target_id).toBe(String(userId));
    expect(JSON.stringify(p)).not.toContain(newPassword);

    // a change that does not happen leaves no entry
    await none(409, () => post('/api/admin/users', { email: 'ann@example.com' }));
    await none(404, () => api.patch('/api/admin/users/999999', { name: 'x' }));
    await none(400, () => api.patch(`/api/admin/users/${userId}`, { group: 'no-such-group' }));
  });

  it('balance adjustments: the amount, the reason, before and after; a refused deduction or a replay leaves none', async () => {
    const { id: userId } = await db().selectFrom('users').select('id').where('email', '=', 'ann@example.com').executeTakeFirstOrThrow();
    const add = await one('balance.adjust', () => post(`/api/admin/users/${userId}/balance-adjustments`, { amount: '12.5', reason: 'welcome credit', idempotency_key: 'adj-1' }));
    expect(add.reason).toBe('welcome credit');
    expect(add.before).toMatchObject({ cash_micros: 0 });
    expect(add.after).toMatchObject({ cash_micros: 12_500_000, amount_micros: 12_500_000, amount: '12.5' });
    const entry = await db().selectFrom('ledger_entries').select('id').where('user_id', '=', Number(userId)).executeTakeFirstOrThrow();
    expect(add.after.ledger_entry_id).toBe(Number(entry.id));

    const mark = await lastId();
    const replay = await post(`/api/admin/users/${userId}/balance-adjustments`, { amount: '12.5', reason: 'welcome credit', idempotency_key: 'adj-1' });
    expect(replay.body.replayed).toBe(true);
    expect(await since(mark)).toEqual([]);

    await none(409, () => post(`/api/admin/users/${userId}/balance-adjustments`, { amount: '-100', reason: 'too much' }));
    const sub = await one('balance.adjust', () => post(`/api/admin/users/${userId}/balance-adjustments`, { amount: '-2.5', reason: 'correction' }));
    expect(sub.before).toMatchObject({ cash_micros: 12_500_000 });
    expect(sub.after).toMatchObject({ cash_micros: 10_000_000, amount_micros: -2_500_000 });
  });

  it('keys (admin and the owner\'s portal): create, update, revoke, delete; never the key or its hash', async () => {
    const { id: userId } = await db().selectFrom('users').select('id').where('email', '=', 'ann@example.com').executeTakeFirstOrThrow();
    let plain = '';
    const c = await one('key.create', async () => {
      const r = await post('/api/admin/keys', { user_id: Number(userId), name: 'laptop' });
      expect(r.status).toBe(201);
      plain = r.body.key;
    });
    const keyId = Number(c.target_id);
    expect(c.after).toMatchObject({ id: keyId, name: 'laptop', status: 'active', display: `${plain.slice(0, 7)}…${plain.slice(-4)}` });
    const row = await db().selectFrom('api_keys').select('key_hash').where('id', '=', keyId).executeTakeFirstOrThrow();

    const u = await one('key.update', () => api.patch(`/api/admin/keys/${keyId}`, { name: 'desk', status: 'disabled' }));
    expect(u.before).toMatchObject({ name: 'laptop', status: 'active' });
    expect(u.after).toMatchObject({ name: 'desk', status: 'disabled' });

    const r = await one('key.revoke', () => post(`/api/admin/keys/${keyId}/revoke`, {}));
    expect(r.before).toMatchObject({ status: 'disabled' });
    expect(r.after).toMatchObject({ status: 'revoked' });
    await none(409, () => api.patch(`/api/admin/keys/${keyId}`, { name: 'again' }));
    const d = await one('key.delete', () => api.delete(`/api/admin/keys/${keyId}`));
    expect(d.before).toMatchObject({ id: keyId, status: 'revoked' });
    expect(d.after).toBeNull();
    await none(404, () => post('/api/admin/keys', { user_id: 999999 }));

    // the owner in the portal is a `user` actor
    const ann = new ApiClient(srv.url);
    await ann.signIn('ann@example.com', 'another-secret-pw-2');
    const own = await one('key.create', async () => expect((await ann.post('/api/console/keys', { name: 'mine' })).status).toBe(201));
    expect(own).toMatchObject({ actor_kind: 'user', actor_email: 'ann@example.com', actor_role: 'user', actor_id: own.actor_id });
    expect(Number(own.actor_id)).toBe(Number(userId));

    const all = JSON.stringify(await db().selectFrom('audit_log').selectAll().execute());
    expect(all).not.toContain(plain);
    expect(all).not.toContain(row.key_hash);
  });

  it('prices and channels: one entry each; the upstream key never appears', async () => {
    const p = await one('price.create', () => api.put('/api/admin/prices/gpt-4o-mini', { input: '0.15', output: '0.6' }));
    expect(p.after).toMatchObject({ model: 'gpt-4o-mini' });
    const p2 = await one('price.update', () => api.put('/api/admin/prices/gpt-4o-mini', { input: '0.2', output: '0.6' }));
    expect(p2.before).toMatchObject({ input_usd_per_1m: '0.15' });
    expect(p2.after).toMatchObject({ input_usd_per_1m: '0.2' });
    await one('price.delete', () => api.delete('/api/admin/prices/gpt-4o-mini'));
    await none(404, () => api.delete('/api/admin/prices/gpt-4o-mini'));

    const ch = await one('channel.create', () => post('/api/admin/channels', { name: 'up', base_url: up.url, key: UPSTREAM_SECRET, models: ['gpt-4o-mini'] }));
    const u = await one('channel.update', () => api.patch(`/api/admin/channels/${ch.target_id}`, { weight: 7 }));
    expect(u.before).toMatchObject({ weight: 1 });
    expect(u.after).toMatchObject({ weight: 7 });
    await one('channel.delete', () => api.delete(`/api/admin/channels/${ch.target_id}`));
    expect(JSON.stringify(await db().selectFrom('audit_log').selectAll().execute())).not.toContain(UPSTREAM_SECRET);
  });

  it('the CLI: actor cli with the OS account, the group on user add, the amount on balance add', async () => {
    const osUser = os.userInfo().username;
    const c = await one('user.create', async () => {
      const r = await runCli(['user', 'add', '--email', 'cli-made@example.com', '--group', 'vip', '--json'], srv.env);
      expect(r.code, r.stderr).toBe(0);
    });
    expect(c).toMatchObject({ actor_kind: 'cli', actor_email: 'cli', actor_id: null, os_user: osUser });
    expect(c.after).toMatchObject({ email: 'cli-made@example.com', group: 'vip' });

    const b = await one('balance.adjust', async () => {
      const r = await runCli(['balance', 'add', '--user', 'cli-made@example.com', '--amount', '3', '--reason', 'from the shell', '--json'], srv.env);
      expect(r.code, r.stderr).toBe(0);
    });
    expect(b).toMatchObject({ actor_kind: 'cli', os_user: osUser, reason: 'from the shell' });
    expect(b.after).toMatchObject({ amount_micros: 3_000_000, cash_micros: 3_000_000 });

    // a deduction the balance cannot cover fails and leaves no entry
    const mark = await lastId();
    const r = await runCli(['balance', 'add', '--user', 'cli-made@example.com', '--amount', '-50', '--reason', 'too much'], srv.env);
    expect(r.code).not.toBe(0);
    expect(await since(mark)).toEqual([]);
  });

  it('lists with filters and paging; only a super-admin may read it', async () => {
    const all = await api.get('/api/admin/audit-logs?page_size=500');
    expect(all.status).toBe(200);
    const total = all.body.total as number;
    expect(all.body.items).toHaveLength(total);
    // newest first
    const ids = all.body.items.map((e: { id: number }) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const keys = await api.get('/api/admin/audit-logs?action=key.*&page_size=500');
    expect(keys.body.items.map((e: { action: string }) => e.action).sort()).toEqual(['key.create', 'key.create', 'key.delete', 'key.revoke', 'key.update']);
    const cli = await api.get('/api/admin/audit-logs?actor=cli');
    expect(cli.body.total).toBe(2);
    expect(cli.body.items.every((e: { actor_kind: string }) => e.actor_kind === 'cli')).toBe(true);
    const byId = await api.get(`/api/admin/audit-logs?actor=${adminId}&action=user.update`);
    expect(byId.body.total).toBe(1);
    expect(byId.body.items[0]).toMatchObject({ before: { name: 'ann', group: 'vip' }, after: { name: 'Ann Lee', group: 'default' } });
    const ann = await db().selectFrom('users').select('id').where('email', '=', 'ann@example.com').executeTakeFirstOrThrow();
    const target = await api.get(`/api/admin/audit-logs?target_type=user&target_id=${ann.id}&page_size=500`);
    expect(target.body.items.map((e: { action: string }) => e.action).sort()).toEqual(
      ['auth.sign_in', 'balance.adjust', 'balance.adjust', 'user.create', 'user.password_reset', 'user.update'],
    );

    const page1 = await api.get('/api/admin/audit-logs?page_size=3&page=1');
    const page2 = await api.get('/api/admin/audit-logs?page_size=3&page=2');
    expect(page1.body).toMatchObject({ total, page: 1, page_size: 3 });
    expect([...page1.body.items, ...page2.body.items].map((e: { id: number }) => e.id)).toEqual(ids.slice(0, 6));

    const newest = all.body.items[0];
    const fromNewest = await api.get(`/api/admin/audit-logs?from=${encodeURIComponent(newest.created_at)}`);
    expect(fromNewest.body.items.every((e: { created_at: string }) => e.created_at >= newest.created_at)).toBe(true);
    const before = await api.get(`/api/admin/audit-logs?to=${Date.parse(all.body.items.at(-1).created_at)}`);
    expect(before.body.total).toBe(0);
    const bad = await api.get('/api/admin/audit-logs?from=2026-12-02&to=2026-12-01');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', path: 'to' });

    const ann2 = new ApiClient(srv.url);
    await ann2.signIn('ann@example.com', 'another-secret-pw-2');
    expect((await ann2.get('/api/admin/audit-logs')).status).toBe(403);
  });

  it('exports CSV; the export is itself an entry', async () => {
    const e = await one('audit_log.export', async () => {
      const r = await api.request('GET', '/api/admin/audit-logs/export.csv?action=user.*', undefined, { 'user-agent': UA });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/text\/csv/);
      const lines = String(r.body).replace(/^\uFEFF/, '').trim().split('\r\n');
      expect(lines[0]).toBe('id,time,actor_kind,actor_id,actor_email,actor_role,impersonator_id,os_user,action,target_type,target_id,before,after,reason,ip,user_agent,request_id');
      const listed = await api.get('/api/admin/audit-logs?action=user.*&page_size=500');
      expect(lines).toHaveLength(1 + listed.body.total);
      expect(lines.some((l) => l.includes('user.password_reset'))).toBe(true);
    });
    expect(e).toMatchObject({ actor_email: ADMIN_EMAIL, target_type: 'audit_log', user_agent: UA });
    expect(e.after).toMatchObject({ filter: { action: 'user.*' }, format: 'csv' });
  });

  it('a user changing their own name or password through the session API is audited as a user', async () => {
    expect((await post('/api/admin/users', { email: 'bo@example.com', password: 'bo-password-1' })).status).toBe(201);
    const bo = new ApiClient(srv.url);
    await bo.signIn('bo@example.com', 'bo-password-1');
    const n = await one('user.update', async () => expect((await bo.post('/api/auth/update-user', { name: 'Bo Chen' })).status).toBe(200));
    expect(n).toMatchObject({ actor_kind: 'user', actor_email: 'bo@example.com' });
    expect(n.before).toEqual({ name: 'bo' });
    expect(n.after).toEqual({ name: 'Bo Chen' });
    const p = await one('user.password_change', async () =>
      expect((await bo.post('/api/auth/change-password', { currentPassword: 'bo-password-1', newPassword: 'bo-password-2' })).status).toBe(200));
    expect(JSON.stringify(p)).not.toContain('bo-password');
    await none(400, () => bo.post('/api/auth/change-password', { currentPassword: 'wrong-password-9', newPassword: 'bo-password-3' }));
    const x = await one('usage.export', async () => expect((await bo.get('/api/console/usage/export.csv')).status).toBe(200));
    expect(x).toMatchObject({ actor_kind: 'user', actor_email: 'bo@example.com', target_type: 'usage' });
    expect(x.after).toMatchObject({ filter: { user_id: Number(x.actor_id) }, format: 'csv' });
  });

  it('retention: the setting is audited; the purge removes only entries older than it', async () => {
    const s = await one('setting.update', () => api.put('/api/admin/audit-logs/settings', { retention_days: 30 }));
    expect(s).toMatchObject({ target_type: 'setting', target_id: 'audit_retention_days' });
    expect(s.before).toEqual({ value: 365 });
    expect(s.after).toEqual({ value: 30 });
    expect((await api.get('/api/admin/audit-logs/settings')).body).toEqual({ retention_days: 30 });
    await none(400, () => api.put('/api/admin/audit-logs/settings', { retention_days: 0 }));

    const day = 86_400_000;
    const now = Date.now();
    const row = (ageDays: number) => ({ actor_id: null, actor_email: 'system', action: `test.age_${ageDays}`, target_type: 'test', target_id: null, before_json: null, after_json: null, ip: null, created_at: now - ageDays * day });
    await db().insertInto('audit_log').values([row(31), row(29), row(400)]).execute();
    const count = async () => Number((await db().selectFrom('audit_log').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n);
    const beforePurge = await count();
    expect(await purgeAuditLog(srv.ctx.db, now)).toBe(2);
    expect(await count()).toBe(beforePurge - 2);
    const left = await db().selectFrom('audit_log').select('action').where('action', 'like', 'test.age_%').execute();
    expect(left.map((r) => r.action)).toEqual(['test.age_29']);
  });
});
