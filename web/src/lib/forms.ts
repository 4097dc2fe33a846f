import type { Rule } from 'antd/es/form';
import type { TFunction } from 'i18next';
import { USD_PATTERN, USD_POSITIVE_PATTERN, usdToMicros } from './money';

/**
 * Form rule for a USD amount typed as text (kept as a string all the way to the server, which
 * parses it exactly). `signed` allows a leading minus; `nonZero` refuses 0.
 */
export function usdRule(t: TFunction, o: { signed?: boolean; nonZero?: boolean } = {}): Rule {
  return {
    validator: async (_r, value: unknown) => {
      if (value === undefined || value === null || value === '') return;
      const s = String(value).trim();
      if (!(o.signed ? USD_PATTERN : USD_POSITIVE_PATTERN).test(s)) throw new Error(t(o.signed ? 'form.usd_signed_invalid' : 'form.usd_invalid'));
      if (o.nonZero && usdToMicros(s) === 0n) throw new Error(t('form.usd_nonzero'));
    },
  };
}

/** Split "a, b\nc" into ["a","b","c"]. */
export function splitList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x).trim()).filter(Boolean);
  if (typeof v !== 'string') return [];
  return v.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}
