import type { Channel } from '../catalog.js';
import { ANTHROPIC_VERSION, messageText, usageFromAnthropic } from '../formats/anthropic.js';
import type { Endpoint, Failure, Provider, UpstreamRequest } from './types.js';

const DEAD_KEY = /invalid x-api-key|invalid api key|api key.*(disabled|revoked)|organization.*disabled/i;
/**
 * Anthropic reports an empty prepaid balance as a 400 `invalid_request_error` with this sentence
 * and nothing else. Only the whole message counts: a 400 also echoes what the caller sent
 * (`<field>: Extra inputs are not permitted`), and a field named "billing" must not be able to
 * switch the channel off for everyone.
 */
const NO_CREDIT_400 = /^Your credit balance is too low to access the [A-Za-z ]+ API\. Please go to Plans & Billing to upgrade or purchase credits\.$/;

function parseError(text: string): { message: string; type: string | null; raw?: Record<string, unknown> } {
  try {
    const j = JSON.parse(text) as { error?: { type?: unknown; message?: unknown } };
    if (j.error && typeof j.error === 'object') {
      return {
        message: typeof j.error.message === 'string' ? j.error.message : JSON.stringify(j.error),
        type: typeof j.error.type === 'string' ? j.error.type : null,
        raw: j.error as Record<string, unknown>,
      };
    }
  } catch {
    /* not JSON */
  }
  return { message: text.slice(0, 500) || 'no error body', type: null };
}

/**
 * Anthropic's native Messages API. The channel's base URL is the API root
 * (https://api.anthropic.com); the key goes in `x-api-key`. A caller's `anthropic-version` and
 * `anthropic-beta` headers are passed on, so betas a client relies on (Claude Code's) keep working.
 */
export const anthropicProvider: Provider = {
  type: 'anthropic',
  wire: 'anthropic',
  supports: (endpoint) => endpoint === 'messages' || endpoint === 'chat.completions',

  build(channel: Channel, _endpoint: Endpoint, body: Record<string, unknown>, headers?: Record<string, string>): UpstreamRequest {
    return {
      path: channel.pathPrefix + '/messages',
      headers: {
        'content-type': 'application/json',
        'x-api-key': channel.apiKey,
        'anthropic-version': headers?.['anthropic-version'] ?? ANTHROPIC_VERSION,
        ...(headers?.['anthropic-beta'] ? { 'anthropic-beta': headers['anthropic-beta'] } : {}),
        accept: body.stream === true ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
    };
  },

  usageFromJson(_endpoint, json) {
    return usageFromAnthropic((json as { usage?: unknown } | null)?.usage);
  },

  textFromJson(_endpoint, json) {
    return messageText(json);
  },

  usageFromStreamEvent(json) {
    const j = json as { usage?: unknown; message?: { usage?: unknown } } | null;
    return usageFromAnthropic(j?.usage ?? j?.message?.usage);
  },

  textFromStreamEvent(json) {
    const d = (json as { delta?: { text?: unknown; partial_json?: unknown; thinking?: unknown } } | null)?.delta;
    if (!d) return '';
    return [d.text, d.partial_json, d.thinking].filter((x): x is string => typeof x === 'string').join('');
  },

  classifyFailure(status, bodyText): Failure {
    const e = parseError(bodyText);
    const hay = `${e.type ?? ''} ${e.message}`;
    const base = { status, message: e.message, code: e.type, ...(e.raw ? { upstreamError: e.raw } : {}) };
    if (status === 401 || (status === 403 && DEAD_KEY.test(hay))) return { kind: 'auth', ...base };
    if (status === 402 || e.type === 'billing_error' || (status === 400 && NO_CREDIT_400.test(e.message))) return { kind: 'quota', ...base };
    if (status === 429) return { kind: 'rate_limit', ...base };
    if (status === 404) return { kind: 'mismatch', ...base };
    if (status === 403 || status === 408 || status === 409 || status >= 500) return { kind: 'server', ...base };
    return { kind: 'client', ...base };
  },
};
