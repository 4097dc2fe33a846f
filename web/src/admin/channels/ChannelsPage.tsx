import { PlusOutlined, ThunderboltOutlined } from '@ant-design/icons';
import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { App, Badge, Button, Dropdown, Empty, Space, Tag, Tooltip, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { can, useMe } from '../../api/session';
import { Clip } from '../../components/Clip';
import { adminKeys, useDeleteChannel, useSaveChannel, useTestAllChannels, useTestChannel } from '../../api/admin';
import { api, call } from '../../api/client';
import { errorLine } from '../../api/errors';
import type { ChannelListItem as Channel, ChannelTestResult } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { ServerTable } from '../../components/ServerTable';
import { StatusTag } from '../../components/StatusTag';
import { useDrawer } from '../../components/useDrawer';
import { useServerTable, type TableState } from '../../components/useServerTable';
import { formatDateTime, formatMs, formatPercent } from '../../lib/format';
import { ChannelDrawer } from './ChannelDrawer';
import { TestError, testErrorTip } from './TestError';

type Filters = { q?: string; status?: 'enabled' | 'disabled' | 'auto_disabled'; group?: string };

// The server returns every channel (an operator has tens, not thousands); the page is cut here.
async function fetchChannels(s: TableState<Filters>) {
  const { items } = await call(api.GET('/api/admin/channels', { params: { query: s.filters } }));
  const start = (s.page - 1) * s.pageSize;
  return { items: items.slice(start, start + s.pageSize), total: items.length, page: s.page, page_size: s.pageSize };
}

const toFilters = (v: Record<string, unknown>): Filters => ({
  q: (v.name as string | undefined)?.trim() || undefined,
  status: (v.status as Filters['status']) || undefined,
  group: (v.groups as string | undefined)?.trim() || undefined,
});

export default function ChannelsPage() {
  const { t, i18n } = useTranslation();
  const me = useMe();
  const { message, notification } = App.useApp();
  const { confirm, typed } = useConfirm();
  const drawer = useDrawer<Channel>();
  const [testing, setTesting] = useState<number | null>(null);
  const table = useServerTable<Channel, Filters>({ queryKey: adminKeys.channels, fetch: fetchChannels, toFilters: useCallback(toFilters, []), initialFilters: {} });
  const save = useSaveChannel();
  const del = useDeleteChannel();
  const test = useTestChannel();
  const testAll = useTestAllChannels();

  const runTestAll = async () => {
    try {
      const { items } = await testAll.mutateAsync();
      const failed = items.filter((r) => !r.ok);
      const summary = { message: t('channels.test_all_done', { count: items.length, passed: items.length - failed.length, failed: failed.length }), placement: 'topRight' as const };
      if (failed.length === 0) notification.success(summary);
      else
        notification.warning({
          ...summary,
          description: (
            <Space direction="vertical" size={8} style={{ width: '100%' }}>
              {failed.map((r) => (
                <div key={r.id}>
                  <Typography.Text strong>{r.name}</Typography.Text>
                  <TestError r={r} />
                </div>
              ))}
            </Space>
          ),
          duration: 12,
        });
    } catch (e) {
      void message.error(errorLine(e, t));
    }
  };

  const runTest = async (c: Channel) => {
    setTesting(c.id);
    try {
      const r: ChannelTestResult = await test.mutateAsync(c.id);
      if (r.ok) notification.success({ message: t('channels.test_ok', { name: c.name }), description: t('channels.test_ok_detail', { model: r.model, ms: formatMs(r.ms), status: r.status ?? '—' }), placement: 'topRight' });
      else notification.error({ message: t('channels.test_failed', { name: c.name }), description: <TestError r={r} />, placement: 'topRight', duration: 12 });
    } catch (e) {
      void message.error(errorLine(e, t));
    } finally {
      setTesting(null);
    }
  };

  const setStatus = (c: Channel, status: 'enabled' | 'disabled') => {
    const run = async () => {
      try {
        await save.mutateAsync({ id: c.id, body: { status } });
        void message.success(t(status === 'enabled' ? 'channels.enabled_ok' : 'channels.disabled_ok', { name: c.name }));
      } catch (e) {
        void message.error(errorLine(e, t));
        throw e;
      }
    };
    if (status === 'enabled') return void run();
    confirm({ title: t('channels.disable_confirm', { name: c.name }), content: t('channels.disable_confirm_text'), okText: t('common.disable'), onOk: run });
  };

  const remove = (c: Channel) =>
    typed({
      title: t('channels.delete_confirm', { name: c.name }),
      content: t('channels.delete_confirm_text'),
      expected: 'DELETE',
      okText: t('common.delete'),
      onOk: async () => {
        try {
          await del.mutateAsync(c.id);
          void message.success(t('channels.deleted', { name: c.name }));
        } catch (e) {
          void message.error(errorLine(e, t));
          throw e;
        }
      },
    });

  const columns: ProColumns<Channel>[] = [
    {
      title: t('channels.fields.name'),
      dataIndex: 'name',
      fieldProps: { placeholder: t('channels.search_placeholder') },
      render: (_, c) => (
        <Space direction="vertical" size={0}>
          <Typography.Text strong>
            <Clip max={220}>{c.name}</Clip>
          </Typography.Text>
          <Typography.Text type="secondary" style={{ fontSize: 12, maxWidth: 220 }} ellipsis={{ tooltip: c.base_url }}>
            {c.base_url}
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t('channels.fields.status'),
      dataIndex: 'status',
      valueType: 'select',
      valueEnum: {
        enabled: { text: t('status.enabled') },
        disabled: { text: t('status.disabled') },
        auto_disabled: { text: t('status.auto_disabled') },
      },
      render: (_, c) => (
        <Tooltip title={c.status_reason ?? undefined}>
          <span>
            <StatusTag status={c.status} />
          </span>
        </Tooltip>
      ),
    },
    { title: t('channels.fields.priority'), dataIndex: 'priority', search: false, align: 'right' },
    { title: t('channels.fields.weight'), dataIndex: 'weight', search: false, align: 'right' },
    {
      title: t('channels.fields.models'),
      dataIndex: 'models',
      search: false,
      render: (_, c) => (
        <Space size={[4, 4]} wrap style={{ maxWidth: 200 }}>
          {c.models.slice(0, 3).map((m) => (
            <Tag key={m} style={{ marginInlineEnd: 0 }}>
              <Clip max={150}>{m}</Clip>
            </Tag>
          ))}
          {c.models.length > 3 ? (
            <Tooltip title={c.models.slice(3).join(', ')}>
              <Tag style={{ marginInlineEnd: 0 }}>+{c.models.length - 3}</Tag>
            </Tooltip>
          ) : null}
        </Space>
      ),
    },
    { title: t('channels.fields.groups'), dataIndex: 'groups', render: (_, c) => c.groups.join(', '), fieldProps: { placeholder: 'default' } },
    {
      title: t('channels.last_hour'),
      dataIndex: 'health',
      search: false,
      render: (_, c) =>
        c.health.calls_1h === 0 ? (
          <Typography.Text type="secondary">{t('channels.last_hour_none')}</Typography.Text>
        ) : (
          <Tooltip title={c.health.last_error ? `${t('channels.last_error')}: ${c.health.last_error} (${formatDateTime(c.health.last_error_at)})` : undefined}>
          <Space direction="vertical" size={0} data-testid={`channel-health-${c.id}`}>
            <Badge
              status={c.health.errors_1h === 0 ? 'success' : (c.health.error_rate_1h ?? 0) >= 0.5 ? 'error' : 'warning'}
              text={t('channels.last_hour_errors', { rate: formatPercent(c.health.error_rate_1h ?? 0, i18n.language), count: c.health.errors_1h })}
            />
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {t('channels.last_hour_calls', { count: c.health.calls_1h })}
            </Typography.Text>
          </Space>
          </Tooltip>
        ),
    },
    {
      title: t('channels.last_error'),
      key: 'last_error',
      dataIndex: ['health', 'last_error'],
      search: false,
      render: (_, c) =>
        c.health.last_error ? (
          <Space direction="vertical" size={0}>
            <Typography.Text type="danger" style={{ maxWidth: 220, fontSize: 12 }} ellipsis={{ tooltip: c.health.last_error }}>
              {c.health.last_error}
            </Typography.Text>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {formatDateTime(c.health.last_error_at)}
            </Typography.Text>
          </Space>
        ) : (
          <Typography.Text type="secondary">{t('channels.no_error')}</Typography.Text>
        ),
    },
    {
      title: t('channels.fields.last_test'),
      dataIndex: 'last_test_at',
      search: false,
      render: (_, c) =>
        c.last_test_at ? (
          <Tooltip title={testErrorTip(c)}>
            <Space direction="vertical" size={0}>
              <Badge status={c.last_test_ok ? 'success' : 'error'} text={c.last_test_ok ? t('channels.test_passed') : t('channels.test_failed_short')} />
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {formatDateTime(c.last_test_at)}
              </Typography.Text>
            </Space>
          </Tooltip>
        ) : (
          <Typography.Text type="secondary">{t('channels.never_tested')}</Typography.Text>
        ),
    },
    { title: t('channels.fields.response_time'), dataIndex: 'last_test_ms', search: false, align: 'right', render: (_, c) => formatMs(c.last_test_ms) },
    {
      title: t('common.actions'),
      valueType: 'option',
      fixed: 'right',
      render: (_, c) => [
        <Button key="test" size="small" icon={<ThunderboltOutlined />} loading={testing === c.id} onClick={() => void runTest(c)} data-testid={`channel-test-${c.id}`}>
          {t('channels.test')}
        </Button>,
        <Button
          key="edit"
          size="small"
          type="link"
          onClick={() => drawer.show(c)}
        >
          {t('common.edit')}
        </Button>,
        <Dropdown
          key="more"
          trigger={['click']}
          menu={{
            items: [
              c.status === 'enabled' ? { key: 'disable', label: t('common.disable') } : { key: 'enable', label: t('common.enable') },
              { type: 'divider' },
              { key: 'delete', label: t('common.delete'), danger: true },
            ],
            onClick: ({ key }) => (key === 'delete' ? remove(c) : setStatus(c, key === 'enable' ? 'enabled' : 'disabled')),
          }}
        >
          <Button size="small" type="link">
            {t('common.more')}
          </Button>
        </Dropdown>,
      ],
    },
  ];

  return (
    <PageContainer title={t('channels.title')} content={t('channels.intro')}>
      <ServerTable<Channel, Filters>
        table={table}
        columns={columns}
        settingsKey="admin.channels"
        // The last error is also the last hour's tooltip; its own column is one click away in the settings.
        hiddenColumns={['priority', 'weight', 'groups', 'last_test_ms', 'last_error']}
        phoneColumns={['name', 'status']}
        rowKey="id"
        headerTitle={t('channels.list')}
        empty={
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('channels.empty')}>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => drawer.show(null)}>
              {t('channels.new')}
            </Button>
          </Empty>
        }
        toolBarRender={() => [
          can(me.data, 'channel:edit') ? (
            <Button key="test-all" icon={<ThunderboltOutlined />} loading={testAll.isPending} onClick={() => void runTestAll()} data-testid="channels-test-all">
              {t('channels.test_all')}
            </Button>
          ) : null,
          !can(me.data, 'channel:create') ? null : (
          <Button
            key="new"
            type="primary"
            icon={<PlusOutlined />}
            data-testid="channel-new"
            onClick={() => drawer.show(null)}
          >
            {t('channels.new')}
          </Button>
          ),
        ]}
      />
      <ChannelDrawer key={drawer.session} channel={drawer.target} open={drawer.open} onOpenChange={drawer.setOpen} />
    </PageContainer>
  );
}
