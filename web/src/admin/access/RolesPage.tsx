import { PlusOutlined } from '@ant-design/icons';
import { DrawerForm, PageContainer, ProFormText, ProFormTextArea } from '@ant-design/pro-components';
import { App, Button, Checkbox, Form, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { useTranslation } from 'react-i18next';
import { useDeleteRole, useRoles, useSaveRole } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import { can, roleLabel, useMe } from '../../api/session';
import type { AdminRole, RoleCreate, RolesList } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { QueryState } from '../../components/QueryState';
import { useDrawer } from '../../components/useDrawer';

/** Roles: the built-in ones (read-only) and custom roles composed by ticking permissions. */
export default function RolesPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm } = useConfirm();
  const me = useMe();
  const manage = can(me.data, 'role:edit');
  const roles = useRoles();
  const remove = useDeleteRole();
  const drawer = useDrawer<AdminRole>();

  const columns: TableColumnsType<AdminRole> = [
    {
      title: t('roles_page.fields.name'),
      dataIndex: 'name',
      render: (_, r) => (
        <span data-testid={`role-row-${r.name}`}>
          {roleLabel(t, r.name)} {r.built_in ? <Tag>{t('roles_page.built_in')}</Tag> : null}
        </span>
      ),
    },
    { title: t('roles_page.fields.description'), dataIndex: 'description', responsive: ['md'], render: (_, r) => r.description || (r.built_in ? t(`roles_page.about.${r.name}` as 'roles_page.about.user') : '—') },
    { title: t('roles_page.fields.permissions'), dataIndex: 'permissions', render: (_, r) => t('roles_page.count', { count: r.permissions.length }) },
    { title: t('roles_page.fields.users'), dataIndex: 'users' },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, r) => [
        <Button key="open" size="small" type="link" onClick={() => drawer.show(r)} data-testid={`role-open-${r.name}`}>
          {manage && !r.built_in ? t('common.edit') : t('common.details')}
        </Button>,
        manage && !r.built_in ? (
          <Tooltip key="del" title={r.users > 0 ? t('roles_page.in_use', { count: r.users }) : undefined}>
            <Button
              size="small"
              type="link"
              danger
              disabled={r.users > 0}
              data-testid={`role-delete-${r.name}`}
              onClick={() =>
                confirm({
                  title: t('roles_page.delete_confirm', { name: r.name }),
                  okText: t('common.delete'),
                  onOk: async () => {
                    try {
                      await remove.mutateAsync(r.name);
                      void message.success(t('roles_page.deleted', { name: r.name }));
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
          </Tooltip>
        ) : null,
      ],
    },
  ];

  return (
    <PageContainer
      title={t('roles_page.title')}
      subTitle={t('roles_page.subtitle')}
      extra={
        manage ? (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => drawer.show(null)} data-testid="role-create">
            {t('roles_page.create')}
          </Button>
        ) : undefined
      }
    >
      <QueryState query={roles}>
        {(data) => (
          <>
            <Table<AdminRole> rowKey="name" size="middle" columns={columns} dataSource={data.items} pagination={false} scroll={{ x: 'max-content' }} data-testid="roles-table" />
            <RoleDrawer key={drawer.session} open={drawer.open} onOpenChange={drawer.setOpen} role={drawer.target} catalogue={data} readOnly={!manage || !!drawer.target?.built_in} />
          </>
        )}
      </QueryState>
    </PageContainer>
  );
}

interface RoleForm {
  name: string;
  description?: string;
  /** Ticked permissions, per resource (the form field is `perm_<resource>`). */
  [field: `perm_${string}`]: string[] | undefined;
}

function RoleDrawer({ open, onOpenChange, role, catalogue, readOnly }: { open: boolean; onOpenChange: (o: boolean) => void; role: AdminRole | null; catalogue: RolesList; readOnly: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<RoleForm>();
  const save = useSaveRole();
  const reserved = new Set(catalogue.super_admin_only);
  const initial: RoleForm = { name: role?.name ?? '', description: role?.description ?? '' };
  for (const g of catalogue.permission_groups) initial[`perm_${g.resource}`] = g.permissions.filter((p) => role?.permissions.includes(p));
  const title = role ? (readOnly ? roleLabel(t, role.name) : t('roles_page.edit_title', { name: role.name })) : t('roles_page.create');

  return (
    <DrawerForm<RoleForm>
      name="role_form"
      title={title}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      initialValues={initial}
      drawerProps={{ destroyOnHidden: true, width: 'min(640px, 100vw)' }}
      readonly={readOnly}
      submitter={readOnly ? false : { searchConfig: { submitText: t('common.save'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        const permissions = catalogue.permission_groups.flatMap((g) => v[`perm_${g.resource}`] ?? []);
        const body: RoleCreate = { name: role?.name ?? v.name.trim(), permissions, description: v.description?.trim() || null };
        try {
          await save.mutateAsync({ create: !role, body });
          void message.success(t('roles_page.saved', { name: body.name }));
          return true;
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
          return false;
        }
      }}
    >
      <ProFormText
        name="name"
        label={t('roles_page.fields.name')}
        disabled={!!role}
        tooltip={t('roles_page.name_hint')}
        rules={[{ required: true, message: t('form.required') }, { pattern: /^[a-z][a-z0-9_-]{1,31}$/, message: t('roles_page.name_hint') }]}
        fieldProps={{ maxLength: 32, autoComplete: 'off' }}
      />
      <ProFormTextArea name="description" label={t('roles_page.fields.description')} fieldProps={{ autoSize: { minRows: 1, maxRows: 3 }, maxLength: 500 }} />
      <Typography.Title level={5}>{t('roles_page.fields.permissions')}</Typography.Title>
      {catalogue.permission_groups.map((g) => (
        <Form.Item key={g.resource} name={`perm_${g.resource}`} label={t(`perm.resources.${g.resource}` as 'perm.resources.user')} style={{ marginBottom: 8 }}>
          <Checkbox.Group
            disabled={readOnly}
            data-testid={`perm-group-${g.resource}`}
            options={g.permissions.map((p) => ({
              value: p,
              label: t(`perm.actions.${p.split(':')[1]}` as 'perm.actions.view'),
              disabled: reserved.has(p),
            }))}
          />
        </Form.Item>
      ))}
      {!readOnly ? <Typography.Text type="secondary">{t('roles_page.reserved_hint')}</Typography.Text> : null}
    </DrawerForm>
  );
}
