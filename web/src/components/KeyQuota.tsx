import { Progress, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { formatMoney } from '../lib/money';

/** A key's own spending cap: "used / quota" with a bar, or "no limit". */
export function KeyQuota({ k }: { k: { quota_micros: number | null; quota_used_micros: number } }) {
  const { t } = useTranslation();
  if (k.quota_micros === null) return <Typography.Text type="secondary">{t('keys.unlimited')}</Typography.Text>;
  // A ratio for the bar only.
  const pct = k.quota_micros > 0 ? Math.min(100, Math.round((k.quota_used_micros / k.quota_micros) * 100)) : 100;
  return (
    <Space direction="vertical" size={0} style={{ minWidth: 120 }}>
      <span className="tg-num" style={{ whiteSpace: 'nowrap' }}>
        {formatMoney(k.quota_used_micros, 'total')} / {formatMoney(k.quota_micros, 'total')}
      </span>
      <Progress percent={pct} size="small" showInfo={false} status={pct >= 100 ? 'exception' : 'normal'} />
    </Space>
  );
}
