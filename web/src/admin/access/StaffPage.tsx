import { PlusOutlined } from '@ant-design/icons';
import { DrawerForm, PageContainer, ProFormSelect, ProFormText } from '@ant-design/pro-components';
import { App, Button, Card, Form, Select, Switch, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useCreateUser, useRoles, useStaff, useUpdateUser } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import { can, roleLabel, useMe } from '../../api/session';
import { useSetTwoFactorSetting, useTwoFactorSetting } from '../../api/profile';
import type { AdminUser, UserCreate } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { QueryState } from '../../components/QueryState';
import { StatusTag } from '../../components/StatusTag';
import { formatDateTimeShort } from '../../lib/format';

/** Staff accounts: who has which role. Changing anything here is the super-admin's (staff:edit). */
export default function StaffPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm } = useConfirm();
  const me = useMe();
  const manage = can(me.data, 'staff:edit');
  const staff = useStaff();
  const roles = useRoles(can(me.data, 'role:view'));
  const update = useUpdateUser();
  const [adding, setAdding] = useState(false);

  // Staff roles only: making someone a customer is done from the Accounts page.
  const roleOptions = (roles.data?.items ?? []).filter((r) => r.name !== 'user').map((r) => ({ value: r.name, label: roleLabel(t, r.name) }));

  const change = async (u: AdminUser, body: { role?: string; status?: 'active' | 'disabled' }, ok: string) => {
    try {
      await update.mutateAsync({ id: u.id, body });
      void message.success(ok);
    } catch (e) {
      void message.error(errorLine(e, t));
      throw e;
    }
  };

  const columns: TableColumnsType<AdminUser> = [
    { title: t('users.fields.email'), dataIndex: 'email', render: (_, u) => <Typography.Text data-testid={`staff-email-${u.id}`}>{u.email}</Typography.Text> },
    { title: t('users.fields.name'), dataIndex: 'name', responsive: ['md'] },
    {
      title: t('users.fields.role'),
      dataIndex: 'role',
      render: (_, u) =>
        manage && u.id !== me.data?.id && roleOptions.length > 0 ? (
          <Select
            size="small"
            value={u.role}
            style={{ minWidth: 140 }}
            options={roleOptions}
            data-testid={`staff-role-${u.id}`}
            onChange={(role) => void change(u, { role }, t('staff.role_changed', { email: u.email, role: roleLabel(t, role) })).catch(() => {})}
          />
        ) : (
          <Tag color="blue">{roleLabel(t, u.role)}</Tag>
        ),
    },
    { title: t('users.fields.status'), dataIndex: 'status', render: (_, u) => <StatusTag status={u.status} /> },
    { title: t('users.fields.last_login_at'), dataIndex: 'last_login_at', responsive: ['md'], render: (_, u) => formatDateTimeShort(u.last_login_at) },
    ...(manage
      ? [
          {
            title: t('common.actions'),
            key: 'actions',
            render: (_: unknown, u: AdminUser) =>
              u.id === me.data?.id ? (
                <Tooltip title={t('users.cannot_disable_self')}>
                  <Button size="small" type="link" disabled>
                    {t('common.disable')}
                  </Button>
                </Tooltip>
              ) : u.status === 'active' ? (
                <Button
                  size="small"
                  type="link"
                  danger
                  data-testid={`staff-disable-${u.id}`}
                  onClick={() =>
                    confirm({
                      title: t('users.disable_confirm', { email: u.email }),
                      content: t('users.disable_confirm_text'),
                      okText: t('common.disable'),
                      onOk: () => change(u, { status: 'disabled' }, t('users.disabled_ok')),
                    })
                  }
                >
                  {t('common.disable')}
                </Button>
              ) : (
                <Button size="small" type="link" onClick={() => void change(u, { status: 'active' }, t('users.enabled_ok')).catch(() => {})}>
                  {t('common.enable')}
                </Button>
              ),
          },
        ]
      : []),
  ];

  return (
    <PageContainer
      title={t('staff.title')}
      subTitle={t('staff.subtitle')}
      extra={
        manage ? (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="staff-add">
            {t('staff.add')}
          </Button>
        ) : undefined
      }
    >
      {can(me.data, 'setting:view') ? <RequireTwoFactorSwitch editable={can(me.data, 'setting:edit')} /> : null}
      <QueryState query={staff}>
        {(data) => (
          <Table<AdminUser> rowKey="id" size="middle" columns={columns} dataSource={data.items} pagination={false} scroll={{ x: 'max-content' }} data-testid="staff-table" />
        )}
      </QueryState>
      {manage ? <AddStaffDrawer open={adding} onOpenChange={setAdding} roleOptions={roleOptions} /> : null}
    </PageContainer>
  );
}

/** require_2fa_for_staff: staff without 2FA reach only their Profile page until they enrol. */
function RequireTwoFactorSwitch({ editable }: { editable: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const setting = useTwoFactorSetting(true);
  const set = useSetTwoFactorSetting();
  return (
    <Card size="small" style={{ marginBottom: 16 }}>
      <div style={{ display: 'flex', alignItems: 'center', gap: 12 }}>
        <Switch
          checked={setting.data?.require_2fa_for_staff ?? false}
          loading={setting.isPending || set.isPending}
          disabled={!editable}
          data-testid="require-2fa-switch"
          onChange={(on) =>
            set.mutate(on, {
              onSuccess: () => void message.success(t(on ? 'staff.require_2fa_on' : 'staff.require_2fa_off')),
              onError: (e) => void message.error(errorLine(e, t)),
            })
          }
        />
        <div style={{ minWidth: 0 }}>
          <Typography.Text strong>{t('staff.require_2fa')}</Typography.Text>
          <br />
          <Typography.Text type="secondary">{t('staff.require_2fa_hint')}</Typography.Text>
        </div>
      </div>
    </Card>
  );
}

function AddStaffDrawer({ open, onOpenChange, roleOptions }: { open: boolean; onOpenChange: (o: boolean) => void; roleOptions: { value: string; label: string }[] }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<UserCreate>();
  const create = useCreateUser();
  return (
    <DrawerForm<UserCreate>
      name="new_staff"
      title={t('staff.add')}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      drawerProps={{ destroyOnHidden: true, width: 'min(480px, 100vw)' }}
      initialValues={{ role: 'operator' }}
      submitter={{ searchConfig: { submitText: t('staff.add'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        try {
          const u = await create.mutateAsync({ ...v, email: v.email.trim(), name: v.name?.trim() || undefined });
          void message.success(t('staff.added', { email: u.email, role: roleLabel(t, u.role) }));
          return true;
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
          return false;
        }
      }}
    >
      <ProFormText name="email" label={t('users.fields.email')} rules={[{ required: true, message: t('form.required') }, { type: 'email', message: t('auth.email_invalid') }]} fieldProps={{ autoComplete: 'off' }} />
      <ProFormText name="name" label={t('users.fields.name')} fieldProps={{ maxLength: 100 }} />
      <ProFormText.Password
        name="password"
        label={t('users.fields.password')}
        tooltip={t('users.hints.password')}
        rules={[{ required: true, message: t('form.required') }, { min: 8, message: t('users.password_short') }]}
        fieldProps={{ autoComplete: 'new-password' }}
      />
      <ProFormSelect name="role" label={t('users.fields.role')} rules={[{ required: true, message: t('form.required') }]} options={roleOptions} />
    </DrawerForm>
  );
}
