import { DownloadOutlined } from '@ant-design/icons';
import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { Button, Descriptions, Tooltip, Typography } from 'antd';
import { useCallback, useEffect, useState, type Key } from 'react';
import { useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Clip } from '../../components/Clip';
import { adminKeys, fetchUsage, useChannels, usageExportUrl, useUsageTotals, type UsageFilters } from '../../api/admin';
import type { UsageRecord } from '../../api/types';
import { Money } from '../../components/Money';
import { ServerTable } from '../../components/ServerTable';
import { posInt, rangeToMs, statusEnum, str, timePresets } from '../../components/usage/filters';
import { PhoneRange } from '../../components/usage/PhoneRange';
import { usePhone } from '../../lib/usePhone';
import { UsageTotalsBar } from '../../components/usage/UsageTotalsBar';
import { UsageError, UsageStatus } from '../../components/usage/UsageStatus';
import { useServerTable } from '../../components/useServerTable';
import { formatDateTime, formatInt, formatMs, formatTimeCompact } from '../../lib/format';
import { formatUsd } from '../../lib/money';
import { maskEmail } from '../../lib/mask';
import { KeyPicker, useKnownModels, UserPicker } from '../pickers';
import { SuggestInput } from '../../components/pickers';
import { protectedDownload } from '../../api/reauth';

const toFilters = (v: Record<string, unknown>): UsageFilters => ({
  ...rangeToMs(v.created_at),
  user_id: posInt(v.user_email),
  key_id: posInt(v.key_name),
  model: str(v.model),
  channel_id: posInt(v.channel_name),
  status: str(v.status_code),
  request_id: str(v.request_id),
});

function RecordDetail({ r }: { r: UsageRecord }) {
  const { t, i18n } = useTranslation();
  return (
    <Descriptions size="small" column={{ xs: 1, md: 2, xl: 3 }} style={{ maxWidth: 1100 }}>
      <Descriptions.Item label={t('usage.fields.request_id')}>
        <Typography.Text copyable className="tg-mono">
          {r.request_id}
        </Typography.Text>
      </Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.endpoint')}>{r.endpoint}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.upstream_model')}>{r.upstream_model ?? '—'}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.user')}>{r.user_email ?? r.user_id}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.stream')}>{r.stream ? t('common.yes') : t('common.no')}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.ttfb')}>{formatMs(r.ttfb_ms)}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.attempts')}>{r.attempts}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.usage_source')}>{i18n.exists(`usage.sources.${r.usage_source}`) ? t(`usage.sources.${r.usage_source}` as 'usage.sources.none') : r.usage_source}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.client_ip')}>{r.client_ip ?? '—'}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.multiplier')}>×{(r.multiplier_ppm / 1_000_000).toString()}</Descriptions.Item>
      <Descriptions.Item label={t('usage.fields.arrears')}>
        <Money micros={r.arrears_micros} kind="call" />
      </Descriptions.Item>
      {r.error_code ? (
        <Descriptions.Item label={t('usage.fields.error')} span={3}>
          <UsageError r={r} />
        </Descriptions.Item>
      ) : null}
    </Descriptions>
  );
}

