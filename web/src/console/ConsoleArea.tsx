import { AppstoreOutlined, KeyOutlined, LineChartOutlined, RocketOutlined } from '@ant-design/icons';
import type { MenuDataItem } from '@ant-design/pro-components';
import type { TFunction } from 'i18next';
import { lazy } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes } from 'react-router';
import { NotFound } from '../auth/NotFound';
import { AppShell } from '../layouts/AppShell';
import { AreaGuard } from '../layouts/AreaGuard';
import { FirstKeyReveal } from './FirstKeyReveal';

const OverviewPage = lazy(() => import('./overview/OverviewPage'));
const KeysPage = lazy(() => import('./keys/KeysPage'));
const UsagePage = lazy(() => import('./usage/UsagePage'));
const QuickStartPage = lazy(() => import('./quickstart/QuickStartPage'));
const ProfilePage = lazy(() => import('../profile/ProfilePage'));

export function consoleMenu(t: TFunction): MenuDataItem[] {
  return [
    { path: '/console/overview', name: t('nav.overview'), icon: <AppstoreOutlined /> },
    { path: '/console/keys', name: t('nav.my_keys'), icon: <KeyOutlined /> },
    { path: '/console/usage', name: t('nav.my_usage'), icon: <LineChartOutlined /> },
    { path: '/console/quickstart', name: t('nav.quickstart'), icon: <RocketOutlined /> },
  ];
}

export default function ConsoleArea() {
  const { t } = useTranslation();
  return (
    <AreaGuard area="console">
      {(me) => (
        <AppShell area="console" me={me} menu={consoleMenu(t)}>
          <FirstKeyReveal />
          <Routes>
            <Route index element={<Navigate to="overview" replace />} />
            <Route path="overview" element={<OverviewPage />} />
            <Route path="keys" element={<KeysPage />} />
            <Route path="usage" element={<UsagePage />} />
            <Route path="quickstart" element={<QuickStartPage />} />
            <Route path="profile" element={<ProfilePage />} />
            <Route path="*" element={<NotFound home="/console" />} />
          </Routes>
        </AppShell>
      )}
    </AreaGuard>
  );
}
