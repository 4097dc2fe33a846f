// The gateway as a user meets it: the official `openai` SDK against Tollgate, Tollgate against a
// real (loopback) OpenAI-speaking upstream. Every call's charge is checked to the micro-dollar
// against the ledger, the usage record and the wallet.
import OpenAI from 'openai';
import { countTokens } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setGroup } from '../../server/src/billing/prices.js';
import { createUser } from '../../server/src/accounts/users.js';
import { createKey } from '../../server/src/accounts/keys.js';
import { adjustCash } from '../../server/src/billing/wallets.js';
import { CLI_ACTOR } from '../../server/src/audit/index.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { bookProblems, chargeOf, chatPromptTokens, expectedCost, pendingHolds, type TestPrice } from '../support/books.js';

const PRICES: Record<string, TestPrice> = {
  'gpt-4o-mini': { input: '0.15', output: '0.6' },
  'gpt-4o': { input: '2.5', output: '10' },
  'my-mini': { input: '0.3', output: '1.2' },
  'text-embedding-3-small': { input: '20', output: '0' },
  'gpt-3.5-turbo-instruct': { input: '1.5', output: '2' },
};
const VIP_MULT = 1_500_000;

let up: FakeUpstream;
let srv: TestServer;
let client: OpenAI;
let walletId: number;

const db = () => srv.ctx.db.kysely;

/** Check one call's charge everywhere it shows: usage record, ledger entries, wallet movement. */
async function expectCharged(requestId: string | null | undefined, expected: number, before: number, wallet = walletId) {
  expect(requestId).toMatch(/^req_/);
  const { usage, entries, ledgerTotal } = await chargeOf(db(), requestId!);
  expect(usage, 'usage record').toBeDefined();
  expect(usage!.charged_micros).toBe(expected);
  expect(usage!.arrears_micros).toBe(0);
  expect(ledgerTotal).toBe(expected);
  expect(entries.every((e) => e.type === 'charge' && e.bucket === 'cash')).toBe(true);
  const w = await walletOf(srv.ctx, wallet);
  expect(w.cash_micros).toBe(before - expected);
  expect(w.pending_micros).toBe(0);
  return usage!;
}

