// Refused calls are visible: a call with a valid key that the gateway refuses before forwarding
// (402 no money or key quota, 403, 404 unknown model or route, 429) is in the usage lists of the
// operator and of the key's owner with its status and error code, costs nothing and moves no money;
// every refusal, also a 401 without a valid key, is counted in /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { ApiClient } from '../support/api.js';
import { bookProblems, countRows } from '../support/books.js';
import { createKey } from '../../server/src/accounts/keys.js';

let up: FakeUpstream;
let srv: TestServer;
let admin: ApiClient;
const db = () => srv.ctx.db.kysely;

async function call(key: string | null, path: string, body?: unknown) {
  const res = await fetch(srv.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code ?? null, requestId: res.headers.get('x-request-id') };
}
const chat = (model = 'gpt-4o-mini') => ({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 5 });

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  await addChannel(srv.ctx, up.url, { models: ['gpt-4o-mini', 'gpt-4o'] });
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '1', output: '2' });
  await addPrice(srv.ctx, 'gpt-4o', { input: '1', output: '2' });
  admin = new ApiClient(srv.url);
  await admin.signIn();
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('refused calls', () => {
  it('are in the usage lists with status and code, at no cost, and move no money', async () => {
    const password = 'refused-password-1';
    const broke = await addUserWithKey(srv.ctx, { balanceUsd: '0', password });
    const funded = await addUserWithKey(srv.ctx, { balanceUsd: '1', password, key: { quotaMicros: 1 } });
    const k = (input: Parameters<typeof createKey>[3]) => createKey(srv.ctx.db, srv.ctx.feed, funded.user.id, input).then((r) => r.key);
    const onlyMini = await k({ models: ['gpt-4o-mini'] });
    const slow = await k({ rpmLimit: 1 });
    await srv.ctx.feed.pollNow();
    const before = await walletOf(srv.ctx, funded.wallet.id);
    const ledgerBefore = await countRows(db(), 'ledger_entries', { col: 'wallet_id', val: funded.wallet.id });

    const seen = [
      await call(broke.key, '/v1/chat/completions', chat()),
      await call(funded.key, '/v1/chat/completions', chat()),
      await call(onlyMini, '/v1/chat/completions', chat('gpt-4o')),
      await call(funded.key, '/v1/chat/completions', chat('no-such-model')),
      await call(onlyMini, '/v1/chat/completion', chat()),
      await call(slow, '/v1/chat/completions', chat()),
      await call(slow, '/v1/chat/completions', chat()),
      await call('sk-not-a-key', '/v1/chat/completions', chat()),
    ];
    expect(seen.map((s) => `${s.status} ${s.code}`)).toEqual([
      '402 insufficient_funds',
      '402 key_quota_exceeded',
      '403 model_not_allowed',
      '404 model_not_found',
      '404 not_found',
      '200 null',
      '429 rate_limited',
      '401 invalid_api_key',
    ]);

    // The operator's list, filtered by status as the usage page does.
    const refused = seen.filter((s) => s.status !== 200 && s.status !== 401);
    for (const s of refused) {
      const page = await admin.get(`/api/admin/usage?request_id=${s.requestId}`);
      expect(page.status).toBe(200);
      expect(page.body.items, `${s.status} ${s.code}`).toHaveLength(1);
      expect(page.body.items[0]).toMatchObject({ status_code: s.status, error_code: s.code, charged_micros: 0, cost_micros: 0, prompt_tokens: 0, completion_tokens: 0 });
    }
    const byStatus = async (status: string, user: number) => (await admin.get(`/api/admin/usage?status=${status}&user_id=${user}`)).body.items.map((i: { error_code: string }) => i.error_code);
    expect(await byStatus('402', broke.user.id)).toEqual(['insufficient_funds']);
    expect(await byStatus('402', funded.user.id)).toEqual(['key_quota_exceeded']);
    expect(await byStatus('403', funded.user.id)).toEqual(['model_not_allowed']);
    expect((await byStatus('404', funded.user.id)).sort()).toEqual(['model_not_found', 'not_found']);
    expect(await byStatus('429', funded.user.id)).toEqual(['rate_limited']);
    // The bad key has no owner to show it to: nobody's record.
    expect(await countRows(db(), 'usage_records', { col: 'request_id', val: seen[7]!.requestId })).toBe(0);

    // The totals count them as failed calls: the error rate of the list.
    const totals = await admin.get(`/api/admin/usage/totals?user_id=${funded.user.id}`);
    expect(totals.body).toMatchObject({ calls: 6, failed_calls: 5 });

    // The owner sees their own refusals in the portal, with the same status and code.
    const owner = new ApiClient(srv.url);
    await owner.signIn(funded.user.email, password);
    const mine = await owner.get('/api/console/usage?status=error');
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((i: { status_code: number; error_code: string }) => `${i.status_code} ${i.error_code}`).sort()).toEqual(
      ['402 key_quota_exceeded', '403 model_not_allowed', '404 model_not_found', '404 not_found', '429 rate_limited'].sort(),
    );
    expect((await owner.get('/api/console/usage/totals')).body).toMatchObject({ calls: 6, failed_calls: 5 });

    // No money moved for any of them: the one call that went through is the only charge.
    const after = await walletOf(srv.ctx, funded.wallet.id);
    expect(after.pending_micros).toBe(0);
    expect(await countRows(db(), 'ledger_entries', { col: 'wallet_id', val: funded.wallet.id })).toBe(ledgerBefore + 1);
    expect(before.cash_micros - after.cash_micros).toBeGreaterThan(0);
    expect((await walletOf(srv.ctx, broke.wallet.id)).cash_micros).toBe(0);
    expect(await countRows(db(), 'holds', { col: 'request_id', val: seen[0]!.requestId })).toBe(0);
    expect(await bookProblems(db(), funded.wallet.id)).toEqual([]);
    expect(await bookProblems(db(), broke.wallet.id)).toEqual([]);

    // Every refusal is counted, the 401 too.
    const metrics = await (await fetch(srv.url + '/metrics')).text();
    for (const [code, status] of [
      ['insufficient_funds', 402],
      ['key_quota_exceeded', 402],
      ['model_not_allowed', 403],
      ['model_not_found', 404],
      ['not_found', 404],
      ['rate_limited', 429],
      ['invalid_api_key', 401],
    ] as const) {
      expect(metrics).toMatch(new RegExp(`tollgate_gateway_refusals_total\\{reason="${code}",status="${status}"\\} 1\\b`));
    }
  });

  it('a key refused for what was done to it (locked, rotated out, account frozen) is in its owner\'s usage too, at no cost; a disabled or expired one is not', async () => {
    const password = 'refused-password-2';
    const owner = await addUserWithKey(srv.ctx, { balanceUsd: '1', password });
    const k = (input: Parameters<typeof createKey>[3]) => createKey(srv.ctx.db, srv.ctx.feed, owner.user.id, input);
    const locked = await k({ name: 'leaked' });
    const rotated = await k({ name: 'old' });
    const disabled = await k({ name: 'off' });
    const expired = await k({ name: 'late', expiresAt: Date.now() + 1500 });
    expect((await admin.post(`/api/admin/keys/${locked.view.id}/lock`, { reason: 'posted on a forum' })).status).toBe(200);
    expect((await admin.post(`/api/admin/keys/${rotated.view.id}/rotate`, { grace_seconds: 0 })).status).toBe(200);
    expect((await admin.patch(`/api/admin/keys/${disabled.view.id}`, { status: 'disabled' })).status).toBe(200);
    await srv.ctx.feed.pollNow();
    await new Promise((r) => setTimeout(r, 1600));
    const ledgerBefore = await countRows(db(), 'ledger_entries', { col: 'wallet_id', val: owner.wallet.id });

    const seen = [
      await call(locked.key, '/v1/chat/completions', chat()),
      await call(rotated.key, '/v1/chat/completions', chat()),
      await call(disabled.key, '/v1/chat/completions', chat()),
      await call(expired.key, '/v1/chat/completions', chat()),
    ];
    expect((await admin.post(`/api/admin/users/${owner.user.id}/freeze`, { reason: 'chargeback' })).status).toBe(200);
    await srv.ctx.feed.pollNow();
    seen.push(await call(owner.key, '/v1/chat/completions', chat()));
    expect(seen.map((s) => `${s.status} ${s.code}`)).toEqual(['401 key_locked', '401 key_rotated', '401 key_disabled', '401 key_expired', '403 account_frozen']);

    const recordedKey = new Map([[0, locked.view.id], [1, rotated.view.id], [4, owner.keyView.id]]);
    for (const [i, s] of seen.entries()) {
      const page = await admin.get(`/api/admin/usage?request_id=${s.requestId}`);
      const keyId = recordedKey.get(i);
      if (keyId === undefined) {
        expect(page.body.items, `${s.status} ${s.code}: the owner's own choice, no record`).toHaveLength(0);
        continue;
      }
      expect(page.body.items, `${s.status} ${s.code}`).toHaveLength(1);
      expect(page.body.items[0]).toMatchObject({ user_id: owner.user.id, key_id: keyId, status_code: s.status, error_code: s.code, charged_micros: 0, cost_micros: 0 });
    }
    // No money moved, no hold left.
    expect(await countRows(db(), 'ledger_entries', { col: 'wallet_id', val: owner.wallet.id })).toBe(ledgerBefore);
    expect((await walletOf(srv.ctx, owner.wallet.id)).pending_micros).toBe(0);
    expect(await bookProblems(db(), owner.wallet.id)).toEqual([]);
  });
});
