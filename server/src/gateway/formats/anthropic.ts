import { randomUUID } from 'node:crypto';
import type { TokenUsage } from '../../billing/pricing.js';
import type { AppError } from '../../errors.js';

/*
 * Anthropic Messages ⇄ the canonical call (OpenAI chat completions), written from Anthropic's API
 * reference and its TypeScript SDK's types. Requests, whole answers and errors here; streams in
 * anthropic-stream.ts.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const ANTHROPIC_VERSION = '2023-06-01';

// ---- stop reasons -----------------------------------------------------------------------------

const STOP_TO_FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};
const FINISH_TO_STOP: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};
export const finishReasonOf = (stop: unknown) => (typeof stop === 'string' ? (STOP_TO_FINISH[stop] ?? 'stop') : null);
export const stopReasonOf = (finish: unknown) => (typeof finish === 'string' ? (FINISH_TO_STOP[finish] ?? 'end_turn') : 'end_turn');

// ---- usage ------------------------------------------------------------------------------------

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** Anthropic counts input apart from cache reads and writes; the canonical prompt count includes both. */
export function usageFromAnthropic(u: unknown): TokenUsage | null {
  if (!isObj(u)) return null;
  const a = u as AnthropicUsage;
  if (typeof a.input_tokens !== 'number' && typeof a.output_tokens !== 'number') return null;
  const read = a.cache_read_input_tokens ?? 0;
  const written = a.cache_creation_input_tokens ?? 0;
  return {
    promptTokens: (a.input_tokens ?? 0) + read + written,
    completionTokens: a.output_tokens ?? 0,
    cachedTokens: read,
    cacheWriteTokens: written,
  };
}

export function anthropicUsage(u: TokenUsage): Required<AnthropicUsage> {
  const read = u.cachedTokens;
  const written = u.cacheWriteTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.promptTokens - read - written),
    output_tokens: u.completionTokens,
    cache_creation_input_tokens: written,
    cache_read_input_tokens: read,
  };
}

export function openaiUsage(u: TokenUsage): Json {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  };
}

// ---- content ----------------------------------------------------------------------------------

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b) => (isObj(b) && typeof b.text === 'string' ? b.text : ''))
    .filter(Boolean)
    .join('\n');
}

