import { ApiOutlined, AuditOutlined, DashboardOutlined, DollarOutlined, KeyOutlined, ProfileOutlined, TeamOutlined } from '@ant-design/icons';
import type { MenuDataItem } from '@ant-design/pro-components';
import type { TFunction } from 'i18next';
import { lazy } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes } from 'react-router';
import { NotFound } from '../auth/NotFound';
import { AppShell } from '../layouts/AppShell';
import { AreaGuard } from '../layouts/AreaGuard';

const DashboardPage = lazy(() => import('./dashboard/DashboardPage'));
const UsersPage = lazy(() => import('./users/UsersPage'));
const KeysPage = lazy(() => import('./keys/KeysPage'));
const ChannelsPage = lazy(() => import('./channels/ChannelsPage'));
const PricesPage = lazy(() => import('./prices/PricesPage'));
const UsagePage = lazy(() => import('./usage/UsagePage'));
const AuditPage = lazy(() => import('./audit/AuditPage'));

/**
 * The back office's menu, grouped as spec 000 §2 (only the groups that have pages yet). A new
 * page: add it to its group here and a <Route> below, with the same path.
 */
export function adminMenu(t: TFunction, role?: string): MenuDataItem[] {
  const menu: MenuDataItem[] = [
    { path: '/admin/dashboard', name: t('nav.dashboard'), icon: <DashboardOutlined /> },
    {
      path: '/admin/accounts',
      name: t('nav.accounts'),
      children: [
        { path: '/admin/accounts/users', name: t('nav.users'), icon: <TeamOutlined /> },
        { path: '/admin/accounts/keys', name: t('nav.keys'), icon: <KeyOutlined /> },
      ],
    },
    {
      path: '/admin/products',
      name: t('nav.products'),
      children: [
        { path: '/admin/products/channels', name: t('nav.channels'), icon: <ApiOutlined /> },
        { path: '/admin/products/prices', name: t('nav.prices'), icon: <DollarOutlined /> },
      ],
    },
    {
      path: '/admin/usage',
      name: t('nav.usage_group'),
      children: [{ path: '/admin/usage/records', name: t('nav.usage_records'), icon: <ProfileOutlined /> }],
    },
  ];
  // The audit trail is the super-admin's (spec 000 §2); the API refuses anyone else.
  if (role === 'super_admin') {
    menu.push({ path: '/admin/system', name: t('nav.system'), children: [{ path: '/admin/system/audit', name: t('nav.audit'), icon: <AuditOutlined /> }] });
  }
  return menu;
}

export default function AdminArea() {
  const { t } = useTranslation();
  return (
    <AreaGuard area="admin">
      {(me) => (
        <AppShell area="admin" me={me} menu={adminMenu(t, me.role)}>
          <Routes>
            <Route index element={<Navigate to="dashboard" replace />} />
            <Route path="dashboard" element={<DashboardPage />} />
            <Route path="accounts" element={<Navigate to="users" replace />} />
            <Route path="accounts/users" element={<UsersPage />} />
            <Route path="accounts/keys" element={<KeysPage />} />
            <Route path="products" element={<Navigate to="channels" replace />} />
            <Route path="products/channels" element={<ChannelsPage />} />
            <Route path="products/prices" element={<PricesPage />} />
            <Route path="usage" element={<Navigate to="records" replace />} />
            <Route path="usage/records" element={<UsagePage />} />
            <Route path="system" element={<Navigate to="audit" replace />} />
            <Route path="system/audit" element={<AuditPage />} />
            <Route path="*" element={<NotFound home="/admin" />} />
          </Routes>
        </AppShell>
      )}
    </AreaGuard>
  );
}
