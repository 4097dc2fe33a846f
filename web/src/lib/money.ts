/**
 * Money in the console. The API speaks integer micro-USD (`*_micros`, 1 USD = 1 000 000); we only
 * ever turn those into text for people, digit by digit, and send USD back as decimal *strings*
 * (`"-3.5"`) that the server parses exactly. No float arithmetic touches an amount that goes back.
 */

const MICROS = 1_000_000n;

/** A USD decimal the server accepts: optional sign, digits, at most 6 decimals. */
export const USD_PATTERN = /^[+-]?\d+(\.\d{1,6})?$/;
/** Same, never negative. */
export const USD_POSITIVE_PATTERN = /^\d+(\.\d{1,6})?$/;

/** Exact decimal text of an amount in micros, e.g. 1500000 → "1.5", -250 → "-0.00025". */
export function microsToUsdString(micros: number | bigint): string {
  const v = BigInt(micros);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = abs / MICROS;
  const frac = (abs % MICROS).toString().padStart(6, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''}`;
}

/** Parse a USD decimal string into micros (exact), or null when it is not one. */
export function usdToMicros(text: string): bigint | null {
  const s = text.trim();
  if (!USD_PATTERN.test(s)) return null;
  const neg = s.startsWith('-');
  const body = s.replace(/^[+-]/, '');
  const [whole = '0', frac = ''] = body.split('.');
  const v = BigInt(whole) * MICROS + BigInt(frac.padEnd(6, '0'));
  return neg ? -v : v;
}

/** Normalise what a person typed ("  +3.50 ") into what the server expects ("3.5"), or null. */
export function normalizeUsd(text: string): string | null {
  const m = usdToMicros(text);
  return m === null ? null : microsToUsdString(m);
}

export interface FormatUsdOptions {
  /** Decimals always shown (default 2); up to 6 are shown when the amount has them. */
  minDecimals?: number;
  /** Prefix a plus sign on positive amounts (ledger entries). */
  signed?: boolean;
}

/** The one way an amount is written: sign, "$", grouped whole part, at least `minDecimals` decimals. */
function layoutUsd(sign: '' | '-' | '+', whole: string, frac: string, minDecimals = 2): string {
  const w = whole.replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const f = frac.replace(/0+$/, '').padEnd(minDecimals, '0');
  return `${sign}$${w}${f ? '.' + f : ''}`;
}

/** "$1,234.50", "$0.000150", "-$3.50": grouping, at least two decimals, up to six, never rounded. */
export function formatUsd(micros: number | bigint | null | undefined, opts: FormatUsdOptions = {}): string {
  if (micros === null || micros === undefined) return '—';
  const v = BigInt(micros);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const sign = neg ? '-' : opts.signed && v > 0n ? '+' : '';
  return layoutUsd(sign, (abs / MICROS).toString(), (abs % MICROS).toString().padStart(6, '0'), opts.minDecimals);
}

/**
 * The console's one money display rule. `total`: balances, totals, quotas, cards — two decimals,
 * rounded half away from zero (the exact amount is on hover and in exports). `call`: what one call
 * or one ledger entry moved — four significant digits, two to six decimals ($0.000150, $0.01235,
 * $999.85). A column uses one kind for all its cells.
 */
export type MoneyKind = 'total' | 'call';

/** `micros` rounded to `decimals` (≤ 6) decimals, half away from zero, as whole and fraction digits. */
function roundMicros(abs: bigint, decimals: number): { whole: string; frac: string } {
  const step = 10n ** BigInt(6 - decimals);
  const r = ((abs + step / 2n) / step) * step;
  return { whole: (r / MICROS).toString(), frac: (r % MICROS).toString().padStart(6, '0').slice(0, decimals) };
}

/** How many decimals a per-call amount shows: enough for four significant digits, 2 to 6. */
function callDecimals(abs: bigint): number {
  if (abs === 0n) return 2;
  const digits = abs.toString().length; // of the micros: 7+ digits means at least $1
  return Math.min(6, Math.max(2, 4 - (digits - 6)));
}

export function formatMoney(micros: number | bigint | null | undefined, kind: MoneyKind, opts: { signed?: boolean } = {}): string {
  if (micros === null || micros === undefined) return '—';
  const v = BigInt(micros);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const decimals = kind === 'total' ? 2 : callDecimals(abs);
  const { whole, frac } = roundMicros(abs, decimals);
  const zero = /^0*$/.test(whole + frac);
  const sign = neg && !zero ? '-' : opts.signed && v > 0n ? '+' : '';
  return layoutUsd(sign, whole, frac, kind === 'total' ? 2 : Math.min(2, decimals));
}

/** Whether `formatMoney` shows the amount exactly (when not, the exact amount goes in a tooltip). */
export function moneyIsExact(micros: number | bigint, kind: MoneyKind): boolean {
  const abs = BigInt(micros) < 0n ? -BigInt(micros) : BigInt(micros);
  const decimals = kind === 'total' ? 2 : callDecimals(abs);
  return abs % 10n ** BigInt(6 - decimals) === 0n;
}

/**
 * A per-1M-token price (micros) as a USD decimal per 1K tokens ("0.00015"), exactly: micro-USD per 1M tokens equals
 * nano-USD per 1K tokens, so the same integer is read with 9 decimals instead of 6.
 */
export function per1kFromPer1mMicros(microsPer1m: number | bigint): string {
  const nano = BigInt(microsPer1m);
  const neg = nano < 0n;
  const abs = neg ? -nano : nano;
  const NANO = 1_000_000_000n;
  const frac = (abs % NANO).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / NANO}${frac ? '.' + frac : ''}`;
}

/**
 * A USD decimal the server sent as text ("0.6", "2.5", "0.000000015") written like `formatUsd`
 * ("$0.60", "$2.50", "$0.000000015"): at least two decimals, grouping, never rounded. Text that is
 * not a plain decimal is shown as it came.
 */
export function formatUsdText(text: string | null | undefined): string {
  if (text === null || text === undefined || text === '') return '—';
  const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return text;
  const [, sign = '', whole = '0', frac = ''] = m;
  return layoutUsd(sign === '-' ? '-' : '', whole, frac);
}
