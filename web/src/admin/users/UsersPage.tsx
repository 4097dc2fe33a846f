import { PlusOutlined, WalletOutlined } from '@ant-design/icons';
import { PageContainer, type ProColumns } from '@ant-design/pro-components';
import { App, Button, Modal, Space, Tag, Tooltip, Typography } from 'antd';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Clip } from '../../components/Clip';
import { adminKeys, fetchUsers, useUpdateUser, type UserFilters } from '../../api/admin';
import { errorLine } from '../../api/errors';
import { BUILT_IN_ROLES, can, roleLabel, useMe } from '../../api/session';
import type { AdminUser } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { Money } from '../../components/Money';
import { ServerTable } from '../../components/ServerTable';
import { StatusTag } from '../../components/StatusTag';
import { useDrawer } from '../../components/useDrawer';
import { useServerTable } from '../../components/useServerTable';
import { formatDateTimeShort } from '../../lib/format';
import { maskEmail } from '../../lib/mask';
import { EmailVerificationSwitch } from './EmailVerificationSwitch';
import { UserCreateDrawer } from './UserCreateDrawer';
import { UserDetailDrawer } from './UserDetailDrawer';
import { TopUpForm } from './TopUpForm';
import { FreezeModal, type FreezeTarget } from './FreezeModal';

const toFilters = (v: Record<string, unknown>): UserFilters => ({
  q: (v.email as string | undefined)?.trim() || undefined,
  status: (v.status as UserFilters['status']) || undefined,
  role: (v.role as UserFilters['role']) || undefined,
  group: (v.group as string | undefined)?.trim() || undefined,
});

