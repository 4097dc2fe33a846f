import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatAxisUsd, tzOffsetMinutes } from './format';

describe('chart axis amounts', () => {
  it('writes small amounts as plain decimals, never in exponent notation', () => {
    expect(formatAxisUsd(0)).toBe('$0');
    expect(formatAxisUsd(0.8)).toBe('$0.000001');
    expect(formatAxisUsd(800)).toBe('$0.0008');
    expect(formatAxisUsd(2_500)).toBe('$0.0025');
    expect(formatAxisUsd(150_000)).toBe('$0.15');
    expect(formatAxisUsd(12_340_000)).toBe('$12.34');
  });
});

describe('tzOffsetMinutes', () => {
  afterEach(() => vi.restoreAllMocks());
  it('is what the server expects: getTimezoneOffset(), so UTC+8 is -480', () => {
    vi.spyOn(Date.prototype, 'getTimezoneOffset').mockReturnValue(-480);
    expect(tzOffsetMinutes()).toBe(-480);
  });
});
