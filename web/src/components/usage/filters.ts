import dayjs, { type Dayjs } from 'dayjs';
import type { TFunction } from 'i18next';

/** Presets for the time-range field of usage query forms (computed when picked). */
export function timePresets(t: TFunction) {
  return [
    { label: t('usage.presets.hour'), value: () => [dayjs().subtract(1, 'hour'), dayjs()] as [Dayjs, Dayjs] },
    { label: t('usage.presets.today'), value: () => [dayjs().startOf('day'), dayjs()] as [Dayjs, Dayjs] },
    { label: t('usage.presets.day'), value: () => [dayjs().subtract(24, 'hour'), dayjs()] as [Dayjs, Dayjs] },
    { label: t('usage.presets.week'), value: () => [dayjs().subtract(7, 'day'), dayjs()] as [Dayjs, Dayjs] },
    { label: t('usage.presets.month'), value: () => [dayjs().subtract(30, 'day'), dayjs()] as [Dayjs, Dayjs] },
    { label: t('usage.presets.this_month'), value: () => [dayjs().startOf('month'), dayjs()] as [Dayjs, Dayjs] },
  ];
}

/**
 * The status filter the API understands: a code, a class, or ok / error. No 401: a call without a
 * valid key belongs to nobody, so it has no usage record (it is counted in /metrics and logged).
 */
export function statusEnum(t: TFunction) {
  return {
    ok: { text: t('usage.status.ok') },
    error: { text: t('usage.status.error') },
    '200': { text: '200' },
    '4xx': { text: '4xx' },
    '5xx': { text: '5xx' },
    '400': { text: '400' },
    '402': { text: t('usage.status.s402') },
    '403': { text: t('usage.status.s403') },
    '404': { text: t('usage.status.s404') },
    '429': { text: t('usage.status.s429') },
    '502': { text: '502' },
  };
}

/** A range from the query form (dayjs values or formatted strings) as epoch ms for the API. */
export function rangeToMs(v: unknown): { from?: number; to?: number } {
  if (!Array.isArray(v) || v.length !== 2) return {};
  const [a, b] = v.map((x) => (x === null || x === undefined || x === '' ? null : dayjs(x as string | number | Dayjs)));
  return { from: a?.isValid() ? a.valueOf() : undefined, to: b?.isValid() ? b.valueOf() : undefined };
}

export function str(v: unknown): string | undefined {
  const s = typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '';
  return s || undefined;
}

export function posInt(v: unknown): number | undefined {
  const n = Number(str(v));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
