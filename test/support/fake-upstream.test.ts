import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { countTokens, encode } from 'gpt-tokenizer';
import { encode as encodeCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from './fake-upstream.js';

let up: FakeUpstream;
let client: OpenAI;

/** Expected prompt_tokens for a chat request: content tokens + 3 per message + 3. */
function chatPromptTokens(texts: string[]): number {
  return countTokens(texts.join('')) + 3 * texts.length + 3;
}

async function waitFor(pred: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function errorJson(res: Response): Promise<ErrorJson> {
  return (await res.json()) as ErrorJson;
}

function findByText(needle: string): RecordedRequest | undefined {
  return up.requests.find((r) => JSON.stringify(r.body ?? null).includes(needle));
}

beforeAll(async () => {
  up = await startFakeUpstream({ models: ['my-custom-model'] });
  // No retries: error tests must see the first response (the SDK retries 429/5xx by default).
  client = new OpenAI({ baseURL: up.url, apiKey: 'sk-x', maxRetries: 0 });
});

afterAll(async () => {
  await up.close();
});

beforeEach(() => {
  up.clearRequests();
  up.setDefaultBehavior({});
});

describe('fake upstream', () => {
  it('uses a completion word that is one token per repetition in o200k and cl100k', () => {
    const text = 'hello' + ' hello'.repeat(49);
    expect(encode(text)).toHaveLength(50);
    expect(encodeCl100k(text)).toHaveLength(50);
  });

  it('serves a non-streaming chat completion with matching usage', async () => {
    up.setDefaultBehavior({ completionTokens: 5, cachedTokens: 2 });
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: [{ type: 'text' as const, text: 'Say hello five times.' }] },
    ];
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.system_fingerprint).toBe('fp_fake');
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: 'hello hello hello hello hello', refusal: null });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    const prompt = chatPromptTokens(['You are terse.', 'Say hello five times.']);
    expect(res.usage).toMatchObject({
      prompt_tokens: prompt,
      completion_tokens: 5,
      total_tokens: prompt + 5,
      prompt_tokens_details: { cached_tokens: 2, audio_tokens: 0 },
    });
    expect(encode(res.choices[0]!.message.content!)).toHaveLength(5);

    const rec = up.requests.at(-1)!;
    expect(rec.method).toBe('POST');
    expect(rec.path).toBe('/v1/chat/completions');
    expect(rec.headers.authorization).toBe('Bearer sk-x');
    expect(rec.body.model).toBe('gpt-4o-mini');
    expect(rec.responseStatus).toBe(200);
  });

  it('caps completion tokens at max_tokens and reports finish_reason "length"', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 3,
    });
    expect(res.choices[0]?.finish_reason).toBe('length');
    expect(res.usage?.completion_tokens).toBe(3);
  });

  it('streams chat chunks with a trailing usage chunk when include_usage is set', async () => {
    up.setDefaultBehavior({ completionTokens: 7 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    // role chunk + 7 content chunks + finish chunk + usage chunk
    expect(chunks).toHaveLength(10);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('hello' + ' hello'.repeat(6));
    expect(chunks[8]?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const prompt = chatPromptTokens(['stream please']);
    expect(last.usage).toMatchObject({ prompt_tokens: prompt, completion_tokens: 7, total_tokens: prompt + 7 });
  });

  it('streams without a usage chunk when include_usage is not set', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'no usage' }],
      stream: true,
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(12); // role + 10 content + finish
    for (const c of chunks) {
      expect(c.usage).toBeUndefined();
      expect(c.choices).toHaveLength(1);
    }
  });

  it('writes the exact OpenAI SSE framing and ends with [DONE]', async () => {
    const res = await fetch(`${up.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-x', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, max_tokens: 2 }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events).toHaveLength(5); // role, 2 content, finish, [DONE]
    const finish = JSON.parse(events[3]!.slice('data: '.length));
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'length' });
  });

  it('surfaces a configured 429 as an APIError with retry-after', async () => {
    up.setKeyBehavior('sk-limited', { status: 429, errorCode: 'rate_limit_exceeded', errorType: 'requests' });
    const limited = new OpenAI({ baseURL: up.url, apiKey: 'sk-limited', maxRetries: 0 });
    const err = await limited.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(429);
    expect(apiErr.code).toBe('rate_limit_exceeded');
    expect(apiErr.type).toBe('requests');
    expect(apiErr.headers?.get('retry-after')).toBe('1');
    up.setKeyBehavior('sk-limited', null);
  });

  it('surfaces a configured 401 as an APIError and the key behavior only applies to that key', async () => {
    up.setKeyBehavior('sk-revoked', { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key provided' });
    const revoked = new OpenAI({ baseURL: up.url, apiKey: 'sk-revoked', maxRetries: 0 });
    const err = await revoked.models.list().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(401);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key');

    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o-mini', 'text-embedding-3-small', 'my-custom-model']));
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'fake' });
    up.setKeyBehavior('sk-revoked', null);
  });

  it('rejects requests without a bearer token, bad JSON, missing fields and unknown paths', async () => {
    const post = (path: string, body: string, auth = true) =>
      fetch(`${up.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: 'Bearer sk-x' } : {}) },
        body,
      });

    const noAuth = await post('/chat/completions', JSON.stringify({ model: 'm', messages: [] }), false);
    expect(noAuth.status).toBe(401);
    expect((await errorJson(noAuth)).error.code).toBe('invalid_api_key');

    const badJson = await post('/chat/completions', '{nope');
    expect(badJson.status).toBe(400);
    expect((await errorJson(badJson)).error.type).toBe('invalid_request_error');

    const noMessages = await post('/chat/completions', JSON.stringify({ model: 'm' }));
    expect(noMessages.status).toBe(400);
    expect(await errorJson(noMessages)).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: 'messages', code: null },
    });

    const noModel = await post('/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }));
    expect(noModel.status).toBe(400);
    expect((await errorJson(noModel)).error.param).toBe('model');

    const missing = await post('/nope', '{}');
    expect(missing.status).toBe(404);
    expect((await errorJson(missing)).error.message).toBe('Invalid URL (POST /v1/nope)');
  });

  it('returns deterministic embeddings that the SDK base64 path decodes to 8 floats', async () => {
    const a = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(a.object).toBe('list');
    expect(a.data).toHaveLength(2);
    expect(a.data[0]?.embedding).toHaveLength(8);
    expect(a.data[0]?.embedding.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
    expect(a.data[0]?.embedding).not.toEqual(a.data[1]?.embedding);
    expect(a.usage).toEqual({ prompt_tokens: countTokens('alpha') + countTokens('beta'), total_tokens: countTokens('alpha') + countTokens('beta') });
    // The SDK asked for base64 on the wire.
    expect(up.requests.at(-1)?.body.encoding_format).toBe('base64');

    // Same input ⇒ same vector, and the float encoding matches the base64 one exactly.
    const b = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'float' });
    expect(b.data[0]?.embedding).toEqual(a.data[0]?.embedding);
  });

  it('serves legacy completions, streaming and not', async () => {
    up.setDefaultBehavior({ completionTokens: 4 });
    const res = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time' });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]).toEqual({ text: 'hello hello hello hello', index: 0, logprobs: null, finish_reason: 'stop' });
    expect(res.usage).toEqual({ prompt_tokens: countTokens('Once upon a time'), completion_tokens: 4, total_tokens: countTokens('Once upon a time') + 4 });

    const stream = await client.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Once upon a time',
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe('hello hello hello hello');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(4);
  });

  it('applies [[fake:…]] directives found in message text over key and default behavior', async () => {
    up.setDefaultBehavior({ completionTokens: 9 });
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi [[fake:completionTokens=2,omitUsage=true]]' }],
    });
    expect(res.choices[0]?.message.content).toBe('hello hello');
    expect(res.usage).toBeUndefined();

    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '[[fake:status=503,errorCode=overloaded]]' }] })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((err as InstanceType<typeof OpenAI.APIError>).type).toBe('server_error');
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('overloaded');
  });

  it('waits delayMs before responding', async () => {
    const t0 = Date.now();
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '[[fake:delayMs=120]]' }] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('records clientAborted when the client gives up during delayMs', async () => {
    const err = await fetch(`${up.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-x', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'slow [[fake:delayMs=5000]]' }] }),
      signal: AbortSignal.timeout(50),
    }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await waitFor(() => findByText('slow [[fake:delayMs=5000]]')?.clientAborted === true);
    expect(findByText('slow [[fake:delayMs=5000]]')?.responseStatus).toBeUndefined();
  });

  it('dropAfterChunks breaks the SDK stream iteration', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '[[fake:dropAfterChunks=3]]' }],
      stream: true,
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toThrow();
    expect(seen.join('')).toBe('hello hello hello');
    expect(findByText('dropAfterChunks')?.clientAborted).toBe(false);
  });

  it('malformedAfterChunks sends a broken data line and ends without [DONE]', async () => {
    const res = await fetch(`${up.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-x', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: '[[fake:malformedAfterChunks=1]]' }], stream: true }),
    });
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events).toHaveLength(3); // role, 1 content, malformed
    expect(events.at(-1)).toBe('data: {"this is not json');
  });

  it('hangAfterChunks keeps the stream open until the client aborts, then records clientAborted', async () => {
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'wait [[fake:hangAfterChunks=2]]' }], stream: true },
      { signal: ac.signal },
    );
    const seen: string[] = [];
    const iteration = (async () => {
      for await (const c of stream) {
        seen.push(c.choices[0]?.delta.content ?? '');
        if (seen.length === 3) setTimeout(() => ac.abort(), 50); // role + 2 content chunks received
      }
    })();
    // The SDK ends the iteration quietly on a user abort.
    await iteration;
    expect(seen).toEqual(['', 'hello', ' hello']);
    await waitFor(() => findByText('hangAfterChunks')?.clientAborted === true);
  });

  it('records requests up to recordLimit, dropping the oldest', async () => {
    const small = await startFakeUpstream({ recordLimit: 2 });
    try {
      const c = new OpenAI({ baseURL: small.url, apiKey: 'sk-x', maxRetries: 0 });
      for (const n of ['one', 'two', 'three']) {
        await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: n }] });
      }
      expect(small.requests.map((r) => r.body.messages[0].content)).toEqual(['two', 'three']);
      small.clearRequests();
      expect(small.requests).toHaveLength(0);
    } finally {
      await small.close();
    }
  });

  it('close() resolves while a hung stream is open', async () => {
    const other = await startFakeUpstream({ defaultBehavior: { hangAfterChunks: 1 } });
    const c = new OpenAI({ baseURL: other.url, apiKey: 'sk-x', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    const it = stream[Symbol.asyncIterator]();
    await it.next(); // role chunk
    await it.next(); // first content chunk; the server now hangs
    const t0 = Date.now();
    await other.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(it.next()).rejects.toThrow();
    // A server-side close is not a client abort.
    expect(other.requests[0]?.clientAborted).toBe(false);
  });
});
