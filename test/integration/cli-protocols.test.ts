// Channel types, presets and per-channel switches as an operator sets them with `tollgate`, and what
// they do to calls on a running server: an Anthropic channel with cache-write prices, and a strict
// upstream that must not be sent stream_options.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { FAKE_ANTHROPIC_KEY, fakeAnthropicInputTokens, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { runCli, serverEnv, startTestServer, type TestServer } from '../support/server.js';
import { chargeOf, chatPromptTokens, expectedCost, usdToMicros } from '../support/books.js';
import { addUserWithKey } from '../support/seed.js';

let tdb: TestDatabase;
let env: Record<string, string>;
let up: FakeUpstream;
let ant: FakeAnthropic;
let srv: TestServer;

async function json(...args: string[]): Promise<any> {
  const r = await runCli([...args, '--json'], env);
  expect(r.code, `tollgate ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim());
}

async function fails(pattern: RegExp, ...args: string[]) {
  const r = await runCli(args, env);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(pattern);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = serverEnv(tdb.url);
  up = await startFakeUpstream();
  ant = await startFakeAnthropic();
  expect((await runCli(['migrate'], env)).code).toBe(0);
});
afterAll(async () => {
  await srv?.stop({ keepDb: true });
  await up?.close();
  await ant?.close();
  await tdb?.drop();
});

describe('tollgate channel add --type', () => {
  it('anthropic and the presets default to their vendor\'s API root', async () => {
    const a = await json('channel', 'add', '--name', 'claude', '--type', 'anthropic', '--key', 'sk-ant-x', '--models', 'claude-*');
    expect(a).toMatchObject({ type: 'anthropic', base_url: 'https://api.anthropic.com', stream_usage: true });
    const d = await json('channel', 'add', '--name', 'ds', '--type', 'deepseek', '--key', 'sk-ds', '--models', 'deepseek-chat', '--no-stream-usage');
    expect(d).toMatchObject({ type: 'deepseek', base_url: 'https://api.deepseek.com/v1', stream_usage: false });
    const o = await json('channel', 'add', '--name', 'plain', '--key', 'sk-o', '--models', 'gpt-4o');
    expect(o).toMatchObject({ type: 'openai', base_url: 'https://api.openai.com/v1' });
  });

  it('refuses types that are not implemented yet, and unknown ones, naming the supported', async () => {
    await fails(/--type gemini is not supported yet; supported: openai, anthropic, deepseek/, 'channel', 'add', '--name', 'g', '--type', 'gemini', '--key', 'k', '--models', 'gemini-2.5-pro');
    await fails(/unknown --type "foo"/, 'channel', 'add', '--name', 'f', '--type', 'foo', '--key', 'k', '--models', 'x');
  });

  it('price set --cache-write', async () => {
    const p = await json('price', 'set', '--model', 'claude-cache', '--input', '3', '--output', '15', '--cached', '0.3', '--cache-write', '3.75');
    expect(p).toMatchObject({ cache_write_usd_per_1m: '3.75', cache_write_micros_per_1m: 3_750_000, cached_input_usd_per_1m: '0.3' });
  });
});

describe('what the switches do to calls', () => {
  beforeAll(async () => {
    await json('channel', 'add', '--name', 'fake-claude', '--type', 'anthropic', '--base-url', ant.url, '--key', FAKE_ANTHROPIC_KEY, '--models', 'claude-cache');
    await json('channel', 'add', '--name', 'strict', '--base-url', up.url, '--key', 'sk-strict', '--models', 'gpt-4o-mini', '--no-stream-usage');
    await json('price', 'set', '--model', 'gpt-4o-mini', '--input', '0.15', '--output', '0.6');
    srv = await startTestServer({ db: tdb });
  });

  it('cache reads and writes are priced apart and recorded', async () => {
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '5' });
    const c = new Anthropic({ baseURL: srv.url, apiKey: u.key, maxRetries: 0 });
    const params = { model: 'claude-cache', max_tokens: 50, system: 'A long, cached system prompt. '.repeat(20), messages: [{ role: 'user' as const, content: 'Hi [[fake:cacheRead=60,cacheWrite=40]]' }] };
    const { data, response } = await c.messages.create(params).withResponse();
    const input = fakeAnthropicInputTokens(params);
    expect(data.usage).toMatchObject({ input_tokens: input - 100, cache_read_input_tokens: 60, cache_creation_input_tokens: 40, output_tokens: 10 });
    // (uncached·3 + 60·0.3 + 40·3.75 + 10·15) USD per 1M, rounded up to the micro-dollar
    const scaled = BigInt(input - 100) * usdToMicros('3') + 60n * usdToMicros('0.3') + 40n * usdToMicros('3.75') + 10n * usdToMicros('15');
    const expected = Number((scaled + 999_999n) / 1_000_000n);
    const { usage } = await chargeOf(srv.ctx.db.kysely, response.headers.get('x-request-id')!);
    expect(usage).toMatchObject({ prompt_tokens: input, cached_tokens: 60, cache_write_tokens: 40, cache_write_price: 3_750_000, charged_micros: expected });
  });

  it('a channel with stream usage off gets no stream_options; the call is counted and charged all the same', async () => {
    const u = await addUserWithKey(srv.ctx, { balanceUsd: '5' });
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: u.key, maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Strict upstream.' }], stream: true, stream_options: { include_usage: true }, max_tokens: 8 })
      .withResponse();
    let usageSeen: OpenAI.CompletionUsage | undefined;
    for await (const chunk of data) usageSeen ??= chunk.usage ?? undefined;
    const sent = up.requests.at(-1)!.body;
    expect(sent.stream_options).toEqual({ include_usage: true }); // the caller's own option is passed on
    const prompt = chatPromptTokens(['Strict upstream.']);
    expect(usageSeen).toMatchObject({ completion_tokens: 8 });
    const { usage } = await chargeOf(srv.ctx.db.kysely, response.headers.get('x-request-id')!);
    expect(usage).toMatchObject({ completion_tokens: 8, charged_micros: expectedCost({ input: '0.15', output: '0.6' }, { prompt: usage!.prompt_tokens, completion: 8 }) });
    expect(prompt).toBeGreaterThan(0);

    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'No usage asked.' }], stream: true, max_tokens: 3 }).then(async (s) => {
      for await (const _ of s);
    });
    expect(up.requests.at(-1)!.body.stream_options).toBeUndefined();
  });
});
