// Streams cut short and upstreams that fail: who is charged what, where the call goes next, and
// that no hold is ever left open.
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey, walletOf } from '../support/seed.js';
import { ApiClient } from '../support/api.js';
import { bookProblems, chargeOf, chatPromptTokens, closedPort, expectedCost, pendingHolds, until } from '../support/books.js';

const PRICE = { input: '1', output: '2' };
const HEADERS_TIMEOUT_MS = 1_500;

let up: FakeUpstream;
let srv: TestServer;
let api: ApiClient;
let client: OpenAI;
let walletId: number;
const ch: Record<string, { id: number }> = {};
const db = () => srv.ctx.db.kysely;
type ApiErr = InstanceType<typeof OpenAI.APIError>;

const byKey = (key: string) => up.requests.filter((r) => r.headers.authorization === `Bearer ${key}`);
const cash = async () => (await walletOf(srv.ctx, walletId)).cash_micros;

async function failure(p: Promise<unknown>): Promise<ApiErr> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OpenAI.APIError);
  return e as ApiErr;
}

/** Stream a call whose upstream fails mid-way: the text that arrived, and what the SDK raised. */
async function streamUntilItBreaks(content: string) {
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'm-stream', messages: [{ role: 'user', content }], stream: true })
    .withResponse();
  let text = '';
  const err = await (async () => {
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  })().catch((e: unknown) => e);
  return { text, err, response };
}

/** A refused/failed call: nothing charged, a usage record of the failure, the hold voided. */
async function expectNothingCharged(e: ApiErr, before: number, status: number) {
  const rid = e.headers?.get('x-request-id');
  expect(rid).toMatch(/^req_/);
  const { usage, entries } = await chargeOf(db(), rid!);
  expect(entries).toHaveLength(0);
  expect(usage).toMatchObject({ charged_micros: 0, status_code: status });
  const hold = await db().selectFrom('holds').selectAll().where('request_id', '=', rid!).executeTakeFirstOrThrow();
  expect(hold.status).toBe('voided');
  expect(await cash()).toBe(before);
}

