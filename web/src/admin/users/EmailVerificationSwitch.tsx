import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { App, Card, Switch, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, call } from '../../api/client';
import { errorLine } from '../../api/errors';

const key = ['settings', 'email-verification'] as const;

/**
 * require_email_verification: customers must confirm their address before they can sign in. Only
 * with mail configured (SMTP); otherwise the switch is off and says why.
 */
export function EmailVerificationSwitch({ editable }: { editable: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const qc = useQueryClient();
  const setting = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/admin/settings/email-verification')) });
  const set = useMutation({
    mutationFn: (required: boolean) => call(api.PUT('/api/admin/settings/email-verification', { body: { required } })),
    onSettled: () => qc.invalidateQueries({ queryKey: key }),
  });
  const mailOff = setting.data ? !setting.data.mail : false;
  return (
    <Card size="small" style={{ marginBottom: 16 }}>
      <div style={{ display: 'flex', alignItems: 'center', gap: 12 }}>
        <Switch
          checked={setting.data?.required ?? false}
          loading={setting.isPending || set.isPending}
          disabled={!editable || mailOff}
          data-testid="require-email-verification-switch"
          onChange={(on) =>
            set.mutate(on, {
              onSuccess: () => void message.success(t(on ? 'users.verify_on' : 'users.verify_off')),
              onError: (e) => void message.error(errorLine(e, t)),
            })
          }
        />
        <div style={{ minWidth: 0 }}>
          <Typography.Text strong>{t('users.verify_required')}</Typography.Text>
          <br />
          <Typography.Text type="secondary" data-testid="require-email-verification-hint">
            {t(mailOff ? 'users.verify_mail_off' : 'users.verify_hint')}
          </Typography.Text>
        </div>
      </div>
    </Card>
  );
}
