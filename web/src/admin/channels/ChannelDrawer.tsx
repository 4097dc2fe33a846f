import { DrawerForm, ProFormDigit, ProFormSelect, ProFormSwitch, ProFormText, ProFormTextArea } from '@ant-design/pro-components';
import { App, Form, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { useConfirm } from '../../components/confirm';
import { useGroups, useSaveChannel } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import type { Channel, ChannelInput } from '../../api/types';

interface Values {
  name: string;
  base_url: string;
  key?: string;
  models: string[];
  groups: string[];
  priority: number;
  weight: number;
  test_model?: string;
  cost_ratio: string;
  enabled: boolean;
  model_mapping?: string;
  remark?: string;
}

/** Create or edit a channel. The upstream key is write-only: an edit leaves it alone unless a new one is typed. */
export function ChannelDrawer({ channel, open, onOpenChange }: { channel: Channel | null; open: boolean; onOpenChange: (o: boolean) => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const save = useSaveChannel();
  const { confirm } = useConfirm();
  const groups = useGroups();
  const editing = channel !== null;
  const models = Form.useWatch('models', form) ?? [];

  const initial: Values = channel
    ? {
        name: channel.name,
        base_url: channel.base_url,
        models: channel.models,
        groups: channel.groups,
        priority: channel.priority,
        weight: channel.weight,
        test_model: channel.test_model ?? undefined,
        cost_ratio: channel.cost_ratio,
        enabled: channel.status === 'enabled',
        model_mapping: Object.keys(channel.model_mapping ?? {}).length ? JSON.stringify(channel.model_mapping, null, 2) : undefined,
        remark: channel.remark ?? undefined,
      }
    : { name: '', base_url: '', models: [], groups: ['default'], priority: 0, weight: 1, cost_ratio: '1', enabled: true };

  return (
    <DrawerForm<Values>
      name="channel"
      title={editing ? t('channels.edit_title', { name: channel.name }) : t('channels.create_title')}
      open={open}
      onOpenChange={onOpenChange}
      form={form}
      initialValues={initial}
      drawerProps={{ destroyOnHidden: true, width: 'min(560px, 100vw)' }}
      submitter={{ searchConfig: { submitText: t('common.save'), resetText: t('common.cancel') } }}
      onFinish={async (v) => {
        let mapping: Record<string, string> | null = null;
        if (v.model_mapping?.trim()) {
          try {
            mapping = JSON.parse(v.model_mapping) as Record<string, string>;
          } catch {
            form.setFields([{ name: 'model_mapping', errors: [t('channels.mapping_invalid')] }]);
            return false;
          }
        }
        const body: ChannelInput = {
          name: v.name.trim(),
          base_url: v.base_url.trim(),
          key: v.key?.trim() ?? '',
          models: v.models,
          groups: v.groups,
          priority: v.priority,
          weight: v.weight,
          test_model: v.test_model || null,
          cost_ratio: v.cost_ratio.trim(),
          status: v.enabled ? 'enabled' : 'disabled',
          model_mapping: mapping,
          remark: v.remark?.trim() || null,
        };
        // Switching an enabled channel off here asks what the list's menu asks.
        if (editing && channel.status === 'enabled' && !v.enabled) {
          const go = await new Promise<boolean>((resolve) =>
            confirm({ title: t('channels.disable_confirm', { name: channel.name }), content: t('channels.disable_confirm_text'), okText: t('common.disable'), onOk: () => resolve(true), onCancel: () => resolve(false) }),
          );
          if (!go) return false;
        }
        // Editing: an empty key field means "keep the stored key".
        const { key, ...rest } = body;
        try {
          await save.mutateAsync(editing ? { id: channel.id, body: key ? body : rest } : { body });
          void message.success(t(editing ? 'channels.saved' : 'channels.created'));
          return true;
        } catch (e) {
          if (!applyFormError(form, e)) void message.error(errorLine(e, t));
          return false;
        }
      }}
    >
      <ProFormText name="name" label={t('channels.fields.name')} rules={[{ required: true, message: t('form.required') }]} fieldProps={{ maxLength: 100 }} />
      <ProFormText
        name="base_url"
        label={t('channels.fields.base_url')}
        placeholder="https://api.openai.com/v1"
        tooltip={t('channels.hints.base_url')}
        rules={[{ required: true, message: t('form.required') }, { type: 'url', message: t('form.url_invalid') }]}
      />
      <ProFormText.Password
        name="key"
        label={t('channels.fields.key')}
        placeholder={editing ? t('channels.key_keep', { hint: channel.key_hint }) : 'sk-…'}
        extra={<Typography.Text type="secondary">{t('channels.hints.key')}</Typography.Text>}
        rules={editing ? [] : [{ required: true, message: t('form.required') }]}
        fieldProps={{ autoComplete: 'new-password', visibilityToggle: true }}
      />
      <ProFormSelect
        name="models"
        label={t('channels.fields.models')}
        mode="tags"
        tooltip={t('channels.hints.models')}
        rules={[{ required: true, type: 'array', min: 1, message: t('channels.models_required') }]}
        fieldProps={{ tokenSeparators: [',', ' '], open: false, suffixIcon: null }}
      />
      <ProFormSelect
        name="test_model"
        label={t('channels.fields.test_model')}
        tooltip={t('channels.hints.test_model')}
        options={models.map((m) => ({ value: m, label: m }))}
        fieldProps={{ allowClear: true }}
      />
      <ProFormSelect
        name="groups"
        label={t('channels.fields.groups')}
        mode="tags"
        tooltip={t('channels.hints.groups')}
        options={(groups.data?.items ?? []).map((g) => ({ value: g.name, label: `${g.name} ×${g.multiplier}` }))}
      />
      <div style={{ display: 'flex', gap: 16, flexWrap: 'wrap' }}>
        <ProFormDigit name="priority" label={t('channels.fields.priority')} tooltip={t('channels.hints.priority')} fieldProps={{ precision: 0 }} width="xs" />
        <ProFormDigit name="weight" label={t('channels.fields.weight')} tooltip={t('channels.hints.weight')} min={0} fieldProps={{ precision: 0 }} width="xs" />
        <ProFormText
          name="cost_ratio"
          label={t('channels.fields.cost_ratio')}
          tooltip={t('channels.hints.cost_ratio')}
          width="xs"
          rules={[{ required: true, message: t('form.required') }, { pattern: /^\d+(\.\d{1,6})?$/, message: t('channels.ratio_invalid') }]}
        />
      </div>
      <ProFormSwitch name="enabled" label={t('channels.fields.enabled')} />
      <ProFormTextArea
        name="model_mapping"
        label={t('channels.fields.model_mapping')}
        tooltip={t('channels.hints.model_mapping')}
        placeholder={'{\n  "gpt-4o-mini": "gpt-4o-mini-2024-07-18"\n}'}
        fieldProps={{ autoSize: { minRows: 2, maxRows: 8 }, className: 'tg-mono' }}
      />
      <ProFormTextArea name="remark" label={t('channels.fields.remark')} fieldProps={{ autoSize: { minRows: 1, maxRows: 4 }, maxLength: 500 }} />
    </DrawerForm>
  );
}
