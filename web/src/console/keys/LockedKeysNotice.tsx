import { useQuery } from '@tanstack/react-query';
import { Alert, Button, Space } from 'antd';
import { useTranslation } from 'react-i18next';
import { consoleKeys, fetchConsoleKeys } from '../../api/console';
import type { ConsoleKey } from '../../api/types';
import { formatDateTimeShort } from '../../lib/format';
/**
 * The owner's notice of a leak lock: which keys the operator locked and why, with the way out
 * (a rotation). Read from the locked keys themselves, so it shows on every visit until rotated.
 */
export function LockedKeysNotice({ onRotate }: { onRotate?: (k: ConsoleKey) => void }) {
  const { t } = useTranslation();
  const locked = useQuery({
    queryKey: [...consoleKeys.keys, 'locked'],
    queryFn: () => fetchConsoleKeys({ page: 1, pageSize: 20, filters: { status: 'locked' } }),
  });
  const items = locked.data?.items ?? [];
  if (!items.length) return null;
  return (
    <Space direction="vertical" style={{ width: '100%', marginBottom: 16 }} data-testid="locked-keys-notice">
      {items.map((k) => (
        <Alert
          key={k.id}
          type="error"
          showIcon
          message={t('lock.notice_title', { name: k.name || k.display })}
          description={
            <>
              <div>{t('lock.notice_text', { reason: k.locked_reason ?? '—', time: formatDateTimeShort(k.locked_at) })}</div>
              {onRotate ? null : <div>{t('lock.notice_where')}</div>}
            </>
          }
          action={
            onRotate ? (
              <Button size="small" danger onClick={() => onRotate(k)}>
                {t('rotate.action')}
              </Button>
            ) : undefined
          }
        />
      ))}
    </Space>
  );
}
