import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '../../errors.js';
import { countTextTokens } from '../tokenizer.js';
import type { ParsedCall } from './openai.js';

/*
 * Anthropic Messages requests (POST /v1/messages, /v1/messages/count_tokens), checked as
 * Anthropic's API checks them, so a client gets the same 400s it would get there. Unknown fields
 * are kept: an Anthropic upstream receives the body as sent.
 */

const bad = (message: string, path?: string) => new AppError('bad_request', message, path ? { path } : {});
type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** Anthropic counts images by area (about w×h/750); without decoding, a flat figure for a typical image. */
const IMAGE_TOKENS = 1600;

function blockTokens(b: Json): number {
  if (typeof b.text === 'string') return countTextTokens(b.text);
  if (b.type === 'image' || b.type === 'document') return IMAGE_TOKENS;
  if (b.type === 'tool_use') return countTextTokens(String(b.name ?? '') + JSON.stringify(b.input ?? {}));
  if (b.type === 'tool_result') return typeof b.content === 'string' ? countTextTokens(b.content) : Array.isArray(b.content) ? contentTokens(b.content) : 0;
  if (typeof b.thinking === 'string') return countTextTokens(b.thinking);
  return 0;
}

function contentTokens(content: unknown): number {
  if (typeof content === 'string') return countTextTokens(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const b of content) if (isObj(b)) n += blockTokens(b);
  return n;
}

/** The prompt estimate behind the hold (and count_tokens): system, turns, tools. */
export function estimateMessagesTokens(b: Json): number {
  let n = 3 + contentTokens(b.system);
  for (const m of b.messages as Json[]) n += 3 + contentTokens(m.content);
  if (Array.isArray(b.tools) && b.tools.length) n += countTextTokens(JSON.stringify(b.tools));
  return n;
}

function checkContent(content: unknown, path: string): void {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) throw bad(`${path}: Input should be a valid list or string`, path);
  content.forEach((b, j) => {
    if (!isObj(b) || typeof b.type !== 'string') throw bad(`${path}.${j}: each content block must be an object with a \`type\``, `${path}.${j}`);
    if (b.type === 'text' && typeof b.text !== 'string') throw bad(`${path}.${j}.text: Field required`, `${path}.${j}.text`);
    if (b.type === 'image') {
      const s = b.source;
      if (!isObj(s) || (s.type === 'base64' && typeof s.data !== 'string') || (s.type === 'url' && typeof s.url !== 'string')) {
        throw bad(`${path}.${j}.source: an image needs a source of type base64 (media_type, data) or url`, `${path}.${j}.source`);
      }
    }
    if (b.type === 'tool_use' && (typeof b.id !== 'string' || typeof b.name !== 'string')) throw bad(`${path}.${j}: tool_use needs an id and a name`, `${path}.${j}`);
    if (b.type === 'tool_result' && typeof b.tool_use_id !== 'string') throw bad(`${path}.${j}.tool_use_id: Field required`, `${path}.${j}.tool_use_id`);
  });
}

function checkBody(body: unknown): Json {
  if (!isObj(body)) throw bad('The request body must be a JSON object.');
  const b = body;
  if (typeof b.model !== 'string' || b.model.trim() === '' || b.model.length > 191) throw bad('model: Field required (a non-empty string)', 'model');
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw bad('messages: Field required (a non-empty list)', 'messages');
  b.messages.forEach((m, i) => {
    if (!isObj(m)) throw bad(`messages.${i}: Input should be an object`, `messages.${i}`);
    if (m.role !== 'user' && m.role !== 'assistant') throw bad(`messages.${i}.role: Input should be 'user' or 'assistant'`, `messages.${i}.role`);
    checkContent(m.content, `messages.${i}.content`);
  });
  if (b.system !== undefined && b.system !== null) {
    if (typeof b.system !== 'string' && !Array.isArray(b.system)) throw bad('system: Input should be a valid list or string', 'system');
    if (Array.isArray(b.system)) checkContent(b.system, 'system');
  }
  if (b.tools !== undefined && b.tools !== null) {
    if (!Array.isArray(b.tools)) throw bad('tools: Input should be a valid list', 'tools');
    b.tools.forEach((t, i) => {
      if (!isObj(t) || typeof t.name !== 'string' || t.name === '') throw bad(`tools.${i}.name: Field required`, `tools.${i}.name`);
    });
  }
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw bad('stream: Input should be a valid boolean', 'stream');
  return b;
}

function passHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['anthropic-version', 'anthropic-beta']) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export function parseMessages(body: unknown, headers: IncomingHttpHeaders): ParsedCall {
  const b = checkBody(body);
  const max = b.max_tokens;
  if (max === undefined || max === null) throw bad('max_tokens: Field required', 'max_tokens');
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10_000_000) throw bad('max_tokens: Input should be a positive integer', 'max_tokens');
  const stream = b.stream === true;
  return {
    format: 'anthropic',
    endpoint: 'messages',
    model: b.model as string,
    stream,
    wantsUsage: stream,
    promptTokens: estimateMessagesTokens(b),
    maxOutputTokens: max,
    choices: 1,
    body: b,
    headers: passHeaders(headers),
  };
}

/** POST /v1/messages/count_tokens: the same body without max_tokens; counted here, nothing is charged. */
export function countMessagesTokens(body: unknown): { input_tokens: number } {
  return { input_tokens: estimateMessagesTokens(checkBody(body)) };
}