const cash = async (wallet = walletId) => (await walletOf(srv.ctx, wallet)).cash_micros;
const lastUpstream = () => up.requests.at(-1)!;

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer();
  await setGroup(srv.ctx.db, srv.ctx.feed, 'vip', { multiplier: '1.5' }, CLI_ACTOR);
  await addChannel(srv.ctx, up.url, {
    models: ['gpt-4o-mini', 'text-embedding-3-small', 'gpt-3.5-turbo-instruct', 'unpriced-model'],
    model_mapping: { 'my-mini': 'gpt-4o-mini' },
  });
  await addChannel(srv.ctx, up.url, { models: ['gpt-4o', 'gpt-4o-mini'], groups: ['vip'] });
  for (const [m, p] of Object.entries(PRICES)) await addPrice(srv.ctx, m, { input: p.input, output: p.output });
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '10' });
  walletId = u.wallet.id;
  client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: u.key, maxRetries: 0 });
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('chat completions through the openai SDK', () => {
  it('non-streaming: content, usage, and the exact charge', async () => {
    const before = await cash();
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }], max_tokens: 7 })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toBe('hello' + ' hello'.repeat(6));
    const prompt = chatPromptTokens(['Be brief.', 'Say hello.']);
    expect(data.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 7, total_tokens: prompt + 7 });
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['gpt-4o-mini']!, { prompt, completion: 7 }), before);
    expect(usage).toMatchObject({ status_code: 200, usage_source: 'upstream', stream: 0, prompt_tokens: prompt, completion_tokens: 7, model: 'gpt-4o-mini' });
  });

  it('streaming without include_usage: no usage chunk reaches the caller, yet the call is charged from the upstream usage', async () => {
    const before = await cash();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Stream to me.' }], stream: true, max_tokens: 6 })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('hello' + ' hello'.repeat(5));
    for (const c of chunks) {
      expect(c.choices).toHaveLength(1);
      expect(c.usage ?? null).toBeNull();
    }
    // Tollgate asked the upstream for usage on the caller's behalf
    expect(lastUpstream().body.stream_options).toEqual({ include_usage: true });
    const prompt = chatPromptTokens(['Stream to me.']);
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['gpt-4o-mini']!, { prompt, completion: 6 }), before);
    expect(usage).toMatchObject({ usage_source: 'upstream', stream: 1, completion_tokens: 6, status_code: 200 });
  });

  it('streaming with include_usage: the last chunk carries the usage', async () => {
    const before = await cash();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Count for me.' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    const prompt = chatPromptTokens(['Count for me.']);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 10, total_tokens: prompt + 10 });
    expect(chunks.slice(0, -1).every((c) => c.usage == null)).toBe(true);
    expect(lastUpstream().body.stream_options).toEqual({ include_usage: true });
    await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['gpt-4o-mini']!, { prompt, completion: 10 }), before);
  });

  it('passes unknown and vendor fields to the upstream untouched', async () => {
    const params = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Look.' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] }],
      max_tokens: 3,
      temperature: 0.25,
      top_p: 0.9,
      seed: 42,
      logit_bias: { '1234': -100 },
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'lookup', description: 'x', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      tool_choice: 'auto',
      user: 'end-user-7',
      metadata: { project: 'p1' },
      x_vendor_extension: { nested: [1, 'two', { three: 3 }], flag: false, nothing: null },
    };
    const res = await client.chat.completions.create(params as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    expect(res.choices[0]!.message.content).toBe('hello hello hello');
    expect(lastUpstream().body).toEqual(params);
    expect(lastUpstream().headers.authorization).toMatch(/^Bearer sk-upstream-/);
  });

  it('maps a public model name to the upstream name and prices it under the public name', async () => {
    const before = await cash();
    const { data, response } = await client.chat.completions
      .create({ model: 'my-mini', messages: [{ role: 'user', content: 'Mapped?' }], max_tokens: 4, stream: true })
      .withResponse();
    let text = '';
    for await (const c of data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('hello hello hello hello');
    const sent = lastUpstream().body;
    expect(sent.model).toBe('gpt-4o-mini');
    expect(sent.stream_options).toEqual({ include_usage: true });
    const prompt = chatPromptTokens(['Mapped?']);
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['my-mini']!, { prompt, completion: 4 }), before);
    expect(usage).toMatchObject({ model: 'my-mini', upstream_model: 'gpt-4o-mini' });
  });

  it("applies the group's price multiplier", async () => {
    const { user, wallet } = await createUser(srv.ctx.db, { email: `vip-${Date.now()}@example.com`, group: 'vip' });
    await adjustCash(srv.ctx.db, { walletId: wallet.id, userId: user.id, amount: 5_000_000, type: 'topup', reason: 'test', actorId: null });
    const { key } = await createKey(srv.ctx.db, srv.ctx.feed, user.id, {});
    await srv.ctx.feed.pollNow();
    const vip = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
    const { data, response } = await vip.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'VIP here.' }], max_tokens: 9 }).withResponse();
    const prompt = chatPromptTokens(['VIP here.']);
    expect(data.usage?.prompt_tokens).toBe(prompt);
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['gpt-4o']!, { prompt, completion: 9 }, VIP_MULT), 5_000_000, wallet.id);
    expect(usage.multiplier_ppm).toBe(VIP_MULT);
  });
});

