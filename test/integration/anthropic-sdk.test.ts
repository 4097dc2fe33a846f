// The Anthropic Messages API as a user meets it: the official @anthropic-ai/sdk against Tollgate,
// Tollgate against a real (loopback) Anthropic-speaking upstream (bytes relayed) and against an
// OpenAI-compatible one (converted event by event); and the openai SDK against the Anthropic
// upstream. Each call's charge is checked to the micro-dollar in the usage record, the ledger and
// the wallet.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { FAKE_ANTHROPIC_KEY, fakeAnthropicInputTokens, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { chargeOf, chatPromptTokens, expectedCost, pendingHolds, until, type TestPrice } from '../support/books.js';

const PRICES: Record<string, TestPrice> = {
  'claude-house-1': { input: '3', output: '15', cached: '0.3' },
  'claude-via-openai': { input: '2', output: '8' },
  'gpt-4o-mini': { input: '0.15', output: '0.6' },
};

let up: FakeUpstream;
let ant: FakeAnthropic;
let srv: TestServer;
let claude: Anthropic;
let openai: OpenAI;
let walletId: number;
let key: string;

const db = () => srv.ctx.db.kysely;
const cash = async (wallet = walletId) => (await walletOf(srv.ctx, wallet)).cash_micros;
const lastAnthropic = () => ant.requests.at(-1)!;
const lastOpenAI = () => up.requests.at(-1)!;
const hello = (n: number) => 'hello' + ' hello'.repeat(n - 1);

async function expectCharged(requestId: string | null | undefined, expected: number, before: number) {
  expect(requestId).toMatch(/^req_/);
  const { usage, ledgerTotal } = await chargeOf(db(), requestId!);
  expect(usage, 'usage record').toBeDefined();
  expect(usage!.charged_micros).toBe(expected);
  expect(ledgerTotal).toBe(expected);
  expect(await cash()).toBe(before - expected);
  expect((await walletOf(srv.ctx, walletId)).pending_micros).toBe(0);
  return usage!;
}

beforeAll(async () => {
  up = await startFakeUpstream();
  ant = await startFakeAnthropic();
  srv = await startTestServer();
  await addChannel(srv.ctx, ant.url, { type: 'anthropic', key: FAKE_ANTHROPIC_KEY, models: ['claude-house-1'] });
  await addChannel(srv.ctx, up.url, { models: ['gpt-4o-mini'], model_mapping: { 'claude-via-openai': 'gpt-4o-mini' } });
  for (const [m, p] of Object.entries(PRICES)) await addPrice(srv.ctx, m, { input: p.input, output: p.output, ...(p.cached ? { cached_input: p.cached } : {}) });
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '10' });
  walletId = u.wallet.id;
  key = u.key;
  claude = new Anthropic({ baseURL: srv.url, apiKey: key, maxRetries: 0 });
  openai = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
  await ant?.close();
});

