import { openaiProvider } from './openai.js';
import type { Provider } from './types.js';

/** Upstream types a channel can have. Later: anthropic, gemini, azure. */
export const PROVIDERS: Record<string, Provider> = {
  openai: openaiProvider,
};

export const CHANNEL_TYPES = Object.keys(PROVIDERS);

export function providerFor(type: string): Provider {
  return PROVIDERS[type] ?? openaiProvider;
}