describe('legacy completions', () => {
  it('non-streaming', async () => {
    const before = await cash();
    const { data, response } = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test', max_tokens: 5 }).withResponse();
    expect(data.object).toBe('text_completion');
    expect(data.choices[0]!.text).toBe('hello hello hello hello hello');
    const prompt = countTokens('Say this is a test');
    expect(data.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 5 });
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['gpt-3.5-turbo-instruct']!, { prompt, completion: 5 }), before);
    expect(usage.endpoint).toBe('completions');
  });

  it('streaming, with and without include_usage', async () => {
    for (const wantUsage of [false, true]) {
      const before = await cash();
      const { data: stream, response } = await client.completions
        .create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Stream a test', max_tokens: 4, stream: true, ...(wantUsage ? { stream_options: { include_usage: true } } : {}) })
        .withResponse();
      const chunks: OpenAI.Completions.Completion[] = [];
      for await (const c of stream) chunks.push(c);
      expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe('hello hello hello hello');
      const withUsage = chunks.filter((c) => c.usage);
      expect(withUsage).toHaveLength(wantUsage ? 1 : 0);
      if (!wantUsage) expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
      expect(lastUpstream().body.stream_options).toEqual({ include_usage: true });
      const prompt = countTokens('Stream a test');
      if (wantUsage) expect(withUsage[0]!.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 4 });
      await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['gpt-3.5-turbo-instruct']!, { prompt, completion: 4 }), before);
    }
  });
});

describe('embeddings', () => {
  it("the SDK's default base64 path decodes, and matches the float answer", async () => {
    const before = await cash();
    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta gamma'] }).withResponse();
    // the SDK asks for base64 by default and decodes it back to numbers
    expect(lastUpstream().body.encoding_format).toBe('base64');
    expect(data.data).toHaveLength(2);
    for (const d of data.data) {
      expect(d.embedding).toHaveLength(8);
      expect(d.embedding.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
    }
    const prompt = countTokens('alpha') + countTokens('beta gamma');
    expect(data.usage).toEqual({ prompt_tokens: prompt, total_tokens: prompt });
    const usage = await expectCharged(response.headers.get('x-request-id'), expectedCost(PRICES['text-embedding-3-small']!, { prompt, completion: 0 }), before);
    expect(usage.endpoint).toBe('embeddings');

    const asFloat = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta gamma'], encoding_format: 'float' });
    expect(lastUpstream().body.encoding_format).toBe('float');
    expect(asFloat.data.map((d) => d.embedding)).toEqual(data.data.map((d) => d.embedding));
  });
});

describe('models', () => {
  it("lists only priced models served to the key's group", async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id).sort();
    // gpt-4o is served only to "vip"; unpriced-model has no price
    expect(ids).toEqual(['gpt-3.5-turbo-instruct', 'gpt-4o-mini', 'my-mini', 'text-embedding-3-small']);
    expect(list.data[0]).toMatchObject({ object: 'model' });
    expect((await client.models.retrieve('my-mini')).id).toBe('my-mini');
    const err = await client.models.retrieve('gpt-4o').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("respects the key's allowed models", async () => {
    const { key } = await addUserWithKey(srv.ctx, { balanceUsd: '1', key: { models: ['gpt-4o-mini', 'text-*'] } });
    const limited = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
    expect((await limited.models.list()).data.map((m) => m.id).sort()).toEqual(['gpt-4o-mini', 'text-embedding-3-small']);
    expect(await limited.models.retrieve('my-mini').catch((e: unknown) => (e as InstanceType<typeof OpenAI.APIError>).status)).toBe(404);
  });

  it("shows a group's own models to its users", async () => {
    const { user } = await createUser(srv.ctx.db, { email: `vip2-${Date.now()}@example.com`, group: 'vip' });
    const { key } = await createKey(srv.ctx.db, srv.ctx.feed, user.id, {});
    await srv.ctx.feed.pollNow();
    const vip = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
    expect((await vip.models.list()).data.map((m) => m.id).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});

describe('the books after all of it', () => {
  it('balance', async () => {
    expect(await pendingHolds(db())).toBe(0);
    const wallets = await db().selectFrom('wallets').select('id').execute();
    for (const w of wallets) expect(await bookProblems(db(), w.id)).toEqual([]);
  });
});
