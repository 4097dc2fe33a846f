import { Button, Result } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useLocation } from 'react-router';
import { isStaff, useMe } from '../api/session';
import type { Me } from '../api/types';
import { FullPageSpin } from '../auth/FullPageSpin';
import { ErrorAlert } from '../components/ErrorAlert';
import { LanguageSwitch } from '../components/LanguageSwitch';

/**
 * Who may enter an area: anybody signed in for the portal, operators for the back office. A
 * person who is not signed in goes to the area's sign-in page and comes back afterwards; a plain
 * user who opens /admin is told so and offered the portal.
 */
export function AreaGuard({ area, children }: { area: 'admin' | 'console'; children: (me: Me) => ReactNode }) {
  const { t } = useTranslation();
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <FullPageSpin />;
  if (me.isError) return <div style={{ padding: 24 }}><ErrorAlert error={me.error} onRetry={() => void me.refetch()} /></div>;
  if (!me.data) return <Navigate to={`/${area}/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  if (area === 'admin' && !isStaff(me.data))
    return (
      <div className="tg-auth">
        <div className="tg-auth-top">
          <LanguageSwitch />
        </div>
        <Result
          status="403"
          title={t('guard.not_operator_title')}
          subTitle={t('guard.not_operator_text', { email: me.data.email })}
          extra={
            <Link to="/console">
              <Button type="primary" data-testid="go-console">{t('guard.go_console')}</Button>
            </Link>
          }
        />
      </div>
    );
  return <>{children(me.data)}</>;
}
