import { Form, Input, Modal, Typography } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, call } from '../api/client';
import { errorLine } from '../api/errors';
import { setReauthAsker } from '../api/reauth';

/**
 * The password prompt for protected operations: shown when the server answers `reauth_required`
 * (or before a protected download), it confirms the password with POST /api/me/reauth and lets
 * the refused request go again.
 */
export function ReauthModal() {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<{ password: string }>();
  const settle = useRef<((ok: boolean) => void) | null>(null);

  useEffect(() => {
    setReauthAsker(
      () =>
        new Promise<boolean>((resolve) => {
          settle.current = resolve;
          setOpen(true);
        }),
    );
    return () => setReauthAsker(null);
  }, []);

  const finish = (ok: boolean) => {
    setOpen(false);
    form.resetFields();
    settle.current?.(ok);
    settle.current = null;
  };

  const submit = async () => {
    const values = await form.validateFields().catch(() => null);
    if (!values) return;
    setBusy(true);
    try {
      await call(api.POST('/api/me/reauth', { body: { password: values.password } }));
      finish(true);
    } catch (e) {
      form.setFields([{ name: 'password', errors: [errorLine(e, t)] }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t('reauth.title')}
      okText={t('reauth.ok')}
      onOk={() => void submit()}
      onCancel={() => finish(false)}
      okButtonProps={{ loading: busy, 'data-testid': 'reauth-ok' }}
      destroyOnHidden
      // Above the confirmation that is waiting for this (antd's confirm dialogs sit at 1000).
      zIndex={2000}
      data-testid="reauth-modal"
    >
      <Typography.Paragraph>{t('reauth.explain')}</Typography.Paragraph>
      <Form form={form} layout="vertical" onFinish={() => void submit()}>
        <Form.Item name="password" label={t('reauth.password')} rules={[{ required: true, message: t('reauth.password_required') }]}>
          <Input.Password autoFocus autoComplete="current-password" data-testid="reauth-password" onPressEnter={() => void submit()} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
