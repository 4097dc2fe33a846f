// Input an attacker would send: bodies nested 20,000 levels deep, estimates past 2^53, user names
// of every type and size through better-auth's own routes. Each is a 4xx in the caller's shape,
// and nothing is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { ApiClient } from '../support/api.js';

let up: FakeUpstream;
let srv: TestServer;
let key: string;
const db = () => srv.ctx.db.kysely;
const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);

async function rowCounts() {
  const out: Record<string, number> = {};
  for (const t of ['users', 'auth_accounts', 'auth_sessions', 'holds', 'usage_records', 'ledger_entries'] as const) {
    const r = await db().selectFrom(t as 'holds').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    out[t] = Number(r.n);
  }
  return out;
}

async function post(path: string, raw: string, headers: Record<string, string> = {}) {
  const res = await fetch(srv.url + path, { method: 'POST', headers: { 'content-type': 'application/json', origin: srv.url, ...headers }, body: raw });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  await addChannel(srv.ctx, up.url);
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '1', output: '2' });
  await addPrice(srv.ctx, 'text-embedding-3-small', { input: '1', output: '0' });
  // An absurd list price: max_tokens × n × best_of × prompts × price passes 2^53 micro-dollars.
  await addPrice(srv.ctx, 'gpt-3.5-turbo-instruct', { input: '1000000', output: '100000000' });
  key = (await addUserWithKey(srv.ctx, { balanceUsd: '5' })).key;
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('deeply nested JSON', () => {
  const cases: [string, string, boolean][] = [
    ['/v1/completions', `{"model":"gpt-3.5-turbo-instruct","prompt":${nest(20_000)}}`, true],
    ['/v1/completions', `{"model":"gpt-3.5-turbo-instruct","prompt":${nest(20_000)}}`, false],
    ['/v1/embeddings', `{"model":"text-embedding-3-small","input":${nest(20_000)}}`, true],
    ['/v1/chat/completions', `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"tools":${nest(20_000)}}`, true],
  ];
  it.each(cases)('%s answers 400 in the OpenAI shape (with key: %#)', async (path, raw, withKey) => {
    const before = await rowCounts();
    for (const type of ['application/json', 'text/plain']) {
      const r = await post(path, raw, { 'content-type': type, ...(withKey ? { authorization: `Bearer ${key}` } : {}) });
      expect(r.status, r.text).toBe(400);
      expect(r.json).toEqual({ error: { message: expect.stringContaining('128 levels'), type: 'invalid_request_error', param: null, code: 'invalid_json' } });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('/api/auth/* answers 400 with a typed error', async () => {
    const before = await rowCounts();
    for (const [path, raw] of [
      ['/api/auth/sign-in/email', `{"email":${nest(20_000)},"password":"x"}`],
      ['/api/auth/sign-up/email', `{"email":"deep@example.com","password":"password-123","name":${nest(20_000)}}`],
    ]) {
      const r = await post(path!, raw!);
      expect(r.status, r.text).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_json', message: expect.stringContaining('128 levels') });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('nesting within the cap still works', async () => {
    const schema = JSON.parse(`{"type":"object","properties":{"a":${'{"type":"array","items":'.repeat(20)}{"type":"string"}${'}'.repeat(20)}}}`);
    const r = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 2, tools: [{ type: 'function', function: { name: 'f', parameters: schema } }] }), { authorization: `Bearer ${key}` });
    expect(r.status, r.text).toBe(200);
  });

  it('a body of another content type is not handed to better-auth as text', async () => {
    const r = await post('/api/auth/sign-in/email', JSON.stringify({ email: 'a@example.com', password: 'password-123' }), { 'content-type': 'text/plain' });
    expect(r.status, r.text).toBe(415);
    expect(r.json.error.code).toBe('unsupported_media_type');
  });
});

describe('a cost estimate beyond 2^53', () => {
  it('is a 400 on max_tokens, nothing held', async () => {
    const before = await rowCounts();
    const prompts = Array.from({ length: 40 }, (_, i) => `p${i}`);
    for (const prompt of ['hi', prompts]) {
      const r = await post('/v1/completions', JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt, max_tokens: 10_000_000, n: 128, best_of: 128 }), { authorization: `Bearer ${key}` });
      expect(r.status, r.text).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'bad_request', param: 'max_tokens', type: 'invalid_request_error' });
    }
    // A refused call with a valid key leaves a usage record (status 400, nothing charged) so the operator sees it;
    // nothing else is written: no hold, no ledger entry.
    const { usage_records: recordsAfter, ...after } = await rowCounts();
    const { usage_records: recordsBefore, ...rest } = before;
    expect(after).toEqual(rest);
    const added = await db().selectFrom('usage_records').select(['status_code', 'charged_micros']).orderBy('id', 'desc').limit(recordsAfter! - recordsBefore!).execute();
    for (const u of added) expect({ status: Number(u.status_code), charged: Number(u.charged_micros) }).toEqual({ status: 400, charged: 0 });
  });
});

