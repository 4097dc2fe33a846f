import { Tag } from 'antd';
import { useTranslation } from 'react-i18next';

const COLORS: Record<string, string> = {
  enabled: 'success',
  active: 'success',
  disabled: 'default',
  auto_disabled: 'warning',
  revoked: 'error',
  locked: 'error',
  frozen: 'error',
  expired: 'warning',
  quota_exhausted: 'warning',
};

/** A status word (channel, user, key) as a coloured, translated tag. */
export function StatusTag({ status }: { status: string }) {
  const { t, i18n } = useTranslation();
  const key = `status.${status}`;
  return <Tag color={COLORS[status] ?? 'default'}>{i18n.exists(key) ? t(key as 'status.active') : status}</Tag>;
}

/** An HTTP status code of a call: green 2xx, orange 4xx, red 5xx. */
export function HttpStatusTag({ code }: { code: number }) {
  const color = code < 300 ? 'success' : code < 500 ? 'warning' : 'error';
  return (
    <Tag color={color} style={{ fontVariantNumeric: 'tabular-nums' }}>
      {code}
    </Tag>
  );
}
