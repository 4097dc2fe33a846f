import { Tooltip, Typography } from 'antd';
import { formatMoney, formatUsd, moneyIsExact, type MoneyKind } from '../lib/money';

/**
 * An amount in micro-USD, by the console's one rule (lib/money `formatMoney`): `total` for balances
 * and totals (2 decimals), `call` for what one call or ledger entry moved (4 significant digits).
 * When the text is rounded, the exact amount is on hover.
 */
export function Money({ micros, colored, kind = 'total', signed }: { micros: number | null | undefined; colored?: boolean; kind?: MoneyKind; signed?: boolean }) {
  const text = formatMoney(micros, kind, { signed });
  const type = colored && micros ? (micros < 0 ? 'danger' : 'success') : undefined;
  const body = (
    <Typography.Text type={type} style={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }} data-money={kind}>
      {text}
    </Typography.Text>
  );
  if (micros === null || micros === undefined || moneyIsExact(micros, kind)) return body;
  return <Tooltip title={formatUsd(micros, { signed })}>{body}</Tooltip>;
}