beforeAll(async () => {
  up = await startFakeUpstream({
    apiKeys: {
      'sk-f1-broken': { status: 500, errorMessage: 'upstream exploded' },
      'sk-dead-key': { status: 401, errorCode: 'invalid_api_key', errorMessage: 'Incorrect API key provided: sk-dead***' },
      'sk-r1': { status: 429, errorCode: 'rate_limit_exceeded' },
      'sk-r2': { status: 429, errorCode: 'rate_limit_exceeded' },
      'sk-slow': { delayMs: 4_000 },
    },
  });
  srv = await startTestServer({ env: { UPSTREAM_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), GATEWAY_RETRIES: '2' } });
  const add = async (name: string, model: string, key: string, over: Record<string, unknown> = {}) => {
    ch[name] = await addChannel(srv.ctx, (over.base_url as string | undefined) ?? up.url, { name, key, models: [model], ...over });
    await addPrice(srv.ctx, model, PRICE);
  };
  await add('plain', 'm-stream', 'sk-plain');
  await add('f1', 'm-failover', 'sk-f1-broken', { priority: 10 });
  await add('f2', 'm-failover', 'sk-f2-good', { priority: 0 });
  await add('d1', 'm-dead', 'sk-dead-key', { priority: 10 });
  await add('d2', 'm-dead', 'sk-d2-good', { priority: 0 });
  await add('r1', 'm-429', 'sk-r1');
  await add('r2', 'm-429', 'sk-r2');
  await add('down1', 'm-down', 'sk-down1', { base_url: `http://127.0.0.1:${await closedPort()}/v1` });
  await add('down2', 'm-down', 'sk-down2', { base_url: `http://127.0.0.1:${await closedPort()}/v1` });
  await add('slow', 'm-timeout', 'sk-slow');
  await add('c400', 'm-400', 'sk-c400');
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '10' });
  walletId = u.wallet.id;
  client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: u.key, maxRetries: 0 });
  api = new ApiClient(srv.url);
  await api.signIn();
});
afterEach(async () => {
  // every exit of the relay settles or voids its hold
  await until(async () => (await pendingHolds(db())) === 0, 5_000);
  expect(await bookProblems(db(), walletId)).toEqual([]);
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

describe('streams cut short', () => {
  it('a caller who hangs up mid-stream aborts the upstream and pays exactly for what was delivered', async () => {
    const content = 'Go slowly. [[fake:chunkDelayMs=150,completionTokens=40]]';
    const before = await cash();
    const ac = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'm-stream', messages: [{ role: 'user', content }], stream: true }, { signal: ac.signal })
      .withResponse();
    const rid = response.headers.get('x-request-id')!;
    let received = 0;
    // the SDK ends the iteration (or throws an abort error) once the signal fires
    await (async () => {
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) received++;
        if (received === 3) ac.abort();
      }
    })().catch(() => undefined);
    expect(received).toBe(3);

    const rec = await until(() => up.requests.find((r) => JSON.stringify(r.body).includes('Go slowly.') && r.clientAborted));
    expect(rec.clientAborted).toBe(true);
    const usage = await until(async () => (await chargeOf(db(), rid)).usage);
    const prompt = chatPromptTokens([content]);
    expect(usage).toMatchObject({ status_code: 499, usage_source: 'estimated', error_code: 'client_closed', prompt_tokens: prompt, stream: 1 });
    // what went out before the close was noticed: the 3 chunks seen, at most one more in flight
    expect(usage.completion_tokens).toBeGreaterThanOrEqual(3);
    expect(usage.completion_tokens).toBeLessThanOrEqual(4);
    const expected = expectedCost(PRICE, { prompt, completion: usage.completion_tokens });
    expect(usage.charged_micros).toBe(expected);
    expect((await chargeOf(db(), rid)).ledgerTotal).toBe(expected);
    expect(await cash()).toBe(before - expected);
  });

  it('a caller who hangs up before the upstream answers pays nothing', async () => {
    const before = await cash();
    const ac = new AbortController();
    const p = client.chat.completions.create({ model: 'm-stream', messages: [{ role: 'user', content: 'Wait. [[fake:delayMs=800]]' }] }, { signal: ac.signal });
    await until(() => up.requests.some((r) => JSON.stringify(r.body).includes('Wait.')));
    ac.abort();
    await expect(p).rejects.toThrow();
    const rec = await until(() => up.requests.find((r) => JSON.stringify(r.body).includes('Wait.') && r.clientAborted));
    expect(rec.clientAborted).toBe(true);
    const usage = await until(() =>
      db().selectFrom('usage_records').selectAll().where('status_code', '=', 499).where('stream', '=', 0).executeTakeFirst(),
    );
    expect(usage).toMatchObject({ charged_micros: 0, error_code: 'client_closed', usage_source: 'none' });
    expect(await cash()).toBe(before);
  });

  it('an upstream that drops the connection mid-stream: the caller gets an error, and pays for what it received', async () => {
    const content = 'Drop me. [[fake:dropAfterChunks=3]]';
    const before = await cash();
    const { text, err, response } = await streamUntilItBreaks(content);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as ApiErr).code).toBe('upstream_broken');
    expect(text).toBe('hello hello hello');
    const rid = response.headers.get('x-request-id')!;
    const { usage, ledgerTotal } = await chargeOf(db(), rid);
    const expected = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 3 });
    expect(usage).toMatchObject({ completion_tokens: 3, usage_source: 'estimated', charged_micros: expected, error_code: 'upstream_broken' });
    expect(ledgerTotal).toBe(expected);
    expect(await cash()).toBe(before - expected);
  });

  it('an upstream that breaks after only the opening event charges nothing: the hold is voided', async () => {
    for (const fault of ['dropAfterChunks=0', 'malformedAfterChunks=0']) {
      const content = `Nothing to show. [[fake:${fault}]]`;
      const before = await cash();
      const { text, err, response } = await streamUntilItBreaks(content);
      expect(err, fault).toBeInstanceOf(OpenAI.APIError);
      expect(text).toBe('');
      const rid = response.headers.get('x-request-id')!;
      const { usage, entries } = await chargeOf(db(), rid);
      expect(usage, fault).toMatchObject({ completion_tokens: 0, charged_micros: 0, error_code: fault.startsWith('drop') ? 'upstream_broken' : 'upstream_malformed' });
      expect(entries).toHaveLength(0);
      const hold = await db().selectFrom('holds').selectAll().where('request_id', '=', rid).executeTakeFirstOrThrow();
      expect(hold.status).toBe('voided');
      expect(await cash()).toBe(before);
    }
  });

  it('a malformed event cuts the stream there; the caller pays for what came before it', async () => {
    const content = 'Garble. [[fake:malformedAfterChunks=2]]';
    const before = await cash();
    const { text, err, response } = await streamUntilItBreaks(content);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as ApiErr).code).toBe('upstream_malformed');
    expect(text).toBe('hello hello');
    const { usage } = await chargeOf(db(), response.headers.get('x-request-id')!);
    const expected = expectedCost(PRICE, { prompt: chatPromptTokens([content]), completion: 2 });
    expect(usage).toMatchObject({ completion_tokens: 2, usage_source: 'estimated', charged_micros: expected });
    expect(await cash()).toBe(before - expected);
  });

  it('an upstream that reports no usage is counted locally (stream and not)', async () => {
    for (const stream of [true, false]) {
      const content = `No usage ${stream}. [[fake:omitUsage=true,completionTokens=12]]`;
      const before = await cash();
      let rid: string;
      if (stream) {
        const { data, response } = await client.chat.completions
          .create({ model: 'm-stream', messages: [{ role: 'user', content }], stream: true, stream_options: { include_usage: true } })
          .withResponse();
        let text = '';
        let seen: OpenAI.CompletionUsage | null | undefined;
        for await (const c of data) {
          text += c.choices[0]?.delta.content ?? '';
          seen ??= c.usage;
        }
        expect(text).toBe('hello' + ' hello'.repeat(11));
        // The caller asked for usage: it gets Tollgate's count in OpenAI's shape.
        expect(seen).toMatchObject({ prompt_tokens: chatPromptTokens([content]), completion_tokens: 12 });
        rid = response.headers.get('x-request-id')!;
      } else {
        const { data, response } = await client.chat.completions.create({ model: 'm-stream', messages: [{ role: 'user', content }] }).withResponse();
        // The caller sees usage also when Tollgate counted the tokens itself.
        expect(data.usage).toMatchObject({ prompt_tokens: chatPromptTokens([content]), completion_tokens: 12 });
        rid = response.headers.get('x-request-id')!;
      }
      const prompt = chatPromptTokens([content]);
      const expected = expectedCost(PRICE, { prompt, completion: 12 });
      const { usage } = await chargeOf(db(), rid);
      expect(usage).toMatchObject({ usage_source: 'estimated', prompt_tokens: prompt, completion_tokens: 12, charged_micros: expected, status_code: 200 });
      expect(await cash()).toBe(before - expected);
    }
  });
});

