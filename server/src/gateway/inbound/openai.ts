import { AppError } from '../../errors.js';
import type { Wire } from '../formats/types.js';
import type { Endpoint } from '../providers/types.js';
import { estimateChatPromptTokens, estimateInputTokens } from '../tokenizer.js';

/** What the gateway needs to know about a call before forwarding it. */
export interface ParsedCall {
  /** The caller's wire format: its answer, stream events and errors are spelled in it. */
  format: Wire;
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  /** The caller asked for the usage event in the stream (stream_options.include_usage). */
  wantsUsage: boolean;
  promptTokens: number;
  /** Output tokens to reserve: the caller's cap × choices, or the configured default when it gave none. */
  maxOutputTokens: number;
  /** Number of choices requested (n); output is reserved for each. */
  choices: number;
  body: Record<string, unknown>;
  /** Caller headers a provider of the same format passes on (anthropic-version, anthropic-beta). */
  headers?: Record<string, string>;
}

const bad = (message: string, path?: string) => new AppError('bad_request', message, path ? { path } : {});

function positiveInt(body: Record<string, unknown>, field: string, max = 10_000_000): number | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw bad(`'${field}' must be a positive integer${max < 10_000_000 ? ` no larger than ${max}` : ''}`, field);
  }
  return v;
}

function common(endpoint: Endpoint, body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad('The request body must be a JSON object.');
  }
  const b = body as Record<string, unknown>;
  if (b.model === undefined) throw bad("you must provide a model parameter", 'model');
  if (typeof b.model !== 'string' || b.model.trim() === '' || b.model.length > 191) {
    throw bad("'model' must be a non-empty string", 'model');
  }
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw bad("'stream' must be a boolean", 'stream');
  if (b.stream_options !== undefined && b.stream_options !== null) {
    if (typeof b.stream_options !== 'object' || Array.isArray(b.stream_options)) throw bad("'stream_options' must be an object", 'stream_options');
    if (b.stream !== true) throw bad("'stream_options' is only allowed when 'stream' is true", 'stream_options');
  }
  if (endpoint === 'embeddings' && b.stream === true) throw bad('embeddings cannot be streamed', 'stream');
  return b;
}

export function parseChat(body: unknown, defaultMaxOutput: number): ParsedCall {
  const b = common('chat.completions', body);
  const messages = b.messages;
  if (messages === undefined) throw bad("Missing required parameter: 'messages'.", 'messages');
  if (!Array.isArray(messages) || messages.length === 0) throw bad("'messages' must be a non-empty array", 'messages');
  messages.forEach((m, i) => {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw bad(`'messages[${i}]' must be an object`, `messages.${i}`);
    const role = (m as { role?: unknown }).role;
    if (typeof role !== 'string' || role === '') throw bad(`'messages[${i}].role' is required`, `messages.${i}.role`);
    const content = (m as { content?: unknown }).content;
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      throw bad(`'messages[${i}].content' must be a string or an array of content parts`, `messages.${i}.content`);
    }
  });
  const maxTokens = positiveInt(b, 'max_completion_tokens') ?? positiveInt(b, 'max_tokens');
  const n = positiveInt(b, 'n', 128) ?? 1;
  const stream = b.stream === true;
  return {
    format: 'openai',
    endpoint: 'chat.completions',
    model: b.model as string,
    stream,
    wantsUsage: stream && (b.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true,
    promptTokens: estimateChatPromptTokens(b),
    maxOutputTokens: (maxTokens ?? defaultMaxOutput) * n,
    choices: n,
    body: b,
  };
}

export function parseCompletion(body: unknown): ParsedCall {
  const b = common('completions', body);
  const prompt = b.prompt;
  if (prompt === undefined || prompt === null) throw bad("Missing required parameter: 'prompt'.", 'prompt');
  const okPrompt =
    typeof prompt === 'string' ||
    (Array.isArray(prompt) && prompt.length > 0 && (prompt.every((p) => typeof p === 'string') || prompt.every((p) => typeof p === 'number') || prompt.every((p) => Array.isArray(p))));
  if (!okPrompt) throw bad("'prompt' must be a string, an array of strings, or token arrays", 'prompt');
  // The legacy endpoint's own default is 16 tokens.
  const maxTokens = positiveInt(b, 'max_tokens') ?? 16;
  const n = positiveInt(b, 'n', 128) ?? 1;
  const bestOf = positiveInt(b, 'best_of', 128) ?? 1;
  const prompts = Array.isArray(prompt) && !prompt.every((p) => typeof p === 'number') ? prompt.length : 1;
  const stream = b.stream === true;
  return {
    format: 'openai',
    endpoint: 'completions',
    model: b.model as string,
    stream,
    wantsUsage: stream && (b.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true,
    promptTokens: estimateInputTokens(prompt),
    maxOutputTokens: maxTokens * Math.max(n, bestOf) * prompts,
    choices: n,
    body: b,
  };
}

export function parseEmbeddings(body: unknown): ParsedCall {
  const b = common('embeddings', body);
  const input = b.input;
  if (input === undefined || input === null) throw bad("Missing required parameter: 'input'.", 'input');
  const ok =
    (typeof input === 'string' && input.length > 0) ||
    (Array.isArray(input) && input.length > 0 && input.length <= 2048 && input.every((x) => (typeof x === 'string' && x.length > 0) || typeof x === 'number' || Array.isArray(x)));
  if (!ok) throw bad("'input' must be a non-empty string or array (at most 2048 items)", 'input');
  if (b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
    throw bad("'encoding_format' must be 'float' or 'base64'", 'encoding_format');
  }
  return {
    format: 'openai',
    endpoint: 'embeddings',
    model: b.model as string,
    stream: false,
    wantsUsage: false,
    promptTokens: estimateInputTokens(input),
    maxOutputTokens: 0,
    choices: 1,
    body: b,
  };
}
