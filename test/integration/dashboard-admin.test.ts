import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboard, type DashboardBucket } from '../../server/src/ops/dashboard.js';
import { ApiClient } from '../support/api.js';
import { addChannel, addUserWithKey } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { insertLedger, insertSession, insertUsage, setSessionsCreatedAt, setUserCreatedAt, signInAs, type UsageSeed } from './console-fixtures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T = (iso: string) => Date.parse(iso);
const LONG_AGO = T('2020-01-01T00:00:00Z');

let srv: TestServer;
let admin: ApiClient;
type Seeded = Awaited<ReturnType<typeof addUserWithKey>>;
let users: Seeded[];

beforeAll(async () => {
  // signInAs() gives each sign-in its own X-Forwarded-For address; trusted only behind a proxy.
  srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  admin = await signInAs(new ApiClient(srv.url));
  users = [];
  for (const name of ['xavier', 'yvonne', 'zoe', 'walter']) users.push(await addUserWithKey(srv.ctx, { email: `${name}@example.com` }));
  // Everything that exists so far (the super-admin, these users, the admin's session) is moved out of every period below.
  await setUserCreatedAt(srv.ctx, 'all', LONG_AGO);
  await setSessionsCreatedAt(srv.ctx, LONG_AGO);
  await srv.ctx.db.kysely.updateTable('ledger_entries').set({ created_at: LONG_AGO }).execute();
});
afterAll(async () => {
  await srv?.stop();
});

const rec = (who: Seeded, at: string, prompt: number, completion: number, cost: number, charged: number): UsageSeed => ({
  user_id: who.user.id,
  key_id: who.keyView.id,
  wallet_id: who.wallet.id,
  created_at: T(at),
  prompt_tokens: prompt,
  completion_tokens: completion,
  cost_micros: cost,
  charged_micros: charged,
});

const empty = (bucket: string): DashboardBucket => ({ bucket, new_users: 0, recharge_micros: 0, tokens: 0, cost_micros: 0, revenue_micros: 0, active_users: 0, calls: 0, failed_calls: 0 });

function nonEmpty(trend: DashboardBucket[]) {
  return trend.filter((b) => b.new_users || b.recharge_micros || b.tokens || b.cost_micros || b.revenue_micros || b.active_users);
}

