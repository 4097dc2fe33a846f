import { describe, expect, it } from 'vitest';
import { maskEmail } from './mask';
import { formatMoney, formatUsd, formatUsdText, moneyIsExact, microsToUsdString, normalizeUsd, per1kFromPer1mMicros, usdToMicros } from './money';

describe('money', () => {
  it('formats micro-USD exactly, 2 to 6 decimals, grouped', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(1_500_000)).toBe('$1.50');
    expect(formatUsd(150)).toBe('$0.00015');
    expect(formatUsd(1)).toBe('$0.000001');
    expect(formatUsd(-3_500_000)).toBe('-$3.50');
    expect(formatUsd(1_234_567_891_234)).toBe('$1,234,567.891234');
    expect(formatUsd(10_000_000, { signed: true })).toBe('+$10.00');
    expect(formatUsd(null)).toBe('—');
    // Past 2^53 a number is not exact any more, but a bigint is.
    expect(formatUsd(9_007_199_254_740_993n)).toBe('$9,007,199,254.740993');
  });

  it('writes balances and totals with two decimals, rounded half away from zero', () => {
    expect(formatMoney(999_847_894, 'total')).toBe('$999.85');
    expect(formatMoney(50_000_000, 'total')).toBe('$50.00');
    expect(formatMoney(1_234_567_891_234, 'total')).toBe('$1,234,567.89');
    expect(formatMoney(4_999, 'total')).toBe('$0.00');
    expect(formatMoney(5_000, 'total')).toBe('$0.01');
    expect(formatMoney(-5_000, 'total')).toBe('-$0.01');
    expect(formatMoney(-4_999, 'total')).toBe('$0.00');
    expect(formatMoney(1_995_000, 'total', { signed: true })).toBe('+$2.00');
    expect(moneyIsExact(50_000_000, 'total')).toBe(true);
    expect(moneyIsExact(999_847_894, 'total')).toBe(false);
  });

  it('writes per-call amounts with four significant digits, two to six decimals', () => {
    expect(formatMoney(150, 'call')).toBe('$0.00015');
    expect(formatMoney(1, 'call')).toBe('$0.000001');
    expect(formatMoney(12_345, 'call')).toBe('$0.01235');
    expect(formatMoney(123_456, 'call')).toBe('$0.1235');
    expect(formatMoney(1_234_567, 'call')).toBe('$1.235');
    expect(formatMoney(12_345_678, 'call')).toBe('$12.35');
    expect(formatMoney(999_847_894, 'call')).toBe('$999.85');
    expect(formatMoney(50_000_000, 'call')).toBe('$50.00');
    expect(formatMoney(0, 'call')).toBe('$0.00');
    expect(formatMoney(-1_234_567, 'call', { signed: true })).toBe('-$1.235');
    expect(formatMoney(1_500, 'call', { signed: true })).toBe('+$0.0015');
    expect(moneyIsExact(1_234_567, 'call')).toBe(false);
    expect(moneyIsExact(150, 'call')).toBe(true);
  });

  it('turns USD text into micros and back without floats', () => {
    expect(usdToMicros('0.1')).toBe(100_000n);
    expect(usdToMicros('-3.5')).toBe(-3_500_000n);
    expect(usdToMicros('+10')).toBe(10_000_000n);
    expect(usdToMicros('1.0000001')).toBeNull();
    expect(usdToMicros('1e3')).toBeNull();
    expect(usdToMicros('abc')).toBeNull();
    expect(microsToUsdString(100_000)).toBe('0.1');
    expect(microsToUsdString(-250)).toBe('-0.00025');
    expect(normalizeUsd(' +3.50 ')).toBe('3.5');
    // 0.1 + 0.2 is the classic float trap; as text it is exact.
    expect(microsToUsdString(usdToMicros('0.1')! + usdToMicros('0.2')!)).toBe('0.3');
  });

  it('shows a per-1M price per 1K exactly', () => {
    expect(per1kFromPer1mMicros(150_000)).toBe('0.00015');
    expect(per1kFromPer1mMicros(2_500_000)).toBe('0.0025');
    expect(per1kFromPer1mMicros(1)).toBe('0.000000001');
    expect(per1kFromPer1mMicros(0)).toBe('0');
  });
});

describe('formatUsdText', () => {
  it('writes the server\'s decimal text like formatUsd, without rounding', () => {
    expect(formatUsdText('0.6')).toBe('$0.60');
    expect(formatUsdText('2.5')).toBe('$2.50');
    expect(formatUsdText('10')).toBe('$10.00');
    expect(formatUsdText('0.00015')).toBe('$0.00015');
    expect(formatUsdText('0.000000015')).toBe('$0.000000015');
    expect(formatUsdText('1234567.5')).toBe('$1,234,567.50');
    expect(formatUsdText('-3.50')).toBe('-$3.50');
    expect(formatUsdText(null)).toBe('—');
    expect(formatUsdText('n/a')).toBe('n/a');
  });
});

describe('masking', () => {
  it('keeps an email recognisable but not harvestable', () => {
    expect(maskEmail('alice@example.com')).toBe('al***@example.com');
    expect(maskEmail('bo@x.io')).toBe('b***@x.io');
    expect(maskEmail(null)).toBe('—');
  });
});
