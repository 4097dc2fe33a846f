import { KeyOutlined, LockOutlined, MailOutlined, UserOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Result, Typography } from 'antd';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ApiError } from '../api/client';
import { applyFormError, describeError } from '../api/errors';
import { useRegistration, useSignUp } from '../api/session';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { Logo } from '../layouts/Logo';

interface Values {
  name: string;
  email: string;
  password: string;
  confirm: string;
  inviteCode?: string;
}

/** The console's sign-up page (/console/sign-up): what the server allows (open, invite only, closed). */
export function ConsoleSignUp() {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const registration = useRegistration();
  const signUp = useSignUp();
  const mode = registration.data?.mode;

  useEffect(() => {
    document.title = `${t('signup.title')} · Tollgate`;
  }, [t]);

  const err = signUp.error ? describeError(signUp.error, t) : null;

  // The policy's reasons in the reader's language; other field errors as every form shows them.
  const showError = (e: unknown) => {
    const reason = e instanceof ApiError && e.path === 'password' ? (e.details as { reason?: string } | undefined)?.reason : undefined;
    if (reason === 'too_short' || reason === 'too_long' || reason === 'contains_email' || reason === 'common') {
      form.setFields([{ name: 'password', errors: [t(`signup.pw_${reason}`)] }]);
    } else applyFormError(form, e);
  };

  return (
    <div className="tg-auth">
      <div className="tg-auth-top">
        <LanguageSwitch />
      </div>
      <Card className="tg-auth-card" variant="borderless">
        <div style={{ display: 'flex', alignItems: 'center', gap: 10, marginBottom: 8 }}>
          <Logo size={32} />
          <Typography.Title level={3} style={{ margin: 0 }}>
            Tollgate
          </Typography.Title>
        </div>
        <Typography.Title level={4} style={{ marginTop: 8 }}>
          {t('signup.title')}
        </Typography.Title>
        {signUp.isSuccess ? (
          <div data-testid="sign-up-done">
            <Result
              status="success"
              title={t('signup.done_title')}
              subTitle={t('signup.done_text')}
              extra={
                <Link to="/console/login" data-testid="sign-up-to-sign-in">
                  <Button type="primary">{t('auth.sign_in')}</Button>
                </Link>
              }
            />
          </div>
        ) : mode === 'closed' ? (
          <Alert type="info" showIcon message={t('signup.closed')} data-testid="sign-up-closed" />
        ) : (
          <>
            <Typography.Paragraph type="secondary">{t(mode === 'invite_only' ? 'signup.subtitle_invite' : 'signup.subtitle')}</Typography.Paragraph>
            {err && !(signUp.error as { path?: string | null })?.path ? (
              <Alert type="error" showIcon style={{ marginBottom: 16 }} message={err.message} role="alert" data-testid="sign-up-error" />
            ) : null}
            <Form<Values>
              form={form}
              layout="vertical"
              requiredMark={false}
              disabled={registration.isLoading}
              onFinish={(v) => signUp.mutate(v, { onError: (e) => showError(e) })}
            >
              <Form.Item name="name" label={t('signup.name')} rules={[{ required: true, whitespace: true, message: t('signup.name_required') }, { max: 100 }]}>
                <Input prefix={<UserOutlined />} autoComplete="name" size="large" data-testid="sign-up-name" />
              </Form.Item>
              <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, message: t('auth.email_required') }, { type: 'email', message: t('auth.email_invalid') }]}>
                <Input prefix={<MailOutlined />} autoComplete="email" size="large" data-testid="sign-up-email" />
              </Form.Item>
              <Form.Item name="password" label={t('auth.password')} extra={t('signup.password_rules')} rules={[{ required: true, message: t('auth.password_required') }, { min: 10, message: t('signup.password_short') }]}>
                <Input.Password prefix={<LockOutlined />} autoComplete="new-password" size="large" data-testid="sign-up-password" />
              </Form.Item>
              <Form.Item
                name="confirm"
                label={t('signup.confirm')}
                dependencies={['password']}
                rules={[
                  { required: true, message: t('signup.confirm_required') },
                  ({ getFieldValue }) => ({
                    validator: (_, value) => (!value || getFieldValue('password') === value ? Promise.resolve() : Promise.reject(new Error(t('signup.confirm_mismatch')))),
                  }),
                ]}
              >
                <Input.Password prefix={<LockOutlined />} autoComplete="new-password" size="large" data-testid="sign-up-confirm" />
              </Form.Item>
              {mode === 'invite_only' ? (
                <Form.Item name="inviteCode" label={t('signup.invite')} rules={[{ required: true, whitespace: true, message: t('signup.invite_required') }]}>
                  <Input prefix={<KeyOutlined />} size="large" data-testid="sign-up-invite" />
                </Form.Item>
              ) : null}
              <Button type="primary" htmlType="submit" size="large" block loading={signUp.isPending} data-testid="sign-up-submit">
                {t('signup.submit')}
              </Button>
            </Form>
          </>
        )}
        <div style={{ marginTop: 20, textAlign: 'center' }}>
          <Typography.Text type="secondary">
            {t('signup.have_account')} <Link to="/console/login">{t('auth.sign_in')}</Link>
          </Typography.Text>
        </div>
      </Card>
    </div>
  );
}
