// A fake upstream LLM provider that speaks the OpenAI wire format over real HTTP.
//
// Tests and the benchmark point the gateway at it so a request travels the full path (gateway →
// network → provider) without the internet. It is deterministic (same request ⇒ same text, same
// usage), controllable (per-key / default behaviors and in-prompt `[[fake:…]]` directives inject
// errors, delays, broken streams) and fast: plain `node:http`, no framework, memoized token counts.
//
// Completion text: token i is "hello" for i = 0 and " hello" afterwards. Both strings are a single
// token in cl100k_base and o200k_base, so N completion tokens re-tokenize to exactly N tokens.
//
// Standalone (for the benchmark):
//   node bin/run-ts.mjs test/support/fake-upstream.ts [--port 4010] [--host 127.0.0.1] [--record-limit 0]
// prints one JSON line {"url": "...", "port": N} and runs until SIGTERM/SIGINT.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { countTokens } from 'gpt-tokenizer';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface RecordedRequest {
  method: string;
  /** Request path without the query string, e.g. "/v1/chat/completions". */
  path: string;
  /** Node's lower-cased request headers. */
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or null when the body was empty or not valid JSON. */
  // `any` on purpose: the shape depends on the endpoint and tests read fields directly.
  body: any;
  /** Epoch ms when the request body had been fully received. */
  at: number;
  /** True when the client closed the connection before the response was complete. */
  clientAborted: boolean;
  /** HTTP status sent, once response headers have been written. */
  responseStatus?: number;
}

export interface Behavior {
  /** Respond with this HTTP status and an OpenAI-shaped error body instead of a result (non-2xx only). */
  status?: number;
  errorCode?: string;
  errorType?: string;
  errorMessage?: string;
  /** Wait before sending response headers (applies to error responses too). */
  delayMs?: number;
  /** Streaming: wait between chunks. */
  chunkDelayMs?: number;
  /** Completion tokens to produce (default 10; capped by max_tokens / max_completion_tokens). */
  completionTokens?: number;
  /** Streaming: never send the usage chunk; non-streaming: omit the usage field. */
  omitUsage?: boolean;
  /** Streaming: after this many content chunks, destroy the socket (no finish chunk, no [DONE]). */
  dropAfterChunks?: number;
  /** Streaming: after this many content chunks, send `data: {"this is not json` and end the response. */
  malformedAfterChunks?: number;
  /** Streaming: after this many content chunks, send nothing more until the client goes away. */
  hangAfterChunks?: number;
  /** Report usage.prompt_tokens_details.cached_tokens = this. */
  cachedTokens?: number;
  /**
   * Chat: answer a top-level argument OpenAI does not know with its real 400, whose message
   * echoes the argument's name (`Unrecognized request argument supplied: <name>`), code null.
   */
  rejectUnknownArguments?: boolean;
}

export interface FakeUpstreamOptions {
  /** Port to listen on; 0 / omitted picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Max recorded requests kept (oldest dropped); default 10_000; 0 disables recording. */
  recordLimit?: number;
  defaultBehavior?: Behavior;
  /** Behavior per API key (matched against `Authorization: Bearer <key>`). */
  apiKeys?: Record<string, Behavior>;
  /** Extra model ids listed by GET /v1/models (in addition to the built-in list). */
  models?: string[];
}