/** An Anthropic image block as an OpenAI image part (a data: URL for base64 sources). */
function imagePart(block: Json): Json | null {
  const src = block.source;
  if (!isObj(src)) return null;
  if (src.type === 'base64' && typeof src.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${str(src.media_type) ?? 'image/png'};base64,${src.data}` } };
  }
  if (src.type === 'url' && typeof src.url === 'string') return { type: 'image_url', image_url: { url: src.url } };
  return null;
}

/** An OpenAI image part as an Anthropic image block. */
function imageBlock(part: Json): Json | null {
  const iu = part.image_url;
  const url = typeof iu === 'string' ? iu : isObj(iu) ? str(iu.url) : undefined;
  if (!url) return null;
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m) return { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } };
  return { type: 'image', source: { type: 'url', url } };
}

/** A tool the caller defines (name + input schema), as opposed to Anthropic's server tools (web search, bash…). */
export const isCustomTool = (t: unknown) => isObj(t) && (t.type === undefined || t.type === null || t.type === 'custom');

// ---- Anthropic request → canonical ------------------------------------------------------------

/**
 * An Anthropic Messages request as an OpenAI chat completion request. Thinking blocks sent back by
 * the caller are dropped (an OpenAI-compatible upstream has no place for them); cache_control
 * marks are dropped (OpenAI caches on its own); server tools (web search, code execution) are
 * refused by the parser before this point.
 */
export function messagesToChat(body: Json, model: string, includeUsage: boolean): Json {
  const messages: Json[] = [];
  const system = body.system;
  const sys = textOf(system);
  if (sys) messages.push({ role: 'system', content: sys });
  for (const m of (body.messages as Json[]) ?? []) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    if (typeof m.content === 'string') {
      messages.push({ role, content: m.content });
      continue;
    }
    const blocks = Array.isArray(m.content) ? (m.content as unknown[]).filter(isObj) : [];
    if (role === 'assistant') {
      const text = blocks
        .filter((b) => b.type === 'text')
        .map((b) => str(b.text) ?? '')
        .join('');
      const calls = blocks
        .filter((b) => b.type === 'tool_use' || b.type === 'server_tool_use')
        .map((b) => ({ id: str(b.id) ?? '', type: 'function', function: { name: str(b.name) ?? '', arguments: JSON.stringify(b.input ?? {}) } }));
      const out: Json = { role: 'assistant', content: text || null };
      if (calls.length) out.tool_calls = calls;
      messages.push(out);
      continue;
    }
    // Tool results answer the previous assistant turn, so they come first, as `tool` messages.
    const parts: Json[] = [];
    for (const b of blocks) {
      if (b.type === 'tool_result') {
        const content = typeof b.content === 'string' ? b.content : textOf(b.content);
        messages.push({ role: 'tool', tool_call_id: str(b.tool_use_id) ?? '', content: b.is_error === true && content ? `Error: ${content}` : content });
      } else if (b.type === 'text') {
        parts.push({ type: 'text', text: str(b.text) ?? '' });
      } else if (b.type === 'image') {
        const p = imagePart(b);
        if (p) parts.push(p);
      } else if (b.type === 'document' && isObj(b.source) && b.source.type === 'text') {
        parts.push({ type: 'text', text: str(b.source.data) ?? '' });
      }
    }
    if (parts.length === 0) continue;
    messages.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('\n') : parts });
  }

  const out: Json = { model, messages, max_tokens: body.max_tokens };
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length) out.stop = body.stop_sequences;
  if (Array.isArray(body.tools) && body.tools.length) {
    out.tools = (body.tools as Json[]).filter(isCustomTool).map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema ?? { type: 'object', properties: {} } },
    }));
  }
  const tc = body.tool_choice;
  if (isObj(tc)) {
    if (tc.type === 'auto') out.tool_choice = 'auto';
    else if (tc.type === 'any') out.tool_choice = 'required';
    else if (tc.type === 'none') out.tool_choice = 'none';
    else if (tc.type === 'tool') out.tool_choice = { type: 'function', function: { name: tc.name } };
    if (tc.disable_parallel_tool_use === true && out.tools) out.parallel_tool_calls = false;
  }
  if (body.stream === true) {
    out.stream = true;
    if (includeUsage) out.stream_options = { include_usage: true };
  }
  return out;
}

// ---- canonical request → Anthropic ------------------------------------------------------------

/** An OpenAI chat completion request as an Anthropic Messages request. */
export function chatToMessages(body: Json, model: string, defaultMaxTokens: number): Json {
  const system: string[] = [];
  const messages: { role: string; content: Json[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: Json[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    // Anthropic wants turns to alternate: consecutive tool results (and a user turn after them) merge.
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of (body.messages as Json[]) ?? []) {
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      const t = textOf(m.content);
      if (t) system.push(t);
      continue;
    }
    if (role === 'tool' || role === 'function') {
      push('user', [{ type: 'tool_result', tool_use_id: str(m.tool_call_id) ?? str(m.name) ?? '', content: textOf(m.content) }]);
      continue;
    }
    const blocks: Json[] = [];
    if (typeof m.content === 'string') {
      if (m.content) blocks.push({ type: 'text', text: m.content });
    } else if (Array.isArray(m.content)) {
      for (const p of m.content as unknown[]) {
        if (!isObj(p)) continue;
        if (p.type === 'text' && typeof p.text === 'string') blocks.push({ type: 'text', text: p.text });
        else if (p.type === 'image_url') {
          const b = imageBlock(p);
          if (b) blocks.push(b);
        }
      }
    }
    if (role === 'assistant' && Array.isArray(m.tool_calls)) {
      for (const c of m.tool_calls as Json[]) {
        const fn = isObj(c.function) ? c.function : {};
        let input: unknown = {};
        try {
          input = JSON.parse(str(fn.arguments) || '{}');
        } catch {
          input = {};
        }
        blocks.push({ type: 'tool_use', id: str(c.id) ?? '', name: str(fn.name) ?? '', input: isObj(input) ? input : {} });
      }
    }
    push(role === 'assistant' ? 'assistant' : 'user', blocks);
  }

  const maxTokens = [body.max_completion_tokens, body.max_tokens].find((v) => typeof v === 'number') ?? defaultMaxTokens;
  const out: Json = { model, messages, max_tokens: maxTokens };
  if (system.length) out.system = system.join('\n\n');
  // OpenAI's temperature runs to 2, Anthropic's to 1.
  if (typeof body.temperature === 'number') out.temperature = Math.min(1, body.temperature);
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  const stop = body.stop;
  if (typeof stop === 'string') out.stop_sequences = [stop];
  else if (Array.isArray(stop) && stop.length) out.stop_sequences = stop;
  if (Array.isArray(body.tools) && body.tools.length) {
    out.tools = (body.tools as Json[])
      .filter((t) => isObj(t.function))
      .map((t) => {
        const fn = t.function as Json;
        return { name: fn.name, ...(fn.description ? { description: fn.description } : {}), input_schema: fn.parameters ?? { type: 'object', properties: {} } };
      });
  }
  const tc = body.tool_choice;
  if (tc === 'auto') out.tool_choice = { type: 'auto' };
  else if (tc === 'required') out.tool_choice = { type: 'any' };
  else if (tc === 'none') out.tool_choice = { type: 'none' };
  else if (isObj(tc) && isObj(tc.function)) out.tool_choice = { type: 'tool', name: tc.function.name };
  if (body.parallel_tool_calls === false && out.tools) {
    out.tool_choice = { ...((out.tool_choice as Json | undefined) ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  if (body.stream === true) out.stream = true;
  return out;
}

// ---- whole answers ----------------------------------------------------------------------------

/** An Anthropic message (a whole answer) as an OpenAI chat completion. */
export function messageToCompletion(msg: Json, model: string, usage: TokenUsage | null): Json {
  const blocks = Array.isArray(msg.content) ? (msg.content as unknown[]).filter(isObj) : [];
  const text = blocks
    .filter((b) => b.type === 'text')
    .map((b) => str(b.text) ?? '')
    .join('');
  const thinking = blocks
    .filter((b) => b.type === 'thinking')
    .map((b) => str(b.thinking) ?? '')
    .join('');
  const calls = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: str(b.id) ?? '', type: 'function', function: { name: str(b.name) ?? '', arguments: JSON.stringify(b.input ?? {}) } }));
  const message: Json = { role: 'assistant', content: text || (calls.length ? null : ''), refusal: null };
  if (thinking) message.reasoning_content = thinking;
  if (calls.length) message.tool_calls = calls;
  return {
    id: `chatcmpl-${str(msg.id) ?? randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReasonOf(msg.stop_reason) ?? 'stop' }],
    ...(usage ? { usage: openaiUsage(usage) } : {}),
  };
}

