import { Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { usageErrorText } from '../../components/usage/UsageStatus';
import { formatMs } from '../../lib/format';

interface Failed {
  status: number | null;
  error: string | null;
  error_code: string | null;
  ms?: number;
}

/**
 * A failed channel test in the reader's language, from the catalog by its code; the server's own
 * words (English, with the upstream's message) stay one click away for whoever has to fix it.
 */
export function TestError({ r }: { r: Failed }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const detail = `${r.status ? `HTTP ${r.status} · ` : ''}${r.error ?? ''}${r.ms !== undefined ? ` (${formatMs(r.ms)})` : ''}`;
  return (
    <div style={{ whiteSpace: 'normal', wordBreak: 'break-word' }} data-testid="channel-test-error">
      <div>{usageErrorText(r.error_code ?? 'upstream_error')}</div>
      <Typography.Link onClick={() => setOpen((v) => !v)} style={{ fontSize: 12 }} data-testid="channel-test-detail-toggle">
        {open ? t('channels.hide_detail') : t('channels.show_detail')}
      </Typography.Link>
      {open ? (
        <div className="tg-mono" style={{ fontSize: 12, opacity: 0.8 }} data-testid="channel-test-detail">
          {detail}
        </div>
      ) : null}
    </div>
  );
}

/** For a tooltip: the sentence, then the server's detail in small print. */
export function testErrorTip(r: { last_test_error: string | null; last_test_error_code: string | null }) {
  if (!r.last_test_error) return undefined;
  return (
    <>
      <div>{usageErrorText(r.last_test_error_code ?? 'upstream_error')}</div>
      <div style={{ opacity: 0.75, fontSize: 12, wordBreak: 'break-word' }}>{r.last_test_error}</div>
    </>
  );
}
