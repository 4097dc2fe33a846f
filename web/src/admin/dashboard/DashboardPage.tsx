import { PageContainer } from '@ant-design/pro-components';
import { Card, Col, Grid, Row, Segmented, Skeleton, Statistic, Table, Tooltip, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useDashboard } from '../../api/admin';
import type { Dashboard, DashboardPeriod } from '../../api/types';
import { Chart, type ChartOption } from '../../components/Chart';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatAxisUsd, formatCompact, formatDateTime, formatInt, formatPercent } from '../../lib/format';
import { formatMoney } from '../../lib/money';

/** The server's cards, and the margin (revenue − upstream cost) and error rate worked out here. */
type CardKey = Exclude<keyof Dashboard['cards'], 'failed_calls'> | 'margin_micros' | 'error_rate';
/** What the trend shows; each card selects one. */
type Metric = 'money' | 'tokens' | 'users' | 'recharge' | 'calls';
type Cards = Dashboard['cards'];

// Money first (what an operator looks at), then traffic and people: two rows of four.
const CARDS: { key: CardKey; money?: boolean; percent?: boolean; metric: Metric }[] = [
  { key: 'revenue_micros', money: true, metric: 'money' },
  { key: 'cost_micros', money: true, metric: 'money' },
  { key: 'margin_micros', money: true, metric: 'money' },
  { key: 'recharge_micros', money: true, metric: 'recharge' },
  { key: 'tokens', metric: 'tokens' },
  { key: 'new_users', metric: 'users' },
  { key: 'logins', metric: 'users' },
  { key: 'active_users', metric: 'users' },
  { key: 'calls', metric: 'calls' },
  { key: 'error_rate', percent: true, metric: 'calls' },
];

function cardValue(c: Cards | undefined, key: CardKey): number | undefined {
  if (!c) return undefined;
  if (key === 'margin_micros') return c.revenue_micros - c.cost_micros;
  if (key === 'error_rate') return c.calls > 0 ? c.failed_calls / c.calls : undefined;
  return c[key];
}

const PERIODS: DashboardPeriod[] = ['today', 'week', 'month', 'year'];

/** "2026-11-22T14" → "14:00", "2026-11-22" → "11-22", "2026-11" stays. */
function bucketLabel(b: string, period: DashboardPeriod): string {
  if (period === 'today') return `${b.slice(11, 13)}:00`;
  if (period === 'year') return b;
  return b.slice(5, 10);
}