export default function UsagePage() {
  const { t, i18n } = useTranslation();
  const channels = useChannels({});
  // A link from elsewhere (a ledger entry) opens the page on one request: `?request_id=…`.
  const [params] = useSearchParams();
  const linkedRequest = params.get('request_id')?.trim() || undefined;
  const table = useServerTable<UsageRecord, UsageFilters>({
    queryKey: adminKeys.usage,
    fetch: fetchUsage,
    toFilters: useCallback(toFilters, []),
    initialFilters: linkedRequest ? { request_id: linkedRequest } : {},
    sort: 'created_at',
    order: 'desc',
  });
  // …with that record's details open.
  const [expanded, setExpanded] = useState<readonly Key[]>([]);
  const first = table.query.data?.items[0];
  useEffect(() => {
    if (linkedRequest && first && first.request_id === linkedRequest) setExpanded([first.id]);
  }, [linkedRequest, first]);
  const totals = useUsageTotals(table.state.filters);
  const n = (v: number) => formatInt(v, i18n.language);
  const models = useKnownModels();

  const phone = usePhone();
  const columns: ProColumns<UsageRecord>[] = [
    {
      title: t('usage.fields.time'),
      dataIndex: 'created_at',
      key: 'created_at',
      valueType: 'dateTimeRange',
      sorter: true,
      fieldProps: { presets: timePresets(t), placeholder: [t('usage.from'), t('usage.to')], style: { width: '100%' } },
      // On a phone the range picker's popup is wider than the screen: presets and two single months instead.
      ...(phone ? { renderFormItem: () => <PhoneRange /> } : {}),
      formItemProps: { label: t('usage.fields.time_range') },
      // Two date-times side by side need the room of two fields.
      colSize: 2,
      render: (_, r) => (
        <Tooltip title={formatDateTime(r.created_at)}>
          <span style={{ whiteSpace: 'nowrap' }}>{formatTimeCompact(r.created_at)}</span>
        </Tooltip>
      ),
    },
    {
      title: t('usage.fields.status'),
      dataIndex: 'status_code',
      valueType: 'select',
      valueEnum: statusEnum(t),
      fieldProps: { placeholder: t('usage.any_status') },
      render: (_, r) => <UsageStatus r={r} />,
    },
    { title: t('usage.fields.latency'), dataIndex: 'latency_ms', key: 'latency_ms', search: false, sorter: true, align: 'right', render: (_, r) => formatMs(r.latency_ms) },
    {
      title: t('usage.fields.user'),
      dataIndex: 'user_email',
      renderFormItem: () => <UserPicker placeholder={t('usage.user_placeholder')} testId="filter-user" />,
      render: (_, r) => (
        <Tooltip title={`ID ${r.user_id}`}>
          <span>
            <Clip max={150}>{maskEmail(r.user_email)}</Clip>
          </span>
        </Tooltip>
      ),
    },
    {
      title: t('usage.fields.key'),
      dataIndex: 'key_name',
      renderFormItem: () => <KeyPicker placeholder={t('usage.key_placeholder')} testId="filter-key" />,
      render: (_, r) => (
        <Tooltip title={`ID ${r.key_id}`}>
          <span>
            <Clip max={110}>{r.key_name || `#${r.key_id}`}</Clip>
          </span>
        </Tooltip>
      ),
    },
    {
      title: t('usage.fields.model'),
      dataIndex: 'model',
      renderFormItem: () => <SuggestInput options={models} placeholder={t('usage.any_model')} testId="filter-model" />,
    },
    {
      title: t('usage.fields.channel'),
      dataIndex: 'channel_name',
      valueType: 'select',
      fieldProps: { options: (channels.data?.items ?? []).map((c) => ({ value: String(c.id), label: c.name })), showSearch: true, optionFilterProp: 'label', placeholder: t('usage.any_channel') },
      render: (_, r) => r.channel_name ?? '—',
    },
    { title: t('usage.fields.prompt_tokens'), dataIndex: 'prompt_tokens', key: 'prompt_tokens', search: false, sorter: true, align: 'right', render: (_, r) => n(r.prompt_tokens) },
    { title: t('usage.fields.completion_tokens'), dataIndex: 'completion_tokens', key: 'completion_tokens', search: false, sorter: true, align: 'right', render: (_, r) => n(r.completion_tokens) },
    { title: t('usage.fields.cached_tokens'), dataIndex: 'cached_tokens', search: false, align: 'right', render: (_, r) => n(r.cached_tokens) },
    {
      title: t('usage.fields.unit_price'),
      key: 'unit_price',
      search: false,
      align: 'right',
      render: (_, r) => (
        <Tooltip title={t('usage.unit_price_hint')}>
          <span className="tg-num" style={{ whiteSpace: 'nowrap', fontSize: 12 }}>
            {formatUsd(r.input_price_micros_per_1m)} / {formatUsd(r.output_price_micros_per_1m)}
          </span>
        </Tooltip>
      ),
    },
    { title: t('usage.fields.charged'), dataIndex: 'charged_micros', key: 'charged_micros', search: false, sorter: true, align: 'right', render: (_, r) => <Money micros={r.charged_micros} kind="call" /> },
    { title: t('usage.fields.cost'), dataIndex: 'cost_micros', key: 'cost_micros', search: false, sorter: true, align: 'right', render: (_, r) => <Money micros={r.cost_micros} kind="call" /> },
    { title: t('usage.fields.margin'), dataIndex: 'margin_micros', search: false, align: 'right', render: (_, r) => <Money micros={r.margin_micros} kind="call" colored /> },
    { title: t('usage.fields.request_id'), dataIndex: 'request_id', hideInTable: true, fieldProps: { placeholder: 'req_…' } },
  ];

  return (
    <PageContainer title={t('usage.admin_title')} content={t('usage.admin_intro')}>
      <ServerTable<UsageRecord, UsageFilters>
        table={table}
        columns={columns}
        settingsKey="admin.usage"
        hiddenColumns={['channel_name', 'cached_tokens', 'unit_price', 'cost_micros', 'margin_micros']}
        phoneColumns={['created_at', 'status_code', 'model', 'charged_micros']}
        rowKey="id"
        size="small"
        search={{ defaultCollapsed: !linkedRequest }}
        form={{ initialValues: linkedRequest ? { request_id: linkedRequest } : {} }}
        headerTitle={t('usage.records')}
        tableExtraRender={() => <UsageTotalsBar query={totals} />}
        expandable={{ expandedRowRender: (r) => <RecordDetail r={r} />, expandedRowKeys: expanded, onExpandedRowsChange: (keys) => setExpanded(keys) }}
        toolBarRender={() => [
          <Button key="csv" icon={<DownloadOutlined />} href={usageExportUrl(table.state.filters, i18n.language)} download onClick={protectedDownload} data-testid="usage-export">
            {t('usage.export_csv')}
          </Button>,
        ]}
      />
    </PageContainer>
  );
}
