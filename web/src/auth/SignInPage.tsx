import { LockOutlined, MailOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { describeError } from '../api/errors';
import { isStaff, useMe, useSignIn } from '../api/session';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { Logo } from '../layouts/Logo';

type Area = 'admin' | 'console';

/** Only same-site paths inside an area are followed after sign-in (no open redirect). */
function safeNext(next: string | null, area: Area): string {
  if (next && next.startsWith(`/${area}`) && !next.startsWith('//')) return next;
  return `/${area}`;
}

function SignIn({ area }: { area: Area }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const me = useMe();
  const signIn = useSignIn();
  const next = safeNext(params.get('next'), area);

  useEffect(() => {
    document.title = `${t(area === 'admin' ? 'auth.admin_title' : 'auth.console_title')} · Tollgate`;
  }, [area, t]);

  // Already signed in (another tab, a bookmark): go straight on.
  useEffect(() => {
    if (me.data && !signIn.isPending) navigate(area === 'admin' && !isStaff(me.data) ? '/admin' : next, { replace: true });
  }, [me.data, area, next, navigate, signIn.isPending]);

  const err = signIn.error ? describeError(signIn.error, t) : null;

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
        {err ? <Alert type="error" showIcon style={{ marginBottom: 16 }} message={err.message} role="alert" data-testid="sign-in-error" /> : null}
        <Form
          layout="vertical"
          requiredMark={false}
          onFinish={(v: { email: string; password: string }) => signIn.mutate(v, { onSuccess: () => navigate(next, { replace: true }) })}
        >
          <Form.Item name="email" label={t('auth.email')} rules={[{ required: true, message: t('auth.email_required') }, { type: 'email', message: t('auth.email_invalid') }]}>
            <Input prefix={<MailOutlined />} autoComplete="email" size="large" data-testid="sign-in-email" />
          </Form.Item>
          <Form.Item name="password" label={t('auth.password')} rules={[{ required: true, message: t('auth.password_required') }]}>
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" size="large" data-testid="sign-in-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" size="large" block loading={signIn.isPending} data-testid="sign-in-submit">
            {t('auth.sign_in')}
          </Button>
        </Form>
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
