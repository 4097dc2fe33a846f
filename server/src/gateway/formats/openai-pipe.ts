import type { TokenUsage } from '../../billing/pricing.js';
import type { Provider } from '../providers/types.js';
import { SseMeter } from '../stream/sse.js';
import { openaiUsage } from './anthropic.js';
import { sseData } from './sse-events.js';

const DONE = 'data: [DONE]\n\n';
import type { StreamPipe } from './types.js';

/** OpenAI-compatible upstream, OpenAI caller: the bytes relayed as they come, the meter watching. */
export class OpenAIPassthrough implements StreamPipe {
  readonly #meter: SseMeter;
  readonly upstreamError = null;
  /** [DONE] held back: the caller asked for usage, the upstream sent none, Tollgate's count goes first. */
  #heldDone = false;
  #lastEvent = '{}';

  constructor(
    private readonly provider: Provider,
    private readonly wantsUsage: boolean,
  ) {
    this.#meter = new SseMeter(!wantsUsage, (json) => provider.textFromStreamEvent(json));
  }

  push(chunk: Buffer): string {
    return this.#holdDone(this.#meter.push(chunk));
  }

  end(): string {
    return this.#holdDone(this.#meter.end());
  }

  #holdDone(out: string): string {
    if (this.wantsUsage && this.#lastEvent === '{}') {
      // The first chunk's id, created and model, for the usage chunk Tollgate may have to add.
      const at = out.indexOf('data: {');
      if (at !== -1) this.#lastEvent = out.slice(at + 6, out.indexOf('\n', at));
    }
    if (this.wantsUsage && this.#meter.sawDone && !this.#meter.usageJson && out.endsWith(DONE)) {
      this.#heldDone = true;
      return out.slice(0, -DONE.length);
    }
    return out;
  }

  get malformed(): boolean {
    return this.#meter.malformed;
  }

  get complete(): boolean {
    return this.#meter.sawDone;
  }

  get usage(): TokenUsage | null {
    return this.#meter.usageJson ? this.provider.usageFromStreamEvent(this.#meter.usageJson) : null;
  }

  get deliveredEvents(): number {
    return this.#meter.delivered;
  }

  completionTokens(): number {
    return this.#meter.completionTokens();
  }

  get oversized(): boolean {
    return this.#meter.oversized;
  }

  finish(usage: TokenUsage): string {
    if (!this.#heldDone) return '';
    let last: { id?: unknown; created?: unknown; model?: unknown; object?: unknown } = {};
    try {
      last = JSON.parse(this.#lastEvent) as typeof last;
    } catch {
      /* the chunk below does without them */
    }
    return sseData({ id: last.id, object: last.object, created: last.created, model: last.model, choices: [], usage: openaiUsage(usage) }) + DONE;
  }

  errorEvent(code: string, message: string): string {
    // The openai SDK raises an error for an event carrying `error`.
    return sseData({ error: { message, type: 'upstream_error', param: null, code } });
  }
}