export interface FakeUpstream {
  /** Base URL including /v1, e.g. "http://127.0.0.1:40123/v1". */
  url: string;
  /** "http://127.0.0.1:40123". */
  origin: string;
  port: number;
  /** Every request received, oldest first, capped by `recordLimit`. The array identity is stable. */
  requests: RecordedRequest[];
  clearRequests(): void;
  /** Behavior for requests authorized as `Bearer <apiKey>`; null removes it. */
  setKeyBehavior(apiKey: string, b: Behavior | null): void;
  setDefaultBehavior(b: Behavior): void;
  /** Stops listening and destroys every open socket (including hung streams). */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Constants and small helpers
// ---------------------------------------------------------------------------------------------

const DEFAULT_COMPLETION_TOKENS = 10;
const DEFAULT_RECORD_LIMIT = 10_000;
const FIRST_TOKEN = 'hello';
const NEXT_TOKEN = ' hello';
// Pre-serialized JSON string literals of the two token texts (hot path in streaming).
const FIRST_TOKEN_JSON = JSON.stringify(FIRST_TOKEN);
const NEXT_TOKEN_JSON = JSON.stringify(NEXT_TOKEN);
const EMBEDDING_DIMENSIONS = 8;
/** Fixed `created` for the model list so responses are byte-for-byte deterministic. */
const MODELS_CREATED = 1_700_000_000;
const BUILTIN_MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'gpt-3.5-turbo-instruct'];

function completionText(tokens: number): string {
  return tokens <= 0 ? '' : FIRST_TOKEN + NEXT_TOKEN.repeat(tokens - 1);
}

function randomId(): string {
  return randomUUID().replace(/-/g, '');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

function errorBody(message: string, type: string, code: string | null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

// --- Token counting -------------------------------------------------------------------------

/** Small LRU: the benchmark sends the same prompt thousands of times, and BPE is not free. */
const TOKEN_CACHE_MAX = 4096;
const tokenCache = new Map<string, number>();
// Treat special-token text like "<|endoftext|>" as plain text instead of throwing.
const COUNT_OPTIONS = { disallowedSpecial: new Set<string>() };

function countTextTokens(text: string): number {
  if (text === '') return 0;
  const hit = tokenCache.get(text);
  if (hit !== undefined) {
    // Re-insert to mark as most recently used (Map iterates in insertion order).
    tokenCache.delete(text);
    tokenCache.set(text, hit);
    return hit;
  }
  const n = countTokens(text, COUNT_OPTIONS);
  if (tokenCache.size >= TOKEN_CACHE_MAX) {
    const oldest = tokenCache.keys().next().value;
    if (oldest !== undefined) tokenCache.delete(oldest);
  }
  tokenCache.set(text, n);
  return n;
}

// --- Directives -----------------------------------------------------------------------------

const DIRECTIVE_MARK = '[[fake:';
const DIRECTIVE_RE = /\[\[fake:([^\]]*)\]\]/g;
const NUMERIC_KEYS = new Set<keyof Behavior>([
  'status',
  'delayMs',
  'chunkDelayMs',
  'completionTokens',
  'dropAfterChunks',
  'malformedAfterChunks',
  'hangAfterChunks',
  'cachedTokens',
]);
/** Top-level chat arguments OpenAI accepts (for `rejectUnknownArguments`). */
const CHAT_ARGUMENTS = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'stop',
  'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'user', 'seed', 'tools', 'tool_choice',
  'parallel_tool_calls', 'response_format', 'functions', 'function_call', 'metadata', 'store', 'reasoning_effort', 'modalities',
  'audio', 'prediction', 'service_tier', 'web_search_options', 'verbosity', 'prompt_cache_key', 'safety_identifier',
]);
const STRING_KEYS = new Set<keyof Behavior>(['errorCode', 'errorType', 'errorMessage']);

/**
 * Parses every `[[fake:key=value,…]]` in the text (later ones win). Unknown keys and values that do
 * not parse are ignored. A bare key (`[[fake:omitUsage]]`) means true for the boolean field.
 */
