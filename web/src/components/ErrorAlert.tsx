import { Alert, Button, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { describeError } from '../api/errors';

/** A server or network error, in words, with a retry button when the caller can retry. */
export function ErrorAlert({ error, onRetry, compact }: { error: unknown; onRetry?: () => void; compact?: boolean }) {
  const { t } = useTranslation();
  const d = describeError(error, t);
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      style={compact ? undefined : { marginBottom: 16 }}
      message={d.message}
      description={
        d.detail || d.requestId ? (
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {d.detail}
            {d.requestId ? ` · ${t('errors.request_id')}: ${d.requestId}` : null}
          </Typography.Text>
        ) : undefined
      }
      action={
        onRetry ? (
          <Button size="small" onClick={onRetry}>
            {t('common.retry')}
          </Button>
        ) : undefined
      }
    />
  );
}