describe('dashboard in a fixed week of 2024 (UTC+8)', () => {
  // Wednesday 2024-03-06 18:00 in UTC+8. 2024 is a leap year: February has 29 days.
  const NOW = T('2024-03-06T10:00:00Z');
  const TZ = -480;

  beforeAll(async () => {
    const [x, y, z, w] = users as [Seeded, Seeded, Seeded, Seeded];
    await insertUsage(srv.ctx, [
      rec(x, '2024-03-06T01:30:00Z', 100, 50, 30, 70), //  today 09h, Wed
      rec(y, '2024-03-05T23:30:00Z', 10, 5, 3, 9), //       today 07h (still the 5th in UTC)
      rec(x, '2024-03-06T09:59:00Z', 1, 1, 1, 1), //        today 17h
      rec(x, '2024-03-05T15:59:59.999Z', 2, 2, 2, 2), //    Tue 23:59:59.999
      rec(z, '2024-03-04T00:00:00Z', 4, 4, 4, 4), //        Mon 08h, first day of the week
      rec(z, '2024-03-03T15:00:00Z', 8, 8, 8, 8), //        Sun 23h, the week before
      rec(y, '2024-02-29T16:00:00Z', 16, 16, 16, 16), //    Fri 1 March 00:00, first day of the month
      rec(x, '2024-02-29T15:59:59.999Z', 32, 32, 32, 32), // 29 February
      rec(w, '2023-12-31T16:00:00Z', 64, 64, 64, 64), //    1 January 2024 00:00
      rec(w, '2023-12-31T15:59:59.999Z', 128, 128, 128, 128), // 2023
      rec(w, '2024-12-31T15:59:59.999Z', 256, 256, 256, 256), // 31 December 2024, last moment
      rec(w, '2024-12-31T16:00:00Z', 512, 512, 512, 512), // 2025
    ]);
    await setUserCreatedAt(srv.ctx, x.user.id, T('2024-03-06T02:00:00Z')); // today 10h
    await setUserCreatedAt(srv.ctx, y.user.id, T('2024-03-01T00:00:00Z')); // 1 March 08h
    await setUserCreatedAt(srv.ctx, z.user.id, T('2024-01-15T12:00:00Z')); // January
    const ledger = (who: Seeded, type: string, amount: number, at: string, bucket = 'cash') =>
      insertLedger(srv.ctx, { walletId: who.wallet.id, userId: who.user.id, type, amount, at: T(at), bucket });
    await ledger(x, 'topup', 5_000_000, '2024-03-06T03:00:00Z'); //      today 11h
    await ledger(y, 'adjustment', 1_000_000, '2024-03-06T03:30:00Z'); // today 11h
    await ledger(y, 'adjustment', -2_000_000, '2024-03-06T04:00:00Z'); // a deduction: not a recharge
    await ledger(x, 'charge', -70, '2024-03-06T01:30:00Z'); //            spending: not a recharge
    await ledger(x, 'voucher', 3_000_000, '2024-03-06T05:00:00Z', 'gift'); // a gift: not cash
    await ledger(z, 'topup', 250_000, '2024-03-02T00:00:00Z'); //        2 March
    await ledger(z, 'topup', 7_000_000, '2024-02-10T00:00:00Z'); //      February
    await insertSession(srv.ctx, x.user.id, T('2024-03-06T00:00:00Z')); // today 08h
    await insertSession(srv.ctx, y.user.id, T('2024-03-06T06:00:00Z')); // today 14h
    await insertSession(srv.ctx, x.user.id, T('2024-03-04T06:00:00Z')); // Monday
    await insertSession(srv.ctx, z.user.id, T('2023-06-01T00:00:00Z')); // last year
  });

  it('today: 24 hourly buckets from local midnight', async () => {
    const d = await dashboard(srv.ctx.db, 'today', TZ, NOW);
    expect(d.period).toBe('today');
    expect(d.from).toBe('2024-03-05T16:00:00.000Z');
    expect(d.to).toBe('2024-03-06T16:00:00.000Z');
    expect(d.trend.map((b) => b.bucket)).toEqual(Array.from({ length: 24 }, (_, h) => `2024-03-06T${String(h).padStart(2, '0')}`));
    expect(nonEmpty(d.trend)).toEqual([
      { ...empty('2024-03-06T07'), tokens: 15, cost_micros: 3, revenue_micros: 9, active_users: 1, calls: 1 },
      { ...empty('2024-03-06T09'), tokens: 150, cost_micros: 30, revenue_micros: 70, active_users: 1, calls: 1 },
      { ...empty('2024-03-06T10'), new_users: 1 },
      { ...empty('2024-03-06T11'), recharge_micros: 6_000_000 },
      { ...empty('2024-03-06T17'), tokens: 2, cost_micros: 1, revenue_micros: 1, active_users: 1, calls: 1 },
    ]);
    expect(d.cards).toEqual({ new_users: 1, recharge_micros: 6_000_000, tokens: 167, cost_micros: 34, revenue_micros: 80, logins: 2, active_users: 2, calls: 3, failed_calls: 0 });
  });

  it('this week: Monday to Sunday, daily', async () => {
    const d = await dashboard(srv.ctx.db, 'week', TZ, NOW);
    expect(d.from).toBe('2024-03-03T16:00:00.000Z');
    expect(d.trend.map((b) => b.bucket)).toEqual(['2024-03-04', '2024-03-05', '2024-03-06', '2024-03-07', '2024-03-08', '2024-03-09', '2024-03-10']);
    expect(nonEmpty(d.trend)).toEqual([
      { ...empty('2024-03-04'), tokens: 8, cost_micros: 4, revenue_micros: 4, active_users: 1, calls: 1 },
      { ...empty('2024-03-05'), tokens: 4, cost_micros: 2, revenue_micros: 2, active_users: 1, calls: 1 },
      { ...empty('2024-03-06'), new_users: 1, recharge_micros: 6_000_000, tokens: 167, cost_micros: 34, revenue_micros: 80, active_users: 2, calls: 3 },
    ]);
    expect(d.cards).toEqual({ new_users: 1, recharge_micros: 6_000_000, tokens: 179, cost_micros: 40, revenue_micros: 86, logins: 3, active_users: 3, calls: 5, failed_calls: 0 });
  });

  it('this month: every day of March, daily', async () => {
    const d = await dashboard(srv.ctx.db, 'month', TZ, NOW);
    expect(d.from).toBe('2024-02-29T16:00:00.000Z');
    expect(d.to).toBe('2024-03-31T16:00:00.000Z');
    expect(d.trend).toHaveLength(31);
    expect(d.trend[0]!.bucket).toBe('2024-03-01');
    expect(d.trend[30]!.bucket).toBe('2024-03-31');
    expect(nonEmpty(d.trend)).toEqual([
      { ...empty('2024-03-01'), new_users: 1, tokens: 32, cost_micros: 16, revenue_micros: 16, active_users: 1, calls: 1 },
      { ...empty('2024-03-02'), recharge_micros: 250_000 },
      { ...empty('2024-03-03'), tokens: 16, cost_micros: 8, revenue_micros: 8, active_users: 1, calls: 1 },
      { ...empty('2024-03-04'), tokens: 8, cost_micros: 4, revenue_micros: 4, active_users: 1, calls: 1 },
      { ...empty('2024-03-05'), tokens: 4, cost_micros: 2, revenue_micros: 2, active_users: 1, calls: 1 },
      { ...empty('2024-03-06'), new_users: 1, recharge_micros: 6_000_000, tokens: 167, cost_micros: 34, revenue_micros: 80, active_users: 2, calls: 3 },
    ]);
    // x, y and z were active; z on two days counts once.
    expect(d.cards).toEqual({ new_users: 2, recharge_micros: 6_250_000, tokens: 227, cost_micros: 64, revenue_micros: 110, logins: 3, active_users: 3, calls: 7, failed_calls: 0 });
  });

  it('this year: twelve calendar months', async () => {
    const d = await dashboard(srv.ctx.db, 'year', TZ, NOW);
    expect(d.from).toBe('2023-12-31T16:00:00.000Z');
    expect(d.to).toBe('2024-12-31T16:00:00.000Z');
    expect(d.trend.map((b) => b.bucket)).toEqual(Array.from({ length: 12 }, (_, m) => `2024-${String(m + 1).padStart(2, '0')}`));
    expect(nonEmpty(d.trend)).toEqual([
      { ...empty('2024-01'), new_users: 1, tokens: 128, cost_micros: 64, revenue_micros: 64, active_users: 1, calls: 1 },
      { ...empty('2024-02'), recharge_micros: 7_000_000, tokens: 64, cost_micros: 32, revenue_micros: 32, active_users: 1, calls: 1 },
      { ...empty('2024-03'), new_users: 2, recharge_micros: 6_250_000, tokens: 227, cost_micros: 64, revenue_micros: 110, active_users: 3, calls: 7 },
      { ...empty('2024-12'), tokens: 512, cost_micros: 256, revenue_micros: 256, active_users: 1, calls: 1 },
    ]);
    expect(d.cards).toEqual({ new_users: 3, recharge_micros: 13_250_000, tokens: 931, cost_micros: 416, revenue_micros: 462, logins: 3, active_users: 4, calls: 10, failed_calls: 0 });
  });

  it('the same instants bucket differently in UTC', async () => {
    const d = await dashboard(srv.ctx.db, 'today', 0, NOW);
    expect(d.from).toBe('2024-03-06T00:00:00.000Z');
    expect(nonEmpty(d.trend)).toEqual([
      { ...empty('2024-03-06T01'), tokens: 150, cost_micros: 30, revenue_micros: 70, active_users: 1, calls: 1 },
      { ...empty('2024-03-06T02'), new_users: 1 },
      { ...empty('2024-03-06T03'), recharge_micros: 6_000_000 },
      { ...empty('2024-03-06T09'), tokens: 2, cost_micros: 1, revenue_micros: 1, active_users: 1, calls: 1 },
    ]);
    expect(d.cards.logins).toBe(2);
  });

  it('offsets that are not whole hours keep hours aligned to local time (UTC+5:45)', async () => {
    const d = await dashboard(srv.ctx.db, 'today', -345, NOW);
    expect(d.from).toBe('2024-03-05T18:15:00.000Z');
    // 01:30Z is 07:15 local; 23:30Z the day before is 05:15 local.
    expect(nonEmpty(d.trend).filter((b) => b.tokens > 0).map((b) => [b.bucket, b.tokens])).toEqual([
      ['2024-03-06T05', 15],
      ['2024-03-06T07', 150],
      ['2024-03-06T15', 2],
    ]);
  });

  // Last in this block: it adds records the cases above do not expect.
  it('compares with the previous period up to the same time, counts failed calls, and ranks models, channels and users', async () => {
    const [x, y] = users as [Seeded, Seeded];
    const ch = await addChannel(srv.ctx, 'http://127.0.0.1:9/v1', { name: 'ranked-channel', key: 'sk-ranked', models: ['gpt-4o'] });
    await insertUsage(srv.ctx, [
      { ...rec(x, '2024-03-05T02:00:00Z', 7, 3, 5, 11), model: 'yesterday-model' }, // Tue 10h: before 18h, in the comparison
      { ...rec(x, '2024-03-05T11:00:00Z', 7, 3, 5, 11), model: 'yesterday-model' }, // Tue 19h: after the same point, not in it
      { ...rec(y, '2024-03-06T08:00:00Z', 20, 0, 0, 0), status_code: 502, error_code: 'upstream_failed', model: 'gpt-4o', channel_id: ch.id }, // today 16h, failed
    ]);
    const d = await dashboard(srv.ctx.db, 'today', TZ, NOW);
    expect(d.cards).toMatchObject({ calls: 4, failed_calls: 1 });
    expect(d.trend.find((b) => b.bucket === '2024-03-06T16')).toMatchObject({ calls: 1, failed_calls: 1, tokens: 20 });
    expect(d.previous.from).toBe('2024-03-04T16:00:00.000Z');
    expect(d.previous.to).toBe('2024-03-05T10:00:00.000Z');
    expect(d.previous.cards).toMatchObject({ calls: 1, failed_calls: 0, tokens: 10, revenue_micros: 11, cost_micros: 5, active_users: 1 });
    // By revenue: x (71) before y (9); gpt-4o-mini (80) before gpt-4o (0, one failed call).
    expect(d.top.users.map((u) => [u.name, u.calls, u.revenue_micros])).toEqual([['xavier@example.com', 2, 71], ['yvonne@example.com', 2, 9]]);
    expect(d.top.models.map((m) => [m.name, m.calls, m.tokens, m.revenue_micros])).toEqual([['gpt-4o-mini', 3, 167, 80], ['gpt-4o', 1, 20, 0]]);
    // Only records that name a channel rank one.
    expect(d.top.channels).toEqual([{ name: 'ranked-channel', calls: 1, tokens: 20, revenue_micros: 0 }]);
    // This month so far (6 days 18 hours) against the same stretch of February...
    const month = await dashboard(srv.ctx.db, 'month', TZ, NOW);
    expect([month.previous.from, month.previous.to]).toEqual(['2024-01-31T16:00:00.000Z', '2024-02-06T10:00:00.000Z']);
    // ...and late on 31 March, against all of February (29 days), never reaching into March.
    const late = await dashboard(srv.ctx.db, 'month', TZ, T('2024-03-31T12:00:00Z'));
    expect([late.previous.from, late.previous.to]).toEqual(['2024-01-31T16:00:00.000Z', '2024-02-29T16:00:00.000Z']);
  });
});