describe('Anthropic SDK → Anthropic upstream (relayed as sent)', () => {
  it('non-streaming: the answer, the key and version sent upstream, the exact charge', async () => {
    const before = await cash();
    const params = { model: 'claude-house-1', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user' as const, content: 'Say hello.' }] };
    const { data, response } = await claude.messages.create(params).withResponse();
    expect(data.content).toEqual([{ type: 'text', text: hello(10) }]);
    expect(data.stop_reason).toBe('end_turn');
    const input = fakeAnthropicInputTokens(params);
    expect(data.usage).toMatchObject({ input_tokens: input, output_tokens: 10 });
    const sent = lastAnthropic();
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(FAKE_ANTHROPIC_KEY);
    // The caller's anthropic-version is passed on.
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(sent.body).toEqual(params);
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-house-1']!, { prompt: input, completion: 10 }), before);
    expect(usage).toMatchObject({ endpoint: 'messages', usage_source: 'upstream', prompt_tokens: input, completion_tokens: 10 });
  });

  it('streaming with ?beta=true: every event relayed, cache reads priced as such', async () => {
    const before = await cash();
    const params = { model: 'claude-house-1', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Stream please [[fake:tokens=6,cacheRead=4]]' }] };
    const stream = claude.beta.messages.stream(params, { headers: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14' } });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const msg = await stream.finalMessage();
    expect(msg.content).toEqual([{ type: 'text', text: hello(6) }]);
    expect(types[0]).toBe('message_start');
    expect(types).toContain('content_block_delta');
    expect(types.at(-1)).toBe('message_stop');
    expect(lastAnthropic().headers['anthropic-beta']).toBe('fine-grained-tool-streaming-2025-05-14');
    const input = fakeAnthropicInputTokens(params);
    expect(msg.usage).toMatchObject({ input_tokens: input - 4, cache_read_input_tokens: 4, output_tokens: 6 });
    const { response } = await stream.withResponse();
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-house-1']!, { prompt: input, completion: 6, cached: 4 }), before);
    expect(usage).toMatchObject({ stream: 1, prompt_tokens: input, cached_tokens: 4, completion_tokens: 6 });
  });

  it('tools and tool results, with an image, in a multi-turn conversation', async () => {
    const tools = [{ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
    const first = await claude.messages.create({ model: 'claude-house-1', max_tokens: 100, tools, messages: [{ role: 'user', content: 'Weather in Paris? [[fake:tool]]' }] });
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((b) => b.type === 'tool_use')!;
    expect(call).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
    const before = await cash();
    const params = {
      model: 'claude-house-1',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user' as const, content: 'Weather in Paris? [[fake:tool]]' },
        { role: 'assistant' as const, content: first.content },
        {
          role: 'user' as const,
          content: [
            { type: 'tool_result' as const, tool_use_id: call.id, content: 'Sunny, 21 C' },
            { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'iVBORw0KGgo=' } },
            { type: 'text' as const, text: 'And this picture?' },
          ],
        },
      ],
    };
    const { data, response } = await claude.messages.create(params).withResponse();
    expect(data.content[0]).toMatchObject({ type: 'text' });
    const input = fakeAnthropicInputTokens(params);
    expect(data.usage.input_tokens).toBe(input);
    await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-house-1']!, { prompt: input, completion: 10 }), before);
  });

  it('count_tokens is answered and costs nothing', async () => {
    const before = await cash();
    const r = await claude.messages.countTokens({ model: 'claude-house-1', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
    expect(r.input_tokens).toBeGreaterThan(5);
    expect(r.input_tokens).toBeLessThan(40);
    expect(await cash()).toBe(before);
  });

  it('the model list in Anthropic\'s shape', async () => {
    const page = await claude.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['claude-house-1', 'claude-via-openai']));
    expect(page.data[0]).toMatchObject({ type: 'model' });
  });

  it('an upstream error event mid-stream reaches the caller as an error; nothing stays held', async () => {
    const stream = claude.messages.stream({ model: 'claude-house-1', max_tokens: 64, messages: [{ role: 'user', content: 'Break [[fake:errorAfter=3]]' }] });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
    const { response } = await stream.withResponse();
    const usage = await until(async () => (await chargeOf(db(), response.headers.get('x-request-id')!)).usage);
    expect(usage).toMatchObject({ error_code: 'upstream_error' });
    expect(await pendingHolds(db())).toBe(0);
  });
});

describe('Anthropic SDK → OpenAI-compatible upstream (converted)', () => {
  it('non-streaming: the OpenAI answer comes back as an Anthropic message', async () => {
    const before = await cash();
    const { data, response } = await claude.messages
      .create({ model: 'claude-via-openai', max_tokens: 7, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: 'Say hello.' }] })
      .withResponse();
    expect(data).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-via-openai', stop_reason: 'max_tokens' });
    expect(data.content).toEqual([{ type: 'text', text: hello(7) }]);
    const sent = lastOpenAI();
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 7, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }] });
    const prompt = chatPromptTokens(['Be brief.', 'Say hello.']);
    expect(data.usage).toMatchObject({ input_tokens: prompt, output_tokens: 7 });
    await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-via-openai']!, { prompt, completion: 7 }), before);
  });

  it('streaming: OpenAI chunks become message_start … message_stop, with the usage billed', async () => {
    const before = await cash();
    const stream = claude.messages.stream({ model: 'claude-via-openai', max_tokens: 50, messages: [{ role: 'user', content: 'Stream to me.' }] });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const msg = await stream.finalMessage();
    expect(msg.content).toEqual([{ type: 'text', text: hello(10) }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(lastOpenAI().body.stream_options).toEqual({ include_usage: true });
    const prompt = chatPromptTokens(['Stream to me.']);
    expect(msg.usage).toMatchObject({ input_tokens: prompt, output_tokens: 10 });
    const { response } = await stream.withResponse();
    await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-via-openai']!, { prompt, completion: 10 }), before);
  });

  it('tools, tool results and images are converted to OpenAI\'s shapes', async () => {
    await claude.messages.create({
      model: 'claude-via-openai',
      max_tokens: 20,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
    });
    const sent = lastOpenAI().body;
    expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
    expect(sent.tool_choice).toBe('required');
    expect(sent.messages).toEqual([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }, { type: 'text', text: 'Thanks' }] },
    ]);
  });

  it('a stream the caller cuts is charged for what was delivered', async () => {
    const before = await cash();
    const ac = new AbortController();
    const stream = claude.messages.stream({ model: 'claude-via-openai', max_tokens: 50, messages: [{ role: 'user', content: 'Slowly [[fake:chunkDelayMs=100]]' }] }, { signal: ac.signal });
    let deltas = 0;
    stream.on('text', () => {
      if (++deltas === 2) ac.abort();
    });
    await stream.done().catch(() => {});
    const { response } = await stream.withResponse();
    const id = response.headers.get('x-request-id')!;
    const usage = await until(async () => (await chargeOf(db(), id)).usage);
    expect(usage).toMatchObject({ status_code: 499, error_code: 'client_closed', usage_source: 'estimated' });
    expect(usage.completion_tokens).toBeGreaterThanOrEqual(2);
    expect(usage.completion_tokens).toBeLessThan(10);
    const prompt = usage.prompt_tokens;
    expect(usage.charged_micros).toBe(expectedCost(PRICES['claude-via-openai']!, { prompt, completion: usage.completion_tokens }));
    expect(await cash()).toBe(before - usage.charged_micros);
    expect(await pendingHolds(db())).toBe(0);
  });
});

