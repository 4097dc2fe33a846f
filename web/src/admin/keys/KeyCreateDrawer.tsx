import { DrawerForm, ProForm, ProFormText } from '@ant-design/pro-components';
import { App, Form } from 'antd';
import { useTranslation } from 'react-i18next';
import { useCreateKey } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import { normalizeUsd, USD_POSITIVE_PATTERN } from '../../lib/money';
import { UserPicker } from '../pickers';

interface Values {
  user_id: number;
  name?: string;
  quota?: string;
}

/** An operator creates a key for a user (same API as the CLI's `keys create`); the key is shown once after. */
export function KeyCreateDrawer({ open, onOpenChange, onCreated }: { open: boolean; onOpenChange: (o: boolean) => void; onCreated: (k: { name: string; key: string }) => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const create = useCreateKey();
  return (
    <DrawerForm<Values>
      name="new_key"
      title={t('keys.create_title')}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      drawerProps={{ destroyOnHidden: true, width: 'min(480px, 100vw)' }}
      submitter={{ searchConfig: { submitText: t('keys.create'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        try {
          const quota = v.quota?.trim() ? normalizeUsd(v.quota) : null;
          const k = await create.mutateAsync({ user_id: v.user_id, name: v.name?.trim() || undefined, quota });
          void message.success(t('keys.created_ok'));
          onCreated({ name: k.name ?? '', key: k.key });
          return true;
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
          return false;
        }
      }}
    >
      <ProForm.Item name="user_id" label={t('keys.fields.owner')} rules={[{ required: true, message: t('form.required') }]}>
        <UserPicker placeholder={t('usage.user_placeholder')} testId="key-owner" />
      </ProForm.Item>
      <ProFormText name="name" label={t('my_keys.fields.name')} fieldProps={{ maxLength: 100 }} />
      <ProFormText
        name="quota"
        label={t('my_keys.fields.quota')}
        tooltip={t('keys.quota_hint')}
        rules={[{ pattern: USD_POSITIVE_PATTERN, message: t('keys.quota_invalid') }]}
        fieldProps={{ inputMode: 'decimal', prefix: '$' }}
      />
    </DrawerForm>
  );
}
