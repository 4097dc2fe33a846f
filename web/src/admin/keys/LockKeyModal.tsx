import { Form, Input, Modal, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

/**
 * Leak lock: the key is refused at once everywhere (401 key_locked) and its owner sees the reason
 * in the portal. The reason is required, as the server insists.
 */
export function LockKeyModal({ target, onClose, lock }: { target: { name: string; display: string } | null; onClose: () => void; lock: (reason: string) => Promise<void> }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ reason: string }>();
  const [busy, setBusy] = useState(false);
  return (
    <Modal
      open={target !== null}
      title={t('lock.title', { name: target?.name || target?.display || '' })}
      okText={t('lock.ok')}
      okButtonProps={{ danger: true, loading: busy, 'data-testid': 'lock-ok' }}
      onCancel={onClose}
      destroyOnHidden
      onOk={async () => {
        // The form shows what is missing; nothing else to do until it is filled in.
        const values = await form.validateFields().catch(() => null);
        if (!values) return;
        const { reason } = values;
        setBusy(true);
        try {
          await lock(reason.trim());
        } finally {
          setBusy(false);
        }
      }}
      data-testid="lock-modal"
    >
      <Typography.Paragraph>{t('lock.explain')}</Typography.Paragraph>
      <Form form={form} layout="vertical" preserve={false}>
        <Form.Item name="reason" label={t('lock.reason')} rules={[{ required: true, whitespace: true, message: t('lock.reason_required') }, { max: 500 }]}>
          <Input.TextArea rows={3} maxLength={500} placeholder={t('lock.reason_placeholder')} data-testid="lock-reason" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
