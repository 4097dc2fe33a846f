// Claude Code, the CLI users come for, in print mode against Tollgate: once with an Anthropic
// upstream behind it (bytes relayed) and once with an OpenAI-compatible one (converted). The
// answer is checked, and every call it made is charged exactly (usage records, ledger, wallet).
//
// Claude Code is installed once per machine into a temporary prefix (CLAUDE_CODE_BIN points at an
// existing binary instead); 2.1.197 is the newest release that runs on Node 20.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { FAKE_ANTHROPIC_KEY, fakeAnthropicInputTokens, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { expectedCost, pendingHolds, type TestPrice } from '../support/books.js';

const VERSION = '2.1.197';
const PRICE: TestPrice = { input: '3', output: '15' };

async function claudeBin(): Promise<string> {
  if (process.env.CLAUDE_CODE_BIN) return process.env.CLAUDE_CODE_BIN;
  const prefix = join(tmpdir(), `tollgate-claude-code-${VERSION}`);
  const bin = join(prefix, 'node_modules', '.bin', 'claude');
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    await promisify(execFile)('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `@anthropic-ai/claude-code@${VERSION}`], { timeout: 300_000 });
  }
  return bin;
}

function runClaude(bin: string, env: Record<string, string>, prompt: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin, ['-p', prompt, '--output-format', 'json', '--max-turns', '1', '--tools', ''], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

let bin: string;
let up: FakeUpstream;
let ant: FakeAnthropic;
let srv: TestServer;
let home: string;

beforeAll(async () => {
  bin = await claudeBin();
  up = await startFakeUpstream();
  ant = await startFakeAnthropic();
  srv = await startTestServer();
  await addChannel(srv.ctx, ant.url, { type: 'anthropic', key: FAKE_ANTHROPIC_KEY, models: ['claude-house-1'] });
  await addChannel(srv.ctx, up.url, { models: ['gpt-4o-mini'], model_mapping: { 'claude-on-openai': 'gpt-4o-mini' } });
  await addPrice(srv.ctx, 'claude-house-1', PRICE);
  await addPrice(srv.ctx, 'claude-on-openai', PRICE);
  home = mkdtempSync(join(tmpdir(), 'tollgate-claude-home-'));
}, 360_000);
afterAll(async () => {
  await srv?.stop();
  await up?.close();
  await ant?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Run Claude Code for one user against `model`; return its JSON result and that user's usage records. */
async function ask(model: string) {
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '5' });
  const before = (await walletOf(srv.ctx, u.wallet.id)).cash_micros;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    ANTHROPIC_BASE_URL: srv.url,
    ANTHROPIC_API_KEY: u.key,
    ANTHROPIC_MODEL: model,
    ANTHROPIC_SMALL_FAST_MODEL: model,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: model,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
  };
  const r = await runClaude(bin, env, 'Say hello.');
  expect(r.code, `claude exited ${r.code}: ${r.err}\n${r.out}`).toBe(0);
  const result = JSON.parse(r.out.trim().split('\n').at(-1)!) as { is_error: boolean; result: string };
  const records = await srv.ctx.db.kysely.selectFrom('usage_records').selectAll().where('key_id', '=', u.keyView.id).orderBy('id').execute();
  const after = await walletOf(srv.ctx, u.wallet.id);
  return { result, records, spent: before - after.cash_micros, pending: after.pending_micros };
}

describe('Claude Code (print mode) through Tollgate', () => {
  it('against an Anthropic upstream: answered, every call charged exactly', async () => {
    ant.requests.length = 0;
    const { result, records, spent, pending } = await ask('claude-house-1');
    expect(result.is_error).toBe(false);
    expect(result.result).toContain('hello hello');
    const ok = records.filter((r) => r.status_code === 200);
    expect(ok.length).toBeGreaterThan(0);
    // What the upstream counted is what was billed, call by call.
    const messages = ant.requests.filter((q) => q.path === '/v1/messages');
    expect(ok.map((r) => r.prompt_tokens).sort()).toEqual(messages.map((q) => fakeAnthropicInputTokens(q.body)).sort());
    for (const r of ok) expect(r.charged_micros).toBe(expectedCost(PRICE, { prompt: r.prompt_tokens, completion: r.completion_tokens }));
    expect(spent).toBe(records.reduce((n, r) => n + r.charged_micros, 0));
    expect(pending).toBe(0);
    expect(await pendingHolds(srv.ctx.db.kysely)).toBe(0);
  }, 120_000);

  it('against an OpenAI-compatible upstream: converted both ways, answered, charged exactly', async () => {
    const { result, records, spent, pending } = await ask('claude-on-openai');
    expect(result.is_error).toBe(false);
    expect(result.result).toContain('hello hello');
    const ok = records.filter((r) => r.status_code === 200);
    expect(ok.length).toBeGreaterThan(0);
    for (const r of ok) {
      expect(r).toMatchObject({ endpoint: 'messages', usage_source: 'upstream', upstream_model: 'gpt-4o-mini' });
      expect(r.charged_micros).toBe(expectedCost(PRICE, { prompt: r.prompt_tokens, completion: r.completion_tokens }));
    }
    expect(spent).toBe(records.reduce((n, r) => n + r.charged_micros, 0));
    expect(pending).toBe(0);
  }, 120_000);
});
