import { App, Button, Form, Input, Radio, Space, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAdjustBalance } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import type { AdminUserDetail } from '../../api/types';
import { useConfirm } from '../../components/confirm';
import { usdRule } from '../../lib/forms';
import { formatUsd, normalizeUsd, usdToMicros } from '../../lib/money';

interface Values {
  direction: 'add' | 'deduct';
  amount: string;
  reason: string;
}

const newKey = () => (globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`).replace(/-/g, '');

/**
 * Add or deduct cash by hand (super-admin). The amount stays a decimal string end to end; a
 * deduction needs the user's email typed back. One idempotency key per attempt, so a double
 * click or a retry after a timeout books it once.
 */
export function BalanceAdjustForm({ user, canAdjust }: { user: AdminUserDetail; canAdjust: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm, typed } = useConfirm();
  const [form] = Form.useForm<Values>();
  const [idemKey, setIdemKey] = useState(newKey);
  const adjust = useAdjustBalance();
  const direction = Form.useWatch('direction', form) ?? 'add';

  const submit = (v: Values) => {
    const amount = normalizeUsd(v.amount)!;
    const signed = v.direction === 'deduct' ? `-${amount}` : amount;
    const micros = usdToMicros(signed)!;
    const run = async () => {
      try {
        const r = await adjust.mutateAsync({ id: user.id, body: { amount: signed, reason: v.reason.trim(), idempotency_key: idemKey } });
        void message.success(t('users.adjust_done', { amount: formatUsd(r.entry.amount_micros, { signed: true }), balance: formatUsd(r.user.balance_micros) }));
        form.resetFields();
        setIdemKey(newKey());
      } catch (e) {
        if (!applyFormError(form, e)) void message.error(errorLine(e, t));
        throw e;
      }
    };
    const content = (
      <Space direction="vertical">
        <Typography.Text>{t('users.adjust_summary', { amount: formatUsd(micros, { signed: true }), email: user.email })}</Typography.Text>
        <Typography.Text type="secondary">{t('users.adjust_reason_label', { reason: v.reason.trim() })}</Typography.Text>
      </Space>
    );
    if (v.direction === 'deduct') typed({ title: t('users.deduct_confirm'), content, expected: user.email, okText: t('users.deduct'), onOk: run });
    else confirm({ title: t('users.add_confirm'), content, okText: t('users.add'), danger: false, onOk: run });
  };

  return (
    <Form<Values> form={form} layout="vertical" initialValues={{ direction: 'add' }} onFinish={submit} disabled={!canAdjust || adjust.isPending} data-testid="balance-form">
      {!canAdjust ? (
        <Typography.Paragraph type="secondary">{t('users.adjust_needs_super')}</Typography.Paragraph>
      ) : null}
      <Form.Item name="direction" label={t('users.adjust_direction')}>
        <Radio.Group optionType="button" buttonStyle="solid" options={[{ value: 'add', label: t('users.add') }, { value: 'deduct', label: t('users.deduct') }]} />
      </Form.Item>
      <Form.Item name="amount" label={t('users.adjust_amount')} rules={[{ required: true, message: t('form.required') }, usdRule(t, { nonZero: true })]}>
        <Input prefix="$" inputMode="decimal" placeholder="10.00" data-testid="balance-amount" />
      </Form.Item>
      <Form.Item name="reason" label={t('users.adjust_reason')} rules={[{ required: true, whitespace: true, message: t('users.reason_required') }]}>
        <Input.TextArea autoSize={{ minRows: 2, maxRows: 4 }} maxLength={500} showCount data-testid="balance-reason" />
      </Form.Item>
      <Button type="primary" danger={direction === 'deduct'} htmlType="submit" loading={adjust.isPending} data-testid="balance-submit">
        {direction === 'deduct' ? t('users.deduct') : t('users.add')}
      </Button>
    </Form>
  );
}
