import { randomUUID } from 'node:crypto';
import type { TokenUsage } from '../../billing/pricing.js';
import { anthropicErrorBody, anthropicUsage, finishReasonOf, stopReasonOf, usageFromAnthropic, type AnthropicUsage } from './anthropic.js';
import { TokenTally } from '../tokenizer.js';
import { jsonObject, sseData, sseEvent, SseSplitter } from './sse-events.js';
import type { SseEvent, StreamPipe } from './types.js';

/*
 * Anthropic's stream, from its reference: message_start (the message with empty content and the
 * input usage), then per content block content_block_start / content_block_delta… /
 * content_block_stop, then message_delta (stop_reason, cumulative output usage) and message_stop;
 * `ping` may come anywhere, and `error` ends a stream that failed after it started.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** Merge Anthropic usage reports: message_delta's fields, when present, replace message_start's. */
function mergeUsage(into: AnthropicUsage, u: unknown): void {
  if (!isObj(u)) return;
  for (const k of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
    if (typeof u[k] === 'number') into[k] = u[k] as number;
  }
}

/** Text a content_block_delta carries (for counting when no usage arrives). */
function deltaText(d: unknown): string {
  if (!isObj(d)) return '';
  if (typeof d.text === 'string') return d.text;
  if (typeof d.partial_json === 'string') return d.partial_json;
  if (typeof d.thinking === 'string') return d.thinking;
  return '';
}

const anthropicError = (message: string, type = 'api_error') => sseEvent('error', anthropicErrorBody(500, message, type));

/** Anthropic upstream, Anthropic caller: events relayed as they come; usage and the end watched. */
export class AnthropicPassthrough implements StreamPipe {
  readonly #split = new SseSplitter();
  #errorRaw: string | null = null;
  readonly #usage: AnthropicUsage = {};
  #sawUsage = false;
  /** The delivered completion, counted as it goes (bounded memory, exact count). */
  readonly #text = new TokenTally();
  malformed = false;
  readonly oversized = false;
  complete = false;
  upstreamError: string | null = null;
  deliveredEvents = 0;

  push(chunk: Buffer): string {
    return this.#relay(this.#split.push(chunk));
  }

  end(): string {
    return this.malformed ? '' : this.#relay(this.#split.end());
  }

  #relay(events: SseEvent[]): string {
    let out = '';
    for (const ev of events) {
      if (this.malformed || this.upstreamError !== null) break;
      if (ev.data === null) {
        out += ev.raw + '\n\n';
        continue;
      }
      const name = ev.event;
      // Only the few events that carry usage or an error are parsed; deltas are scanned as text.
      if (name === 'message_start' || name === 'message_delta' || name === 'error' || name === null) {
        const j = jsonObject(ev.data);
        if (!j) {
          this.malformed = true;
          break;
        }
        const type = name ?? j.type;
        if (type === 'message_start' && isObj(j.message)) {
          mergeUsage(this.#usage, j.message.usage);
          this.#sawUsage = true;
        } else if (type === 'message_delta') {
          mergeUsage(this.#usage, j.usage);
          this.#sawUsage = true;
        } else if (type === 'error') {
          // Held back: the relay settles first, then sends it (a client's SDK raises at this event).
          this.upstreamError = isObj(j.error) && typeof j.error.message === 'string' ? j.error.message : 'upstream error';
          this.#errorRaw = ev.raw + '\n\n';
          break;
        } else if (type === 'message_stop') this.complete = true;
      } else if (name === 'message_stop') {
        this.complete = true;
      } else if (name === 'content_block_delta') {
        const j = jsonObject(ev.data);
        if (!j) {
          this.malformed = true;
          break;
        }
        this.#text.add(deltaText(j.delta));
      }
      if (name !== 'ping') this.deliveredEvents++;
      out += ev.raw + '\n\n';
    }
    return out;
  }

  get usage(): TokenUsage | null {
    return this.#sawUsage ? usageFromAnthropic(this.#usage) : null;
  }

  completionTokens(): number {
    return this.#text.total();
  }

  finish(): string {
    return '';
  }

  errorEvent(_code: string, message: string): string {
    return this.#errorRaw ?? anthropicError(message);
  }
}

/** Anthropic upstream, OpenAI caller: each Anthropic event becomes the chat.completion.chunk it means. */
export class AnthropicToChatStream implements StreamPipe {
  readonly #split = new SseSplitter();
  readonly #usage: AnthropicUsage = {};
  #sawUsage = false;
  /** The delivered completion, counted as it goes (bounded memory, exact count). */
  readonly #text = new TokenTally();
  #id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  readonly #created = Math.floor(Date.now() / 1000);
  /** Anthropic content block index → OpenAI tool call index. */
  readonly #tools = new Map<number, number>();
  malformed = false;
  readonly oversized = false;
  complete = false;
  upstreamError: string | null = null;
  deliveredEvents = 0;

