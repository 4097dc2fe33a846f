import { describe, expect, it } from 'vitest';
import { ceilDiv, formatMicros, parseMicros, toSafeNumber } from './money.js';

describe('parseMicros', () => {
  it('parses decimal strings digit by digit', () => {
    expect(parseMicros('0')).toBe(0);
    expect(parseMicros('2.5')).toBe(2_500_000);
    expect(parseMicros('10')).toBe(10_000_000);
    expect(parseMicros('0.000001')).toBe(1);
    expect(parseMicros('0.1')).toBe(100_000);
    expect(parseMicros('  12.50 ')).toBe(12_500_000);
    expect(parseMicros('+3')).toBe(3_000_000);
    expect(parseMicros('007.000100')).toBe(7_000_100);
    // 0.1 + 0.2 style inputs stay exact
    expect(parseMicros('0.3')).toBe(parseMicros('0.1') + parseMicros('0.2'));
  });

  it('parses negative amounts (deductions) exactly', () => {
    expect(parseMicros('-5')).toBe(-5_000_000);
    expect(parseMicros('-3.5')).toBe(-3_500_000);
    expect(parseMicros('-0.000001')).toBe(-1);
  });

  it('accepts JS numbers without going through binary rounding', () => {
    expect(parseMicros(0.1)).toBe(100_000);
    expect(parseMicros(19.99)).toBe(19_990_000);
    expect(parseMicros(1e-6)).toBe(1);
    expect(parseMicros(-2.25)).toBe(-2_250_000);
    expect(parseMicros(1e9)).toBe(1e15);
    expect(() => parseMicros(1e15)).toThrow(/too large/);
  });

  it('refuses more than 6 decimal places instead of rounding', () => {
    expect(() => parseMicros('1.0000001')).toThrow(/more than 6 decimal places/);
    expect(() => parseMicros('0.0000005')).toThrow(RangeError);
    expect(() => parseMicros(1e-7)).toThrow(RangeError);
    expect(() => parseMicros('-0.1234567')).toThrow(/6 decimal places/);
  });

  it('refuses amounts beyond what a double holds exactly', () => {
    // 9 007 199 254.740991 USD is Number.MAX_SAFE_INTEGER micro-USD: the last exact value
    expect(parseMicros('9007199254.740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => parseMicros('9007199254.740992')).toThrow(/too large/);
    expect(() => parseMicros('-9007199254.740992')).toThrow(/too large/);
    expect(() => parseMicros('1' + '0'.repeat(30))).toThrow(/too large/);
    expect(() => parseMicros(1e21)).toThrow(RangeError);
  });

  it('refuses anything that is not a plain decimal, naming the field', () => {
    for (const bad of ['', ' ', 'abc', '1.', '.5', '1e3', '1,5', '1.2.3', '--1', '+-1', '0x10', 'Infinity', 'NaN', '１']) {
      expect(() => parseMicros(bad, 'amount'), bad).toThrow(RangeError);
    }
    expect(() => parseMicros(Number.NaN)).toThrow(RangeError);
    expect(() => parseMicros(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => parseMicros('x', 'quota')).toThrow(/^quota /);
  });
});

describe('formatMicros', () => {
  it('prints every needed decimal and no more, never rounding', () => {
    expect(formatMicros(0)).toBe('0');
    expect(formatMicros(1)).toBe('0.000001');
    expect(formatMicros(2_500_000)).toBe('2.5');
    expect(formatMicros(10_000_000)).toBe('10');
    expect(formatMicros(123_456_789)).toBe('123.456789');
    expect(formatMicros(-1)).toBe('-0.000001');
    expect(formatMicros(-3_500_000)).toBe('-3.5');
    expect(formatMicros(Number.MAX_SAFE_INTEGER)).toBe('9007199254.740991');
    expect(formatMicros(10n ** 30n + 1n)).toBe('1' + '0'.repeat(24) + '.000001');
  });

  it('round-trips with parseMicros', () => {
    for (const v of [0, 1, 7, 999_999, 1_000_000, 1_000_001, 42_424_242, -17, -1_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(parseMicros(formatMicros(v))).toBe(v);
    }
  });
});

describe('ceilDiv / toSafeNumber', () => {
  it('rounds up, and never below zero', () => {
    expect(ceilDiv(0n, 7n)).toBe(0n);
    expect(ceilDiv(1n, 7n)).toBe(1n);
    expect(ceilDiv(7n, 7n)).toBe(1n);
    expect(ceilDiv(8n, 7n)).toBe(2n);
    expect(ceilDiv(-5n, 7n)).toBe(0n);
    expect(ceilDiv(10n ** 30n + 1n, 10n ** 12n)).toBe(10n ** 18n + 1n);
  });

  it('refuses to turn an unsafe BigInt into a number', () => {
    expect(toSafeNumber(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toSafeNumber(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 'cost')).toThrow(/cost overflows/);
    expect(() => toSafeNumber(BigInt(Number.MIN_SAFE_INTEGER) - 1n)).toThrow(RangeError);
  });
});