export default function DashboardPage() {
  const { t, i18n } = useTranslation();
  const [period, setPeriod] = useState<DashboardPeriod>('today');
  const [metric, setMetric] = useState<Metric>('money');
  const q = useDashboard(period);
  const data = q.data;
  const wide = Grid.useBreakpoint().md ?? true;
  const metricSwitch = (
    <Segmented<Metric>
      size="small"
      value={metric}
      onChange={setMetric}
      options={(['money', 'tokens', 'users', 'recharge', 'calls'] as Metric[]).map((m) => ({ value: m, label: t(`dashboard.metric.${m}`) }))}
    />
  );

  const option = useMemo<ChartOption | null>(() => {
    if (!data) return null;
    const x = data.trend.map((b) => bucketLabel(b.bucket, period));
    const usd = (m: number) => formatMoney(m, 'total');
    const series: { name: string; values: number[]; money?: boolean; type?: 'line' | 'bar' }[] =
      metric === 'money'
        ? [
            { name: t('dashboard.cards.revenue_micros'), values: data.trend.map((b) => b.revenue_micros), money: true },
            { name: t('dashboard.cards.cost_micros'), values: data.trend.map((b) => b.cost_micros), money: true },
            { name: t('dashboard.cards.margin_micros'), values: data.trend.map((b) => b.revenue_micros - b.cost_micros), money: true },
          ]
        : metric === 'tokens'
          ? [{ name: t('dashboard.cards.tokens'), values: data.trend.map((b) => b.tokens), type: 'bar' }]
          : metric === 'calls'
            ? [
                { name: t('dashboard.cards.calls'), values: data.trend.map((b) => b.calls), type: 'bar' },
                { name: t('dashboard.failed_calls'), values: data.trend.map((b) => b.failed_calls), type: 'bar' },
              ]
          : metric === 'recharge'
            ? [{ name: t('dashboard.cards.recharge_micros'), values: data.trend.map((b) => b.recharge_micros), money: true, type: 'bar' }]
            : [
                { name: t('dashboard.cards.new_users'), values: data.trend.map((b) => b.new_users), type: 'bar' },
                { name: t('dashboard.cards.active_users'), values: data.trend.map((b) => b.active_users) },
              ];
    const money = series.some((s) => s.money);
    // An idle period still gets a readable scale ($0 to $0.01) instead of fractions of a
    // micro-dollar; as soon as there is anything, the axis fits the data, however small.
    const idle = series.every((s) => s.values.every((v) => v === 0));
    return {
      color: ['#1668dc', '#fa8c16', '#52c41a'],
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      legend: { top: 0, left: 0 },
      tooltip: {
        trigger: 'axis',
        valueFormatter: (v: unknown) => (money ? usd(Number(v)) : formatInt(Number(v), i18n.language)),
      },
      xAxis: { type: 'category', data: x, boundaryGap: series.some((s) => s.type === 'bar') },
      yAxis: {
        type: 'value',
        // A negative margin goes below the axis instead of being cut off.
        min: (v: { min: number }) => Math.min(0, v.min),
        minInterval: 1,
        max: money && idle ? 10_000 : undefined,
        axisLabel: { formatter: (v: number) => (money ? formatAxisUsd(v, i18n.language) : formatCompact(v, i18n.language)) },
      },
      // Straight segments: a curve would invent values between the buckets.
      series: series.map((s) => ({ name: s.name, type: s.type ?? 'line', smooth: false, showSymbol: false, data: s.values, barMaxWidth: 24, areaStyle: s.type === 'bar' || series.length > 1 ? undefined : { opacity: 0.08 } })),
    };
  }, [data, metric, period, t, i18n.language]);

  return (
    <PageContainer
      title={t('dashboard.title')}
      extra={
        <Segmented<DashboardPeriod>
          data-testid="dashboard-period"
          value={period}
          onChange={setPeriod}
          options={PERIODS.map((p) => ({ value: p, label: t(`dashboard.period.${p}`) }))}
        />
      }
    >
      {q.isError ? <ErrorAlert error={q.error} onRetry={() => void q.refetch()} /> : null}
      <div className="tg-stat-grid" data-testid="dashboard-cards">
        {CARDS.map((c) => {
          const v = cardValue(data?.cards, c.key);
          const before = cardValue(data?.previous.cards, c.key);
          const show = (x: number | undefined) => (x === undefined ? '—' : c.money ? formatMoney(x, 'total') : c.percent ? formatPercent(x, i18n.language) : formatInt(x, i18n.language));
          return (
            <Card
              key={c.key}
              size="small"
              className={`tg-stat-card${metric === c.metric ? ' is-active' : ''}`}
              onClick={() => setMetric(c.metric)}
              data-testid={`card-${c.key}`}
            >
              {q.isPending ? (
                <Skeleton active paragraph={false} title={{ width: '80%' }} />
              ) : (
                <Statistic
                  title={
                    <Tooltip title={t(`dashboard.hints.${c.key}`)}>
                      <span>{t(`dashboard.cards.${c.key}`)}</span>
                    </Tooltip>
                  }
                  value={show(v)}
                  valueStyle={v !== undefined && v < 0 ? { color: '#cf1322' } : undefined}
                />
              )}
              {data ? (
                <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid={`card-${c.key}-previous`}>
                  {t('dashboard.vs_previous', { value: show(before), when: t(`dashboard.previous.${period}`) })}
                </Typography.Text>
              ) : null}
            </Card>
          );
        })}
      </div>
      <Card
        title={t('dashboard.trend')}
        // On a phone the switch has no room beside the title: it goes above the chart instead.
        extra={wide ? metricSwitch : null}
      >
        {wide ? null : <div style={{ marginBottom: 12 }}>{metricSwitch}</div>}
        {option ? <Chart option={option} height={340} testId="dashboard-trend" /> : q.isPending ? <Skeleton active paragraph={{ rows: 8 }} /> : null}
        {data ? (
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('dashboard.range', { from: formatDateTime(data.from), to: formatDateTime(data.to) })}
          </Typography.Text>
        ) : null}
      </Card>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }} data-testid="dashboard-top">
        {(['models', 'channels', 'users'] as const).map((k) => (
          <Col key={k} xs={24} lg={8}>
            <Card size="small" title={t(`dashboard.top.${k}`)}>
              <Table
                size="small"
                rowKey="name"
                pagination={false}
                loading={q.isPending}
                dataSource={data?.top[k] ?? []}
                locale={{ emptyText: t('dashboard.top.empty') }}
                columns={[
                  { title: t('dashboard.top.name'), dataIndex: 'name', ellipsis: true },
                  { title: t('dashboard.top.calls'), dataIndex: 'calls', align: 'right', width: 80, render: (n: number) => formatInt(n, i18n.language) },
                  { title: t('dashboard.top.revenue'), dataIndex: 'revenue_micros', align: 'right', width: 110, render: (m: number) => <span className="tg-num">{formatMoney(m, 'total')}</span> },
                ]}
              />
            </Card>
          </Col>
        ))}
      </Row>
    </PageContainer>
  );
}
