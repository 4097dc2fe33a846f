import { Space, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { formatDateTimeShort } from '../../lib/format';
import { StatusTag } from '../StatusTag';

interface KeyLike {
  state: string;
  locked_reason: string | null;
  locked_at: string | null;
  previous_key: { display: string; valid_until: string } | null;
}

/** A key's state; a locked key names why on hover, a rotated one says until when its old secret works. */
export function KeyStateTag({ k }: { k: KeyLike }) {
  const { t } = useTranslation();
  const tag = <StatusTag status={k.state} />;
  return (
    <Space direction="vertical" size={0}>
      {k.state === 'locked' && k.locked_reason ? (
        <Tooltip title={`${t('lock.reason')}: ${k.locked_reason}${k.locked_at ? ` (${formatDateTimeShort(k.locked_at)})` : ''}`}>{tag}</Tooltip>
      ) : (
        tag
      )}
      {k.previous_key ? (
        <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="key-previous">
          {t('rotate.previous_until', { display: k.previous_key.display, time: formatDateTimeShort(k.previous_key.valid_until) })}
        </Typography.Text>
      ) : null}
    </Space>
  );
}
