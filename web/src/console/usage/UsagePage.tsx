import { DownloadOutlined } from '@ant-design/icons';
import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { Button, Descriptions, Tooltip, Typography } from 'antd';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { consoleKeys, consoleUsageExportUrl, fetchConsoleUsage, useConsoleUsageTotals, useModels, useMyKeys, type ConsoleUsageFilters } from '../../api/console';
import { SuggestInput } from '../../components/pickers';
import type { ConsoleUsageRecord } from '../../api/types';
import { Money } from '../../components/Money';
import { ServerTable } from '../../components/ServerTable';
import { UsageError, UsageStatus } from '../../components/usage/UsageStatus';
import { posInt, rangeToMs, statusEnum, str, timePresets } from '../../components/usage/filters';
import { PhoneRange } from '../../components/usage/PhoneRange';
import { usePhone } from '../../lib/usePhone';
import { UsageTotalsBar } from '../../components/usage/UsageTotalsBar';
import { useServerTable } from '../../components/useServerTable';
import { formatDateTime, formatInt, formatMs, formatTimeCompact } from '../../lib/format';
import { formatUsd } from '../../lib/money';

const toFilters = (v: Record<string, unknown>): ConsoleUsageFilters => ({
  ...rangeToMs(v.created_at),
  model: str(v.model),
  status: str(v.status_code),
  key_id: posInt(v.key_name),
  request_id: str(v.request_id),
});

export default function UsagePage() {
  const { t, i18n } = useTranslation();
  const keys = useMyKeys();
  const models = useModels();
  const table = useServerTable<ConsoleUsageRecord, ConsoleUsageFilters>({
    queryKey: consoleKeys.usage,
    fetch: fetchConsoleUsage,
    toFilters: useCallback(toFilters, []),
    initialFilters: {},
    pageSize: 20,
    sort: 'created_at',
    order: 'desc',
  });
  const totals = useConsoleUsageTotals(table.state.filters);
  const n = (v: number) => formatInt(v, i18n.language);

  const phone = usePhone();
  const columns: ProColumns<ConsoleUsageRecord>[] = [
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
      colSize: 2,
      render: (_, r) => (
        <Tooltip title={formatDateTime(r.created_at)}>
          <span style={{ whiteSpace: 'nowrap' }}>{formatTimeCompact(r.created_at)}</span>
        </Tooltip>
      ),
    },
    {
      title: t('usage.fields.model'),
      dataIndex: 'model',
      renderFormItem: () => <SuggestInput options={(models.data?.items ?? []).map((m) => m.model)} placeholder={t('usage.any_model')} testId="filter-model" />,
    },
    {
      title: t('usage.fields.key'),
      dataIndex: 'key_name',
      valueType: 'select',
      fieldProps: { options: (keys.data?.items ?? []).map((k) => ({ value: String(k.id), label: `${k.name} (${k.display})` })), placeholder: t('usage.any_key') },
      render: (_, r) => r.key_name || `#${r.key_id}`,
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
    { title: t('usage.fields.cost_user'), dataIndex: 'charged_micros', key: 'charged_micros', search: false, sorter: true, align: 'right', render: (_, r) => <Money kind="call" micros={r.charged_micros} /> },
    {
      title: t('usage.fields.status'),
      dataIndex: 'status_code',
      valueType: 'select',
      valueEnum: statusEnum(t),
      fieldProps: { placeholder: t('usage.any_status') },
      render: (_, r) => <UsageStatus r={r} />,
    },
    { title: t('usage.fields.latency'), dataIndex: 'latency_ms', key: 'latency_ms', search: false, sorter: true, align: 'right', render: (_, r) => formatMs(r.latency_ms) },
    { title: t('usage.fields.request_id'), dataIndex: 'request_id', hideInTable: true, fieldProps: { placeholder: 'req_…' } },
  ];

  return (
    <PageContainer title={t('usage.console_title')} content={t('usage.console_intro')}>
      <ServerTable<ConsoleUsageRecord, ConsoleUsageFilters>
        table={table}
        columns={columns}
        settingsKey="console.usage"
        hiddenColumns={['unit_price']}
        rowKey="id"
        size="small"
        headerTitle={t('usage.records')}
        tableExtraRender={() => <UsageTotalsBar query={totals} />}
        expandable={{
          expandedRowRender: (r) => (
            <Descriptions size="small" column={{ xs: 1, md: 2, xl: 3 }}>
              <Descriptions.Item label={t('usage.fields.request_id')}>
                <Typography.Text copyable className="tg-mono">
                  {r.request_id}
                </Typography.Text>
              </Descriptions.Item>
              <Descriptions.Item label={t('usage.fields.endpoint')}>{r.endpoint}</Descriptions.Item>
              <Descriptions.Item label={t('usage.fields.stream')}>{r.stream ? t('common.yes') : t('common.no')}</Descriptions.Item>
              {r.error_code ? (
                <Descriptions.Item label={t('usage.fields.error')} span={3}>
                  <UsageError r={r} />
                </Descriptions.Item>
              ) : null}
            </Descriptions>
          ),
        }}
        toolBarRender={() => [
          <Button key="csv" icon={<DownloadOutlined />} href={consoleUsageExportUrl(table.state.filters, i18n.language)} download data-testid="usage-export">
            {t('usage.export_csv')}
          </Button>,
        ]}
      />
    </PageContainer>
  );
}
