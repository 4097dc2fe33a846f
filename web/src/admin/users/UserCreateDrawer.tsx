import { DrawerForm, ProFormSelect, ProFormText, ProFormTextArea } from '@ant-design/pro-components';
import { App, Form } from 'antd';
import { useTranslation } from 'react-i18next';
import { useCreateUser, useGroups } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import { BUILT_IN_ROLES, can, useMe } from '../../api/session';
import type { AdminUser, UserCreate } from '../../api/types';

export function UserCreateDrawer({ open, onOpenChange, onCreated }: { open: boolean; onOpenChange: (o: boolean) => void; onCreated: (u: AdminUser) => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<UserCreate>();
  const create = useCreateUser();
  const groups = useGroups();
  const me = useMe();
  return (
    <DrawerForm<UserCreate>
      name="new_user"
      title={t('users.create_title')}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      drawerProps={{ destroyOnHidden: true, width: 'min(480px, 100vw)' }}
      initialValues={{ role: 'user', group: 'default' }}
      submitter={{ searchConfig: { submitText: t('users.create'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        try {
          const u = await create.mutateAsync({ ...v, email: v.email.trim(), name: v.name?.trim() || undefined, remark: v.remark?.trim() || undefined });
          void message.success(t('users.created', { email: u.email }));
          onCreated(u);
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
        rules={[{ min: 8, message: t('users.password_short') }]}
        fieldProps={{ autoComplete: 'new-password' }}
      />
      <ProFormSelect
        name="role"
        label={t('users.fields.role')}
        tooltip={t('users.hints.role')}
        disabled={!can(me.data, 'staff:edit')}
        options={BUILT_IN_ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
      />
      <ProFormSelect name="group" label={t('users.fields.group')} options={(groups.data?.items ?? [{ name: 'default', multiplier: '1' }]).map((g) => ({ value: g.name, label: `${g.name} ×${g.multiplier}` }))} />
      <ProFormTextArea name="remark" label={t('users.fields.remark')} fieldProps={{ autoSize: { minRows: 1, maxRows: 4 }, maxLength: 500 }} />
    </DrawerForm>
  );
}
