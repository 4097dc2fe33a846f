import { SafetyOutlined } from '@ant-design/icons';
import { Alert, Button, Checkbox, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { describeError } from '../api/errors';
import { useVerifySecondFactor } from '../api/session';

/**
 * The second step of a sign-in with 2FA, after the right password: a 6-digit code from the
 * authenticator app, or a backup code; "trust this device" skips the step on this browser for
 * 30 days. The server holds the half-finished sign-in in a 10-minute cookie.
 */
export function SecondFactorForm({ onDone, onBack }: { onDone: () => void; onBack: () => void }) {
  const { t } = useTranslation();
  const [backup, setBackup] = useState(false);
  const [form] = Form.useForm<{ code: string; trust: boolean }>();
  const verify = useVerifySecondFactor();
  const err = verify.error ? describeError(verify.error, t) : null;
  // A challenge that expired or used up its tries cannot be retried: back to the password.
  const restart = verify.error && 'code' in verify.error && ['invalid_two_factor_cookie', 'too_many_attempts_request_new_code'].includes(String(verify.error.code));

  return (
    <div data-testid="two-factor-step">
      <Typography.Title level={5} style={{ marginTop: 0 }}>
        <SafetyOutlined /> {t('auth.two_factor_title')}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t(backup ? 'auth.two_factor_backup_text' : 'auth.two_factor_text')}</Typography.Paragraph>
      {err ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={err.message} role="alert" data-testid="two-factor-error" /> : null}
      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        initialValues={{ trust: false }}
        onFinish={(v) => verify.mutate({ code: v.code, backup, trustDevice: v.trust }, { onSuccess: onDone })}
      >
        <Form.Item name="code" label={t(backup ? 'auth.backup_code' : 'auth.code')} rules={[{ required: true, message: t('auth.code_required') }]}>
          {backup ? (
            <Input size="large" autoComplete="off" autoFocus data-testid="two-factor-code" />
          ) : (
            <Input size="large" inputMode="numeric" autoComplete="one-time-code" maxLength={6} autoFocus data-testid="two-factor-code" />
          )}
        </Form.Item>
        <Form.Item name="trust" valuePropName="checked">
          <Checkbox data-testid="two-factor-trust">{t('auth.trust_device')}</Checkbox>
        </Form.Item>
        <Button type="primary" htmlType="submit" size="large" block loading={verify.isPending} disabled={!!restart} data-testid="two-factor-submit">
          {t('auth.verify')}
        </Button>
      </Form>
      <div style={{ marginTop: 12, display: 'flex', justifyContent: 'space-between', flexWrap: 'wrap', gap: 8 }}>
        <Button type="link" style={{ padding: 0 }} onClick={onBack} data-testid="two-factor-back">
          {t('auth.back_to_password')}
        </Button>
        <Button
          type="link"
          style={{ padding: 0 }}
          data-testid="two-factor-switch"
          onClick={() => {
            setBackup(!backup);
            form.resetFields(['code']);
            verify.reset();
          }}
        >
          {t(backup ? 'auth.use_totp' : 'auth.use_backup')}
        </Button>
      </div>
    </div>
  );
}
