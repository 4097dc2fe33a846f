import { SseText } from '../stream/sse.js';
import type { SseEvent } from './types.js';

/**
 * Splits an upstream byte stream into server-sent events as their blank-line terminators arrive
 * (CR, LF and CRLF line ends, chunk boundaries anywhere, including inside a UTF-8 character).
 */
export class SseSplitter {
  readonly #lines = new SseText();
  #pending = '';

  push(chunk: Buffer): SseEvent[] {
    this.#pending += this.#lines.write(chunk);
    const out: SseEvent[] = [];
    let idx: number;
    while ((idx = this.#pending.indexOf('\n\n')) !== -1) {
      const block = this.#pending.slice(0, idx);
      this.#pending = this.#pending.slice(idx + 2);
      if (block.length > 0) out.push(parseBlock(block));
    }
    return out;
  }

  end(): SseEvent[] {
    const rest = (this.#pending + this.#lines.end()).trim();
    this.#pending = '';
    return rest ? [parseBlock(rest)] : [];
  }
}

function parseBlock(block: string): SseEvent {
  let event: string | null = null;
  let data: string | null = null;
  for (const line of block.split('\n')) {
    if (line.startsWith('data:')) {
      const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === null ? v : data + '\n' + v;
    } else if (line.startsWith('event:')) {
      event = line.slice(line.charCodeAt(6) === 32 ? 7 : 6).trim();
    }
  }
  return { event, data, raw: block };
}

/** Parse a `data:` payload that must be a JSON object; null when it is not. */
export function jsonObject(data: string | null): Record<string, unknown> | null {
  if (data === null) return null;
  const t = data.trim();
  if (t.charCodeAt(0) !== 123 || t.charCodeAt(t.length - 1) !== 125) return null;
  try {
    return JSON.parse(t) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export const sseData = (json: unknown) => `data: ${JSON.stringify(json)}\n\n`;
export const sseEvent = (name: string, json: unknown) => `event: ${name}\ndata: ${JSON.stringify(json)}\n\n`;
