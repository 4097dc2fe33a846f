import type { TokenUsage } from '../../billing/pricing.js';

/**
 * A wire format: how a caller or an upstream spells a call. `openai` is the canonical call model —
 * every other format converts to and from it (the Portkey way), so n formats need 2n transforms
 * rather than n².
 */
export type Wire = 'openai' | 'anthropic';

/**
 * One upstream stream on its way to the caller, event by event: the same format relayed as it came
 * (with a meter watching), or converted as each event arrives. Nothing is held back beyond one
 * incomplete event.
 */
export interface StreamPipe {
  /** Feed an upstream chunk; returns what to write to the caller now (possibly empty). */
  push(chunk: Buffer): string;
  /** The upstream ended: whatever is left of a final, unterminated event. */
  end(): string;
  /** The upstream sent something unreadable; the stream is cut there. */
  readonly malformed: boolean;
  /** …because one event exceeded the size a stream may hold. */
  readonly oversized: boolean;
  /** The upstream's end-of-stream marker arrived ([DONE], message_stop). */
  readonly complete: boolean;
  /** The upstream reported an error inside the stream (and the caller has already been told). */
  readonly upstreamError: string | null;
  /** Usage as the upstream reported it, when it did. */
  readonly usage: TokenUsage | null;
  /** Events with content delivered to the caller so far. */
  readonly deliveredEvents: number;
  /** Tokens of the completion delivered, for billing when the upstream reports no usage. */
  completionTokens(): number;
  /** Closing events in the caller's format, with the usage billed (a converted stream ends here). */
  finish(usage: TokenUsage): string;
  /** An error event in the caller's format, for a stream that broke. */
  errorEvent(code: string, message: string): string;
}

/** One server-sent event: its `event:` name (if any), its joined `data:` lines, and its text as received. */
export interface SseEvent {
  event: string | null;
  data: string | null;
  raw: string;
}
