// The `tollgate` command as an operator types it (a real child process on the test database),
// and its effect on a server that is running at the same time.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { runCli, serverEnv, startTestServer, type TestServer } from '../support/server.js';
import { bookProblems, chatPromptTokens, expectedCost, openTestDb, until } from '../support/books.js';
import type { Db } from '../../server/src/db/index.js';

let tdb: TestDatabase;
let env: Record<string, string>;
let up: FakeUpstream;
let srv: TestServer | undefined;
let db: Db;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, env);
}

/** A --json command: exit 0 and exactly one JSON object on stdout. */
async function json(...args: string[]): Promise<any> {
  const r = await cli(...args, '--json');
  expect(r.code, `tollgate ${args.join(' ')}\n${r.stderr}`).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines, r.stdout).toHaveLength(1);
  const v = JSON.parse(lines[0]!);
  expect(typeof v === 'object' && v !== null && !Array.isArray(v)).toBe(true);
  return v;
}

/** Bad input: a non-zero exit and a clear message on stderr naming the problem. */
async function fails(pattern: RegExp, ...args: string[]): Promise<CliResult> {
  const r = await cli(...args);
  expect(r.code, `tollgate ${args.join(' ')} should fail; stdout: ${r.stdout}`).not.toBe(0);
  expect(r.stderr).toMatch(pattern);
  return r;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = serverEnv(tdb.url);
  up = await startFakeUpstream();
  db = openTestDb(tdb.url);
});
afterAll(async () => {
  await srv?.stop({ keepDb: true });
  await db?.close();
  await up?.close();
  await tdb?.drop();
});

