import type { UseQueryResult } from '@tanstack/react-query';
import { Card, Skeleton, Statistic } from 'antd';
import { useTranslation } from 'react-i18next';
import { formatInt, formatPercent } from '../../lib/format';
import { formatMoney } from '../../lib/money';

interface Totals {
  calls: number;
  failed_calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  charged_micros: number;
  cost_micros?: number;
}

function errorRate(failed: number, calls: number, lang: string): string {
  if (calls === 0) return '—';
  return `${formatPercent(failed / calls, lang)} (${formatInt(failed, lang)})`;
}

/** Totals over the filtered records, above the usage table. Operators also see cost and margin. */
export function UsageTotalsBar({ query }: { query: UseQueryResult<Totals> }) {
  const { t, i18n } = useTranslation();
  const d = query.data;
  const items: { key: string; label: string; value: string }[] = d
    ? [
        { key: 'calls', label: t('usage.totals.calls'), value: formatInt(d.calls, i18n.language) },
        // Failed upstream and refused at the gate (no money, not allowed, unknown model, rate limit).
        { key: 'errors', label: t('usage.totals.error_rate'), value: errorRate(d.failed_calls, d.calls, i18n.language) },
        { key: 'in', label: t('usage.totals.prompt_tokens'), value: formatInt(d.prompt_tokens, i18n.language) },
        { key: 'out', label: t('usage.totals.completion_tokens'), value: formatInt(d.completion_tokens, i18n.language) },
        { key: 'charged', label: t('usage.totals.charged'), value: formatMoney(d.charged_micros, 'total') },
        ...(d.cost_micros !== undefined
          ? [
              { key: 'cost', label: t('usage.totals.cost'), value: formatMoney(d.cost_micros, 'total') },
              { key: 'margin', label: t('usage.totals.margin'), value: formatMoney(d.charged_micros - d.cost_micros, 'total') },
            ]
          : []),
      ]
    : [];
  return (
    <Card size="small" style={{ marginBottom: 16 }} data-testid="usage-totals">
      {query.isPending ? (
        <Skeleton active paragraph={false} />
      ) : query.isError ? (
        <span>{t('usage.totals.unavailable')}</span>
      ) : (
        <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(140px, 1fr))', gap: 12 }}>
          {items.map((i) => (
            <Statistic key={i.key} title={i.label} value={i.value} valueStyle={{ fontSize: 20, fontVariantNumeric: 'tabular-nums' }} />
          ))}
        </div>
      )}
    </Card>
  );
}
