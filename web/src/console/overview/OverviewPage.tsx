import { KeyOutlined, RocketOutlined } from '@ant-design/icons';
import { PageContainer } from '@ant-design/pro-components';
import { Alert, Button, Card, Col, Divider, Grid, Row, Skeleton, Space, Statistic, Typography } from 'antd';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useOverview } from '../../api/console';
import type { Overview } from '../../api/types';
import { Chart, type ChartOption } from '../../components/Chart';
import { ErrorAlert } from '../../components/ErrorAlert';
import { Money } from '../../components/Money';
import { formatAxisUsd, formatCompact, formatInt } from '../../lib/format';
import { formatMoney } from '../../lib/money';
import { LockedKeysNotice } from '../keys/LockedKeysNotice';

function Sums({ title, s, testId }: { title: string; s: Overview['today']; testId: string }) {
  const { t, i18n } = useTranslation();
  return (
    <Card size="small" title={title} style={{ height: '100%' }} className="tg-sums" data-testid={testId}>
      <Row gutter={12}>
        <Col span={8}>
          <Statistic title={t('overview.calls')} value={formatInt(s.calls, i18n.language)} valueStyle={{ fontSize: 18 }} />
        </Col>
        <Col span={8}>
          <Statistic title={t('overview.tokens')} value={formatCompact(s.prompt_tokens + s.completion_tokens, i18n.language)} valueStyle={{ fontSize: 18 }} />
        </Col>
        <Col span={8}>
          <Statistic title={t('overview.spend')} value={formatMoney(s.charged_micros, 'total')} valueStyle={{ fontSize: 18 }} />
        </Col>
      </Row>
    </Card>
  );
}

export default function OverviewPage() {
  const { t, i18n } = useTranslation();
  const q = useOverview();
  const d = q.data;
  const wide = Grid.useBreakpoint().md ?? true;

  const option = useMemo<ChartOption | null>(() => {
    if (!d) return null;
    const n = d.series.length;
    // Label every 2nd day on a desktop, every 6th on a phone, counted back from today so the
    // newest day always has its date under it.
    const every = wide ? 2 : 6;
    const idle = d.series.every((s) => s.charged_micros === 0);
    return {
      color: ['#1668dc', '#95de64'],
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      legend: { top: 0, left: 0 },
      tooltip: {
        trigger: 'axis',
        formatter: (ps: { dataIndex: number }[]) => {
          const s = d.series[ps[0]?.dataIndex ?? 0];
          if (!s) return '';
          return `${s.date}<br/>${t('overview.spend')}: <b>${formatMoney(s.charged_micros, 'total')}</b><br/>${t('overview.tokens')}: <b>${formatInt(s.prompt_tokens + s.completion_tokens, i18n.language)}</b><br/>${t('overview.calls')}: ${formatInt(s.calls, i18n.language)}`;
        },
      },
      xAxis: { type: 'category', data: d.series.map((s) => s.date.slice(5)), axisLabel: { interval: (i: number) => (n - 1 - i) % every === 0 } },
      yAxis: [
        // An idle month still gets a readable scale ($0 to $0.01) instead of fractions of a
        // micro-dollar; once there is spend, the axis fits it, however small.
        { type: 'value', min: 0, max: idle ? 10_000 : undefined, axisLabel: { formatter: (v: number) => formatAxisUsd(v, i18n.language) }, splitLine: { lineStyle: { type: 'dashed' } } },
        { type: 'value', min: 0, minInterval: 1, axisLabel: { formatter: (v: number) => formatCompact(v, i18n.language) }, splitLine: { show: false } },
      ],
      series: [
        { name: t('overview.spend'), type: 'line', smooth: 0.25, smoothMonotone: 'x', showSymbol: false, data: d.series.map((s) => s.charged_micros), areaStyle: { opacity: 0.08 } },
        { name: t('overview.tokens'), type: 'bar', yAxisIndex: 1, barMaxWidth: 14, data: d.series.map((s) => s.prompt_tokens + s.completion_tokens) },
      ],
    };
  }, [d, t, i18n.language, wide]);

  const noCalls = d && d.series.every((s) => s.calls === 0);

  return (
    <PageContainer title={t('overview.title')} content={d ? t('overview.hello', { name: d.user.name || d.user.email }) : undefined}>
      <LockedKeysNotice />
      {q.isError ? <ErrorAlert error={q.error} onRetry={() => void q.refetch()} /> : null}
      {d && d.wallet.arrears_micros > 0 ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={t('overview.arrears', { amount: formatMoney(d.wallet.arrears_micros, 'total') })} /> : null}
      {/* Nothing to show but the error (and its retry) until the overview loads once. */}
      {q.isError && !d ? null : (
        <Row gutter={[16, 16]}>
          <Col xs={24} lg={8}>
            <Card size="small" title={t('overview.balance')} style={{ height: '100%' }} data-testid="overview-balance">
              {q.isPending ? (
                <Skeleton active paragraph={{ rows: 2 }} />
              ) : d ? (
                <>
                  <Statistic title={t('wallet.available')} value={formatMoney(d.wallet.available_micros, 'total')} valueStyle={{ fontSize: 28, fontVariantNumeric: 'tabular-nums' }} />
                  <Divider style={{ margin: '8px 0' }} />
                  <Space size={24} wrap>
                    <span>
                      <Typography.Text type="secondary">{t('wallet.balance')} </Typography.Text>
                      <Money micros={d.wallet.balance_micros} />
                    </span>
                    <span>
                      <Typography.Text type="secondary">{t('wallet.on_hold')} </Typography.Text>
                      <Money micros={d.wallet.pending_micros} />
                    </span>
                    {d.wallet.gift_micros > 0 ? (
                      <span>
                        <Typography.Text type="secondary">{t('wallet.gift')} </Typography.Text>
                        <Money micros={d.wallet.gift_micros} />
                      </span>
                    ) : null}
                  </Space>
                </>
              ) : null}
            </Card>
          </Col>
          <Col xs={24} md={12} lg={8}>
            {d ? <Sums title={t('overview.today')} s={d.today} testId="overview-today" /> : <Card size="small"><Skeleton active /></Card>}
          </Col>
          <Col xs={24} md={12} lg={8}>
            {d ? <Sums title={t('overview.month')} s={d.month} testId="overview-month" /> : <Card size="small"><Skeleton active /></Card>}
          </Col>
          <Col span={24}>
            <Card
              title={t('overview.chart_title')}
              extra={
                <Link to="/console/usage">
                  <Button type="link" size="small">
                    {t('overview.see_usage')}
                  </Button>
                </Link>
              }
            >
              {option ? <Chart option={option} height={320} testId="overview-chart" /> : <Skeleton active paragraph={{ rows: 8 }} />}
              {noCalls ? (
                <Alert
                  style={{ marginTop: 12 }}
                  type="info"
                  showIcon
                  message={t('overview.no_calls')}
                  action={
                    <Space>
                      <Link to="/console/keys">
                        <Button size="small" icon={<KeyOutlined />}>
                          {t('overview.create_key')}
                        </Button>
                      </Link>
                      <Link to="/console/quickstart">
                        <Button size="small" type="primary" icon={<RocketOutlined />}>
                          {t('nav.quickstart')}
                        </Button>
                      </Link>
                    </Space>
                  }
                />
              ) : null}
            </Card>
          </Col>
        </Row>
      )}
    </PageContainer>
  );
}
