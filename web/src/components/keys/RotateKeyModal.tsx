import { Alert, Form, Modal, Radio, Space, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

/** The grace periods offered: how long the previous secret keeps working after a rotation. */
const GRACES = [0, 3600, 86_400, 7 * 86_400] as const;

export interface RotatingKey {
  name: string;
  display: string;
  status: string;
}

/**
 * Rotate a key: a new secret replaces the old one, which keeps working for the grace chosen here
 * (none for a locked key: its secret may have leaked). `rotate` calls the API and resolves when
 * the new secret is known; the caller shows it once (NewKeyModal).
 */
export function RotateKeyModal({ target, onClose, rotate }: { target: RotatingKey | null; onClose: () => void; rotate: (graceSeconds: number) => Promise<void> }) {
  const { t } = useTranslation();
  const [grace, setGrace] = useState<number>(0);
  const [busy, setBusy] = useState(false);
  const locked = target?.status === 'locked';
  return (
    <Modal
      open={target !== null}
      title={t('rotate.title', { name: target?.name || target?.display || '' })}
      okText={t('rotate.ok')}
      okButtonProps={{ danger: true, loading: busy, 'data-testid': 'rotate-ok' }}
      onCancel={onClose}
      destroyOnHidden
      onOk={async () => {
        setBusy(true);
        try {
          await rotate(locked ? 0 : grace);
        } finally {
          setBusy(false);
        }
      }}
      data-testid="rotate-modal"
    >
      <Space direction="vertical" style={{ width: '100%' }} size={12}>
        <Typography.Paragraph style={{ marginBottom: 0 }}>{t('rotate.explain')}</Typography.Paragraph>
        {locked ? (
          <Alert type="warning" showIcon message={t('rotate.locked_no_grace')} />
        ) : (
          <Form layout="vertical">
            <Form.Item label={t('rotate.grace')} extra={t('rotate.grace_hint')} style={{ marginBottom: 0 }}>
              <Radio.Group value={grace} onChange={(e) => setGrace(e.target.value as number)} data-testid="rotate-grace">
                {GRACES.map((g) => (
                  <Radio.Button key={g} value={g}>
                    {t(`rotate.graces.g${g}` as 'rotate.graces.g0')}
                  </Radio.Button>
                ))}
              </Radio.Group>
            </Form.Item>
          </Form>
        )}
      </Space>
    </Modal>
  );
}
