import { describe, expect, it } from 'vitest';
import { costMicros, formatPpm, parsePpm, type PriceCard } from './pricing.js';

// Prices are micro-USD per 1M tokens: 0.15 USD / 1M = 150_000.
const card = (input: number, output: number, extra: Partial<PriceCard> = {}): PriceCard => ({
  model: 'm',
  input,
  output,
  cachedInput: null,
  request: 0,
  ...extra,
});
const X1 = 1_000_000; // multiplier ×1 in ppm

/** Independent reference: the formula with BigInt, written out. */
function reference(p: PriceCard, prompt: number, completion: number, cached: number, mult: number): bigint {
  const c = BigInt(Math.min(cached, prompt));
  const scaled =
    (BigInt(prompt) - c) * BigInt(p.input) + c * BigInt(p.cachedInput ?? p.input) + BigInt(completion) * BigInt(p.output) + BigInt(p.request) * 1_000_000n;
  const num = scaled * BigInt(mult);
  const den = 10n ** 12n;
  return num === 0n ? 0n : (num + den - 1n) / den;
}

describe('costMicros', () => {
  it('charges exact amounts exactly', () => {
    // 1M prompt tokens at 0.15 USD/1M = 0.15 USD
    expect(costMicros(card(150_000, 600_000), { promptTokens: 1_000_000, completionTokens: 0, cachedTokens: 0 }, X1)).toBe(150_000);
    expect(costMicros(card(150_000, 600_000), { promptTokens: 0, completionTokens: 1_000_000, cachedTokens: 0 }, X1)).toBe(600_000);
    expect(costMicros(card(2_000_000, 8_000_000), { promptTokens: 500, completionTokens: 250, cachedTokens: 0 }, X1)).toBe(1_000 + 2_000);
  });

  it('rounds up to the next micro-dollar, once, at the end', () => {
    // 10·0.15 + 5·0.6 = 4.5 micro-USD → 5
    expect(costMicros(card(150_000, 600_000), { promptTokens: 10, completionTokens: 5, cachedTokens: 0 }, X1)).toBe(5);
    // one token at the smallest price still costs a micro-dollar
    expect(costMicros(card(1, 1), { promptTokens: 1, completionTokens: 0, cachedTokens: 0 }, X1)).toBe(1);
    // rounding each part separately would give 1 + 1 = 2; the sum 0.3 + 0.3 rounds to 1
    expect(costMicros(card(300_000, 300_000), { promptTokens: 1, completionTokens: 1, cachedTokens: 0 }, X1)).toBe(1);
    // nothing used, nothing charged
    expect(costMicros(card(150_000, 600_000), { promptTokens: 0, completionTokens: 0, cachedTokens: 0 }, X1)).toBe(0);
  });

  it('prices cached prompt tokens at the cached rate, and at the input rate when none is set', () => {
    const withCache = card(1_000_000, 2_000_000, { cachedInput: 250_000 });
    // 60 uncached·1 + 40 cached·0.25 + 10·2 = 60 + 10 + 20
    expect(costMicros(withCache, { promptTokens: 100, completionTokens: 10, cachedTokens: 40 }, X1)).toBe(90);
    expect(costMicros(card(1_000_000, 2_000_000), { promptTokens: 100, completionTokens: 10, cachedTokens: 40 }, X1)).toBe(120);
    // cached beyond the prompt cannot make the prompt cheaper than all-cached, nor negative
    expect(costMicros(withCache, { promptTokens: 100, completionTokens: 0, cachedTokens: 500 }, X1)).toBe(25);
    expect(costMicros(withCache, { promptTokens: 100, completionTokens: 0, cachedTokens: -5 }, X1)).toBe(100);
    // a free cache
    expect(costMicros(card(1_000_000, 0, { cachedInput: 0 }), { promptTokens: 100, completionTokens: 0, cachedTokens: 100 }, X1)).toBe(0);
  });

  it('applies the group multiplier before the single rounding', () => {
    const p = card(150_000, 600_000);
    const u = { promptTokens: 10, completionTokens: 5, cachedTokens: 0 };
    // 4.5 × 1.5 = 6.75 → 7 (rounding first would give 5 × 1.5 = 7.5 → 8)
    expect(costMicros(p, u, 1_500_000)).toBe(7);
    expect(costMicros(p, u, 500_000)).toBe(3); // 2.25 → 3
    expect(costMicros(p, u, 0)).toBe(0);
    expect(costMicros(card(1_000_000, 0), { promptTokens: 1_000_000, completionTokens: 0, cachedTokens: 0 }, 1_234_567)).toBe(1_234_567);
  });

  it('adds the per-request price (micro-USD per call), multiplied too', () => {
    const p = card(150_000, 600_000, { request: 2_000 });
    expect(costMicros(p, { promptTokens: 10, completionTokens: 5, cachedTokens: 0 }, X1)).toBe(2_005);
    expect(costMicros(p, { promptTokens: 0, completionTokens: 0, cachedTokens: 0 }, X1)).toBe(2_000);
    expect(costMicros(p, { promptTokens: 0, completionTokens: 0, cachedTokens: 0 }, 1_500_000)).toBe(3_000);
  });

  it('treats negative token counts as zero', () => {
    expect(costMicros(card(1_000_000, 1_000_000), { promptTokens: -10, completionTokens: -10, cachedTokens: 0 }, X1)).toBe(0);
  });

  it('has no floating-point drift on large numbers', () => {
    // 1e9 tokens at 75 USD/1M: the products pass 2^53, where doubles lose digits
    const p = card(75_000_000, 150_000_001, { cachedInput: 37_500_003, request: 1_234_567 });
    const u = { promptTokens: 1_000_000_007, completionTokens: 333_333_333, cachedTokens: 123_456_789 };
    const mult = 1_333_337;
    const got = costMicros(p, u, mult);
    expect(BigInt(got)).toBe(reference(p, u.promptTokens, u.completionTokens, u.cachedTokens, mult));
    expect(Number.isSafeInteger(got)).toBe(true);
    // a case where the float version of the formula rounds up one micro-dollar too far:
    // 1 068 815 872 tokens at 68 USD/1M + 65 241 088 at 123 USD/1M is exactly 80 704.13312 USD
    const exact = card(68_000_000, 123_000_000);
    const big = { promptTokens: 1_068_815_872, completionTokens: 65_241_088, cachedTokens: 0 };
    expect(costMicros(exact, big, X1)).toBe(80_704_133_120);
    const float = Math.ceil(((big.promptTokens * exact.input + big.completionTokens * exact.output) * X1) / 1e12);
    expect(float).toBe(80_704_133_121); // what a float implementation would charge
  });

  it('agrees with the reference formula on many random cases', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const p = card(rnd(100_000_000), rnd(100_000_000), { cachedInput: rnd(2) ? rnd(100_000_000) : null, request: rnd(3) ? 0 : rnd(1_000_000) });
      const prompt = rnd(2_000_000);
      const completion = rnd(200_000);
      const cached = rnd(prompt + 1);
      const mult = rnd(3_000_000);
      expect(BigInt(costMicros(p, { promptTokens: prompt, completionTokens: completion, cachedTokens: cached }, mult))).toBe(
        reference(p, prompt, completion, cached, mult),
      );
    }
  });

  it('refuses a cost that a number cannot hold exactly', () => {
    expect(() => costMicros(card(Number.MAX_SAFE_INTEGER, 0), { promptTokens: 1e9, completionTokens: 0, cachedTokens: 0 }, X1)).toThrow(RangeError);
  });
});