describe('tollgate CLI', () => {
  it('migrate, and a usage error for an unknown command', async () => {
    expect(await json('migrate')).toEqual({ ok: true, dialect: tdb.dialect });
    const [unknown, missing] = await Promise.all([cli('frobnicate'), cli('channel', 'add', '--name', 'x')]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/i);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/required option '--key/); // --base-url has a default for the type
  });

  it('channel add / list / test', async () => {
    const ch = await json(
      'channel', 'add', '--name', 'fake', '--base-url', up.url, '--key', 'sk-cli-upstream-9876', '--models', 'gpt-4o-mini,gpt-4o',
      '--priority', '3', '--weight', '2', '--mapping', 'my-mini=gpt-4o-mini', '--test-model', 'gpt-4o-mini', '--cost-ratio', '0.7',
    );
    expect(ch).toMatchObject({ name: 'fake', key_hint: '…9876', models: ['gpt-4o-mini', 'gpt-4o'], priority: 3, weight: 2, model_mapping: { 'my-mini': 'gpt-4o-mini' }, cost_ratio: '0.7', status: 'enabled' });
    expect(JSON.stringify(ch)).not.toContain('sk-cli-upstream-9876');
    const human = await cli('channel', 'add', '--name', 'second', '--base-url', up.url, '--key', 'sk-2', '--models', 'text-embedding-3-small');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^channel #\d+ "second" \(openai\) added/);

    const [list, test, bad] = await Promise.all([
      json('channel', 'list'),
      json('channel', 'test', String(ch.id)),
      Promise.all([
        fails(/base_url/, 'channel', 'add', '--name', 'x', '--base-url', 'not-a-url', '--key', 'k', '--models', 'm'),
        fails(/at least one model/, 'channel', 'add', '--name', 'x', '--base-url', up.url, '--key', 'k', '--models', ','),
        fails(/weight/, 'channel', 'add', '--name', 'x', '--base-url', up.url, '--key', 'k', '--models', 'm', '--weight', '-1'),
        fails(/unknown group/, 'channel', 'add', '--name', 'x', '--base-url', up.url, '--key', 'k', '--models', 'm', '--group', 'nope'),
        fails(/public=upstream/, 'channel', 'add', '--name', 'x', '--base-url', up.url, '--key', 'k', '--models', 'm', '--mapping', 'oops'),
        fails(/no channel with id 9999/, 'channel', 'test', '9999'),
      ]),
    ]);
    expect(list.items.map((c: { name: string }) => c.name).sort()).toEqual(['fake', 'second']);
    expect(test).toMatchObject({ ok: true, model: 'gpt-4o-mini', error: null });
    expect(bad).toHaveLength(6);
    const row = await db.kysely.selectFrom('channels').selectAll().where('id', '=', ch.id).executeTakeFirstOrThrow();
    expect(row.last_test_ok).toBe(1);
    expect(await db.kysely.selectFrom('channels').select('id').execute()).toHaveLength(2);
  });

  it('price set / list', async () => {
    const p = await json('price', 'set', '--model', 'gpt-4o-mini', '--input', '0.15', '--output', '0.60');
    expect(p).toMatchObject({ model: 'gpt-4o-mini', input_micros_per_1m: 150_000, output_micros_per_1m: 600_000, input_usd_per_1m: '0.15', output_usd_per_1m: '0.6' });
    const [h, withExtras] = await Promise.all([
      cli('price', 'set', '--model', 'my-mini', '--input', '1', '--output', '2'),
      json('price', 'set', '--model', 'gpt-4o', '--input', '2.5', '--output', '10', '--cached', '1.25', '--per-request', '0.001'),
    ]);
    expect(h.stdout.trim()).toBe('my-mini: $1 in / $2 out per 1M tokens');
    expect(withExtras).toMatchObject({ cached_input_micros_per_1m: 1_250_000, request_micros: 1_000 });
    await Promise.all([
      fails(/6 decimal places/, 'price', 'set', '--model', 'x', '--input', '0.1234567', '--output', '1'),
      fails(/negative|decimal number/, 'price', 'set', '--model', 'x', '--input', '-1', '--output', '1'),
      fails(/decimal number/, 'price', 'set', '--model', 'x', '--input', 'cheap', '--output', '1'),
    ]);
    const list = await json('price', 'list');
    expect(list.items.map((i: { model: string }) => i.model)).toEqual(['gpt-4o', 'gpt-4o-mini', 'my-mini']);
  });

  it('user add / show with integer money fields', async () => {
    const u = await json('user', 'add', '--email', 'Alice@Example.com', '--password', 'a-good-password', '--name', 'Alice');
    expect(u).toMatchObject({ email: 'alice@example.com', name: 'Alice', role: 'user', balance_micros: 0, pending_micros: 0 });
    const [human, dup, badEmail, shortPw, badRole, nobody] = await Promise.all([
      cli('user', 'add', '--email', 'bob@example.com'),
      cli('user', 'add', '--email', 'alice@example.com'),
      cli('user', 'add', '--email', 'not-an-email'),
      cli('user', 'add', '--email', 'carol@example.com', '--password', 'short'),
      cli('user', 'add', '--email', 'dave@example.com', '--role', 'god'),
      cli('user', 'show', 'nobody@example.com'),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^user #\d+ bob@example\.com created \(user\)/);
    for (const [r, msg] of [
      [dup, /already exists/],
      [badEmail, /not a valid email/],
      [shortPw, /at least 8 characters/],
      [badRole, /god/],
      [nobody, /no user nobody@example\.com/],
    ] as const) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    }
    expect(await db.kysely.selectFrom('users').select('email').where('email', 'in', ['carol@example.com', 'dave@example.com']).execute()).toEqual([]);
    const show = await json('user', 'show', 'alice@example.com');
    expect(Number.isInteger(show.balance_micros)).toBe(true);
    expect(Number.isInteger(show.pending_micros)).toBe(true);
    expect(show).toMatchObject({ id: u.id, balance_micros: 0, pending_micros: 0 });
    const byId = await json('user', 'show', String(u.id));
    expect(byId.email).toBe('alice@example.com');
  });

  it('balance add: credit, deduct with a negative amount, never below zero, idempotent', async () => {
    const add = await json('balance', 'add', '--user', 'alice@example.com', '--amount', '10', '--reason', 'welcome credit', '--idempotency-key', 'welcome');
    expect(add).toMatchObject({ balance_micros: 10_000_000, amount_micros: 10_000_000, replayed: false });
    const again = await json('balance', 'add', '--user', 'alice@example.com', '--amount', '10', '--reason', 'welcome credit', '--idempotency-key', 'welcome');
    expect(again).toMatchObject({ balance_micros: 10_000_000, replayed: true, entry_id: add.entry_id });
    const minus = await json('balance', 'add', '--user', 'alice@example.com', '--amount', '-5', '--reason', 'correction');
    expect(minus).toMatchObject({ balance_micros: 5_000_000, amount_micros: -5_000_000 });
    const human = await cli('balance', 'add', '--user', 'alice@example.com', '--amount', '-0.25', '--reason', 'small fix');
    expect(human.stdout.trim()).toBe('alice@example.com: deducted $0.25; balance now $4.75');
    await Promise.all([
      fails(/cannot deduct 50/, 'balance', 'add', '--user', 'alice@example.com', '--amount', '-50', '--reason', 'too much'),
      fails(/must not be zero/, 'balance', 'add', '--user', 'alice@example.com', '--amount', '0', '--reason', 'nothing'),
      fails(/6 decimal places/, 'balance', 'add', '--user', 'alice@example.com', '--amount', '1.0000001', '--reason', 'precise'),
      fails(/decimal number/, 'balance', 'add', '--user', 'alice@example.com', '--amount', 'lots', '--reason', 'words'),
      fails(/reason/, 'balance', 'add', '--user', 'alice@example.com', '--amount', '1', '--reason', ' '),
      fails(/required option '--reason/, 'balance', 'add', '--user', 'alice@example.com', '--amount', '1'),
      fails(/different adjustment/, 'balance', 'add', '--user', 'alice@example.com', '--amount', '11', '--reason', 'other', '--idempotency-key', 'welcome'),
      fails(/no user/, 'balance', 'add', '--user', 'ghost@example.com', '--amount', '1', '--reason', 'ghost'),
    ]);
    // an error with --json is one JSON object too
    const j = await cli('balance', 'add', '--user', 'alice@example.com', '--amount', '-50', '--reason', 'too much', '--json');
    expect(j.code).not.toBe(0);
    expect(JSON.parse(j.stdout.trim())).toMatchObject({ error: { code: 'insufficient_funds', path: 'amount' } });
    const show = await json('user', 'show', 'alice@example.com');
    expect(show).toMatchObject({ balance_micros: 4_750_000, cash_micros: 4_750_000, pending_micros: 0 });
    expect(await bookProblems(db.kysely, show.wallet_id)).toEqual([]);

    // A staff top-up with how it was paid and the slip number, then a deduction: the same service as the console.
    const top = await json('balance', 'adjust', '--user', 'alice@example.com', '--amount', '2', '--type', 'topup', '--method', 'bank_transfer', '--reference', 'SLIP-2026-001', '--reason', 'wire received');
    expect(top).toMatchObject({ balance_micros: 6_750_000, entry_type: 'topup', payment_method: 'bank_transfer', reference: 'SLIP-2026-001' });
    const ded = await json('balance', 'adjust', '--user', 'alice@example.com', '--amount', '-2', '--type', 'deduction', '--reason', 'wire bounced');
    expect(ded).toMatchObject({ balance_micros: 4_750_000, entry_type: 'deduction', payment_method: null });
    const row = await db.kysely.selectFrom('ledger_entries').selectAll().where('id', '=', top.entry_id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ type: 'topup', ref_type: 'admin', payment_method: 'bank_transfer', external_ref: 'SLIP-2026-001', reason: 'wire received' });
    const audited = await db.kysely.selectFrom('audit_log').selectAll().where('action', '=', 'balance.adjust').orderBy('id', 'desc').limit(2).execute();
    expect(audited.map((a) => JSON.parse(a.after_json ?? '{}').type)).toEqual(['deduction', 'topup']);
    await Promise.all([
      fails(/payment_method/, 'balance', 'adjust', '--user', 'alice@example.com', '--amount', '1', '--type', 'topup', '--reason', 'no method'),
      fails(/deduction takes money away/, 'balance', 'adjust', '--user', 'alice@example.com', '--amount', '1', '--type', 'deduction', '--reason', 'wrong sign'),
      fails(/Allowed choices/, 'balance', 'adjust', '--user', 'alice@example.com', '--amount', '1', '--type', 'gift', '--reason', 'bad type'),
      fails(/Allowed choices/, 'balance', 'adjust', '--user', 'alice@example.com', '--amount', '1', '--type', 'topup', '--method', 'paypal', '--reason', 'bad method'),
    ]);
    expect(await bookProblems(db.kysely, show.wallet_id)).toEqual([]);
  });

  it('key create prints the key alone; it works on a running server, and key revoke stops it within 5 s', async () => {
    srv = await startTestServer({ db: tdb });
    const plain = await cli('key', 'create', '--user', 'alice@example.com', '--name', 'laptop');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^sk-[0-9A-Za-z]{32}\n$/);
    const key = plain.stdout.trim();

    const [full, limited] = await Promise.all([
      json('key', 'create', '--user', 'alice@example.com', '--name', 'ci', '--models', 'gpt-4o-mini,my-*', '--ips', '10.0.0.0/8,192.168.1.1', '--expires', '2099-01-31T00:00:00Z', '--quota', '2.5', '--rpm', '60'),
      json('key', 'create', '--user', 'alice@example.com', '--name', 'second'),
    ]);
    expect(full.key).toMatch(/^sk-[0-9A-Za-z]{32}$/);
    expect(full).toMatchObject({ name: 'ci', allowed_models: ['gpt-4o-mini', 'my-*'], allowed_ips: ['10.0.0.0/8', '192.168.1.1'], expires_at: '2099-01-31T00:00:00.000Z', quota_micros: 2_500_000, rpm_limit: 60 });
    await Promise.all([
      fails(/not a time/, 'key', 'create', '--user', 'alice@example.com', '--expires', 'someday'),
      fails(/in the future/, 'key', 'create', '--user', 'alice@example.com', '--expires', '2001-01-01T00:00:00Z'),
      fails(/not an IP address or CIDR/, 'key', 'create', '--user', 'alice@example.com', '--ips', '10.0.0.0/33'),
      fails(/whole number/, 'key', 'create', '--user', 'alice@example.com', '--rpm', 'fast'),
      fails(/no user/, 'key', 'create', '--user', 'ghost@example.com'),
      fails(/key id or the full sk-/, 'key', 'revoke', 'not-a-key'),
    ]);
    const list = await json('key', 'list', '--user', 'alice@example.com');
    expect(list.items.map((k: { name: string }) => k.name).sort()).toEqual(['ci', 'laptop', 'second']);
    expect(JSON.stringify(list)).not.toContain(key);

    // a running server picks the CLI's channel, price and key up
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
    const content = 'From the CLI';
    const r = await client.chat.completions.create({ model: 'my-mini', messages: [{ role: 'user', content }], max_tokens: 3 });
    expect(r.choices[0]!.message.content).toBe('hello hello hello');
    expect(up.requests.at(-1)!.body.model).toBe('gpt-4o-mini');
    const show = await json('user', 'show', 'alice@example.com');
    expect(show.balance_micros).toBe(4_750_000 - expectedCost({ input: '1', output: '2' }, { prompt: chatPromptTokens([content]), completion: 3 }));
    expect(show.pending_micros).toBe(0);

    // revoke by the key itself: refused within 5 s
    const revoked = await cli('key', 'revoke', key);
    expect(revoked.code).toBe(0);
    const t0 = Date.now();
    expect(revoked.stdout).toMatch(/^key #\d+ \(sk-.+\) revoked/);
    await until(async () => (await client.models.list().catch((e: unknown) => e)) instanceof OpenAI.AuthenticationError, 5_000, 50);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const err = await client.chat.completions.create({ model: 'my-mini', messages: [{ role: 'user', content }], max_tokens: 1 }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(401);

    // and by id, with --json
    const second = new OpenAI({ baseURL: srv.url + '/v1', apiKey: limited.key, maxRetries: 0 });
    expect((await second.models.list()).data.length).toBeGreaterThan(0);
    const byId = await json('key', 'revoke', String(limited.id));
    expect(byId).toMatchObject({ id: limited.id, status: 'revoked' });
    await until(async () => (await second.models.list().catch((e: unknown) => e)) instanceof OpenAI.AuthenticationError, 5_000, 50);
  });
});