export default function UsersPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm } = useConfirm();
  const [detail, setDetail] = useState<number | null>(null);
  const [topUp, setTopUp] = useState<AdminUser | null>(null);
  const creating = useDrawer<never>();
  const update = useUpdateUser();
  const me = useMe();
  const canAdjust = can(me.data, 'user:edit', 'balance:adjust');
  const table = useServerTable<AdminUser, UserFilters>({
    queryKey: adminKeys.users,
    fetch: fetchUsers,
    toFilters: useCallback(toFilters, []),
    initialFilters: {},
    sort: 'created_at',
    order: 'desc',
  });

  const [freezing, setFreezing] = useState<FreezeTarget | null>(null);
  const setStatus = (u: AdminUser, status: 'active' | 'disabled') => {
    const run = async () => {
      try {
        await update.mutateAsync({ id: u.id, body: { status } });
        void message.success(t(status === 'active' ? 'users.enabled_ok' : 'users.disabled_ok'));
      } catch (e) {
        void message.error(errorLine(e, t));
        throw e;
      }
    };
    if (status === 'active') return void run();
    confirm({ title: t('users.disable_confirm', { email: u.email }), content: t('users.disable_confirm_text'), okText: t('common.disable'), onOk: run });
  };

  const columns: ProColumns<AdminUser>[] = [
    { title: 'ID', dataIndex: 'id', search: false, sorter: true, width: 72 },
    {
      title: t('users.fields.email'),
      dataIndex: 'email',
      fieldProps: { placeholder: t('users.search_placeholder') },
      formItemProps: { label: t('users.search_label') },
      render: (_, u) => (
        <Typography.Link onClick={() => setDetail(u.id)} data-testid={`user-open-${u.id}`}>
          <Clip max={220}>{maskEmail(u.email)}</Clip>
        </Typography.Link>
      ),
    },
    { title: t('users.fields.name'), dataIndex: 'name', search: false, render: (_, u) => u.name || '—' },
    {
      title: t('users.fields.role'),
      dataIndex: 'role',
      valueType: 'select',
      valueEnum: Object.fromEntries(BUILT_IN_ROLES.map((r) => [r, { text: t(`roles.${r}`) }])),
      render: (_, u) => (u.role === 'user' ? t('roles.user') : <Tag color="blue">{roleLabel(t, u.role)}</Tag>),
    },
    {
      title: t('users.fields.status'),
      dataIndex: 'status',
      valueType: 'select',
      valueEnum: { active: { text: t('status.active') }, disabled: { text: t('status.disabled') } },
      render: (_, u) => <StatusTag status={u.status} />,
    },
    { title: t('users.fields.group'), dataIndex: 'group' },
    {
      title: t('users.fields.balance'),
      dataIndex: 'balance',
      key: 'balance',
      search: false,
      sorter: true,
      align: 'right',
      render: (_, u) => (
        <Space direction="vertical" size={0} style={{ alignItems: 'flex-end' }}>
          <Money micros={u.balance_micros} />
          {u.pending_micros > 0 ? (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {t('wallet.on_hold')} <Money micros={u.pending_micros} />
            </Typography.Text>
          ) : null}
          {u.arrears_micros > 0 ? (
            <Tooltip title={t('wallet.arrears_hint')}>
              <Typography.Text type="danger" style={{ fontSize: 12 }}>
                {t('wallet.arrears')} <Money micros={u.arrears_micros} />
              </Typography.Text>
            </Tooltip>
          ) : null}
        </Space>
      ),
    },
    { title: t('users.fields.created_at'), dataIndex: 'created_at', key: 'created_at', search: false, sorter: true, render: (_, u) => formatDateTimeShort(u.created_at) },
    { title: t('users.fields.last_login_at'), dataIndex: 'last_login_at', key: 'last_login_at', search: false, sorter: true, render: (_, u) => formatDateTimeShort(u.last_login_at) },
    {
      title: t('common.actions'),
      valueType: 'option',
      fixed: 'right',
      render: (_, u) => [
        <Button key="open" size="small" type="link" onClick={() => setDetail(u.id)}>
          {t('common.details')}
        </Button>,
        canAdjust ? (
          <Button key="topup" size="small" type="link" icon={<WalletOutlined />} onClick={() => setTopUp(u)} data-testid={`user-topup-${u.id}`}>
            {t('topup.action')}
          </Button>
        ) : null,
        u.id === me.data?.id ? (
          // The server refuses it anyway: an operator who disabled themself would be locked out.
          <Tooltip key="self" title={t('users.cannot_disable_self')}>
            <Button size="small" type="link" disabled data-testid="user-disable-self">
              {t('common.disable')}
            </Button>
          </Tooltip>
        ) : u.status === 'frozen' ? (
          // A frozen account comes back only through an unfreeze with a reason, never "enable".
          can(me.data, 'user:disable') ? (
            <Button key="unfreeze" size="small" type="link" onClick={() => setFreezing(u)} data-testid={`user-unfreeze-${u.id}`}>
              {t('freeze.unfreeze')}
            </Button>
          ) : null
        ) : u.status === 'active' ? (
          <Button key="disable" size="small" type="link" danger onClick={() => setStatus(u, 'disabled')}>
            {t('common.disable')}
          </Button>
        ) : (
          <Button key="enable" size="small" type="link" onClick={() => setStatus(u, 'active')}>
            {t('common.enable')}
          </Button>
        ),
      ],
    },
  ];

  return (
    <PageContainer title={t('users.title')} content={t('users.intro')}>
      {can(me.data, 'setting:view') ? <EmailVerificationSwitch editable={can(me.data, 'setting:edit')} /> : null}
      <ServerTable<AdminUser, UserFilters>
        table={table}
        columns={columns}
        settingsKey="admin.users"
        hiddenColumns={['name', 'group', 'created_at']}
        phoneColumns={['email', 'balance']}
        rowKey="id"
        headerTitle={t('users.list')}
        toolBarRender={() => (!can(me.data, 'user:create') ? [] : [
          <Button key="new" type="primary" icon={<PlusOutlined />} onClick={() => creating.show()} data-testid="user-new">
            {t('users.new')}
          </Button>,
        ])}
      />
      <UserCreateDrawer key={creating.session} open={creating.open} onOpenChange={creating.setOpen} onCreated={(u) => setDetail(u.id)} />
      <UserDetailDrawer id={detail} onClose={() => setDetail(null)} />
      <FreezeModal target={freezing} onClose={() => setFreezing(null)} />
      <Modal
        open={topUp !== null}
        onCancel={() => setTopUp(null)}
        footer={null}
        destroyOnHidden
        width="min(560px, calc(100vw - 16px))"
        title={topUp ? t('topup.title', { email: topUp.email }) : null}
        data-testid="topup-modal"
      >
        {topUp ? <TopUpForm user={topUp} canAdjust={canAdjust} onDone={() => setTopUp(null)} /> : null}
      </Modal>
    </PageContainer>
  );
}