describe('errors in Anthropic\'s shape', () => {
  it('a bad key is a 401 authentication_error', async () => {
    const bad = new Anthropic({ baseURL: srv.url, apiKey: 'sk-nope', maxRetries: 0 });
    const err = await bad.messages.create({ model: 'claude-house-1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('an unknown model is a 404 not_found_error; a missing max_tokens a 400', async () => {
    const err = await claude.messages.create({ model: 'claude-nope', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.error.error.type).toBe('not_found_error');
    const res = await fetch(srv.url + '/v1/messages', { method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'claude-house-1', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required', code: 'bad_request' } });
  });

  it('an empty wallet is a 402 billing_error the client can read', async () => {
    const poor = await addUserWithKey(srv.ctx, { balanceUsd: '0' });
    const c = new Anthropic({ baseURL: srv.url, apiKey: poor.key, maxRetries: 0 });
    const err = await c.messages.create({ model: 'claude-house-1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err.status).toBe(402);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'billing_error', message: expect.stringMatching(/balance/i) } });
  });
});

describe('openai SDK → Anthropic upstream (converted)', () => {
  it('non-streaming chat completion from an Anthropic message', async () => {
    const before = await cash();
    const { data, response } = await openai.chat.completions
      .create({ model: 'claude-house-1', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi [[fake:tokens=5]]' }], max_tokens: 30 })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(hello(5));
    expect(data.choices[0]!.finish_reason).toBe('stop');
    const sent = lastAnthropic();
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(FAKE_ANTHROPIC_KEY);
    expect(sent.body).toEqual({ model: 'claude-house-1', max_tokens: 30, system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi [[fake:tokens=5]]' }] }] });
    const input = fakeAnthropicInputTokens(sent.body);
    expect(data.usage).toMatchObject({ prompt_tokens: input, completion_tokens: 5 });
    await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-house-1']!, { prompt: input, completion: 5 }), before);
  });

  it('streaming with tools: Anthropic events become chunks with tool_calls and a usage chunk', async () => {
    const before = await cash();
    const { data: stream, response } = await openai.chat.completions
      .create({
        model: 'claude-house-1',
        stream: true,
        stream_options: { include_usage: true },
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
        messages: [{ role: 'user', content: 'Weather? [[fake:tool]]' }],
      })
      .withResponse();
    let args = '';
    let name = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      const d = c.choices[0]?.delta;
      for (const t of d?.tool_calls ?? []) {
        name += t.function?.name ?? '';
        args += t.function?.arguments ?? '';
      }
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(finish).toBe('tool_calls');
    const sent = lastAnthropic().body;
    expect(sent.stream_options).toBeUndefined();
    expect(sent.tools).toEqual([{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);
    const input = fakeAnthropicInputTokens(sent);
    expect(usage).toMatchObject({ prompt_tokens: input, completion_tokens: 5 });
    await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['claude-house-1']!, { prompt: input, completion: 5 }), before);
  });
});