  constructor(
    private readonly model: string,
    private readonly wantsUsage: boolean,
  ) {}

  push(chunk: Buffer): string {
    return this.#convert(this.#split.push(chunk));
  }

  end(): string {
    return this.malformed ? '' : this.#convert(this.#split.end());
  }

  #chunk(delta: Json, finish: string | null = null): string {
    this.deliveredEvents++;
    return sseData({
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  }

  #convert(events: SseEvent[]): string {
    let out = '';
    for (const ev of events) {
      if (this.malformed || this.complete || this.upstreamError !== null) break;
      if (ev.data === null || ev.event === 'ping') continue;
      const j = jsonObject(ev.data);
      if (!j) {
        this.malformed = true;
        break;
      }
      switch (ev.event ?? j.type) {
        case 'message_start': {
          const m = isObj(j.message) ? j.message : {};
          if (typeof m.id === 'string') this.#id = `chatcmpl-${m.id}`;
          mergeUsage(this.#usage, m.usage);
          this.#sawUsage = true;
          out += this.#chunk({ role: 'assistant', content: '' });
          break;
        }
        case 'content_block_start': {
          const b = isObj(j.content_block) ? j.content_block : {};
          if (b.type === 'tool_use') {
            const i = this.#tools.size;
            this.#tools.set(Number(j.index), i);
            this.#text.add(String(b.name ?? ''));
            out += this.#chunk({ tool_calls: [{ index: i, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] });
          } else if (b.type === 'text' && typeof b.text === 'string' && b.text) {
            this.#text.add(b.text);
            out += this.#chunk({ content: b.text });
          }
          break;
        }
        case 'content_block_delta': {
          const d = isObj(j.delta) ? j.delta : {};
          if (d.type === 'text_delta' && typeof d.text === 'string') {
            this.#text.add(d.text);
            out += this.#chunk({ content: d.text });
          } else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
            this.#text.add(d.partial_json);
            const i = this.#tools.get(Number(j.index)) ?? 0;
            out += this.#chunk({ tool_calls: [{ index: i, function: { arguments: d.partial_json } }] });
          } else if (d.type === 'thinking_delta' && typeof d.thinking === 'string') {
            this.#text.add(d.thinking);
            out += this.#chunk({ reasoning_content: d.thinking });
          }
          break;
        }
        case 'message_delta': {
          mergeUsage(this.#usage, j.usage);
          const d = isObj(j.delta) ? j.delta : {};
          const finish = finishReasonOf(d.stop_reason);
          if (finish) out += this.#chunk({}, finish);
          break;
        }
        case 'message_stop':
          this.complete = true;
          break;
        case 'error': {
          const e = isObj(j.error) ? j.error : {};
          this.upstreamError = typeof e.message === 'string' ? e.message : 'upstream error';
          break;
        }
      }
    }
    return out;
  }

  get usage(): TokenUsage | null {
    return this.#sawUsage ? usageFromAnthropic(this.#usage) : null;
  }

  completionTokens(): number {
    return this.#text.total();
  }

  finish(usage: TokenUsage): string {
    const u = this.wantsUsage
      ? sseData({
          id: this.#id,
          object: 'chat.completion.chunk',
          created: this.#created,
          model: this.model,
          choices: [],
          usage: {
            prompt_tokens: usage.promptTokens,
            completion_tokens: usage.completionTokens,
            total_tokens: usage.promptTokens + usage.completionTokens,
            prompt_tokens_details: { cached_tokens: usage.cachedTokens },
          },
        })
      : '';
    return u + 'data: [DONE]\n\n';
  }

  errorEvent(code: string, message: string): string {
    return sseData({ error: { message: this.upstreamError ?? message, type: 'upstream_error', param: null, code } });
  }
}

type Block = { index: number; kind: 'text' | 'thinking' | 'tool' };

/** OpenAI-compatible upstream, Anthropic caller: chat.completion.chunks become Anthropic's event sequence. */
export class ChatToAnthropicStream implements StreamPipe {
  readonly #split = new SseSplitter();
  #started = false;
  #id = `msg_${randomUUID().replaceAll('-', '')}`;
  #block: Block | null = null;
  #nextIndex = 0;
  /** OpenAI tool call index → Anthropic content block index. */
  readonly #tools = new Map<number, number>();
  #stop: string | null = null;
  /** The delivered completion, counted as it goes (bounded memory, exact count). */
  readonly #text = new TokenTally();
  usage: TokenUsage | null = null;
  malformed = false;
  readonly oversized = false;
  complete = false;
  upstreamError: string | null = null;
  deliveredEvents = 0;