describe('upstream failures', () => {
  it('fails over from a channel answering 500 to the next, and cools the failed one down', async () => {
    const before = await cash();
    const { data, response } = await client.chat.completions
      .create({ model: 'm-failover', messages: [{ role: 'user', content: 'Fail over.' }], max_tokens: 4 })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.choices[0]!.message.content).toBe('hello hello hello hello');
    expect(byKey('sk-f1-broken')).toHaveLength(1);
    expect(byKey('sk-f2-good')).toHaveLength(1);
    expect(srv.ctx.cooldowns.isCooling(ch.f1!.id)).toBe(true);
    expect(srv.ctx.cooldowns.isCooling(ch.f2!.id)).toBe(false);
    const { usage } = await chargeOf(db(), response.headers.get('x-request-id')!);
    const expected = expectedCost(PRICE, { prompt: chatPromptTokens(['Fail over.']), completion: 4 });
    expect(usage).toMatchObject({ attempts: 2, channel_id: ch.f2!.id, status_code: 200, charged_micros: expected });
    expect(await cash()).toBe(before - expected);
    // while it cools down, the broken channel is skipped
    await client.chat.completions.create({ model: 'm-failover', messages: [{ role: 'user', content: 'Again.' }], max_tokens: 1 });
    expect(byKey('sk-f1-broken')).toHaveLength(1);
    expect(byKey('sk-f2-good')).toHaveLength(2);
  });

  it('auto-disables a channel whose key the upstream rejects, with the reason, and serves the call from the next', async () => {
    const res = await client.chat.completions.create({ model: 'm-dead', messages: [{ role: 'user', content: 'Dead key.' }], max_tokens: 2 });
    expect(res.choices[0]!.message.content).toBe('hello hello');
    expect(byKey('sk-dead-key')).toHaveLength(1);
    expect(byKey('sk-d2-good')).toHaveLength(1);
    const seen = await until(async () => {
      const list = await api.get('/api/admin/channels?status=auto_disabled');
      return list.body.items.find((c: { id: number }) => c.id === ch.d1!.id);
    });
    expect(seen).toMatchObject({ status: 'auto_disabled', status_reason: expect.stringContaining('invalid_api_key') });
    expect(seen.status_reason).toMatch(/401/);
    expect(seen.status_changed_at).toEqual(expect.any(String));
    // the disabled channel is no longer tried
    await client.chat.completions.create({ model: 'm-dead', messages: [{ role: 'user', content: 'Dead key again.' }], max_tokens: 1 });
    expect(byKey('sk-dead-key')).toHaveLength(1);
    expect(byKey('sk-d2-good')).toHaveLength(2);
    // and the change is audited
    const audit = await db().selectFrom('audit_log').selectAll().where('action', '=', 'channel.auto_disable').where('target_id', '=', String(ch.d1!.id)).execute();
    expect(audit).toHaveLength(1);
  });

  it('answers 429 when every channel is rate limited, charging nothing', async () => {
    const before = await cash();
    const e = await failure(client.chat.completions.create({ model: 'm-429', messages: [{ role: 'user', content: 'Busy?' }], max_tokens: 2 }));
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e.status).toBe(429);
    expect(e.headers?.get('retry-after')).toMatch(/^\d+$/);
    expect(e.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    expect(byKey('sk-r1')).toHaveLength(1);
    expect(byKey('sk-r2')).toHaveLength(1);
    await expectNothingCharged(e, before, 429);
  });

  it('answers 502 when no upstream can be reached', async () => {
    const before = await cash();
    const e = await failure(client.chat.completions.create({ model: 'm-down', messages: [{ role: 'user', content: 'Anyone?' }], max_tokens: 2 }));
    expect(e.status).toBe(502);
    expect(e.error).toMatchObject({ code: 'upstream_error', message: expect.any(String) });
    const { usage } = await chargeOf(db(), e.headers!.get('x-request-id')!);
    expect(usage!.attempts).toBe(2);
    await expectNothingCharged(e, before, 502);
    // streaming callers get the same error before any stream starts
    const s = await failure(client.chat.completions.create({ model: 'm-down', messages: [{ role: 'user', content: 'Anyone?' }], stream: true }));
    expect(s.status).toBe(502);
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const before = await cash();
    const t0 = Date.now();
    const e = await failure(client.chat.completions.create({ model: 'm-timeout', messages: [{ role: 'user', content: 'Slow?' }], max_tokens: 2 }));
    expect(e.status).toBe(504);
    expect(e.error).toMatchObject({ code: 'upstream_timeout' });
    expect(Date.now() - t0).toBeLessThan(4_000); // cut at the timeout, not when the upstream finally answers
    await expectNothingCharged(e, before, 504);
  });

  it('passes a client error from the upstream through, without retrying or charging', async () => {
    const before = await cash();
    const e = await failure(
      client.chat.completions.create({
        model: 'm-400',
        messages: [{ role: 'user', content: 'Too long. [[fake:status=400,errorCode=context_length_exceeded,errorMessage=maximum context length is 8 tokens]]' }],
        max_tokens: 2,
      }),
    );
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.status).toBe(400);
    expect(e.code).toBe('context_length_exceeded');
    expect(e.message).toContain('maximum context length is 8 tokens');
    expect(byKey('sk-c400')).toHaveLength(1);
    expect(srv.ctx.cooldowns.isCooling(ch.c400!.id)).toBe(false);
    await expectNothingCharged(e, before, 400);
    // the channel is fine for the next call
    await client.chat.completions.create({ model: 'm-400', messages: [{ role: 'user', content: 'ok' }], max_tokens: 1 });
  });
});
