import dayjs from 'dayjs';

/** Whole numbers with grouping in the current language ("1,234,567"). */
export function formatInt(n: number | null | undefined, locale?: string): string {
  if (n === null || n === undefined) return '—';
  return new Intl.NumberFormat(locale).format(n);
}

/** Compact counts for cards and axes ("12.3K", "1.2M" / "1.2万"). */
export function formatCompact(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

/** Local date and time, to the second. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return dayjs(iso).format('YYYY-MM-DD HH:mm:ss');
}

/** "11-23 14:05:09" this year, "2025-11-23 14:05" before: dense tables where the year rarely matters. */
export function formatTimeCompact(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = dayjs(iso);
  return d.year() === dayjs().year() ? d.format('MM-DD HH:mm:ss') : d.format('YYYY-MM-DD HH:mm');
}

/** Local date and time to the minute, for lists (the full time is in the detail). */
export function formatDateTimeShort(iso: string | null | undefined): string {
  if (!iso) return '—';
  return dayjs(iso).format('YYYY-MM-DD HH:mm');
}

/** An amount of micro-USD on a chart axis (display only): "$0.00012", "$1.5", "$12K". */
export function formatAxisUsd(micros: number, locale?: string): string {
  const usd = micros / 1_000_000;
  const abs = Math.abs(usd);
  if (abs === 0) return '$0';
  if (abs >= 1000) return `$${formatCompact(usd, locale)}`;
  if (abs >= 1) return `$${Number(usd.toFixed(2))}`;
  // Small amounts as plain decimals ($0.0008), never in exponent notation ($8e-7).
  const text = Number(usd.toPrecision(2)).toFixed(6).replace(/\.?0+$/, '');
  return `$${text === '0' || text === '-0' ? '0' : text}`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  return dayjs(iso).format('YYYY-MM-DD');
}

/** Milliseconds as "850 ms" or "1.25 s". */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * The browser's offset from UTC as the server's `tz_offset_minutes` wants it: exactly
 * `getTimezoneOffset()`, so UTC+8 is -480 (west positive, as JavaScript counts it).
 */
export function tzOffsetMinutes(): number {
  return new Date().getTimezoneOffset();
}

/** A share (0..1) as a percentage in the page's language: "12.5%", "12,5 %". */
export function formatPercent(share: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(share);
}