  constructor(
    private readonly model: string,
    private readonly promptEstimate: number,
  ) {}

  push(chunk: Buffer): string {
    return this.#convert(this.#split.push(chunk));
  }

  end(): string {
    return this.malformed ? '' : this.#convert(this.#split.end());
  }

  #start(): string {
    if (this.#started) return '';
    this.#started = true;
    this.deliveredEvents++;
    // The real input count arrives only at the end (OpenAI's usage chunk); message_delta carries it.
    return sseEvent('message_start', {
      type: 'message_start',
      message: {
        id: this.#id,
        type: 'message',
        role: 'assistant',
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: this.promptEstimate, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    });
  }

  #close(): string {
    if (!this.#block) return '';
    const i = this.#block.index;
    this.#block = null;
    return sseEvent('content_block_stop', { type: 'content_block_stop', index: i });
  }

  #open(kind: Block['kind'], contentBlock: Json): string {
    const out = this.#close();
    this.#block = { index: this.#nextIndex++, kind };
    return out + sseEvent('content_block_start', { type: 'content_block_start', index: this.#block.index, content_block: contentBlock });
  }

  #delta(index: number, delta: Json): string {
    this.deliveredEvents++;
    return sseEvent('content_block_delta', { type: 'content_block_delta', index, delta });
  }

  #convert(events: SseEvent[]): string {
    let out = '';
    for (const ev of events) {
      if (this.malformed || this.complete || this.upstreamError !== null) break;
      if (ev.data === null) continue;
      if (ev.data.trim() === '[DONE]') {
        this.complete = true;
        break;
      }
      const j = jsonObject(ev.data);
      if (!j) {
        this.malformed = true;
        break;
      }
      if (isObj(j.error)) {
        this.upstreamError = typeof j.error.message === 'string' ? j.error.message : 'upstream error';
        out += this.#start();
        break;
      }
      if (!this.#started && typeof j.id === 'string' && j.id) this.#id = `msg_${j.id.replace(/^chatcmpl-/, '')}`;
      out += this.#start();
      if (isObj(j.usage)) {
        const u = j.usage as { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null; completion_tokens_details?: { reasoning_tokens?: number } | null };
        if (typeof u.prompt_tokens === 'number') {
          this.usage = {
            promptTokens: u.prompt_tokens,
            completionTokens: u.completion_tokens ?? 0,
            cachedTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
            reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
          };
        }
      }
      const choice = Array.isArray(j.choices) && isObj(j.choices[0]) ? j.choices[0] : null;
      if (!choice) continue;
      const d = isObj(choice.delta) ? choice.delta : {};
      const reasoning = typeof d.reasoning_content === 'string' ? d.reasoning_content : typeof d.reasoning === 'string' ? d.reasoning : '';
      if (reasoning) {
        if (this.#block?.kind !== 'thinking') out += this.#open('thinking', { type: 'thinking', thinking: '', signature: '' });
        this.#text.add(reasoning);
        out += this.#delta(this.#block!.index, { type: 'thinking_delta', thinking: reasoning });
      }
      if (typeof d.content === 'string' && d.content) {
        if (this.#block?.kind !== 'text') out += this.#open('text', { type: 'text', text: '' });
        this.#text.add(d.content);
        out += this.#delta(this.#block!.index, { type: 'text_delta', text: d.content });
      }
      if (Array.isArray(d.tool_calls)) {
        for (const tc of d.tool_calls as Json[]) {
          const ti = typeof tc.index === 'number' ? tc.index : 0;
          const fn = isObj(tc.function) ? tc.function : {};
          let bi = this.#tools.get(ti);
          if (bi === undefined) {
            out += this.#open('tool', { type: 'tool_use', id: typeof tc.id === 'string' && tc.id ? tc.id : `toolu_${randomUUID().replaceAll('-', '')}`, name: fn.name ?? '', input: {} });
            bi = this.#block!.index;
            this.#tools.set(ti, bi);
            this.#text.add(String(fn.name ?? ''));
          }
          if (typeof fn.arguments === 'string' && fn.arguments) {
            this.#text.add(fn.arguments);
            out += this.#delta(bi, { type: 'input_json_delta', partial_json: fn.arguments });
          }
        }
      }
      if (typeof choice.finish_reason === 'string') this.#stop = stopReasonOf(choice.finish_reason);
    }
    return out;
  }

  completionTokens(): number {
    return this.#text.total();
  }

  finish(usage: TokenUsage): string {
    return (
      this.#start() +
      this.#close() +
      sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: this.#stop ?? 'end_turn', stop_sequence: null }, usage: anthropicUsage(usage) }) +
      sseEvent('message_stop', { type: 'message_stop' })
    );
  }

  errorEvent(_code: string, message: string): string {
    return anthropicError(this.upstreamError ?? message);
  }
}