/** An OpenAI chat completion (a whole answer) as an Anthropic message. */
export function completionToMessage(json: Json, model: string, usage: TokenUsage): Json {
  const choice = Array.isArray(json.choices) && isObj(json.choices[0]) ? (json.choices[0] as Json) : {};
  const msg = isObj(choice.message) ? choice.message : {};
  const content: Json[] = [];
  const reasoning = str(msg.reasoning_content) ?? str(msg.reasoning);
  if (reasoning) content.push({ type: 'thinking', thinking: reasoning, signature: '' });
  const text = typeof msg.content === 'string' ? msg.content : textOf(msg.content);
  if (text) content.push({ type: 'text', text });
  for (const c of Array.isArray(msg.tool_calls) ? (msg.tool_calls as Json[]) : []) {
    const fn = isObj(c.function) ? c.function : {};
    let input: unknown = {};
    try {
      input = JSON.parse(str(fn.arguments) || '{}');
    } catch {
      input = { _raw: fn.arguments };
    }
    content.push({ type: 'tool_use', id: str(c.id) || `toolu_${randomUUID().replaceAll('-', '')}`, name: str(fn.name) ?? '', input });
  }
  return {
    id: `msg_${str(json.id)?.replace(/^chatcmpl-/, '') ?? randomUUID().replaceAll('-', '')}`,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReasonOf(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(usage),
  };
}

/** The completion text of an Anthropic message, for counting when usage is missing. */
export function messageText(msg: unknown): string {
  if (!isObj(msg) || !Array.isArray(msg.content)) return '';
  let t = '';
  for (const b of msg.content as unknown[]) {
    if (!isObj(b)) continue;
    if (typeof b.text === 'string') t += b.text;
    if (typeof b.thinking === 'string') t += b.thinking;
    if (b.type === 'tool_use') t += String(b.name ?? '') + JSON.stringify(b.input ?? {});
  }
  return t;
}

// ---- errors -----------------------------------------------------------------------------------

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export const anthropicErrorType = (status: number) => ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');

/** `{"type":"error","error":{"type","message"}}`, as Anthropic's API and SDKs have it. */
export function anthropicErrorBody(status: number, message: string, type?: string | null) {
  return { type: 'error', error: { type: type ?? anthropicErrorType(status), message } };
}

export function anthropicAppErrorBody(e: AppError) {
  const where = e.path ? `${e.path}: ` : '';
  const body = anthropicErrorBody(e.status, e.message.startsWith(where) ? e.message : where + e.message);
  // Anthropic's shape has no code; Tollgate's (account_frozen, key_locked, …) rides along for scripts, and SDKs ignore it.
  return { ...body, error: { ...body.error, code: e.code } };
}
