import { LockOutlined, MailOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Result, Spin, Typography } from 'antd';
import { useEffect, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { ApiError } from '../api/client';
import { applyFormError, describeError } from '../api/errors';
import { useRegistration, useRequestPasswordReset, useResetPassword, useVerifyEmail } from '../api/session';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { Logo } from '../layouts/Logo';

/** Where "back to sign-in" goes: the staff sign-in when the person came from it. */
function signInPath(params: URLSearchParams): string {
  return params.get('area') === 'admin' ? '/admin/login' : '/console/login';
}

function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Tollgate`;
  }, [title]);
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
          {title}
        </Typography.Title>
        {children}
      </Card>
    </div>
  );
}

function BackToSignIn({ params, primary }: { params: URLSearchParams; primary?: boolean }) {
  const { t } = useTranslation();
  return primary ? (
    <Link to={signInPath(params)} data-testid="back-to-sign-in">
      <Button type="primary" size="large" block>
        {t('reset.back_to_sign_in')}
      </Button>
    </Link>
  ) : (
    <div style={{ marginTop: 20, textAlign: 'center' }}>
      <Link to={signInPath(params)} data-testid="back-to-sign-in">
        {t('reset.back_to_sign_in')}
      </Link>
    </div>
  );
}

/** /console/forgot-password: ask for a reset link (or, without mail, say who can help). */
export function ForgotPassword() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const registration = useRegistration();
  const request = useRequestPasswordReset();
  const err = request.error ? describeError(request.error, t) : null;
  const mailOff = registration.data && !registration.data.mail;

  return (
    <AuthFrame title={t('reset.forgot_title')}>
      {registration.isLoading ? (
        <Spin />
      ) : mailOff ? (
        <>
          <Alert type="info" showIcon message={t('reset.mail_off_title')} description={t('reset.mail_off_text')} data-testid="reset-mail-off" />
          <BackToSignIn params={params} />
        </>
      ) : request.isSuccess ? (
        <div data-testid="reset-requested">
          <Result status="success" title={t('reset.requested_title')} subTitle={t('reset.requested_text', { email: request.variables })} style={{ padding: '16px 0' }} />
          <BackToSignIn params={params} primary />
        </div>
      ) : (
        <>
          <Typography.Paragraph type="secondary">{t('reset.forgot_text')}</Typography.Paragraph>
          {err ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={err.message} role="alert" data-testid="reset-request-error" /> : null}
          <Form layout="vertical" requiredMark={false} onFinish={(v: { email: string }) => request.mutate(v.email)}>
            <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, message: t('auth.email_required') }, { type: 'email', message: t('auth.email_invalid') }]}>
              <Input prefix={<MailOutlined />} autoComplete="email" size="large" data-testid="reset-email" />
            </Form.Item>
            <Button type="primary" htmlType="submit" size="large" block loading={request.isPending} data-testid="reset-request-submit">
              {t('reset.send_link')}
            </Button>
          </Form>
          <BackToSignIn params={params} />
        </>
      )}
    </AuthFrame>
  );
}

interface ResetValues {
  password: string;
  confirm: string;
}

/** /console/reset-password?token=…: choose a new password (the policy applies). */
export function ResetPassword() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [form] = Form.useForm<ResetValues>();
  const reset = useResetPassword();
  const badToken = reset.error instanceof ApiError && (reset.error.code === 'invalid_token' || reset.error.code === 'user_not_found');
  const err = reset.error && !badToken && !(reset.error as ApiError).path ? describeError(reset.error, t) : null;

  const showError = (e: unknown) => {
    if (!(e instanceof ApiError) || e.path !== 'newPassword') return;
    const reason = (e.details as { reason?: string } | undefined)?.reason;
    if (reason === 'too_short' || reason === 'too_long' || reason === 'contains_email' || reason === 'common') {
      form.setFields([{ name: 'password', errors: [t(`signup.pw_${reason}`)] }]);
    } else applyFormError(form, new ApiError(e.status, e.code, e.message, 'password', e.details, e.requestId));
  };

  return (
    <AuthFrame title={t('reset.reset_title')}>
      {!token || badToken ? (
        <div data-testid="reset-token-invalid">
          <Alert type="warning" showIcon message={t('reset.token_invalid_title')} description={t('reset.token_invalid_text')} />
          <div style={{ marginTop: 16 }}>
            <Link to={`/console/forgot-password${params.get('area') === 'admin' ? '?area=admin' : ''}`}>
              <Button type="primary" size="large" block>
                {t('reset.ask_again')}
              </Button>
            </Link>
          </div>
          <BackToSignIn params={params} />
        </div>
      ) : reset.isSuccess ? (
        <div data-testid="reset-done">
          <Result status="success" title={t('reset.done_title')} subTitle={t('reset.done_text')} style={{ padding: '16px 0' }} />
          <BackToSignIn params={params} primary />
        </div>
      ) : (
        <>
          <Typography.Paragraph type="secondary">{t('reset.reset_text')}</Typography.Paragraph>
          {err ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={err.message} role="alert" data-testid="reset-error" /> : null}
          <Form<ResetValues> form={form} layout="vertical" requiredMark={false} onFinish={(v) => reset.mutate({ token, newPassword: v.password }, { onError: showError })}>
            <Form.Item
              name="password"
              label={t('reset.new_password')}
              extra={t('signup.password_rules')}
              rules={[{ required: true, message: t('auth.password_required') }, { min: 10, message: t('signup.password_short') }, { max: 128, message: t('signup.pw_too_long') }]}
            >
              <Input.Password prefix={<LockOutlined />} autoComplete="new-password" size="large" data-testid="reset-password" />
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
              <Input.Password prefix={<LockOutlined />} autoComplete="new-password" size="large" data-testid="reset-confirm" />
            </Form.Item>
            <Button type="primary" htmlType="submit" size="large" block loading={reset.isPending} data-testid="reset-submit">
              {t('reset.set_password')}
            </Button>
          </Form>
          <BackToSignIn params={params} />
        </>
      )}
    </AuthFrame>
  );
}

/** /console/verify-email?token=…: the landing page of the verification mail's link. */
export function VerifyEmail() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const verify = useVerifyEmail();
  const started = useRef(false);

  useEffect(() => {
    if (token && !started.current) {
      started.current = true;
      verify.mutate(token);
    }
  }, [token, verify]);

  const expired = verify.error instanceof ApiError && verify.error.code === 'token_expired';
  const failed = !token || verify.isError;

  return (
    <AuthFrame title={t('reset.verify_title')}>
      {failed ? (
        <div data-testid="verify-failed">
          <Result
            status="warning"
            title={t(expired ? 'reset.verify_expired_title' : 'reset.verify_invalid_title')}
            subTitle={verify.error instanceof ApiError && verify.error.status >= 500 ? describeError(verify.error, t).message : t('reset.verify_failed_text')}
            style={{ padding: '16px 0' }}
          />
          <BackToSignIn params={params} primary />
        </div>
      ) : verify.isSuccess ? (
        <div data-testid="verify-done">
          <Result status="success" title={t('reset.verified_title')} subTitle={t('reset.verified_text')} style={{ padding: '16px 0' }} />
          <BackToSignIn params={params} primary />
        </div>
      ) : (
        <div style={{ textAlign: 'center', padding: 24 }}>
          <Spin />
        </div>
      )}
    </AuthFrame>
  );
}
