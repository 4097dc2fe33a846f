import { ApiOutlined, AuditOutlined, DashboardOutlined, DollarOutlined, IdcardOutlined, KeyOutlined, ProfileOutlined, SafetyCertificateOutlined, TeamOutlined } from '@ant-design/icons';
import type { MenuDataItem } from '@ant-design/pro-components';
import type { TFunction } from 'i18next';
import { lazy } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes } from 'react-router';
import { NotFound } from '../auth/NotFound';
import { AppShell } from '../layouts/AppShell';
import { AreaGuard } from '../layouts/AreaGuard';
import { can } from '../api/session';
import type { Me } from '../api/types';

const DashboardPage = lazy(() => import('./dashboard/DashboardPage'));
const UsersPage = lazy(() => import('./users/UsersPage'));
const KeysPage = lazy(() => import('./keys/KeysPage'));
const ChannelsPage = lazy(() => import('./channels/ChannelsPage'));
const PricesPage = lazy(() => import('./prices/PricesPage'));
const UsagePage = lazy(() => import('./usage/UsagePage'));
const AuditPage = lazy(() => import('./audit/AuditPage'));
const StaffPage = lazy(() => import('./access/StaffPage'));
const RolesPage = lazy(() => import('./access/RolesPage'));
const ProfilePage = lazy(() => import('../profile/ProfilePage'));

type Item = MenuDataItem & { permission?: string };

/**
 * The back office's menu, grouped as spec 000 §2 (only the groups that have pages yet). A new
 * page: add it to its group here with the permission its list needs, and a <Route> below, with the
 * same path. Items the viewer may not open are left out, and so are groups left empty.
 */
export function adminMenu(t: TFunction, me?: Me): MenuDataItem[] {
  const items: Item[] = [
    { path: '/admin/dashboard', name: t('nav.dashboard'), icon: <DashboardOutlined />, permission: 'report:view' },
    {
      path: '/admin/accounts',
      name: t('nav.accounts'),
      children: [
        { path: '/admin/accounts/users', name: t('nav.users'), icon: <TeamOutlined />, permission: 'user:view' },
        { path: '/admin/accounts/keys', name: t('nav.keys'), icon: <KeyOutlined />, permission: 'key:view' },
      ],
    },
    {
      path: '/admin/products',
      name: t('nav.products'),
      children: [
        { path: '/admin/products/channels', name: t('nav.channels'), icon: <ApiOutlined />, permission: 'channel:view' },
        { path: '/admin/products/prices', name: t('nav.prices'), icon: <DollarOutlined />, permission: 'price:view' },
      ],
    },
    {
      path: '/admin/usage',
      name: t('nav.usage_group'),
      children: [{ path: '/admin/usage/records', name: t('nav.usage_records'), icon: <ProfileOutlined />, permission: 'bill:view' }],
    },
    {
      path: '/admin/system',
      name: t('nav.system'),
      children: [
        { path: '/admin/system/staff', name: t('nav.staff'), icon: <IdcardOutlined />, permission: 'user:view' },
        { path: '/admin/system/roles', name: t('nav.roles'), icon: <SafetyCertificateOutlined />, permission: 'role:view' },
        { path: '/admin/system/audit', name: t('nav.audit'), icon: <AuditOutlined />, permission: 'audit:view' },
      ],
    },
  ];
  if (!me) return items;
  const allowed = (i: Item) => !i.permission || can(me, i.permission);
  return items
    .map((i) => (i.children ? { ...i, children: (i.children as Item[]).filter(allowed) } : i))
    .filter((i) => allowed(i) && (!i.children || i.children.length > 0));
}

/** The first page of the menu the viewer may open: where /admin lands. */
function firstPage(menu: MenuDataItem[]): string | undefined {
  for (const i of menu) {
    if (i.children?.length) return i.children[0]!.path;
    if (i.path) return i.path;
  }
  return undefined;
}

export default function AdminArea() {
  const { t } = useTranslation();
  return (
    <AreaGuard area="admin">
      {(me) => {
        // Staff who must enrol 2FA first (require_2fa_for_staff): the server refuses the rest of
        // /api/admin, so the console shows only their Profile page until they have.
        if (me.two_factor_required)
          return (
            <AppShell area="admin" me={me} menu={[]}>
              <Routes>
                <Route path="profile" element={<ProfilePage />} />
                <Route path="*" element={<Navigate to="/admin/profile" replace />} />
              </Routes>
            </AppShell>
          );
        const menu = adminMenu(t, me);
        const home = firstPage(menu) ?? '/admin/dashboard';
        return (
          <AppShell area="admin" me={me} menu={menu}>
            <Routes>
              <Route index element={<Navigate to={home} replace />} />
              <Route path="dashboard" element={<DashboardPage />} />
              <Route path="accounts" element={<Navigate to="users" replace />} />
              <Route path="accounts/users" element={<UsersPage />} />
              <Route path="accounts/keys" element={<KeysPage />} />
              <Route path="products" element={<Navigate to="channels" replace />} />
              <Route path="products/channels" element={<ChannelsPage />} />
              <Route path="products/prices" element={<PricesPage />} />
              <Route path="usage" element={<Navigate to="records" replace />} />
              <Route path="usage/records" element={<UsagePage />} />
              <Route path="system" element={<Navigate to="staff" replace />} />
              <Route path="system/staff" element={<StaffPage />} />
              <Route path="system/roles" element={<RolesPage />} />
              <Route path="system/audit" element={<AuditPage />} />
              <Route path="profile" element={<ProfilePage />} />
              <Route path="*" element={<NotFound home="/admin" />} />
            </Routes>
          </AppShell>
        );
      }}
    </AreaGuard>
  );
}