function parseDirectives(text: string): Behavior | null {
  if (!text.includes(DIRECTIVE_MARK)) return null;
  const out: Record<string, unknown> = {};
  for (const m of text.matchAll(DIRECTIVE_RE)) {
    for (const pair of (m[1] ?? '').split(',')) {
      const eq = pair.indexOf('=');
      const key = (eq === -1 ? pair : pair.slice(0, eq)).trim() as keyof Behavior;
      const raw = eq === -1 ? '' : pair.slice(eq + 1).trim();
      if (NUMERIC_KEYS.has(key)) {
        const n = Number(raw);
        if (raw !== '' && Number.isFinite(n)) out[key] = n;
      } else if (STRING_KEYS.has(key)) {
        out[key] = raw;
      } else if (key === 'omitUsage') {
        out[key] = raw === '' || raw === 'true' || raw === '1';
      }
    }
  }
  return out as Behavior;
}

/** Layers behaviors left to right; `undefined` fields never override. */
function mergeBehaviors(...layers: (Behavior | null | undefined)[]): Behavior {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  }
  return out as Behavior;
}

// --- Request text extraction ----------------------------------------------------------------

interface ChatMessageLike {
  content?: unknown;
}

/** Concatenated text of all message contents: string content, or the `text` of array parts. */
function chatText(messages: ChatMessageLike[]): string {
  let text = '';
  for (const msg of messages) {
    const content = msg?.content;
    if (typeof content === 'string') {
      text += content;
    } else if (Array.isArray(content)) {
      for (const part of content) {
        if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
          text += (part as { text: string }).text;
        }
      }
    }
  }
  return text;
}

function isTokenArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
}

/**
 * Normalizes a legacy `prompt` / embeddings `input` (string | string[] | number[] | number[][]) into
 * a list of items; a token array stays one item. Returns null when the shape is invalid.
 */
function normalizeTextInput(v: unknown): (string | number[])[] | null {
  if (typeof v === 'string') return [v];
  if (isTokenArray(v)) return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || isTokenArray(x))) {
    return v as (string | number[])[];
  }
  return null;
}

function itemTokens(item: string | number[]): number {
  return typeof item === 'string' ? countTextTokens(item) : item.length;
}

// --- Embeddings -----------------------------------------------------------------------------

/** FNV-1a over the UTF-16 code units: cheap, stable, good enough to seed a PRNG. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Deterministic unit vector derived from the input. Values are rounded to float32 so the float and
 * base64 (float32) encodings decode to exactly the same numbers.
 */
