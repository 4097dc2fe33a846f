import { App, Form, Input, Modal, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useFreezeUser } from '../../api/admin';
import { errorLine } from '../../api/errors';

export interface FreezeTarget {
  id: number;
  email: string;
  status: string;
}

/**
 * Freeze (or unfreeze) an account with the reason the server requires. A frozen account's keys are
 * refused with 403 account_frozen by every process within seconds and its sessions end; the reason,
 * when and by whom are shown on the user, and both steps are in the audit log.
 */
export function FreezeModal({ target, onClose }: { target: FreezeTarget | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ reason: string }>();
  const [busy, setBusy] = useState(false);
  const freeze = useFreezeUser();
  const unfreezing = target?.status === 'frozen';
  return (
    <Modal
      open={target !== null}
      title={t(unfreezing ? 'freeze.unfreeze_title' : 'freeze.title', { email: target?.email ?? '' })}
      okText={t(unfreezing ? 'freeze.unfreeze' : 'freeze.freeze')}
      okButtonProps={{ danger: !unfreezing, loading: busy, 'data-testid': 'freeze-ok' }}
      onCancel={onClose}
      destroyOnHidden
      onOk={async () => {
        const values = await form.validateFields().catch(() => null);
        if (!values || !target) return;
        setBusy(true);
        try {
          await freeze.mutateAsync({ id: target.id, freeze: !unfreezing, reason: values.reason.trim() });
          void message.success(t(unfreezing ? 'freeze.unfrozen_ok' : 'freeze.frozen_ok', { email: target.email }));
          onClose();
        } catch (e) {
          void message.error(errorLine(e, t));
        } finally {
          setBusy(false);
        }
      }}
      data-testid="freeze-modal"
    >
      <Typography.Paragraph>{t(unfreezing ? 'freeze.unfreeze_explain' : 'freeze.explain')}</Typography.Paragraph>
      <Form form={form} layout="vertical" preserve={false}>
        <Form.Item name="reason" label={t('freeze.reason')} rules={[{ required: true, whitespace: true, message: t('freeze.reason_required') }, { max: 500 }]}>
          <Input.TextArea rows={3} maxLength={500} data-testid="freeze-reason" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
