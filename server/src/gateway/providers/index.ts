import { anthropicProvider } from './anthropic.js';
import { openaiProvider } from './openai.js';
import type { Provider } from './types.js';

/** Upstream types a channel can have, with their wire implementation. */
export const PROVIDERS: Record<string, Provider> = {
  openai: openaiProvider,
  anthropic: anthropicProvider,
};

/**
 * OpenAI-compatible vendors by name: the `openai` provider with the vendor's API root as the
 * default base URL (a channel may still give its own).
 */
export const PRESETS: Record<string, { baseUrl: string; note: string }> = {
  deepseek: { baseUrl: 'https://api.deepseek.com/v1', note: 'DeepSeek' },
  qwen: { baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1', note: 'Alibaba Qwen (DashScope, OpenAI-compatible mode)' },
  dashscope: { baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1', note: 'Alibaba DashScope (OpenAI-compatible mode)' },
  moonshot: { baseUrl: 'https://api.moonshot.cn/v1', note: 'Moonshot (Kimi)' },
  zhipu: { baseUrl: 'https://open.bigmodel.cn/api/paas/v4', note: 'Zhipu (GLM)' },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', note: 'OpenRouter' },
  groq: { baseUrl: 'https://api.groq.com/openai/v1', note: 'Groq' },
};

/** Upstream kinds the product will speak but does not yet: refused with a clear message. */
export const PLANNED_TYPES = ['azure', 'gemini'];

/** Default base URL per type, for `channel add` without `--base-url`. */
export const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  ...Object.fromEntries(Object.entries(PRESETS).map(([k, v]) => [k, v.baseUrl])),
};

export const CHANNEL_TYPES = [...Object.keys(PROVIDERS), ...Object.keys(PRESETS)];

export function providerFor(type: string): Provider {
  return PROVIDERS[type] ?? openaiProvider;
}
