import { DrawerForm, ProFormDateTimePicker, ProFormDigit, ProFormSelect, ProFormText } from '@ant-design/pro-components';
import { App, Form } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useTranslation } from 'react-i18next';
import { useCreateConsoleKey, useModels, useUpdateConsoleKey } from '../../api/console';
import { applyFormError, errorLine } from '../../api/errors';
import type { ConsoleKey, ConsoleKeyCreated } from '../../api/types';
import { usdRule } from '../../lib/forms';
import { microsToUsdString } from '../../lib/money';

interface Values {
  name: string;
  expires_at?: Dayjs | string | null;
  quota?: string;
  models?: string[];
  ips?: string[];
  rpm_limit?: number | null;
}

/** Create a key (the answer carries the key, shown once by the caller) or edit one's limits. */
export function KeyDrawer({ k, open, onOpenChange, onCreated }: { k: ConsoleKey | null; open: boolean; onOpenChange: (o: boolean) => void; onCreated: (c: ConsoleKeyCreated) => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const create = useCreateConsoleKey();
  const update = useUpdateConsoleKey();
  const models = useModels();
  const editing = k !== null;
  return (
    <DrawerForm<Values>
      name="key"
      title={editing ? t('my_keys.edit_title', { name: k.name }) : t('my_keys.create_title')}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      drawerProps={{ destroyOnHidden: true, width: 'min(480px, 100vw)' }}
      initialValues={
        k
          ? {
              name: k.name,
              expires_at: k.expires_at ? dayjs(k.expires_at) : null,
              quota: k.quota_micros === null ? '' : microsToUsdString(k.quota_micros),
              models: k.allowed_models ?? [],
              ips: k.allowed_ips ?? [],
              rpm_limit: k.rpm_limit,
            }
          : { name: '', models: [], ips: [] }
      }
      submitter={{ searchConfig: { submitText: editing ? t('common.save') : t('my_keys.create'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        const body = {
          name: v.name.trim(),
          expires_at: v.expires_at ? dayjs(v.expires_at).toISOString() : null,
          quota: v.quota?.trim() ? v.quota.trim() : null,
          models: v.models?.length ? v.models : null,
          ips: v.ips?.length ? v.ips : null,
          rpm_limit: v.rpm_limit ?? null,
        };
        try {
          if (editing) {
            await update.mutateAsync({ id: k.id, body });
            void message.success(t('my_keys.saved'));
          } else onCreated(await create.mutateAsync(body));
          return true;
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
          return false;
        }
      }}
    >
      <ProFormText name="name" label={t('my_keys.fields.name')} placeholder={t('my_keys.name_placeholder')} rules={[{ required: true, whitespace: true, message: t('form.required') }]} fieldProps={{ maxLength: 100, 'data-testid': 'key-name' } as object} />
      <ProFormDateTimePicker
        name="expires_at"
        label={t('my_keys.fields.expires_at')}
        tooltip={t('my_keys.hints.expires_at')}
        fieldProps={{ style: { width: '100%' }, disabledDate: (d: Dayjs) => d.isBefore(dayjs().startOf('day')), placeholder: t('my_keys.never_expires') }}
      />
      <ProFormText name="quota" label={t('my_keys.fields.quota')} tooltip={t('my_keys.hints.quota')} placeholder={t('my_keys.no_limit')} fieldProps={{ prefix: '$', inputMode: 'decimal' }} rules={[usdRule(t)]} />
      <ProFormSelect
        name="models"
        label={t('my_keys.fields.models')}
        tooltip={t('my_keys.hints.models')}
        mode="tags"
        placeholder={t('my_keys.all_models')}
        options={(models.data?.items ?? []).map((m) => ({ value: m.model, label: m.model }))}
      />
      <ProFormSelect
        name="ips"
        label={t('my_keys.fields.ips')}
        tooltip={t('my_keys.hints.ips')}
        mode="tags"
        placeholder={t('my_keys.any_ip')}
        fieldProps={{ tokenSeparators: [',', ' '], open: false, suffixIcon: null }}
      />
      <ProFormDigit name="rpm_limit" label={t('my_keys.fields.rpm_limit')} tooltip={t('my_keys.hints.rpm_limit')} min={1} fieldProps={{ precision: 0, placeholder: t('my_keys.no_limit') }} />
    </DrawerForm>
  );
}
