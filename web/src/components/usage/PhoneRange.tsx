import { Button, DatePicker, Space } from 'antd';
import type { Dayjs } from 'dayjs';
import { useTranslation } from 'react-i18next';
import { timePresets } from './filters';

type Range = [Dayjs | null, Dayjs | null];

/**
 * The time-range field of the usage query forms on a phone. antd's range picker opens two months
 * side by side with the presets beside them (577 px), which does not fit a 390 px screen: here
 * the presets come first as buttons, then one date picker per end, each a single month.
 * The value is the same [from, to] pair as the range picker's, so the filters read it alike.
 */
export function PhoneRange({ value, onChange }: { value?: Range; onChange?: (v: Range) => void }) {
  const { t } = useTranslation();
  const [from, to] = value ?? [null, null];
  return (
    <Space direction="vertical" size={6} style={{ width: '100%' }} data-testid="phone-range">
      <Space wrap size={[6, 6]}>
        {timePresets(t).map((p) => (
          <Button key={p.label} size="small" onClick={() => onChange?.(p.value())} data-testid="phone-range-preset">
            {p.label}
          </Button>
        ))}
      </Space>
      <DatePicker
        value={from}
        placeholder={t('usage.from')}
        format="YYYY-MM-DD HH:mm"
        inputReadOnly
        style={{ width: '100%' }}
        onChange={(d) => onChange?.([d ? d.startOf('day') : null, to])}
        data-testid="phone-range-from"
      />
      <DatePicker
        value={to}
        placeholder={t('usage.to')}
        format="YYYY-MM-DD HH:mm"
        inputReadOnly
        style={{ width: '100%' }}
        onChange={(d) => onChange?.([from, d ? d.endOf('day') : null])}
        data-testid="phone-range-to"
      />
    </Space>
  );
}
