import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { PlusOutlined } from '@ant-design/icons';
import { App, Button, Dropdown, Space, Tooltip, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { can, useMe } from '../../api/session';
import { Clip } from '../../components/Clip';
import { adminKeys, fetchKeys, useLockKey, useRevokeKey, useRotateKey, useUpdateKey, type KeyFilters } from '../../api/admin';
import { errorLine } from '../../api/errors';
import type { AdminKey } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { KeyQuota } from '../../components/KeyQuota';
import { ServerTable } from '../../components/ServerTable';
import { useServerTable } from '../../components/useServerTable';
import { formatDateTimeShort } from '../../lib/format';
import { maskEmail } from '../../lib/mask';
import { posInt } from '../../components/usage/filters';
import { UserPicker } from '../pickers';
import { NewKeyModal } from '../../console/keys/NewKeyModal';
import { KeyCreateDrawer } from './KeyCreateDrawer';
import { LockKeyModal } from './LockKeyModal';
import { RotateKeyModal } from '../../components/keys/RotateKeyModal';
import { KeyStateTag } from '../../components/keys/KeyStateTag';
import { useDrawer } from '../../components/useDrawer';

const toFilters = (v: Record<string, unknown>): KeyFilters => ({
  q: (v.display as string | undefined)?.trim() || undefined,
  status: (v.state as KeyFilters['status']) || undefined,
  user_id: posInt(v.owner_email),
});

export default function KeysPage() {
  const { t } = useTranslation();
  const me = useMe();
  const { message } = App.useApp();
  const { confirm } = useConfirm();
  const update = useUpdateKey();
  const revoke = useRevokeKey();
  const rotate = useRotateKey();
  const lock = useLockKey();
  const [rotating, setRotating] = useState<AdminKey | null>(null);
  const [locking, setLocking] = useState<AdminKey | null>(null);
  const creating = useDrawer<never>();
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const table = useServerTable<AdminKey, KeyFilters>({ queryKey: adminKeys.keys, fetch: fetchKeys, toFilters: useCallback(toFilters, []), initialFilters: {} });

  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn();
      void message.success(ok);
    } catch (e) {
      void message.error(errorLine(e, t));
      throw e;
    }
  };

  const onAction = (k: AdminKey, key: string) => {
    if (key === 'rotate') setRotating(k);
    if (key === 'lock') setLocking(k);
    if (key === 'enable') void act(() => update.mutateAsync({ id: k.id, body: { status: 'active' } }), t('keys.enabled_ok')).catch(() => {});
    if (key === 'disable')
      confirm({
        title: t('keys.disable_confirm', { name: k.name || k.display }),
        content: t('keys.disable_confirm_text'),
        okText: t('common.disable'),
        onOk: () => act(() => update.mutateAsync({ id: k.id, body: { status: 'disabled' } }), t('keys.disabled_ok')),
      });
    if (key === 'revoke')
      confirm({
        title: t('keys.revoke_confirm', { name: k.name || k.display }),
        content: t('keys.revoke_confirm_text'),
        okText: t('keys.revoke'),
        onOk: () => act(() => revoke.mutateAsync(k.id), t('keys.revoked_ok')),
      });
  };

  const columns: ProColumns<AdminKey>[] = [
    {
      title: t('keys.fields.key'),
      dataIndex: 'display',
      fieldProps: { placeholder: t('keys.search_placeholder') },
      formItemProps: { label: t('keys.search_label') },
      render: (_, k) => (
        <Space direction="vertical" size={0}>
          <Typography.Text className="tg-mono">{k.display}</Typography.Text>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            <Clip max={160}>{k.name || '—'}</Clip>
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t('keys.fields.owner'),
      dataIndex: 'owner_email',
      renderFormItem: () => <UserPicker placeholder={t('usage.user_placeholder')} testId="filter-owner" />,
      render: (_, k) => (
        <Tooltip title={`ID ${k.user_id}`}>
          <span>
            <Clip max={180}>{maskEmail(k.owner_email)}</Clip>
          </span>
        </Tooltip>
      ),
    },
    {
      title: t('keys.fields.status'),
      dataIndex: 'state',
      valueType: 'select',
      valueEnum: { active: { text: t('status.active') }, disabled: { text: t('status.disabled') }, locked: { text: t('status.locked') }, revoked: { text: t('status.revoked') } },
      render: (_, k) => <KeyStateTag k={k} />,
    },
    { title: t('keys.fields.expires_at'), dataIndex: 'expires_at', search: false, render: (_, k) => (k.expires_at ? formatDateTimeShort(k.expires_at) : t('keys.never')) },
    { title: t('keys.fields.quota'), key: 'quota', search: false, align: 'right', render: (_, k) => <KeyQuota k={k} /> },
    {
      title: t('keys.fields.models'),
      dataIndex: 'allowed_models',
      search: false,
      render: (_, k) => (k.allowed_models?.length ? <Typography.Text ellipsis style={{ maxWidth: 200 }}>{k.allowed_models.join(', ')}</Typography.Text> : t('keys.all_models')),
    },
    { title: t('keys.fields.group'), dataIndex: 'group', search: false, render: (_, k) => k.group ?? '—' },
    { title: t('keys.fields.last_used_at'), dataIndex: 'last_used_at', search: false, render: (_, k) => formatDateTimeShort(k.last_used_at) },
    { title: t('keys.fields.created_at'), dataIndex: 'created_at', search: false, render: (_, k) => formatDateTimeShort(k.created_at) },
    {
      title: t('common.actions'),
      valueType: 'option',
      fixed: 'right',
      render: (_, k) =>
        k.status === 'revoked' || !(can(me.data, 'key:edit') || can(me.data, 'key:disable'))
          ? []
          : [
              <Dropdown
                key="more"
                trigger={['click']}
                menu={{
                  items: [
                    // A locked key comes back only through a rotation (the server refuses to enable it).
                    ...(!can(me.data, 'key:edit') || k.status === 'locked'
                      ? []
                      : [k.status === 'active' ? { key: 'disable', label: t('common.disable') } : { key: 'enable', label: t('common.enable') }]),
                    ...(can(me.data, 'key:edit') ? [{ key: 'rotate', label: t('rotate.action') }] : []),
                    ...(can(me.data, 'key:disable')
                      ? [
                          ...(k.status === 'locked' ? [] : [{ key: 'lock', label: t('lock.action'), danger: true }]),
                          { type: 'divider' as const },
                          { key: 'revoke', label: t('keys.revoke_keep'), danger: true },
                        ]
                      : []),
                  ],
                  onClick: ({ key }) => onAction(k, key),
                }}
              >
                <Button size="small" type="link" data-testid={`key-manage-${k.id}`}>
                  {t('common.manage')}
                </Button>
              </Dropdown>,
            ],
    },
  ];

  return (
    <PageContainer title={t('keys.title')} content={t('keys.intro')}>
      <ServerTable<AdminKey, KeyFilters>
        table={table}
        columns={columns}
        settingsKey="admin.keys"
        hiddenColumns={['expires_at', 'allowed_models', 'group', 'created_at']}
        phoneColumns={['display', 'state']}
        rowKey="id"
        headerTitle={t('keys.list')}
        toolBarRender={() => (!can(me.data, 'key:create') ? [] : [
          <Button key="new" type="primary" icon={<PlusOutlined />} onClick={() => creating.show()} data-testid="key-new">
            {t('keys.new')}
          </Button>,
        ])}
      />
      <KeyCreateDrawer key={creating.session} open={creating.open} onOpenChange={creating.setOpen} onCreated={setCreated} />
      <NewKeyModal created={created} onClose={() => setCreated(null)} />
      <RotateKeyModal
        target={rotating}
        onClose={() => setRotating(null)}
        rotate={async (grace_seconds) => {
          const k = rotating!;
          await act(async () => {
            const r = await rotate.mutateAsync({ id: k.id, grace_seconds });
            setRotating(null);
            setCreated({ name: r.name || r.display, key: r.key });
          }, t('rotate.done')).catch(() => {});
        }}
      />
      <LockKeyModal
        target={locking}
        onClose={() => setLocking(null)}
        lock={async (reason) => {
          const k = locking!;
          await act(async () => {
            await lock.mutateAsync({ id: k.id, reason });
            setLocking(null);
          }, t('lock.done')).catch(() => {});
        }}
      />
    </PageContainer>
  );
}