describe('GET /api/admin/dashboard', () => {
  it('reports today in the caller’s timezone, zero-filled', async () => {
    const tz = -480;
    const now = Date.now();
    const localStart = Math.floor((now + 8 * HOUR) / DAY) * DAY - 8 * HOUR;
    const v = users[3]!;
    await insertUsage(srv.ctx, [rec(v, new Date(localStart + 30 * 60_000).toISOString(), 1000, 500, 600, 900), rec(v, new Date(localStart + 5 * HOUR).toISOString(), 1, 2, 3, 4)]);
    await insertSession(srv.ctx, v.user.id, localStart + 2 * HOUR);

    const r = await admin.get(`/api/admin/dashboard?period=today&tz_offset_minutes=${tz}`);
    expect(r.status).toBe(200);
    expect(r.body.from).toBe(new Date(localStart).toISOString());
    expect(r.body.trend).toHaveLength(24);
    const day = new Date(localStart + 8 * HOUR).toISOString().slice(0, 10);
    expect(nonEmpty(r.body.trend)).toEqual([
      { ...empty(`${day}T00`), tokens: 1500, cost_micros: 600, revenue_micros: 900, active_users: 1, calls: 1 },
      { ...empty(`${day}T05`), tokens: 3, cost_micros: 3, revenue_micros: 4, active_users: 1, calls: 1 },
    ]);
    expect(r.body.cards).toEqual({ new_users: 0, recharge_micros: 0, tokens: 1503, cost_micros: 603, revenue_micros: 904, logins: 1, active_users: 1, calls: 2, failed_calls: 0 });
  });

  it('defaults to today in UTC', async () => {
    const r = await admin.get('/api/admin/dashboard');
    expect(r.status).toBe(200);
    expect(r.body.period).toBe('today');
    expect(r.body.from).toBe(new Date(Math.floor(Date.now() / DAY) * DAY).toISOString());
    expect(r.body.trend).toHaveLength(24);
  });

  it('refuses unknown periods and offsets with a typed 400', async () => {
    const p = await admin.get('/api/admin/dashboard?period=decade');
    expect(p.status).toBe(400);
    expect(p.body.error).toMatchObject({ code: 'validation_failed', path: 'period' });
    const t = await admin.get('/api/admin/dashboard?tz_offset_minutes=-9999');
    expect(t.status).toBe(400);
    expect(t.body.error).toMatchObject({ code: 'validation_failed', path: 'tz_offset_minutes' });
  });

  it('needs a session', async () => {
    const r = await new ApiClient(srv.url).get('/api/admin/dashboard');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('session_required');
  });
});
