import { GithubOutlined, GoogleOutlined, LockOutlined, MailOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Divider, Form, Input, Space, Typography } from 'antd';
import { useEffect, useState } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { describeError } from '../api/errors';
import { ApiError } from '../api/client';
import { isStaff, useAuthProviders, useMe, useResendVerification, useSignIn, useSocialSignIn } from '../api/session';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { Logo } from '../layouts/Logo';
import { SecondFactorForm } from './SecondFactorForm';

type Area = 'admin' | 'console';

/** Only same-site paths inside an area are followed after sign-in (no open redirect). */
function safeNext(next: string | null, area: Area): string {
  if (next && next.startsWith(`/${area}`) && !next.startsWith('//')) return next;
  return `/${area}`;
}

const OAUTH_ERRORS = ['registration_closed', 'registration_invite_only', 'account_not_linked', 'oauth_staff_refused', 'account_frozen', 'account_disabled', 'access_denied', 'state_mismatch', 'email_not_found', 'provider_email_not_verified', 'oauth_two_factor', 'email_not_verified'] as const;

/** A provider sign-in's `?error=` in words; an unknown code gets the general sentence. */
function oauthErrorText(t: TFunction, raw: string): string {
  const code = raw.toLowerCase();
  const known = (OAUTH_ERRORS as readonly string[]).includes(code) ? (code as (typeof OAUTH_ERRORS)[number]) : code.includes('state') ? 'state_mismatch' : null;
  return known ? t(`auth.oauth_errors.${known}`) : t('auth.oauth_failed');
}

function SignIn({ area }: { area: Area }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const me = useMe();
  const signIn = useSignIn();
  const resend = useResendVerification();
  const [form] = Form.useForm<{ email: string; password: string }>();
  const social = useSocialSignIn();
  const providers = useAuthProviders();
  const offered = area === 'console' ? (providers.data?.providers ?? []) : [];
  const next = safeNext(params.get('next'), area);
  // The password was right and the account has 2FA: the code is asked for next.
  const [secondStep, setSecondStep] = useState(false);

  useEffect(() => {
    document.title = `${t(area === 'admin' ? 'auth.admin_title' : 'auth.console_title')} · Tollgate`;
  }, [area, t]);

  // Already signed in (another tab, a bookmark): go straight on.
  useEffect(() => {
    if (me.data && !signIn.isPending) navigate(area === 'admin' && !isStaff(me.data) ? '/admin' : next, { replace: true });
  }, [me.data, area, next, navigate, signIn.isPending]);

  // Right password, address not verified yet (require_email_verification): say so, offer the mail again.
  const notVerified = signIn.error instanceof ApiError && signIn.error.code === 'email_not_verified';
  const err = notVerified ? null : signIn.error ? describeError(signIn.error, t) : social.error ? describeError(social.error, t) : null;
  // Back from GitHub/Google with `?error=<code>` (better-auth's, or ours: registration_closed …).
  const oauthCode = params.get('error');
  const oauthErr = oauthCode && !signIn.isPending && !signIn.isError ? oauthErrorText(t, oauthCode) : null;

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
          {t(area === 'admin' ? 'auth.admin_title' : 'auth.console_title')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t(area === 'admin' ? 'auth.admin_subtitle' : 'auth.console_subtitle')}</Typography.Paragraph>
        {oauthErr && !err ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={oauthErr} role="alert" data-testid="oauth-error" /> : null}
        {err ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={err.message} role="alert" data-testid="sign-in-error" /> : null}
        {notVerified ? (
          <Alert
            type="warning"
            showIcon
            style={{ marginBottom: 16 }}
            role="alert"
            data-testid="sign-in-not-verified"
            message={t('reset.not_verified')}
            description={
              resend.isSuccess ? (
                <span data-testid="verification-resent">{t('reset.resent')}</span>
              ) : (
                <Button size="small" loading={resend.isPending} onClick={() => resend.mutate(form.getFieldValue('email') as string)} data-testid="resend-verification">
                  {t('reset.resend')}
                </Button>
              )
            }
          />
        ) : null}
        {secondStep ? (
          <SecondFactorForm
            onDone={() => navigate(next, { replace: true })}
            onBack={() => {
              signIn.reset();
              setSecondStep(false);
            }}
          />
        ) : (
          <Form
            form={form}
            layout="vertical"
            requiredMark={false}
            onFinish={(v: { email: string; password: string }) => {
              resend.reset();
              signIn.mutate(v, { onSuccess: (r) => (r?.twoFactorRedirect ? setSecondStep(true) : navigate(next, { replace: true })) });
            }}
          >
            <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, message: t('auth.email_required') }, { type: 'email', message: t('auth.email_invalid') }]}>
              <Input prefix={<MailOutlined />} autoComplete="email" size="large" data-testid="sign-in-email" />
            </Form.Item>
            <Form.Item name="password" label={t('auth.password')} rules={[{ required: true, message: t('auth.password_required') }]}>
              <Input.Password prefix={<LockOutlined />} autoComplete="current-password" size="large" data-testid="sign-in-password" />
            </Form.Item>
            <div style={{ textAlign: 'right', marginTop: -12, marginBottom: 16 }}>
              <Link to={area === 'admin' ? '/console/forgot-password?area=admin' : '/console/forgot-password'} data-testid="to-forgot-password">
                {t('reset.forgot_link')}
              </Link>
            </div>
            <Button type="primary" htmlType="submit" size="large" block loading={signIn.isPending} data-testid="sign-in-submit">
              {t('auth.sign_in')}
            </Button>
          </Form>
        )}
        {offered.length > 0 && !secondStep ? (
          <>
            <Divider plain style={{ margin: '16px 0' }}>
              <Typography.Text type="secondary">{t('auth.or')}</Typography.Text>
            </Divider>
            <Space direction="vertical" style={{ width: '100%' }} size={8}>
              {offered.map((p) => (
                <Button
                  key={p}
                  size="large"
                  block
                  icon={p === 'github' ? <GithubOutlined /> : <GoogleOutlined />}
                  loading={social.isPending && social.variables === p}
                  disabled={social.isPending}
                  onClick={() => social.mutate(p)}
                  data-testid={`sign-in-${p}`}
                >
                  {t(p === 'github' ? 'auth.with_github' : 'auth.with_google')}
                </Button>
              ))}
            </Space>
          </>
        ) : null}
        {area === 'console' ? (
          <div style={{ marginTop: 16, textAlign: 'center' }}>
            <Typography.Text type="secondary">
              {t('signup.no_account')} <Link to="/console/sign-up" data-testid="to-sign-up">{t('signup.title')}</Link>
            </Typography.Text>
          </div>
        ) : null}
        <div style={{ marginTop: 20, textAlign: 'center' }}>
          <Typography.Text type="secondary">
            {area === 'admin' ? t('auth.to_console_hint') : t('auth.to_admin_hint')}{' '}
            <Link to={area === 'admin' ? '/console/login' : '/admin/login'}>{area === 'admin' ? t('auth.to_console') : t('auth.to_admin')}</Link>
          </Typography.Text>
        </div>
      </Card>
    </div>
  );
}

export function AdminSignIn() {
  return <SignIn area="admin" />;
}
export function ConsoleSignIn() {
  return <SignIn area="console" />;
}
