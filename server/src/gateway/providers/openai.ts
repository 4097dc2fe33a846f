import type { TokenUsage } from '../../billing/pricing.js';
import type { Channel } from '../catalog.js';
import type { Endpoint, Failure, Provider, UpstreamRequest } from './types.js';

const PATHS: Record<Endpoint, string> = {
  'chat.completions': '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  messages: '/chat/completions',
};

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  input_tokens?: number;
  output_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  input_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

function toUsage(u: OpenAIUsage | null | undefined): TokenUsage | null {
  if (!u || typeof u !== 'object') return null;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  if (typeof prompt !== 'number') return null;
  return {
    promptTokens: prompt,
    completionTokens: u.completion_tokens ?? u.output_tokens ?? 0,
    cachedTokens: u.prompt_tokens_details?.cached_tokens ?? u.input_tokens_details?.cached_tokens ?? 0,
    // Already part of completion_tokens (billed as output); kept to show.
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? u.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

/**
 * Structured error codes (the upstream's `error.code` or `error.type`, matched whole) that mean the
 * channel's key or account is unusable, not the request. Never the free text of a message: an
 * upstream 400 echoes what the caller sent (`Unrecognized request argument supplied: <name>`), so
 * matching phrases would let any caller switch a channel off for everyone.
 */
const DEAD_KEY_CODES = new Set(['invalid_api_key', 'account_deactivated', 'access_terminated', 'organization_deactivated', 'api_key_revoked', 'api_key_expired']);
const NO_MONEY_CODES = new Set(['insufficient_quota', 'billing_not_active', 'billing_hard_limit_reached', 'quota_exceeded']);

function parseError(text: string): { message: string; code: string | null; type: string | null; raw?: Record<string, unknown> } {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    const e = j.error;
    if (e && typeof e === 'object') {
      const o = e as { message?: unknown; code?: unknown; type?: unknown };
      return {
        message: typeof o.message === 'string' ? o.message : JSON.stringify(e),
        code: o.code === undefined || o.code === null ? null : String(o.code),
        type: typeof o.type === 'string' ? o.type : null,
        raw: o as Record<string, unknown>,
      };
    }
    if (typeof e === 'string') return { message: e, code: null, type: null };
    if (typeof j.message === 'string') return { message: j.message, code: null, type: null };
  } catch {
    /* not JSON */
  }
  return { message: text.slice(0, 500) || 'no error body', code: null, type: null };
}

export const openaiProvider: Provider = {
  type: 'openai',
  wire: 'openai',
  supports: () => true,

  build(channel: Channel, endpoint: Endpoint, body: Record<string, unknown>): UpstreamRequest {
    return {
      path: channel.pathPrefix + PATHS[endpoint],
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${channel.apiKey}`,
        accept: body.stream === true ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
    };
  },

  usageFromJson(_endpoint, json) {
    return toUsage((json as { usage?: OpenAIUsage } | null)?.usage);
  },

  textFromJson(endpoint, json) {
    if (endpoint === 'embeddings') return '';
    const choices = (json as { choices?: unknown[] } | null)?.choices;
    if (!Array.isArray(choices)) return '';
    let text = '';
    for (const c of choices as { message?: { content?: unknown; tool_calls?: unknown }; text?: unknown }[]) {
      if (typeof c?.text === 'string') text += c.text;
      const m = c?.message;
      if (m && typeof m.content === 'string') text += m.content;
      if (m?.tool_calls) text += JSON.stringify(m.tool_calls);
    }
    return text;
  },

  usageFromStreamEvent(json) {
    return toUsage((json as { usage?: OpenAIUsage } | null)?.usage);
  },

  textFromStreamEvent(json) {
    const choices = (json as { choices?: unknown[] } | null)?.choices;
    if (!Array.isArray(choices)) return '';
    let text = '';
    for (const c of choices as { delta?: { content?: unknown; reasoning_content?: unknown; tool_calls?: { function?: { arguments?: unknown; name?: unknown } }[] }; text?: unknown }[]) {
      if (typeof c?.text === 'string') text += c.text;
      const d = c?.delta;
      if (!d) continue;
      if (typeof d.content === 'string') text += d.content;
      if (typeof d.reasoning_content === 'string') text += d.reasoning_content;
      if (Array.isArray(d.tool_calls)) {
        for (const t of d.tool_calls) {
          if (typeof t?.function?.name === 'string') text += t.function.name;
          if (typeof t?.function?.arguments === 'string') text += t.function.arguments;
        }
      }
    }
    return text;
  },

  classifyFailure(status, bodyText): Failure {
    const e = parseError(bodyText);
    const codes = [e.code, e.type].filter((c): c is string => c !== null).map((c) => c.toLowerCase());
    const deadKey = codes.some((c) => DEAD_KEY_CODES.has(c));
    const noMoney = codes.some((c) => NO_MONEY_CODES.has(c));
    const base = { status, message: e.message, code: e.code, ...(e.raw ? { upstreamError: e.raw } : {}) };
    if (status === 401 || ((status === 403 || status === 400) && deadKey)) return { kind: 'auth', ...base };
    if (status === 402 || ((status === 429 || status === 403 || status === 400) && noMoney)) return { kind: 'quota', ...base };
    if (status === 429) return { kind: 'rate_limit', ...base };
    if (status === 404) return { kind: 'mismatch', ...base };
    if (status === 403 || status === 408 || status === 409 || status >= 500) return { kind: 'server', ...base };
    return { kind: 'client', ...base };
  },
};
