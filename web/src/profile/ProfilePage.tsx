import { LockOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import { PageContainer } from '@ant-design/pro-components';
import { Alert, App, Button, type ButtonProps, Card, Descriptions, Form, Input, Modal, QRCode, Space, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { applyFormError, describeError, errorLine } from '../api/errors';
import {
  useChangePassword,
  useConfirmTwoFactor,
  useDisableTwoFactor,
  useRegenerateBackupCodes,
  useRevokeOtherSessions,
  useRevokeSession,
  useSessions,
  useStartTwoFactor,
} from '../api/profile';
import { roleLabel, useMe } from '../api/session';
import type { Me } from '../api/types';
import { CopyButton, CopyField } from '../components/CopyField';
import { useConfirm } from '../components/confirm';
import { QueryState } from '../components/QueryState';
import { formatDateTimeShort } from '../lib/format';
import { usePhone } from '../lib/usePhone';

/** better-auth says INVALID_PASSWORD both for a wrong current password and a weak new one; here it is the current one. */
const wrongPassword = (e: unknown) => e instanceof ApiError && e.code === 'invalid_password';

/** A password asked for again before a change to the second factor. */
function PasswordPrompt({ open, title, danger, loading, error, onOk, onCancel, testId }: {
  open: boolean;
  title: string;
  danger?: boolean;
  loading: boolean;
  error: unknown;
  onOk: (password: string) => void;
  onCancel: () => void;
  testId: string;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ password: string }>();
  const msg = error ? (wrongPassword(error) ? t('profile.wrong_password') : describeError(error, t).message) : null;
  return (
    <Modal
      open={open}
      title={title}
      okText={t('common.confirm')}
      cancelText={t('common.cancel')}
      okButtonProps={{ danger, loading, 'data-testid': `${testId}-ok` } as ButtonProps}
      onOk={() => form.submit()}
      onCancel={onCancel}
      afterClose={() => form.resetFields()}
      destroyOnHidden
    >
      {msg ? <Alert type="error" showIcon message={msg} style={{ marginBottom: 12 }} data-testid={`${testId}-error`} /> : null}
      <Form form={form} layout="vertical" requiredMark={false} onFinish={(v) => onOk(v.password)}>
        <Form.Item name="password" label={t('profile.tfa_password_prompt')} rules={[{ required: true, message: t('auth.password_required') }]}>
          <Input.Password prefix={<LockOutlined />} autoComplete="current-password" autoFocus data-testid={`${testId}-password`} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/** Backup codes, shown once, with copy. */
function BackupCodes({ codes, onDone }: { codes: string[] | null; onDone: () => void }) {
  const { t } = useTranslation();
  return (
    <Modal
      open={!!codes}
      title={t('profile.backup_title')}
      closable={false}
      maskClosable={false}
      footer={
        <Space>
          <CopyButton text={(codes ?? []).join('\n')} testId="backup-codes-copy" />
          <Button type="primary" onClick={onDone} data-testid="backup-codes-done">
            {t('profile.backup_done')}
          </Button>
        </Space>
      }
    >
      <Typography.Paragraph>{t('profile.backup_text')}</Typography.Paragraph>
      <div data-testid="backup-codes" style={{ display: 'grid', gridTemplateColumns: 'repeat(2, minmax(0, 1fr))', gap: 8 }}>
        {(codes ?? []).map((c) => (
          <Typography.Text key={c} code style={{ fontSize: 15, textAlign: 'center' }}>
            {c}
          </Typography.Text>
        ))}
      </div>
    </Modal>
  );
}

function PasswordCard({ me }: { me: Me }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ currentPassword: string; newPassword: string; confirm: string }>();
  const change = useChangePassword();
  return (
    <Card title={t('profile.password_title')} data-testid="profile-password">
      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        style={{ maxWidth: 420 }}
        onFinish={(v) =>
          change.mutate(
            { currentPassword: v.currentPassword, newPassword: v.newPassword },
            {
              onSuccess: () => {
                form.resetFields();
                void message.success(t('profile.password_changed'));
              },
              onError: (e) => {
                const reason = e instanceof ApiError && e.path === 'newPassword' ? (e.details as { reason?: string } | undefined)?.reason : undefined;
                if (reason === 'too_short' || reason === 'too_long' || reason === 'contains_email' || reason === 'common') form.setFields([{ name: 'newPassword', errors: [t(`signup.pw_${reason}`)] }]);
                else if (wrongPassword(e)) form.setFields([{ name: 'currentPassword', errors: [t('profile.wrong_password')] }]);
                else if (!applyFormError(form, e)) void message.error(errorLine(e, t));
              },
            },
          )
        }
      >
        <input type="email" autoComplete="username" value={me.email} readOnly hidden />
        <Form.Item name="currentPassword" label={t('profile.current_password')} rules={[{ required: true, message: t('auth.password_required') }]}>
          <Input.Password autoComplete="current-password" data-testid="profile-current-password" />
        </Form.Item>
        <Form.Item name="newPassword" label={t('profile.new_password')} extra={t('signup.password_rules')} rules={[{ required: true, message: t('auth.password_required') }, { min: 10, message: t('signup.password_short') }]}>
          <Input.Password autoComplete="new-password" data-testid="profile-new-password" />
        </Form.Item>
        <Form.Item
          name="confirm"
          label={t('profile.confirm_password')}
          dependencies={['newPassword']}
          rules={[
            { required: true, message: t('signup.confirm_required') },
            ({ getFieldValue }) => ({
              validator: (_, value) => (!value || getFieldValue('newPassword') === value ? Promise.resolve() : Promise.reject(new Error(t('signup.confirm_mismatch')))),
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="profile-confirm-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={change.isPending} data-testid="profile-change-password">
          {t('profile.change_password')}
        </Button>
      </Form>
    </Card>
  );
}

function TwoFactorCard({ me }: { me: Me }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const start = useStartTwoFactor();
  const confirmCode = useConfirmTwoFactor();
  const regenerate = useRegenerateBackupCodes();
  const disable = useDisableTwoFactor();
  const [prompt, setPrompt] = useState<null | 'enable' | 'regenerate' | 'disable'>(null);
  const [pending, setPending] = useState<{ uri: string; codes: string[] } | null>(null);
  const [shownCodes, setShownCodes] = useState<string[] | null>(null);
  const [codeForm] = Form.useForm<{ code: string }>();
  const secret = pending ? (new URL(pending.uri).searchParams.get('secret') ?? '') : '';

  const onPassword = (password: string) => {
    if (prompt === 'enable')
      start.mutate(password, {
        onSuccess: (r) => {
          setPrompt(null);
          setPending({ uri: r.totpURI, codes: r.backupCodes });
        },
      });
    if (prompt === 'regenerate')
      regenerate.mutate(password, {
        onSuccess: (r) => {
          setPrompt(null);
          setShownCodes(r.backupCodes);
          void message.success(t('profile.backup_regenerated'));
        },
      });
    if (prompt === 'disable')
      disable.mutate(password, {
        onSuccess: () => {
          setPrompt(null);
          void message.success(t('profile.tfa_disabled'));
        },
      });
  };
  const promptMutation = prompt === 'enable' ? start : prompt === 'regenerate' ? regenerate : disable;

  return (
    <Card
      title={
        <Space>
          <SafetyCertificateOutlined />
          {t('profile.tfa_title')}
          <Tag color={me.two_factor_enabled ? 'green' : 'default'} data-testid="tfa-status">
            {t(me.two_factor_enabled ? 'profile.tfa_on' : 'profile.tfa_off')}
          </Tag>
        </Space>
      }
      data-testid="profile-2fa"
    >
      <Typography.Paragraph type="secondary">{t(me.two_factor_enabled ? 'profile.tfa_on_text' : 'profile.tfa_off_text')}</Typography.Paragraph>
      {me.two_factor_enabled ? (
        <Space wrap>
          <Button onClick={() => setPrompt('regenerate')} data-testid="tfa-regenerate">
            {t('profile.backup_regenerate')}
          </Button>
          <Button danger onClick={() => setPrompt('disable')} data-testid="tfa-disable">
            {t('profile.tfa_disable')}
          </Button>
        </Space>
      ) : pending ? (
        <div data-testid="tfa-enrol">
          <Typography.Paragraph>{t('profile.tfa_scan')}</Typography.Paragraph>
          <Space align="start" wrap size={24}>
            <QRCode value={pending.uri} size={176} bordered data-testid="tfa-qr" />
            <div style={{ minWidth: 240, maxWidth: 360 }}>
              <Typography.Text type="secondary">{t('profile.tfa_secret')}</Typography.Text>
              <CopyField value={secret} testId="tfa-secret" />
              <Form
                form={codeForm}
                layout="vertical"
                requiredMark={false}
                style={{ marginTop: 16 }}
                onFinish={(v) =>
                  confirmCode.mutate(v.code, {
                    onSuccess: () => {
                      setShownCodes(pending.codes);
                      setPending(null);
                      codeForm.resetFields();
                      void message.success(t('profile.tfa_enabled'));
                    },
                    onError: (e) => codeForm.setFields([{ name: 'code', errors: [describeError(e, t).message] }]),
                  })
                }
              >
                <Form.Item name="code" label={t('profile.tfa_confirm_label')} rules={[{ required: true, message: t('auth.code_required') }]}>
                  <Input inputMode="numeric" autoComplete="one-time-code" maxLength={6} data-testid="tfa-code" />
                </Form.Item>
                <Space>
                  <Button type="primary" htmlType="submit" loading={confirmCode.isPending} data-testid="tfa-confirm">
                    {t('profile.tfa_confirm')}
                  </Button>
                  <Button onClick={() => setPending(null)}>{t('profile.tfa_cancel')}</Button>
                </Space>
              </Form>
            </div>
          </Space>
        </div>
      ) : (
        <Button type="primary" onClick={() => setPrompt('enable')} data-testid="tfa-enable">
          {t('profile.tfa_enable')}
        </Button>
      )}
      <PasswordPrompt
        open={prompt !== null}
        title={t(prompt === 'disable' ? 'profile.tfa_disable' : prompt === 'regenerate' ? 'profile.backup_regenerate' : 'profile.tfa_enable')}
        danger={prompt === 'disable'}
        loading={promptMutation.isPending}
        error={promptMutation.error}
        onOk={onPassword}
        onCancel={() => {
          promptMutation.reset();
          setPrompt(null);
        }}
        testId="tfa-prompt"
      />
      <BackupCodes codes={shownCodes} onDone={() => setShownCodes(null)} />
    </Card>
  );
}

function SessionsCard() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm } = useConfirm();
  const phone = usePhone();
  const sessions = useSessions();
  const revoke = useRevokeSession();
  const revokeOthers = useRevokeOtherSessions();
  type Row = NonNullable<typeof sessions.data>['data'][number];
  const others = (sessions.data?.data ?? []).filter((s) => !s.current).length;

  const columns: TableColumnsType<Row> = [
    {
      title: t('profile.device'),
      dataIndex: 'user_agent',
      ellipsis: { showTitle: false },
      render: (_, s) => (
        <Space direction="vertical" size={0} style={{ maxWidth: '100%' }}>
          <Tooltip title={s.user_agent}>
            <Typography.Text ellipsis style={{ maxWidth: phone ? 170 : 420 }}>{s.user_agent || t('profile.unknown_device')}</Typography.Text>
          </Tooltip>
          {s.current ? (
            <Tag color="blue" data-testid="session-current">
              {t('profile.this_device')}
            </Tag>
          ) : null}
          {phone && s.ip_address ? <Typography.Text type="secondary">{s.ip_address}</Typography.Text> : null}
        </Space>
      ),
    },
    { title: t('profile.ip'), dataIndex: 'ip_address', responsive: ['md'], width: 140 },
    { title: t('profile.created'), dataIndex: 'created_at', responsive: ['md'], width: 150, render: (_, s) => formatDateTimeShort(s.created_at) },
    { title: t('profile.last_active'), dataIndex: 'last_active_at', width: phone ? 110 : 150, render: (_, s) => formatDateTimeShort(s.last_active_at) },
    {
      title: t('common.actions'),
      key: 'actions',
      width: phone ? 90 : 110,
      render: (_, s) =>
        s.current ? null : (
          <Button
            size="small"
            danger
            data-testid={`session-revoke-${s.id}`}
            onClick={() =>
              confirm({
                title: t('profile.revoke_confirm'),
                content: s.user_agent,
                okText: t('profile.revoke'),
                onOk: async () => {
                  try {
                    await revoke.mutateAsync(s.id);
                    void message.success(t('profile.revoked'));
                  } catch (e) {
                    void message.error(errorLine(e, t));
                    throw e;
                  }
                },
              })
            }
          >
            {t('profile.revoke')}
          </Button>
        ),
    },
  ];

  return (
    <Card
      title={t('profile.sessions_title')}
      data-testid="profile-sessions"
      extra={
        <Button
          danger
          size={phone ? 'small' : 'middle'}
          disabled={others === 0}
          data-testid="sessions-revoke-others"
          onClick={() =>
            confirm({
              title: t('profile.revoke_others_confirm'),
              okText: t('profile.revoke_others'),
              onOk: async () => {
                try {
                  const r = await revokeOthers.mutateAsync();
                  void message.success(t('profile.revoked_others', { count: r.revoked }));
                } catch (e) {
                  void message.error(errorLine(e, t));
                  throw e;
                }
              },
            })
          }
        >
          {t('profile.revoke_others')}
        </Button>
      }
    >
      <Typography.Paragraph type="secondary">{t('profile.sessions_text')}</Typography.Paragraph>
      <QueryState query={sessions}>
        {(d) => (
          <div data-testid="sessions-table">
            <Table<Row> rowKey="id" size="small" columns={columns} dataSource={d.data} pagination={false} tableLayout="fixed" />
          </div>
        )}
      </QueryState>
    </Card>
  );
}

/** Profile (both areas): your account, password, two-factor sign-in and signed-in devices. */
export default function ProfilePage() {
  const { t } = useTranslation();
  const me = useMe();
  if (!me.data) return null;
  const m = me.data;
  return (
    <PageContainer title={t('profile.title')} content={t('profile.subtitle')}>
      <Space direction="vertical" size={16} style={{ width: '100%' }}>
        {m.two_factor_required ? (
          <Alert type="warning" showIcon message={t('profile.enrol_required_title')} description={t('profile.enrol_required_text')} data-testid="enrol-required" />
        ) : null}
        <Card title={t('profile.account')}>
          <Descriptions column={1} size="small">
            <Descriptions.Item label={t('profile.email')}>
              <span data-testid="profile-email">{m.email}</span>
            </Descriptions.Item>
            <Descriptions.Item label={t('profile.name')}>{m.name}</Descriptions.Item>
            <Descriptions.Item label={t('profile.role')}>{roleLabel(t, m.role)}</Descriptions.Item>
          </Descriptions>
        </Card>
        <TwoFactorCard me={m} />
        <SessionsCard />
        <PasswordCard me={m} />
      </Space>
    </PageContainer>
  );
}
