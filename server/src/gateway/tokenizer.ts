import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';

/**
 * Local token counting (o200k_base): the estimate behind a hold, and the usage of a call whose
 * upstream reported none. Special-token text such as `<|endoftext|>` counts as plain text.
 */
const ANY_TEXT = { disallowedSpecial: new Set<string>() };

/** Beyond this many characters a tokenizer pass costs milliseconds on the hot path; two
 * characters per token over-estimates every real text, which is what a hold wants. */
const EXACT_LIMIT = 64 * 1024;
const MEMO_MIN = 256;
/** The memo of long texts is bounded by what it holds (UTF-16 characters, two bytes each), not by
 * its number of entries: 2,000 prompts of 64K characters would be 256 MB. */
const MEMO_MAX_CHARS = 4 * 1024 * 1024;
const memo = new Map<string, number>();
let memoChars = 0;

/**
 * gpt-tokenizer remembers the pieces it has encoded (up to 100,000 of them, of any length: a
 * 60K-character run of one letter is one piece). Every piece is a substring of a text we counted,
 * so clearing the cache after a budget of counted characters bounds it in bytes too; the entry cap
 * bounds the per-entry overhead when pieces are short words.
 */
const MERGE_CACHE_ENTRIES = 20_000;
const MERGE_CACHE_MAX_CHARS = 2 * 1024 * 1024;
let mergeCacheChars = 0;

/**
 * The o200k ranks are read from gpt-tokenizer's own `.tiktoken` data file, not imported: its 2.4 MB
 * JavaScript module of 200,000 string literals costs ~10 MB more resident memory once compiled than
 * the same table parsed from text. It is built on the first count, or earlier by warmTokenizer(),
 * which the server calls once it is listening; a process that never counts (the CLI) pays nothing.
 * The table is the one the module holds (a test compares them entry by entry).
 */
let encoding: GptEncoding | undefined;
function o200k(): GptEncoding {
  if (!encoding) {
    encoding = GptEncoding.getEncodingApi('o200k_base', () => readRanks('o200k_base'));
    encoding.setMergeCacheSize(MERGE_CACHE_ENTRIES);
  }
  return encoding;
}

/** Build the tokenizer now (off the start-up path: the server calls this after it is listening). */
export function warmTokenizer(): void {
  o200k();
}

/**
 * A `.tiktoken` file (base64 bytes, space, rank per line) in gpt-tokenizer's form: a token whose
 * bytes are UTF-8 that decodes and encodes back unchanged is a string, any other (a piece of a
 * character, a byte-order mark) a byte array.
 */
export function readRanks(name: string): (string | number[])[] {
  const text = readFileSync(createRequire(import.meta.url).resolve(`gpt-tokenizer/data/${name}.tiktoken`), 'latin1');
  const strict = new TextDecoder('utf-8', { fatal: true });
  const encoder = new TextEncoder();
  const ranks: (string | number[])[] = [];
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const space = text.indexOf(' ', start);
    if (space > start && space < end) {
      const bytes = Buffer.from(text.slice(start, space), 'base64');
      let token: string | number[];
      try {
        token = strict.decode(bytes);
        if (!bytes.equals(encoder.encode(token))) token = [...bytes];
      } catch {
        token = [...bytes];
      }
      ranks[Number(text.slice(space + 1, end))] = token;
    }
    start = end + 1;
  }
  return ranks;
}

const countTokens = (text: string) => o200k().countTokens(text, ANY_TEXT);

function count(text: string): number {
  mergeCacheChars += text.length;
  if (mergeCacheChars > MERGE_CACHE_MAX_CHARS) {
    encoding?.clearMergeCache();
    mergeCacheChars = text.length;
  }
  return hasLongRun(text) ? countSliced(text) : countTokens(text);
}

/**
 * Byte-pair merging is quadratic in the length of one pre-tokenizer piece: 64K characters of one
 * CJK letter cost gpt-tokenizer over a minute of CPU, blocking every call. Pieces longer than this
 * are counted in slices of this length (off by at most a token per slice; real words are shorter).
 */
const PIECE_MAX = 256;
/** o200k_base's pre-tokenizer pattern, as gpt-tokenizer uses it. */
const O200K_SPLIT = new RegExp(
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]))?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]))?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  'gu',
);

/**
 * Whether the text may hold a piece longer than PIECE_MAX. A piece is a word (letters, which may be
 * non-ASCII) or a run of punctuation (which may be non-ASCII) and whitespace; digits come in
 * threes. So a long piece lies in a long run of [letters or non-ASCII] or of [punctuation,
 * whitespace or non-ASCII]; a cheap scan rules both out for ordinary text.
 */
function hasLongRun(text: string): boolean {
  let words = 0;
  let marks = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) {
      words++;
      marks++;
    } else if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) {
      words++;
      marks = 0;
    } else if (c >= 48 && c <= 57) {
      words = 0;
      marks = 0;
    } else {
      words = 0;
      marks++;
    }
    if (words > PIECE_MAX - 8 || marks > PIECE_MAX - 8) return true;
  }
  return false;
}

