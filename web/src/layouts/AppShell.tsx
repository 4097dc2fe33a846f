import { IdcardOutlined, LogoutOutlined, SwapOutlined, UserOutlined } from '@ant-design/icons';
import { ProLayout, type MenuDataItem } from '@ant-design/pro-components';
import { App, Dropdown, Grid, Spin, Tag } from 'antd';
import { Suspense, useEffect, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate } from 'react-router';
import { errorLine } from '../api/errors';
import { isStaff, roleLabel, useSignOut } from '../api/session';
import type { Me } from '../api/types';
import { LanguageSwitch } from '../components/LanguageSwitch';
import { chunksLoaded, PageErrorBoundary } from '../components/PageError';
import { Logo } from './Logo';

export interface ShellProps {
  area: 'admin' | 'console';
  me: Me;
  /** The menu: groups with children, paths absolute. Names already translated. */
  menu: MenuDataItem[];
  children: ReactNode;
}

/** ProLayout with the sidebar, breadcrumbs, language switch and the account menu, for both areas. */
export function AppShell({ area, me, menu, children }: ShellProps) {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const signOut = useSignOut();
  const { message } = App.useApp();
  const screens = Grid.useBreakpoint();
  const title = t(area === 'admin' ? 'shell.admin' : 'shell.console');

  useEffect(() => {
    document.title = `${title} · Tollgate`;
  }, [title]);
  useEffect(chunksLoaded, []);

  const other = area === 'admin' ? { to: '/console', label: t('shell.to_console') } : isStaff(me) ? { to: '/admin', label: t('shell.to_admin') } : null;

  return (
    <ProLayout
      title={title}
      logo={<Logo />}
      layout="mix"
      // On a phone the menu is a drawer, which ProLayout leaves without a header unless told:
      // give it the logo and the area's name, like the top bar on a desktop.
      menuHeaderRender={
        screens.md === false
          ? (logo) => (
              <Link to={`/${area}`} className="tg-drawer-brand">
                {logo}
                <span>{title}</span>
              </Link>
            )
          : undefined
      }
      fixSiderbar
      siderWidth={220}
      route={{ path: `/${area}`, children: menu }}
      location={{ pathname: location.pathname }}
      menu={{ locale: false, type: 'group', collapsedShowGroupTitle: true }}
      onMenuHeaderClick={() => navigate(`/${area}`)}
      // On a phone the menu is a drawer: tapping an item must close it (ProLayout's own item does,
      // a custom one has to call the `onClick` it is given), or it covers the page it just opened.
      menuItemRender={(item, dom) =>
        item.path ? (
          <Link to={item.path} onClick={item.isMobile ? item.onClick : undefined}>
            {dom}
          </Link>
        ) : (
          dom
        )
      }
      breadcrumbRender={(routes = []) => [{ path: `/${area}`, title: title, breadcrumbName: title }, ...routes]}
      itemRender={(route, _params, routes) => {
        // The items are copies, so compare by path: the page you are on is text, not a link.
        const tail = routes[routes.length - 1];
        const last = route === tail || (!!route.path && route.path === tail?.path) || route.path === location.pathname;
        const label = (route as { breadcrumbName?: string; title?: ReactNode }).breadcrumbName ?? route.title;
        return last || !route.path ? <span>{label}</span> : <Link to={route.path}>{label}</Link>;
      }}
      token={{
        bgLayout: '#f5f7fa',
        sider: { colorMenuBackground: '#fff', colorTextMenuSelected: '#1668dc', colorBgMenuItemSelected: '#e8f1ff' },
        pageContainer: { paddingBlockPageContainerContent: 16, paddingInlinePageContainerContent: screens.md ? 24 : 12 },
      }}
      actionsRender={() => [<LanguageSwitch key="lang" compact={!screens.md} />]}
      avatarProps={{
        icon: <UserOutlined />,
        size: 'small',
        title: (
          <span data-testid="account-menu" style={{ display: 'inline-flex', alignItems: 'center', gap: 6 }}>
            {screens.md ? me.email : null}
            {screens.md && me.role !== 'user' ? <Tag style={{ marginInlineEnd: 0 }}>{roleLabel(t, me.role)}</Tag> : null}
          </span>
        ),
        render: (_p, dom) => (
          <Dropdown
            menu={{
              items: [
                { key: 'profile', icon: <IdcardOutlined />, label: <span data-testid="menu-profile">{t('shell.profile')}</span> },
                ...(other ? [{ key: 'switch', icon: <SwapOutlined />, label: other.label }] : []),
                { key: 'logout', icon: <LogoutOutlined />, label: t('shell.sign_out'), danger: true },
              ],
              onClick: ({ key }) => {
                if (key === 'profile') navigate(`/${area}/profile`);
                if (key === 'switch' && other) navigate(other.to);
                if (key === 'logout')
                  signOut.mutate(undefined, {
                    onSuccess: () => navigate(`/${area}/login`, { replace: true }),
                    onError: (e) => void message.error(errorLine(e, t)),
                  });
              },
            }}
          >
            {dom}
          </Dropdown>
        ),
      }}
      footerRender={false}
    >
      <PageErrorBoundary key={location.pathname}>
        <Suspense
          fallback={
            <div style={{ padding: 48, textAlign: 'center' }}>
              <Spin />
            </div>
          }
        >
          {children}
        </Suspense>
      </PageErrorBoundary>
    </ProLayout>
  );
}
