import { StringDecoder } from 'node:string_decoder';

/**
 * Watches an upstream SSE stream as it is relayed, event by event, without holding it back:
 *  - complete events are passed on as soon as their blank-line terminator arrives;
 *  - the usage event (choices: [], usage: {…}) that we asked for on the caller's behalf is
 *    removed when the caller did not ask for it itself;
 *  - event payloads are kept (as text, unparsed) so that, if the upstream never reports usage,
 *    the delivered completion can be counted afterwards.
 * Parsing JSON only for events that carry usage keeps the per-chunk cost to a string scan.
 */
export class SseMeter {
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  /** A chunk ended in CR: whether it is a CRLF is known only from the next chunk's first byte. */
  #cr = false;
  /** Raw `data:` payloads that were delivered, for counting when no usage arrives. */
  readonly delivered: string[] = [];
  usageJson: unknown = null;
  sawDone = false;
  malformed = false;
  events = 0;

  constructor(private readonly stripUsageEvent: boolean) {}

  /** Feed an upstream chunk; returns the text to send on (possibly empty). */
  push(chunk: Buffer): string {
    let text = this.#decoder.write(chunk);
    if (this.#cr) {
      text = '\r' + text;
      this.#cr = false;
    }
    if (text.endsWith('\r')) {
      this.#cr = true;
      text = text.slice(0, -1);
    }
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    this.#pending += text;
    let out = '';
    let idx: number;
    while (!this.malformed && (idx = this.#pending.indexOf('\n\n')) !== -1) {
      const block = this.#pending.slice(0, idx);
      this.#pending = this.#pending.slice(idx + 2);
      if (this.#keep(block)) out += block + '\n\n';
    }
    return out;
  }

  /** The upstream ended: whatever partial event is left. */
  end(): string {
    const rest = (this.#pending + this.#decoder.end().replace(/\r\n?/g, '\n') + (this.#cr ? '\n' : '')).trim();
    this.#cr = false;
    this.#pending = '';
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
    this.delivered.push(t);
    return true;
  }
}
