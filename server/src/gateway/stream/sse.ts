import { StringDecoder } from 'node:string_decoder';
import { TokenTally } from '../tokenizer.js';

/** Delivered payloads kept unparsed before their text is folded into the running count. */
const RAW_BUDGET = 32 * 1024;
/** The longest event we wait for: an upstream that never ends its event must not grow us without bound. */
export const MAX_EVENT_CHARS = 4 * 1024 * 1024;

/**
 * Watches an upstream SSE stream as it is relayed, event by event, without holding it back:
 *  - complete events are passed on as soon as their blank-line terminator arrives;
 *  - the usage event (choices: [], usage: {…}) that we asked for on the caller's behalf is
 *    removed when the caller did not ask for it itself;
 *  - the delivered completion is counted in case the upstream never reports usage: payloads are
 *    kept unparsed up to a small budget, then their text is folded into a running token count.
 * Parsing JSON only for events that carry usage keeps the per-chunk cost of an ordinary stream to
 * a string scan; what a meter holds stays bounded however long the stream runs.
 */
export class SseMeter {
  readonly #lines = new SseText();
  #pending = '';
  /** `#pending` holds no blank line before this index: a long event is scanned once, not per chunk. */
  #scanned = 0;
  /** `data:` payloads delivered and not yet counted. */
  #raw: string[] = [];
  #rawChars = 0;
  readonly #tally = new TokenTally();
  /** Data events passed on to the caller ([DONE] aside). */
  delivered = 0;
  usageJson: unknown = null;
  sawDone = false;
  malformed = false;
  /** The upstream sent an event longer than MAX_EVENT_CHARS. */
  oversized = false;
  events = 0;

  /** `textOf` reads the completion text of one event's JSON (the provider's reader). */
  constructor(
    private readonly stripUsageEvent: boolean,
    private readonly textOf: (json: unknown) => string = () => '',
  ) {}

  /** Feed an upstream chunk; returns the text to send on (possibly empty). */
  push(chunk: Buffer): string {
    this.#pending += this.#lines.write(chunk);
    let out = '';
    let idx: number;
    while (!this.malformed && (idx = this.#pending.indexOf('\n\n', this.#scanned)) !== -1) {
      const block = this.#pending.slice(0, idx);
      this.#pending = this.#pending.slice(idx + 2);
      this.#scanned = 0;
      if (this.#keep(block)) out += block + '\n\n';
    }
    this.#scanned = Math.max(0, this.#pending.length - 1);
    if (this.#pending.length > MAX_EVENT_CHARS) {
      this.malformed = true;
      this.oversized = true;
      this.#pending = '';
    }
    return out;
  }

  /** The upstream ended: whatever partial event is left. */
  end(): string {
    const rest = (this.#pending + this.#lines.end()).trim();
    this.#pending = '';
    this.#scanned = 0;
    if (!rest || this.malformed) return '';
    return this.#keep(rest) ? rest + '\n\n' : '';
  }

  #keep(block: string): boolean {
    if (block.length === 0) return false;
    let data: string | null = null;
    for (const line of block.split('\n')) {
      if (line.startsWith('data:')) {
        const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        data = data === null ? v : data + '\n' + v;
      }
    }
    if (data === null) return true; // comments, event names, retry hints: pass through
    this.events++;
    if (data === '[DONE]') {
      this.sawDone = true;
      return true;
    }
    // Cheap structural check: a truncated or garbled payload must not reach the caller's parser.
    const t = data.trim();
    if (t.charCodeAt(0) !== 123 /* { */ || t.charCodeAt(t.length - 1) !== 125 /* } */) {
      this.malformed = true;
      return false;
    }
    if (t.includes('"usage"') && !/"usage"\s*:\s*null/.test(t)) {
      try {
        const json = JSON.parse(t) as { usage?: unknown; choices?: unknown[] };
        if (json.usage) {
          this.usageJson = json;
          if (this.stripUsageEvent && Array.isArray(json.choices) && json.choices.length === 0) return false;
        }
      } catch {
        this.malformed = true;
        return false;
      }
    }
    this.delivered++;
    this.#raw.push(t);
    this.#rawChars += t.length;
    if (this.#rawChars > RAW_BUDGET) this.#fold();
    return true;
  }

  #fold(): void {
    for (const d of this.#raw) {
      try {
        this.#tally.add(this.textOf(JSON.parse(d)));
      } catch {
        /* an unreadable event delivered nothing countable */
      }
    }
    this.#raw = [];
    this.#rawChars = 0;
  }

  /** Tokens of the completion text delivered so far (for a stream without reported usage). */
  completionTokens(): number {
    this.#fold();
    return this.#tally.total();
  }

  /** Characters the meter holds (a split event, uncounted payloads, the count's tail): stays bounded. */
  get held(): number {
    return this.#pending.length + this.#rawChars + this.#tally.held;
  }
}

/**
 * Upstream bytes as text with LF line ends: UTF-8 decoded across chunk boundaries, CR and CRLF
 * turned into LF, even when a CRLF is split between two chunks.
 */
export class SseText {
  readonly #decoder = new StringDecoder('utf8');
  #cr = false;

  write(chunk: Buffer): string {
    let text = this.#decoder.write(chunk);
    // A chunk that ended in CR: whether it was a CRLF is known only from this chunk's first byte.
    if (this.#cr) {
      text = '\r' + text;
      this.#cr = false;
    }
    if (text.endsWith('\r')) {
      this.#cr = true;
      text = text.slice(0, -1);
    }
    return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  }

  /** What is left at the end of the stream. */
  end(): string {
    const rest = this.#decoder.end().replace(/\r\n?/g, '\n') + (this.#cr ? '\n' : '');
    this.#cr = false;
    return rest;
  }
}
