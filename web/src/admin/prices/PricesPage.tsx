import { PlusOutlined } from '@ant-design/icons';
import { DrawerForm, PageContainer, ProFormText, type ProColumns } from '@ant-design/pro-components';
import { App, Button, Form, Space, Tag, Tooltip, Typography } from 'antd';
import type { TFunction } from 'i18next';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { can, useMe } from '../../api/session';
import { adminKeys, useDeletePrice, useSetPrice } from '../../api/admin';
import { api, call } from '../../api/client';
import { applyFormError, errorLine } from '../../api/errors';
import type { Price } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { ServerTable } from '../../components/ServerTable';
import { useDrawer } from '../../components/useDrawer';
import { useServerTable, type TableState } from '../../components/useServerTable';
import { formatDateTime } from '../../lib/format';
import { usdRule } from '../../lib/forms';
import { formatUsdText, per1kFromPer1mMicros, usdToMicros } from '../../lib/money';

/** A model: its price if it has one, and the channels that serve it. */
interface Row {
  model: string;
  price: Price | null;
  channels: string[];
}

type Filters = { q?: string };

// Prices and channels are short lists; they are joined here so a model a channel serves but that
// has no price yet shows up (it cannot be called until it has one).
async function fetchRows(s: TableState<Filters>) {
  const [prices, channels] = await Promise.all([call(api.GET('/api/admin/prices', { params: { query: {} } })), call(api.GET('/api/admin/channels', { params: { query: {} } }))]);
  const rows = new Map<string, Row>();
  for (const p of prices.items) rows.set(p.model, { model: p.model, price: p, channels: [] });
  for (const c of channels.items)
    for (const m of c.models) {
      const r = rows.get(m) ?? { model: m, price: null, channels: [] };
      r.channels.push(c.name);
      rows.set(m, r);
    }
  const q = s.filters.q?.toLowerCase();
  const all = [...rows.values()].filter((r) => !q || r.model.toLowerCase().includes(q)).sort((a, b) => Number(!!a.price) - Number(!!b.price) || a.model.localeCompare(b.model));
  const start = (s.page - 1) * s.pageSize;
  return { items: all.slice(start, start + s.pageSize), total: all.length, page: s.page, page_size: s.pageSize };
}

const toFilters = (v: Record<string, unknown>): Filters => ({ q: (v.model as string | undefined)?.trim() || undefined });

function UsdPer({ per1m, per1k }: { per1m: string | null; per1k?: string | null }) {
  if (per1m === null) return <Typography.Text type="secondary">—</Typography.Text>;
  return (
    <Space direction="vertical" size={0} style={{ textAlign: 'right' }}>
      <span className="tg-num">{formatUsdText(per1m)}</span>
      {per1k ? (
        <Typography.Text type="secondary" className="tg-num" style={{ fontSize: 12 }}>
          {formatUsdText(per1k)} / 1K
        </Typography.Text>
      ) : null}
    </Space>
  );
}

/**
 * "That is $0.00015 per 1K tokens" under a per-1M input, computed exactly from what is typed; null
 * (no empty line under the field) while nothing valid is typed.
 */
function per1kHint(t: TFunction, value?: string) {
  const m = value ? usdToMicros(value) : null;
  if (m === null) return null;
  return <Typography.Text type="secondary">{t('prices.per_1k_hint', { value: `$${per1kFromPer1mMicros(m)}` })}</Typography.Text>;
}

interface PriceValues {
  model: string;
  input: string;
  output: string;
  cached_input?: string;
  per_request?: string;
}

