import { Alert, Button, Modal, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { ConsoleKeyCreated } from '../../api/types';
import { CopyField } from '../../components/CopyField';

/**
 * The only time the full key is on screen: copy it now. It does not close on a stray click
 * outside, only on the explicit "I have saved it". `welcome`: the first key of an account a
 * GitHub/Google sign-in created (FirstKeyReveal).
 */
export function NewKeyModal({ created, onClose, welcome = false }: { created: Pick<ConsoleKeyCreated, 'name' | 'key'> | null; onClose: () => void; welcome?: boolean }) {
  const { t } = useTranslation();
  return (
    <Modal
      open={created !== null}
      title={t(welcome ? 'auth.welcome_title' : 'my_keys.created_title')}
      maskClosable={false}
      keyboard={false}
      closable={false}
      destroyOnHidden
      onCancel={onClose}
      footer={
        <Button type="primary" onClick={onClose} data-testid="new-key-done">
          {t('my_keys.saved_it')}
        </Button>
      }
      data-testid="new-key-modal"
    >
      {created ? (
        <Space direction="vertical" style={{ width: '100%' }} size={16}>
          <Alert type="warning" showIcon message={t('my_keys.shown_once')} description={t('my_keys.shown_once_detail')} />
          <div>
            <Typography.Text type="secondary">{created.name}</Typography.Text>
            <CopyField value={created.key} testId="new-key-value" />
          </div>
        </Space>
      ) : null}
    </Modal>
  );
}