describe('parsePpm / formatPpm', () => {
  it('parses ratios exactly', () => {
    expect(parsePpm('1')).toBe(1_000_000);
    expect(parsePpm('1.5')).toBe(1_500_000);
    expect(parsePpm('0.7')).toBe(700_000);
    expect(parsePpm('0.000001')).toBe(1);
    expect(parsePpm(2)).toBe(2_000_000);
    expect(parsePpm(' 0.25 ')).toBe(250_000);
  });

  it('refuses negatives, 7 places and garbage', () => {
    for (const bad of ['-1', '0.0000001', 'abc', '', '1.', '.5', '1e2']) expect(() => parsePpm(bad), bad).toThrow(RangeError);
  });

  it('refuses values above one million, which would overflow bigint sums', () => {
    expect(parsePpm('1000000')).toBe(1_000_000 * 1_000_000);
    expect(parsePpm('0001000000')).toBe(1_000_000 * 1_000_000);
    for (const big of ['1000000.5', '1000001', '99999999999999999999']) expect(() => parsePpm(big), big).toThrow(/at most 1000000/);
    expect(() => parsePpm(1e21)).toThrow(RangeError);
  });

  it('formats back', () => {
    expect(formatPpm(1_000_000)).toBe('1');
    expect(formatPpm(1_500_000)).toBe('1.5');
    expect(formatPpm(700_000)).toBe('0.7');
    expect(formatPpm(1)).toBe('0.000001');
    for (const v of ['0.7', '1.25', '3', '0.000123']) expect(formatPpm(parsePpm(v))).toBe(v);
  });
});
