import { Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import i18n from '../../i18n';
import { HttpStatusTag } from '../StatusTag';

interface Failed {
  status_code: number;
  error_code: string | null;
  error_message: string | null;
}

/** A failed call's error in the reader's language, from the catalog by its code (the server's words are English). */
export function usageErrorText(code: string): string {
  const key = `errors.codes.${code}`;
  return i18n.exists(key) ? i18n.t(key as 'errors.codes.internal') : i18n.t('usage.error_other', { code });
}

/** The status of a call as a tag; on hover, what went wrong in words and the server's detail. */
export function UsageStatus({ r }: { r: Failed }) {
  useTranslation();
  const tag = <HttpStatusTag code={r.status_code} />;
  if (!r.error_code) return tag;
  return (
    <Tooltip
      title={
        <>
          <div>{usageErrorText(r.error_code)}</div>
          {r.error_message ? <div style={{ opacity: 0.75, fontSize: 12, wordBreak: 'break-word' }}>{r.error_message}</div> : null}
        </>
      }
    >
      <span data-testid="usage-status-error">{tag}</span>
    </Tooltip>
  );
}

/** The error in full, wrapped, for a record's details: the sentence, then the code and the server's words. */
export function UsageError({ r }: { r: Failed }) {
  const { t } = useTranslation();
  if (!r.error_code) return null;
  return (
    <div style={{ whiteSpace: 'normal', wordBreak: 'break-word' }}>
      <Typography.Text type="danger">{usageErrorText(r.error_code)}</Typography.Text>
      <div>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t('usage.server_detail')}: <span className="tg-mono">{r.error_code}</span>
          {r.error_message ? ` — ${r.error_message}` : ''}
        </Typography.Text>
      </div>
    </div>
  );
}
