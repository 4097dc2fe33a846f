import type { TokenUsage } from '../../billing/pricing.js';
import type { Channel } from '../catalog.js';
import type { Wire } from '../formats/types.js';

/**
 * The operations a caller can ask for; each inbound format maps onto one. `messages` is a chat in
 * Anthropic's spelling: the same operation as `chat.completions`, recorded under its own name.
 */
export type Endpoint = 'chat.completions' | 'completions' | 'embeddings' | 'messages';

export interface UpstreamRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Why an upstream call failed, which decides what happens next:
 *  auth / quota → the channel is auto-disabled (its key is bad or out of money) and the next is tried;
 *  rate_limit / server → the channel cools down and the next is tried;
 *  mismatch → this channel cannot serve the model; try the next, no cooldown;
 *  client → the request itself is wrong; the caller gets the upstream's answer, nothing is retried.
 */
export type FailureKind = 'auth' | 'quota' | 'rate_limit' | 'server' | 'timeout' | 'network' | 'mismatch' | 'client';

export interface Failure {
  kind: FailureKind;
  status: number;
  message: string;
  code: string | null;
  /** Upstream's own error object, for passing a client error through. */
  upstreamError?: Record<string, unknown>;
}

/**
 * An upstream provider as data: how to address it and how to read its answers. Adding a vendor
 * means adding one of these (and, for a non-OpenAI wire format, request/stream transforms).
 */
export interface Provider {
  type: string;
  /** The wire format the upstream speaks for chat; a caller in another format is converted. */
  wire: Wire;
  /** Operations the upstream serves (in its own format); a channel that serves none of the call's is skipped. */
  supports(endpoint: Endpoint): boolean;
  /** `headers`: the caller's request headers, for those a provider passes on (anthropic-version, anthropic-beta). */
  build(channel: Channel, endpoint: Endpoint, body: Record<string, unknown>, headers?: Record<string, string>): UpstreamRequest;
  /** Usage from a complete (non-streamed) response body. */
  usageFromJson(endpoint: Endpoint, json: unknown): TokenUsage | null;
  /** Completion text of a complete response, for counting when usage is missing. */
  textFromJson(endpoint: Endpoint, json: unknown): string;
  /** Usage carried by one streamed event's JSON, if any. */
  usageFromStreamEvent(json: unknown): TokenUsage | null;
  /** Completion text carried by one streamed event's JSON. */
  textFromStreamEvent(json: unknown): string;
  classifyFailure(status: number, bodyText: string): Failure;
}