/** Count with pieces longer than PIECE_MAX sliced; text between long pieces is counted as it is. */
function countSliced(text: string): number {
  let n = 0;
  let from = 0;
  for (const m of text.matchAll(O200K_SPLIT)) {
    const piece = m[0];
    if (piece.length <= PIECE_MAX) continue;
    if (m.index > from) n += countTokens(text.slice(from, m.index));
    for (let i = 0; i < piece.length; ) {
      let j = Math.min(piece.length, i + PIECE_MAX);
      const c = piece.charCodeAt(j - 1);
      if (j < piece.length && c >= 0xd800 && c <= 0xdbff) j--;
      n += countTokens(piece.slice(i, j));
      i = j;
    }
    from = m.index + piece.length;
  }
  if (from < text.length) n += countTokens(text.slice(from));
  return n;
}

/** What the memo and the tokenizer's own cache hold, in characters (for tests and /metrics). */
export function tokenizerMemoryChars(): { memo: number; mergeCache: number } {
  return { memo: memoChars, mergeCache: Math.min(mergeCacheChars, MERGE_CACHE_MAX_CHARS) };
}

/** Tokens of a prompt text, for holds: exact up to 64K characters, over-estimated beyond. */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > EXACT_LIMIT) return Math.ceil(text.length / 2);
  if (text.length < MEMO_MIN) return count(text);
  // Long texts repeat (system prompts, few-shot examples): remember recent ones.
  const hit = memo.get(text);
  if (hit !== undefined) return hit;
  const n = count(text);
  while (memo.size > 0 && memoChars + text.length > MEMO_MAX_CHARS) {
    const oldest = memo.keys().next().value!;
    memo.delete(oldest);
    memoChars -= oldest.length;
  }
  memo.set(text, n);
  memoChars += text.length;
  return n;
}

/**
 * Where a text can be cut so that counting both halves gives the count of the whole: the o200k
 * pre-tokenizer always ends a piece after a letter followed by whitespace (a word never takes a
 * following space or newline), and always starts one at a letter after a line break (a word's
 * optional leading character is never a line break). Searches back from `end` to `start`; -1 if none.
 */
function safeCut(text: string, start: number, end: number): number {
  for (let p = end; p > start; p--) {
    const a = text.charCodeAt(p - 1);
    const b = text.charCodeAt(p);
    if (isSpace(b) && isLetter(a)) return p;
    if ((a === 10 || a === 13) && isLetter(b)) return p;
  }
  return -1;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

const LETTER = /\p{L}/u;
function isLetter(c: number): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) return true;
  if (c < 128 || (c >= 0xd800 && c <= 0xdfff)) return false; // a lone surrogate half is no letter by itself
  return LETTER.test(String.fromCharCode(c));
}

/** A text cut this short (or shorter) is counted in one tokenizer pass. */
const CHUNK = 16 * 1024;

/**
 * Counts a text that arrives in parts — a streamed completion — as if it were counted whole,
 * holding only a tail of at most 64K characters: complete parts are counted at safe cuts as the
 * text grows. A text with no safe cut in 64K characters (one unbroken run) is cut there anyway,
 * which can move the count by a token.
 */
export class TokenTally {
  #tail = '';
  #counted = 0;
  /** The tail has no safe cut at or before this index (so a run without one is scanned once). */
  #uncut = 0;

  add(text: string): void {
    if (text.length === 0) return;
    this.#tail += text;
    while (this.#tail.length >= CHUNK) {
      let p = safeCut(this.#tail, this.#uncut, Math.min(this.#tail.length - 1, EXACT_LIMIT));
      if (p <= 0) {
        if (this.#tail.length < EXACT_LIMIT) {
          this.#uncut = Math.max(0, this.#tail.length - 1);
          return;
        }
        p = EXACT_LIMIT;
        const c = this.#tail.charCodeAt(p - 1);
        if (c >= 0xd800 && c <= 0xdbff) p--; // keep a surrogate pair together
      }
      this.#counted += count(this.#tail.slice(0, p));
      this.#tail = this.#tail.slice(p);
      this.#uncut = 0;
    }
  }

  /** Characters held (not yet counted). */
  get held(): number {
    return this.#tail.length;
  }

  /** The count of everything added so far. */
  total(): number {
    return this.#counted + (this.#tail.length > 0 ? count(this.#tail) : 0);
  }
}

/** Tokens of a completion counted locally: exact at any length (long texts are counted in parts). */
export function countCompletionTokens(text: string): number {
  if (text.length <= EXACT_LIMIT) return text.length === 0 ? 0 : count(text);
  const t = new TokenTally();
  for (let i = 0; i < text.length; i += CHUNK) t.add(text.slice(i, i + CHUNK));
  return t.total();
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
