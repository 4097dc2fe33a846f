import { ceilDiv, PPM, toSafeNumber } from '../lib/money.js';

/** A model's list price: micro-USD per 1M tokens, and micro-USD per call. */
export interface PriceCard {
  model: string;
  input: number;
  output: number;
  /** null → cached prompt tokens cost the same as other prompt tokens. */
  cachedInput: number | null;
  /** null → prompt tokens written to the upstream's cache cost the same as other prompt tokens. */
  cacheWrite?: number | null;
  request: number;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** Part of promptTokens that the upstream served from its prompt cache. */
  cachedTokens: number;
  /** Part of promptTokens that the upstream wrote to its prompt cache (Anthropic's cache_creation_input_tokens). */
  cacheWriteTokens?: number;
  /** Part of completionTokens spent on reasoning (billed as output; recorded to show). */
  reasoningTokens?: number;
}

const TOKENS_PER_PRICE_UNIT = 1_000_000n;

/**
 * What a call costs, in micro-USD, rounded up to the next micro-dollar (so an operator never
 * sells below list by rounding; the user pays at most 0.000001 USD more per call).
 *
 * Everything is integer: tokens × (micro-USD per 1M tokens) is exact in BigInt, the multiplier is
 * in parts per million, and there is a single division at the end.
 */
export function costMicros(price: PriceCard, usage: TokenUsage, multiplierPpm: number): number {
  const prompt = Math.max(usage.promptTokens, 0);
  const cached = Math.min(Math.max(usage.cachedTokens, 0), prompt);
  const written = Math.min(Math.max(usage.cacheWriteTokens ?? 0, 0), prompt - cached);
  const uncached = BigInt(prompt - cached - written);
  const completion = BigInt(Math.max(usage.completionTokens, 0));
  const cachedPrice = BigInt(price.cachedInput ?? price.input);
  const writePrice = BigInt(price.cacheWrite ?? price.input);
  // Units: micro-USD × 1M (per-token prices are per 1M tokens).
  const scaled =
    uncached * BigInt(price.input) +
    BigInt(cached) * cachedPrice +
    BigInt(written) * writePrice +
    completion * BigInt(price.output) +
    BigInt(price.request) * TOKENS_PER_PRICE_UNIT;
  return toSafeNumber(ceilDiv(scaled * BigInt(multiplierPpm), TOKENS_PER_PRICE_UNIT * PPM), 'cost');
}

/** Parts per million from a decimal ratio string ("1.5" → 1 500 000), exact. */
const MAX_PPM = 1_000_000 * 1_000_000;

export function parsePpm(input: string | number, what = 'ratio'): number {
  const text = String(input).trim();
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) throw new RangeError(`${what} must be a non-negative decimal with at most 6 places (got "${input}")`);
  // Ratios and multipliers are stored as bigint ppm; a cap of one million keeps every
  // product with a micro-dollar amount far inside 2^63 (an unbounded value overflowed
  // PostgreSQL's bigint and came back as a 500).
  const ppm = m[1]!.replace(/^0+(?=\d)/, '').length > 7 ? Infinity : Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
  if (ppm > MAX_PPM) throw new RangeError(`${what} must be at most 1000000 (got "${input}")`);
  return ppm;
}

export function formatPpm(ppm: number): string {
  const whole = Math.floor(ppm / 1_000_000);
  const frac = String(ppm % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}
