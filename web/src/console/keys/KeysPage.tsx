import { PlusOutlined } from '@ant-design/icons';
import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { App, Button, Empty, Space, Tooltip, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { consoleKeys, fetchConsoleKeys, useDeleteConsoleKey, useRotateConsoleKey, useUpdateConsoleKey, type ConsoleKeyFilters } from '../../api/console';
import { errorLine } from '../../api/errors';
import type { ConsoleKey, ConsoleKeyCreated } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { KeyQuota } from '../../components/KeyQuota';
import { ServerTable } from '../../components/ServerTable';
import { KeyStateTag } from '../../components/keys/KeyStateTag';
import { RotateKeyModal } from '../../components/keys/RotateKeyModal';
import { useDrawer } from '../../components/useDrawer';
import { useServerTable } from '../../components/useServerTable';
import { formatDateTimeShort } from '../../lib/format';
import { KeyDrawer } from './KeyDrawer';
import { LockedKeysNotice } from './LockedKeysNotice';
import { NewKeyModal } from './NewKeyModal';

const toFilters = (v: Record<string, unknown>): ConsoleKeyFilters => ({
  q: (v.name as string | undefined)?.trim() || undefined,
  status: (v.state as ConsoleKeyFilters['status']) || undefined,
});

export default function KeysPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm, typed } = useConfirm();
  const drawer = useDrawer<ConsoleKey>();
  const [created, setCreated] = useState<ConsoleKeyCreated | null>(null);
  const update = useUpdateConsoleKey();
  const del = useDeleteConsoleKey();
  const rotate = useRotateConsoleKey();
  const [rotating, setRotating] = useState<ConsoleKey | null>(null);
  const table = useServerTable<ConsoleKey, ConsoleKeyFilters>({ queryKey: consoleKeys.keys, fetch: fetchConsoleKeys, toFilters: useCallback(toFilters, []), initialFilters: {} });

  const newKey = () => drawer.show(null);

  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn();
      void message.success(ok);
    } catch (e) {
      void message.error(errorLine(e, t));
      throw e;
    }
  };

  const columns: ProColumns<ConsoleKey>[] = [
    { title: t('my_keys.fields.name'), dataIndex: 'name', fieldProps: { placeholder: t('my_keys.search_placeholder') }, render: (_, k) => <Typography.Text strong>{k.name}</Typography.Text> },
    { title: t('my_keys.fields.key'), dataIndex: 'display', search: false, render: (_, k) => <Typography.Text className="tg-mono">{k.display}</Typography.Text> },
    {
      title: t('my_keys.fields.status'),
      dataIndex: 'state',
      valueType: 'select',
      valueEnum: { active: { text: t('status.active') }, disabled: { text: t('status.disabled') }, locked: { text: t('status.locked') }, revoked: { text: t('status.revoked') } },
      render: (_, k) => <KeyStateTag k={k} />,
    },
    { title: t('my_keys.fields.expires_at'), dataIndex: 'expires_at', search: false, render: (_, k) => (k.expires_at ? formatDateTimeShort(k.expires_at) : t('keys.never')) },
    { title: t('my_keys.fields.quota'), key: 'quota', search: false, align: 'right', render: (_, k) => <KeyQuota k={k} /> },
    {
      title: t('my_keys.fields.limits'),
      key: 'limits',
      search: false,
      render: (_, k) => (
        <Space direction="vertical" size={0} style={{ fontSize: 12 }}>
          <Typography.Text ellipsis style={{ maxWidth: 220, fontSize: 12 }}>
            {t('my_keys.fields.models')}: {k.allowed_models?.length ? k.allowed_models.join(', ') : t('my_keys.all_models')}
          </Typography.Text>
          <Typography.Text ellipsis style={{ maxWidth: 220, fontSize: 12 }} type="secondary">
            {t('my_keys.fields.ips')}: {k.allowed_ips?.length ? k.allowed_ips.join(', ') : t('my_keys.any_ip')}
          </Typography.Text>
        </Space>
      ),
    },
    { title: t('my_keys.fields.last_used_at'), dataIndex: 'last_used_at', search: false, render: (_, k) => formatDateTimeShort(k.last_used_at) },
    { title: t('my_keys.fields.created_at'), dataIndex: 'created_at', search: false, render: (_, k) => formatDateTimeShort(k.created_at) },
    {
      title: t('common.actions'),
      valueType: 'option',
      fixed: 'right',
      // A revoked key is kept for the record only: nothing about it can change (the server refuses too).
      render: (_, k) =>
        k.status === 'revoked' ? (
          <Tooltip title={t('my_keys.revoked_hint')}>
            <Typography.Text type="secondary" data-testid={`key-readonly-${k.id}`}>
              {t('my_keys.read_only')}
            </Typography.Text>
          </Tooltip>
        ) : [
        <Button
          key="edit"
          size="small"
          type="link"
          onClick={() => drawer.show(k)}
        >
          {t('common.edit')}
        </Button>,
        <Button key="rotate" size="small" type="link" danger={k.status === 'locked'} onClick={() => setRotating(k)} data-testid={`key-rotate-${k.id}`}>
          {t('rotate.action')}
        </Button>,
        // A locked key is not switched back on: its way out is the rotation beside.
        k.status === 'locked' ? null : k.status === 'active' ? (
          <Button
            key="disable"
            size="small"
            type="link"
            onClick={() =>
              confirm({
                title: t('keys.disable_confirm', { name: k.name }),
                content: t('my_keys.disable_confirm_text'),
                okText: t('common.disable'),
                onOk: () => act(() => update.mutateAsync({ id: k.id, body: { status: 'disabled' } }), t('keys.disabled_ok')),
              })
            }
          >
            {t('common.disable')}
          </Button>
        ) : (
          <Button key="enable" size="small" type="link" onClick={() => void act(() => update.mutateAsync({ id: k.id, body: { status: 'active' } }), t('keys.enabled_ok')).catch(() => {})}>
            {t('common.enable')}
          </Button>
        ),
        <Tooltip key="delete" title={t('my_keys.delete_hint')}>
          <Button
            size="small"
            type="link"
            danger
            onClick={() =>
              typed({
                title: t('keys.delete_confirm', { name: k.name }),
                content: t('my_keys.delete_confirm_text'),
                expected: 'DELETE',
                okText: t('common.delete'),
                onOk: () => act(() => del.mutateAsync(k.id), t('keys.deleted')),
              })
            }
          >
            {t('common.delete')}
          </Button>
        </Tooltip>,
      ],
    },
  ];

  return (
    <PageContainer title={t('my_keys.title')} content={t('my_keys.intro')}>
      <LockedKeysNotice onRotate={setRotating} />
      <ServerTable<ConsoleKey, ConsoleKeyFilters>
        table={table}
        columns={columns}
        settingsKey="console.keys"
        rowKey="id"
        headerTitle={t('my_keys.list')}
        empty={
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('my_keys.empty')}>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => newKey()}>
              {t('my_keys.new')}
            </Button>
          </Empty>
        }
        toolBarRender={() => [
          <Button
            key="new"
            type="primary"
            icon={<PlusOutlined />}
            data-testid="key-new"
            onClick={() => newKey()}
          >
            {t('my_keys.new')}
          </Button>,
        ]}
      />
      <KeyDrawer key={drawer.session} k={drawer.target} open={drawer.open} onOpenChange={drawer.setOpen} onCreated={setCreated} />
      <NewKeyModal created={created} onClose={() => setCreated(null)} />
      <RotateKeyModal
        target={rotating}
        onClose={() => setRotating(null)}
        rotate={async (grace_seconds) => {
          const k = rotating!;
          await act(async () => {
            const r = await rotate.mutateAsync({ id: k.id, grace_seconds });
            setRotating(null);
            setCreated({ name: r.name, key: r.key } as ConsoleKeyCreated);
          }, t('rotate.done')).catch(() => {});
        }}
      />
    </PageContainer>
  );
}