function embeddingFor(item: string | number[]): number[] {
  let seed = fnv1a(typeof item === 'string' ? item : item.join(','));
  const v: number[] = [];
  for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) {
    // mulberry32 step
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    v.push(((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1);
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

function float32Base64(values: number[]): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  values.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/** Per-request state shared by the handlers. */
interface Ctx {
  res: ServerResponse;
  record: RecordedRequest;
  /** Aborted when the response closes (finished, client went away, or server closing). */
  signal: AbortSignal;
  /** Set when we destroy the socket on purpose, so it is not reported as a client abort. */
  selfDestroyed: boolean;
  apiKey: string | null;
}

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const host = opts.host ?? '127.0.0.1';
  const recordLimit = opts.recordLimit ?? DEFAULT_RECORD_LIMIT;
  let defaultBehavior: Behavior = { ...opts.defaultBehavior };
  const keyBehaviors = new Map<string, Behavior>(Object.entries(opts.apiKeys ?? {}));
  const requests: RecordedRequest[] = [];
  const modelIds = [...new Set([...BUILTIN_MODELS, ...(opts.models ?? [])])];
  let closing = false;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      handle(req, res, raw).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          sendJson(res, 500, errorBody(`fake upstream crashed: ${String(err)}`, 'server_error', null));
        } else {
          res.destroy();
        }
      });
    });
  });
  // Longer than undici's default keep-alive so the benchmark keeps reusing connections.
  server.keepAliveTimeout = 65_000;

  function sendJson(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  }

  function sendError(ctx: Ctx, e: HttpError): void {
    ctx.record.responseStatus = e.status;
    sendJson(ctx.res, e.status, errorBody(e.message, e.type, e.code, e.param));
  }

  function sendOk(ctx: Ctx, payload: unknown): void {
    ctx.record.responseStatus = 200;
    sendJson(ctx.res, 200, JSON.stringify(payload));
  }

  function recordRequest(rec: RecordedRequest): void {
    if (recordLimit <= 0) return;
    requests.push(rec);
    // shift(), not splice(): V8 left-trims the backing store, so this stays O(1) at 10k entries.
    while (requests.length > recordLimit) requests.shift();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const text = raw.length === 0 ? '' : raw.toString('utf8');
    let body: unknown = null;
    let jsonOk = text === '';
    if (text !== '') {
      try {
        body = JSON.parse(text);
        jsonOk = true;
      } catch {
        body = null;
      }
    }

    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      at: Date.now(),
      clientAborted: false,
    };
    recordRequest(record);

    const ac = new AbortController();
    const ctx: Ctx = { res, record, signal: ac.signal, selfDestroyed: false, apiKey: null };
    res.once('close', () => {
      if (!res.writableFinished && !ctx.selfDestroyed && !closing) record.clientAborted = true;
      ac.abort();
    });

    const auth = req.headers.authorization;
    const m = auth ? /^Bearer\s+(\S.*)$/i.exec(auth) : null;
    ctx.apiKey = m?.[1]?.trim() ?? null;

    const route = `${req.method} ${path}`;
    try {
      switch (route) {
        case 'POST /v1/chat/completions':
          return await chatCompletions(ctx, requireBody(ctx, body, jsonOk));
        case 'POST /v1/completions':
          return await legacyCompletions(ctx, requireBody(ctx, body, jsonOk));
        case 'POST /v1/embeddings':
          return await embeddings(ctx, requireBody(ctx, body, jsonOk));
        case 'GET /v1/models':
          return await listModels(ctx);
      }
      if (req.method === 'GET' && path.startsWith('/v1/models/')) {
        return await getModel(ctx, decodeURIComponent(path.slice('/v1/models/'.length)));
      }
      throw new HttpError(404, `Invalid URL (${req.method} ${path})`);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (!res.headersSent && !res.destroyed) sendError(ctx, e);
    }
  }

  /** Auth then JSON checks shared by the POST endpoints; returns the body as an object. */
  function requireBody(ctx: Ctx, body: unknown, jsonOk: boolean): Record<string, unknown> {
    requireAuth(ctx);
    if (!jsonOk || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new HttpError(
        400,
        'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)',
      );
    }
    return body as Record<string, unknown>;
  }

  function requireAuth(ctx: Ctx): void {
    if (!ctx.apiKey) {
      throw new HttpError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        'invalid_request_error',
        'invalid_api_key',
      );
    }
  }

  function requireModel(body: Record<string, unknown>): string {
    const model = body.model;
    if (typeof model !== 'string' || model === '') {
      throw new HttpError(400, 'you must provide a model parameter', 'invalid_request_error', null, 'model');
    }
    return model;
  }

  /** directive > key behavior > default behavior */
  function resolveBehavior(ctx: Ctx, requestText: string | null): Behavior {
    const keyBehavior = ctx.apiKey ? keyBehaviors.get(ctx.apiKey) : undefined;
    const directive = requestText ? parseDirectives(requestText) : null;
    return mergeBehaviors(defaultBehavior, keyBehavior, directive);
  }

  /**
   * Applies `delayMs` and, for an error `status`, sends the error response.
   * Returns false when the caller must not respond (error sent, or the client went away).
   */
  async function preamble(ctx: Ctx, b: Behavior): Promise<boolean> {
    if (b.delayMs && b.delayMs > 0) {
      try {
        await sleep(b.delayMs, undefined, { signal: ctx.signal });
      } catch {
        return false; // client disconnected (or server closing) while we were waiting
      }
    }
    if (ctx.signal.aborted) return false;
    if (b.status !== undefined && (b.status < 200 || b.status > 299)) {
      const status = b.status;
      const body = errorBody(
        b.errorMessage ?? `fake upstream error ${status}`,
        b.errorType ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
        b.errorCode ?? null,
      );
      ctx.record.responseStatus = status;
      sendJson(ctx.res, status, body, status === 429 ? { 'retry-after': '1' } : undefined);
      return false;
    }
    return true;
  }

  /** Completion tokens for this request and whether max_tokens cut them short. */
  function completionBudget(body: Record<string, unknown>, b: Behavior): { tokens: number; capped: boolean } {
    const wanted = Math.max(0, Math.floor(b.completionTokens ?? DEFAULT_COMPLETION_TOKENS));
    let cap = Infinity;
    for (const k of ['max_tokens', 'max_completion_tokens']) {
      const v = body[k];
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) cap = Math.min(cap, Math.floor(v));
    }
    return wanted > cap ? { tokens: cap, capped: true } : { tokens: wanted, capped: false };
  }

  function includeUsage(body: Record<string, unknown>, b: Behavior): boolean {
    const so = body.stream_options;
    return (
      !b.omitUsage &&
      !!so &&
      typeof so === 'object' &&
      (so as { include_usage?: unknown }).include_usage === true
    );
  }

  // --- Streaming --------------------------------------------------------------------------

  interface StreamPlan {
    /** Events before the content chunks (chat: the role chunk). */
    opening: string[];
    tokens: number;
    contentChunk(i: number): string;
    /** Events after the content chunks (finish chunk, optional usage chunk). */
    closing: string[];
  }

  /**
   * Writes an SSE stream, one `res.write` per event, honoring chunkDelayMs and the fault
   * injections. A fault configured for N content chunks fires after min(N, tokens) of them, so it
   * always happens even when fewer tokens are produced.
   */
  async function stream(ctx: Ctx, b: Behavior, plan: StreamPlan): Promise<void> {
    const { res, signal } = ctx;
    ctx.record.responseStatus = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });

    const faultAt = (n: number | undefined): number => (n === undefined ? Infinity : Math.max(0, Math.min(n, plan.tokens)));
    const dropAt = faultAt(b.dropAfterChunks);
    const malformedAt = faultAt(b.malformedAfterChunks);
    const hangAt = faultAt(b.hangAfterChunks);

    let sent = 0;
    const delay = b.chunkDelayMs && b.chunkDelayMs > 0 ? b.chunkDelayMs : 0;
    // Node corks the socket until the next tick, so destroying it right after synchronous writes
    // would discard them; when a drop is planned, remember when the last write reached the kernel.
    const trackFlush = dropAt !== Infinity;
    let lastFlush: Promise<void> = Promise.resolve();
    /** Writes one event; false once the client is gone. */
    const emit = async (data: string): Promise<boolean> => {
      if (delay && sent > 0) {
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return false;
        }
      }
      if (signal.aborted) return false;
      const line = `data: ${data}\n\n`;
      if (trackFlush) lastFlush = new Promise<void>((resolve) => res.write(line, () => resolve()));
      else res.write(line);
      sent++;
      return true;
    };

    for (const ev of plan.opening) if (!(await emit(ev))) return;

    for (let i = 0; i <= plan.tokens; i++) {
      if (i === dropAt) {
        await lastFlush;
        ctx.selfDestroyed = true;
        res.destroy();
        return;
      }
      if (i === malformedAt) {
        if (!(await emit('{"this is not json'))) return;
        res.end();
        return;
      }
      if (i === hangAt) {
        // Keep the socket open and silent until the client (or close()) tears it down.
        if (!signal.aborted) {
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        }
        return;
      }
      if (i < plan.tokens && !(await emit(plan.contentChunk(i)))) return;
    }

    for (const ev of plan.closing) if (!(await emit(ev))) return;
    if (!(await emit('[DONE]'))) return;
    res.end();
  }

  // --- Endpoints --------------------------------------------------------------------------

  async function chatCompletions(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
    const model = requireModel(body);
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new HttpError(
        400,
        messages === undefined ? "Missing required parameter: 'messages'." : "Invalid 'messages': expected a non-empty array.",
        'invalid_request_error',
        null,
        'messages',
      );
    }
    const text = chatText(messages as ChatMessageLike[]);
    const b = resolveBehavior(ctx, text);
    if (b.rejectUnknownArguments) {
      const unknown = Object.keys(body).find((k) => !CHAT_ARGUMENTS.has(k));
      if (unknown !== undefined) throw new HttpError(400, `Unrecognized request argument supplied: ${unknown}`, 'invalid_request_error', null);
    }
    if (!(await preamble(ctx, b))) return;

    // The usual OpenAI estimate: content tokens + 3 per message + 3 for reply priming.
    const promptTokens = countTextTokens(text) + 3 * messages.length + 3;
    const { tokens, capped } = completionBudget(body, b);
    const finishReason = capped ? 'length' : 'stop';
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: tokens,
      total_tokens: promptTokens + tokens,
      prompt_tokens_details: { cached_tokens: b.cachedTokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    };
    const id = `chatcmpl-${randomId()}`;
    const created = nowSeconds();

    if (body.stream !== true) {
      sendOk(ctx, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: completionText(tokens), refusal: null },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        ...(b.omitUsage ? {} : { usage }),
        system_fingerprint: 'fp_fake',
      });
      return;
    }

    // Chunks are assembled from pre-serialized pieces: same bytes as JSON.stringify, less work.
    const withUsage = includeUsage(body, b);
    const head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":"fp_fake","choices":[`;
    const tail = withUsage ? '],"usage":null}' : ']}';
    const closing = [`${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${finishReason}"}${tail}`];
    if (withUsage) closing.push(`${head}],"usage":${JSON.stringify(usage)}}`);
    await stream(ctx, b, {
      opening: [`${head}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}${tail}`],
      tokens,
      contentChunk: (i) =>
        `${head}{"index":0,"delta":{"content":${i === 0 ? FIRST_TOKEN_JSON : NEXT_TOKEN_JSON}},"logprobs":null,"finish_reason":null}${tail}`,
      closing,
    });
  }

  /**
   * Legacy completions. An array prompt is treated as one prompt (texts concatenated, tokens
   * summed) and yields a single choice — enough for relaying and billing tests.
   */
  async function legacyCompletions(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
    const model = requireModel(body);
    const items = normalizeTextInput(body.prompt);
    if (!items) {
      throw new HttpError(
        400,
        body.prompt === undefined ? "Missing required parameter: 'prompt'." : "Invalid 'prompt': expected a string, an array of strings or token arrays.",
        'invalid_request_error',
        null,
        'prompt',
      );
    }
    const text = items.filter((x): x is string => typeof x === 'string').join('');
    const b = resolveBehavior(ctx, text);
    if (!(await preamble(ctx, b))) return;

    let promptTokens = 0;
    for (const item of items) promptTokens += itemTokens(item);
    const { tokens, capped } = completionBudget(body, b);
    const finishReason = capped ? 'length' : 'stop';
    const usage: Record<string, unknown> = {
      prompt_tokens: promptTokens,
      completion_tokens: tokens,
      total_tokens: promptTokens + tokens,
    };
    if (b.cachedTokens !== undefined) usage.prompt_tokens_details = { cached_tokens: b.cachedTokens };
    const id = `cmpl-${randomId()}`;
    const created = nowSeconds();

    if (body.stream !== true) {
      sendOk(ctx, {
        id,
        object: 'text_completion',
        created,
        model,
        choices: [{ text: completionText(tokens), index: 0, logprobs: null, finish_reason: finishReason }],
        ...(b.omitUsage ? {} : { usage }),
      });
      return;
    }

    const withUsage = includeUsage(body, b);
    const head = `{"id":${JSON.stringify(id)},"object":"text_completion","created":${created},"model":${JSON.stringify(model)},"choices":[`;
    const tail = withUsage ? '],"usage":null}' : ']}';
    const closing = [`${head}{"text":"","index":0,"logprobs":null,"finish_reason":"${finishReason}"}${tail}`];
    if (withUsage) closing.push(`${head}],"usage":${JSON.stringify(usage)}}`);
    await stream(ctx, b, {
      opening: [],
      tokens,
      contentChunk: (i) =>
        `${head}{"text":${i === 0 ? FIRST_TOKEN_JSON : NEXT_TOKEN_JSON},"index":0,"logprobs":null,"finish_reason":null}${tail}`,
      closing,
    });
  }

  async function embeddings(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
    const model = requireModel(body);
    const items = normalizeTextInput(body.input);
    if (!items) {
      throw new HttpError(
        400,
        body.input === undefined ? "Missing required parameter: 'input'." : "Invalid 'input': expected a string, an array of strings or token arrays.",
        'invalid_request_error',
        null,
        'input',
      );
    }
    const text = items.filter((x): x is string => typeof x === 'string').join('');
    const b = resolveBehavior(ctx, text);
    if (!(await preamble(ctx, b))) return;

    const base64 = body.encoding_format === 'base64';
    let promptTokens = 0;
    const data = items.map((item, index) => {
      promptTokens += itemTokens(item);
      const vec = embeddingFor(item);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(vec) : vec };
    });
    sendOk(ctx, {
      object: 'list',
      data,
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }

  async function listModels(ctx: Ctx): Promise<void> {
    requireAuth(ctx);
    if (!(await preamble(ctx, resolveBehavior(ctx, null)))) return;
    sendOk(ctx, { object: 'list', data: modelIds.map(modelObject) });
  }

  async function getModel(ctx: Ctx, id: string): Promise<void> {
    requireAuth(ctx);
    if (!(await preamble(ctx, resolveBehavior(ctx, null)))) return;
    if (!modelIds.includes(id)) {
      throw new HttpError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model');
    }
    sendOk(ctx, modelObject(id));
  }

  function modelObject(id: string) {
    return { id, object: 'model', created: MODELS_CREATED, owned_by: 'fake' };
  }

  // --- Listen -----------------------------------------------------------------------------

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // A wildcard bind is reachable on loopback; IPv6 literals need brackets in URLs.
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  const origin = `http://${urlHost}:${port}`;

  return {
    url: `${origin}/v1`,
    origin,
    port,
    requests,
    clearRequests() {
      requests.length = 0; // keep the array identity so callers holding `requests` see the change
    },
    setKeyBehavior(apiKey, b) {
      if (b === null) keyBehaviors.delete(apiKey);
      else keyBehaviors.set(apiKey, { ...b });
    },
    setDefaultBehavior(b) {
      defaultBehavior = { ...b };
    },
    close() {
      if (closing) return Promise.resolve();
      closing = true;
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // server.close() only waits for connections to end; hung streams and keep-alive clients
        // would keep it pending forever, so tear every connection down now.
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Standalone entry point (benchmark)
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'record-limit': { type: 'string' },
      /** JSON object: upstream API key → Behavior (the soak gives each channel its own behaviour). */
      behaviors: { type: 'string' },
    },
  });
  const up = await startFakeUpstream({
    port: values.port !== undefined ? Number(values.port) : 0,
    host: values.host ?? '127.0.0.1',
    ...(values['record-limit'] !== undefined ? { recordLimit: Number(values['record-limit']) } : {}),
    ...(values.behaviors !== undefined ? { apiKeys: JSON.parse(values.behaviors) as Record<string, Behavior> } : {}),
  });
  process.stdout.write(`${JSON.stringify({ url: up.url, port: up.port })}\n`);
  const stop = (): void => {
    up.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
