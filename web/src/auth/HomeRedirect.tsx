import { Navigate } from 'react-router';
import { isStaff, useMe } from '../api/session';
import { ErrorAlert } from '../components/ErrorAlert';
import { FullPageSpin } from './FullPageSpin';

/** `/`: operators go to the back office, everyone else to the portal (which asks them to sign in). */
export function HomeRedirect() {
  const me = useMe();
  if (me.isPending) return <FullPageSpin />;
  if (me.isError) return <div style={{ padding: 24 }}><ErrorAlert error={me.error} onRetry={() => void me.refetch()} /></div>;
  if (!me.data) return <Navigate to="/console/login" replace />;
  return <Navigate to={isStaff(me.data) ? '/admin' : '/console'} replace />;
}
