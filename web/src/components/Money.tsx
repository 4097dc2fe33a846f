import { Typography } from 'antd';
import { formatUsd, type FormatUsdOptions } from '../lib/money';

/** An amount in micro-USD as dollars, exact (up to 6 decimals), right-aligned digits. */
export function Money({ micros, colored, ...opts }: { micros: number | null | undefined; colored?: boolean } & FormatUsdOptions) {
  const text = formatUsd(micros, opts);
  const type = colored && micros ? (micros < 0 ? 'danger' : 'success') : undefined;
  return (
    <Typography.Text type={type} style={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }}>
      {text}
    </Typography.Text>
  );
}
