// Operations an operator relies on between releases: an online backup of the embedded database
// (taken while a server writes), and an upgrade — a database written by the previous release is
// migrated by this one and then serves calls, billed exactly.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../support/db.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { runCli, serverEnv, startTestServer, type TestServer } from '../support/server.js';
import { bookProblems, chatPromptTokens, expectedCost, openTestDb, pendingHolds } from '../support/books.js';

const dialect = testDialect();
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tollgate-backup-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe(`tollgate backup on ${dialect}`, () => {
  let tdb: TestDatabase;
  let srv: TestServer | undefined;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await srv?.stop({ keepDb: true });
    await tdb?.drop();
  });

  it.runIf(dialect === 'sqlite')('copies the live database while a server runs, and never overwrites a file', async () => {
    srv = await startTestServer({ db: tdb });
    const env = serverEnv(tdb.url);
    expect((await runCli(['user', 'add', '--email', 'bob@example.com'], env)).code).toBe(0);
    expect((await runCli(['balance', 'add', '--user', 'bob@example.com', '--amount', '12.5', '--reason', 'before the backup'], env)).code).toBe(0);

    const file = join(work, 'backup.db');
    const r = await runCli(['backup', '--to', file, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, file });
    expect(out.bytes).toBeGreaterThan(0);

    // The copy is a complete database: the user and the money are in it, the ledger balances.
    const copy = new SqliteDatabase(file, { readonly: true });
    const row = copy.prepare('SELECT w.cash_micros FROM wallets w JOIN users u ON u.id = w.user_id WHERE u.email = ?').get('bob@example.com') as { cash_micros: number };
    const ledger = copy.prepare("SELECT SUM(amount_micros) AS s FROM ledger_entries WHERE wallet_id = (SELECT w.id FROM wallets w JOIN users u ON u.id = w.user_id WHERE u.email = ?) AND bucket = 'cash'").get('bob@example.com') as { s: number };
    copy.close();
    expect(row.cash_micros).toBe(12_500_000);
    expect(ledger.s).toBe(12_500_000);

    const again = await runCli(['backup', '--to', file], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);
    const missing = await runCli(['backup', '--to', join(work, 'x.db')], serverEnv(`sqlite:${join(work, 'none', 'nothing.db')}`));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no database at/);
    expect(existsSync(join(work, 'x.db'))).toBe(false);
  });

  it.runIf(dialect !== 'sqlite')('refuses with a pointer to the database\'s own dump tool', async () => {
    const r = await runCli(['backup', '--to', join(work, 'never.db')], serverEnv(tdb.url));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(dialect === 'postgres' ? /pg_dump/ : /mysqldump/);
    expect(existsSync(join(work, 'never.db'))).toBe(false);
  });
});

// test/fixtures/tollgate-576eba0.db was written by the release at commit 576eba0 (its two
// migrations), through its own CLI: a channel (key encrypted with the test secret, cost ratio 0.7),
// a gpt-4o-mini price of $0.15 / $0.60 per 1M, alice@example.com with $10 of cash and a key.
const FIXTURE = fileURLToPath(new URL('../fixtures/tollgate-576eba0.db', import.meta.url));
const FIXTURE_KEY = 'sk-Ll7gwTRYvse1AQZBurXwQPtHFUpWS5MI';

describe.runIf(dialect === 'sqlite')('upgrade from the previous release (576eba0)', () => {
  let up: FakeUpstream;
  let srv: TestServer | undefined;
  let file: string;
  beforeAll(async () => {
    up = await startFakeUpstream();
    file = join(work, 'upgraded.db');
    copyFileSync(FIXTURE, file);
    // Point the old channel at the fake upstream (the only edit; the key stays as the old release encrypted it).
    const raw = new SqliteDatabase(file);
    raw.prepare('UPDATE channels SET base_url = ?').run(up.url);
    raw.close();
  });
  afterAll(async () => {
    await srv?.stop({ keepDb: true });
    await up?.close();
  });

  it('migrates the old database, keeps its data, and serves calls billed exactly', async () => {
    const before = new SqliteDatabase(file, { readonly: true });
    const oldMigrations = (before.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[]).map((m) => m.name);
    before.close();
    expect(oldMigrations).toEqual(['2026_11_22_001_initial', '2026_11_23_002_report_indexes']);

    srv = await startTestServer({ db: { url: `sqlite:${file}`, dialect: 'sqlite', drop: async () => {} } });
    const db = openTestDb(`sqlite:${file}`);
    try {
      const migrations = await db.kysely.selectFrom('kysely_migration' as 'users').select('name' as 'email').execute();
      expect(migrations.length).toBeGreaterThanOrEqual(oldMigrations.length);

      const alice = await db.kysely.selectFrom('users').innerJoin('wallets', 'wallets.user_id', 'users.id').select(['wallets.id as wallet_id', 'wallets.cash_micros']).where('users.email', '=', 'alice@example.com').executeTakeFirstOrThrow();
      expect(alice.cash_micros).toBe(10_000_000);

      const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: FIXTURE_KEY, maxRetries: 0 });
      const contents = ['Hello after the upgrade', 'And once more'];
      let charged = 0;
      for (const content of contents) {
        const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 5 });
        expect(r.usage?.completion_tokens).toBe(5);
        charged += expectedCost({ input: '0.15', output: '0.6' }, { prompt: chatPromptTokens([content]), completion: 5 });
      }
      // The upstream got the key the old release encrypted.
      expect(up.requests.at(-1)!.headers.authorization).toBe('Bearer sk-fixture-upstream-key');

      const after = await db.kysely.selectFrom('wallets').selectAll().where('id', '=', alice.wallet_id).executeTakeFirstOrThrow();
      expect(after.cash_micros).toBe(10_000_000 - charged);
      expect(after.pending_micros).toBe(0);
      expect(await pendingHolds(db.kysely)).toBe(0);
      expect(await bookProblems(db.kysely, alice.wallet_id)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