describe("better-auth's routes that write users", () => {
  let user: ApiClient;
  beforeAll(async () => {
    user = new ApiClient(srv.url);
    const r = await user.post('/api/auth/sign-up/email', { email: 'named@example.com', password: 'password-123', name: 'Named' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // Sign-up does not sign in (its answer must not tell a new address from a registered one).
    await user.signIn('named@example.com', 'password-123');
  });
  const nameOf = async () => (await db().selectFrom('users').select('name').where('email', '=', 'named@example.com').executeTakeFirstOrThrow()).name;

  it('sign-up refuses a name that is not 1–100 characters of text, and creates nobody', async () => {
    const before = await rowCounts();
    const anon = new ApiClient(srv.url);
    for (const name of [12345, null, { a: 1 }, ['a'], true, '', '   ', 'x'.repeat(101), 'a\u0000b']) {
      const r = await anon.post('/api/auth/sign-up/email', { email: `n${Math.random()}@example.com`.replace('0.', ''), password: 'password-123', name });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'name' });
    }
    const missing = await anon.post('/api/auth/sign-up/email', { email: 'missing@example.com', password: 'password-123' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.path).toBe('name');
    const longEmail = await anon.post('/api/auth/sign-up/email', { email: 'a'.repeat(300) + '@example.com', password: 'password-123', name: 'x' });
    expect(longEmail.status).toBe(400);
    expect(longEmail.body.error.path).toBe('email');
    expect(await rowCounts()).toEqual(before);
  });

  it('update-user refuses a 5 MB name, numbers, null, objects and arrays, and keeps the name', async () => {
    for (const name of ['x'.repeat(5_000_000), 12345, 12345.5, null, { a: 1 }, ['a'], '', 'x'.repeat(101)]) {
      const r = await user.post('/api/auth/update-user', { name });
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'validation_failed', path: 'name' });
    }
    const img = await user.post('/api/auth/update-user', { image: 'x'.repeat(5000) });
    expect(img.status).toBe(400);
    expect(img.body.error.path).toBe('image');
    expect(await nameOf()).toBe('Named');
  });

  it('a good name is stored trimmed', async () => {
    const r = await user.post('/api/auth/update-user', { name: '  Ada Lovelace  ' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(await nameOf()).toBe('Ada Lovelace');
    expect((await user.get('/api/me')).body.name).toBe('Ada Lovelace');
  });

  it('the admin API applies the same rule', async () => {
    const admin = new ApiClient(srv.url);
    await admin.signIn();
    const id = (await db().selectFrom('users').select('id').where('email', '=', 'named@example.com').executeTakeFirstOrThrow()).id;
    for (const name of ['x'.repeat(101), '   ', 'a\nb']) {
      const r = await admin.patch(`/api/admin/users/${id}`, { name });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.path).toBe('name');
      const c = await admin.post('/api/admin/users', { email: 'made-by-admin@example.com', name });
      expect(c.status, JSON.stringify(c.body)).toBe(400);
      expect(c.body.error.path).toBe('name');
    }
    expect(await nameOf()).toBe('Ada Lovelace');
    const ok = await admin.post('/api/admin/users', { email: 'made-by-admin@example.com', name: '' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.name).toBe('made-by-admin');
  });
});