function PriceDrawer({ row, open, onOpenChange }: { row: Row | null; open: boolean; onOpenChange: (o: boolean) => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<PriceValues>();
  const setPrice = useSetPrice();
  const p = row?.price;
  const input = Form.useWatch('input', form);
  const output = Form.useWatch('output', form);
  const cached = Form.useWatch('cached_input', form);
  return (
    <DrawerForm<PriceValues>
      name="price"
      title={row ? t('prices.edit_title', { model: row.model }) : t('prices.create_title')}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      drawerProps={{ destroyOnHidden: true, width: 'min(480px, 100vw)' }}
      initialValues={{
        model: row?.model ?? '',
        input: p?.input_usd_per_1m ?? '',
        output: p?.output_usd_per_1m ?? '',
        cached_input: p?.cached_input_usd_per_1m ?? '',
        per_request: p && p.per_request_usd !== '0' ? p.per_request_usd : '',
      }}
      submitter={{ searchConfig: { submitText: t('common.save'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        try {
          await setPrice.mutateAsync({
            model: v.model.trim(),
            body: { input: v.input.trim(), output: v.output.trim(), cached_input: v.cached_input?.trim() || null, per_request: v.per_request?.trim() || '0' },
          });
          void message.success(t('prices.saved', { model: v.model.trim() }));
          return true;
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
          return false;
        }
      }}
    >
      <Typography.Paragraph type="secondary">{t('prices.drawer_intro')}</Typography.Paragraph>
      <ProFormText name="model" label={t('prices.fields.model')} disabled={!!row} rules={[{ required: true, message: t('form.required') }, { pattern: /^[^\s,]+$/, message: t('prices.model_invalid') }]} />
      <ProFormText name="input" label={t('prices.fields.input')} fieldProps={{ prefix: '$', suffix: '/ 1M', inputMode: 'decimal' }} rules={[{ required: true, message: t('form.required') }, usdRule(t)]} extra={per1kHint(t, input)} />
      <ProFormText name="output" label={t('prices.fields.output')} fieldProps={{ prefix: '$', suffix: '/ 1M', inputMode: 'decimal' }} rules={[{ required: true, message: t('form.required') }, usdRule(t)]} extra={per1kHint(t, output)} />
      <ProFormText name="cached_input" label={t('prices.fields.cached_input')} tooltip={t('prices.hints.cached_input')} fieldProps={{ prefix: '$', suffix: '/ 1M', inputMode: 'decimal' }} rules={[usdRule(t)]} extra={per1kHint(t, cached)} />
      <ProFormText name="per_request" label={t('prices.fields.per_request')} tooltip={t('prices.hints.per_request')} fieldProps={{ prefix: '$', inputMode: 'decimal' }} rules={[usdRule(t)]} />
    </DrawerForm>
  );
}

export default function PricesPage() {
  const { t } = useTranslation();
  const me = useMe();
  const { message } = App.useApp();
  const { typed } = useConfirm();
  const drawer = useDrawer<Row>();
  const del = useDeletePrice();
  const table = useServerTable<Row, Filters>({ queryKey: adminKeys.prices, fetch: fetchRows, toFilters: useCallback(toFilters, []), initialFilters: {} });


  const columns: ProColumns<Row>[] = [
    {
      title: t('prices.fields.model'),
      dataIndex: 'model',
      fieldProps: { placeholder: t('prices.search_placeholder') },
      render: (_, r) => (
        <Space>
          <Typography.Text strong className="tg-mono">
            {r.model}
          </Typography.Text>
          {r.price ? null : <Tag color="warning">{t('prices.unpriced')}</Tag>}
        </Space>
      ),
    },
    { title: t('prices.cols.input'), key: 'input', search: false, align: 'right', render: (_, r) => <UsdPer per1m={r.price?.input_usd_per_1m ?? null} per1k={r.price?.input_usd_per_1k} /> },
    { title: t('prices.cols.output'), key: 'output', search: false, align: 'right', render: (_, r) => <UsdPer per1m={r.price?.output_usd_per_1m ?? null} per1k={r.price?.output_usd_per_1k} /> },
    {
      title: t('prices.cols.cached_input'),
      key: 'cached',
      search: false,
      align: 'right',
      render: (_, r) => <UsdPer per1m={r.price?.cached_input_usd_per_1m ?? null} per1k={r.price?.cached_input_micros_per_1m != null ? per1kFromPer1mMicros(r.price.cached_input_micros_per_1m) : null} />,
    },
    { title: t('prices.fields.per_request'), key: 'per_request', search: false, align: 'right', render: (_, r) => (r.price && r.price.request_micros > 0 ? <span className="tg-num">{formatUsdText(r.price.per_request_usd)}</span> : '—') },
    {
      title: t('prices.fields.channels'),
      key: 'channels',
      search: false,
      render: (_, r) =>
        r.channels.length ? (
          <Tooltip title={r.channels.join(', ')}>
            <span>{t('prices.channel_count', { count: r.channels.length })}</span>
          </Tooltip>
        ) : (
          <Typography.Text type="warning">{t('prices.no_channel')}</Typography.Text>
        ),
    },
    { title: t('common.updated_at'), key: 'updated', search: false, render: (_, r) => formatDateTime(r.price?.updated_at) },
    {
      title: t('common.actions'),
      valueType: 'option',
      fixed: 'right',
      render: (_, r) => [
        <Button key="edit" size="small" type={r.price ? 'link' : 'primary'} ghost={!r.price} onClick={() => drawer.show(r)} data-testid={`price-edit-${r.model}`}>
          {r.price ? t('common.edit') : t('prices.set_price')}
        </Button>,
        r.price ? (
          <Button
            key="del"
            size="small"
            type="link"
            danger
            onClick={() =>
              typed({
                title: t('prices.delete_confirm', { model: r.model }),
                content: t('prices.delete_confirm_text'),
                expected: r.model,
                okText: t('common.delete'),
                onOk: async () => {
                  try {
                    await del.mutateAsync(r.model);
                    void message.success(t('prices.deleted', { model: r.model }));
                  } catch (e) {
                    void message.error(errorLine(e, t));
                    throw e;
                  }
                },
              })
            }
          >
            {t('common.delete')}
          </Button>
        ) : null,
      ],
    },
  ];

  return (
    <PageContainer title={t('prices.title')} content={t('prices.intro')}>
      <ServerTable<Row, Filters>
        table={table}
        columns={columns}
        settingsKey="admin.prices"
        hiddenColumns={['cached', 'per_request', 'updated']}
        phoneColumns={['model', 'input', 'output']}
        rowKey="model"
        headerTitle={t('prices.list')}
        toolBarRender={() => (!can(me.data, 'price:edit') ? [] : [
          <Button key="new" type="primary" icon={<PlusOutlined />} onClick={() => drawer.show(null)} data-testid="price-new">
            {t('prices.new')}
          </Button>,
        ])}
      />
      <PriceDrawer key={drawer.session} row={drawer.target} open={drawer.open} onOpenChange={drawer.setOpen} />
    </PageContainer>
  );
}
