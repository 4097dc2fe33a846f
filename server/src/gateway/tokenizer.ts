import { countTokens } from 'gpt-tokenizer';

/**
 * Local token counting (o200k_base): the estimate behind a hold, and the usage of a call whose
 * upstream reported none. Special-token text such as `<|endoftext|>` counts as plain text.
 */
const ANY_TEXT = { disallowedSpecial: new Set<string>() };

/** Beyond this many characters a tokenizer pass costs milliseconds on the hot path; two
 * characters per token over-estimates every real text, which is what a hold wants. */
const EXACT_LIMIT = 64 * 1024;
const MEMO_MIN = 256;
const MEMO_MAX = 2000;
const memo = new Map<string, number>();

export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > EXACT_LIMIT) return Math.ceil(text.length / 2);
  if (text.length < MEMO_MIN) return countTokens(text, ANY_TEXT);
  // Long texts repeat (system prompts, few-shot examples): remember the last few thousand.
  const hit = memo.get(text);
  if (hit !== undefined) return hit;
  const n = countTokens(text, ANY_TEXT);
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value!);
  memo.set(text, n);
  return n;
}

/** Text of an OpenAI message `content`: a string, or an array of parts. Images count a flat 85 tokens (low detail). */
function contentTokens(content: unknown): number {
  if (typeof content === 'string') return countTextTokens(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (!part || typeof part !== 'object') continue;
    const p = part as { type?: string; text?: unknown };
    if (typeof p.text === 'string') n += countTextTokens(p.text);
    else if (p.type === 'image_url' || p.type === 'input_image') n += 85;
  }
  return n;
}

/** The usual chat estimate: content tokens + 3 per message (role and separators) + 3 to prime the reply. */
export function estimateChatPromptTokens(body: { messages?: unknown; tools?: unknown; functions?: unknown }): number {
  let n = 3;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) {
      if (!m || typeof m !== 'object') continue;
      const msg = m as { content?: unknown; name?: unknown; tool_calls?: unknown };
      n += 3 + contentTokens(msg.content);
      if (typeof msg.name === 'string') n += 1;
      if (msg.tool_calls) n += countTextTokens(JSON.stringify(msg.tool_calls));
    }
  }
  const tools = body.tools ?? body.functions;
  if (tools) n += countTextTokens(JSON.stringify(tools));
  return n;
}

/** Prompt tokens of a legacy completion or an embeddings input: text, texts, or token arrays. */
export function estimateInputTokens(input: unknown): number {
  if (typeof input === 'string') return countTextTokens(input);
  if (!Array.isArray(input)) return 0;
  if (input.every((x) => typeof x === 'number')) return input.length;
  let n = 0;
  for (const x of input) n += estimateInputTokens(x);
  return n;
}
