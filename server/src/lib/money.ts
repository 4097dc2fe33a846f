/**
 * Money is an integer number of micro-units (1 USD = 1 000 000). Nothing here touches floating
 * point: decimal strings are parsed digit by digit, and products that could pass 2^53 are done in
 * BigInt.
 */
export const MICROS_PER_UNIT = 1_000_000;
export const PPM = 1_000_000n;

const DECIMAL = /^([+-])?(\d+)(?:\.(\d+))?$/;

/** "2.5" → 2_500_000. Throws a RangeError naming the problem for anything that is not exact. */
export function parseMicros(input: string | number, what = 'amount'): number {
  const text = typeof input === 'number' ? numberToPlain(input) : input.trim();
  const m = DECIMAL.exec(text);
  if (!m) throw new RangeError(`${what} must be a decimal number like 12.50 (got "${input}")`);
  const [, sign, whole, frac = ''] = m;
  if (frac.length > 6) throw new RangeError(`${what} has more than 6 decimal places (the smallest unit is 0.000001)`);
  const micros = BigInt(whole!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} is too large`);
  const n = Number(micros);
  return sign === '-' ? -n : n;
}

function numberToPlain(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  // toString gives exponent notation for tiny/huge numbers; toFixed(6) would round silently.
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** 2_500_000 → "2.5"; keeps all six places when needed, never rounds. */
export function formatMicros(micros: number | bigint): string {
  const v = BigInt(micros);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''}`;
}

/** Integer division rounding up, for non-negative BigInts. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  if (a <= 0n) return 0n;
  return (a + b - 1n) / b;
}

export function toSafeNumber(v: bigint, what = 'amount'): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what} overflows`);
  }
  return Number(v);
}
