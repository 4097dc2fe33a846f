import { App, Button, Col, Form, Input, Radio, Row, Select, Space, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAdjustBalance } from '../../api/admin';
import { applyFormError, errorLine } from '../../api/errors';
import { useConfirm } from '../../components/confirm';
import { usdRule } from '../../lib/forms';
import { formatUsd, normalizeUsd, usdToMicros } from '../../lib/money';

/** What staff book by hand (spec 000 §5 / 003: 充值, 扣款, 补偿, 调账). */
export const ENTRY_TYPES = ['topup', 'deduction', 'compensation', 'correction'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];
export const PAYMENT_METHODS = ['bank_transfer', 'cash', 'alipay', 'wechat', 'other'] as const;
type PaymentMethod = (typeof PAYMENT_METHODS)[number];

interface Values {
  type: EntryType;
  /** Corrections only: which way. */
  direction: 'add' | 'deduct';
  amount: string;
  payment_method?: PaymentMethod;
  reference?: string;
  reason: string;
}

const newKey = () => (globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`).replace(/-/g, '');

/**
 * Book cash for a user by hand: a top-up received by bank transfer, cash, Alipay or WeChat (with
 * the slip or transaction number), a deduction, a compensation or a correction; a reason always.
 * The amount stays a decimal string end to end; taking money away needs the user's email typed
 * back. One idempotency key per attempt, so a double click or a retry after a timeout books it once.
 */
export function TopUpForm({ user, canAdjust, onDone }: { user: { id: number; email: string }; canAdjust: boolean; onDone?: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { confirm, typed } = useConfirm();
  const [form] = Form.useForm<Values>();
  const [idemKey, setIdemKey] = useState(newKey);
  const adjust = useAdjustBalance();
  const type = Form.useWatch('type', form) ?? 'topup';
  const direction = Form.useWatch('direction', form) ?? 'add';
  const takes = type === 'deduction' || (type === 'correction' && direction === 'deduct');

  const submit = (v: Values) => {
    const amount = normalizeUsd(v.amount)!;
    const signed = takes ? `-${amount}` : amount;
    const micros = usdToMicros(signed)!;
    const reference = v.reference?.trim() || undefined;
    const run = async () => {
      try {
        const r = await adjust.mutateAsync({
          id: user.id,
          body: { amount: signed, type: v.type, payment_method: v.payment_method, reference, reason: v.reason.trim(), idempotency_key: idemKey },
        });
        void message.success(t('users.adjust_done', { amount: formatUsd(r.entry.amount_micros, { signed: true }), balance: formatUsd(r.user.balance_micros) }));
        form.resetFields();
        setIdemKey(newKey());
        onDone?.();
      } catch (e) {
        if (!applyFormError(form, e)) void message.error(errorLine(e, t));
        throw e;
      }
    };
    const content = (
      <Space direction="vertical">
        <Typography.Text>{t('topup.summary', { type: t(`ledger.types.${v.type}`), amount: formatUsd(micros, { signed: true }), email: user.email })}</Typography.Text>
        {v.payment_method ? (
          <Typography.Text type="secondary">
            {t('topup.method')}: {t(`topup.methods.${v.payment_method}`)}
            {reference ? ` · ${t('topup.reference')}: ${reference}` : ''}
          </Typography.Text>
        ) : null}
        <Typography.Text type="secondary">{t('users.adjust_reason_label', { reason: v.reason.trim() })}</Typography.Text>
      </Space>
    );
    if (takes) typed({ title: t('users.deduct_confirm'), content, expected: user.email, okText: t('topup.submit'), onOk: run });
    else confirm({ title: t('users.add_confirm'), content, okText: t('topup.submit'), danger: false, onOk: run });
  };

  return (
    <Form<Values>
      form={form}
      layout="vertical"
      initialValues={{ type: 'topup', direction: 'add' }}
      onFinish={submit}
      disabled={!canAdjust || adjust.isPending}
      data-testid="balance-form"
    >
      {!canAdjust ? <Typography.Paragraph type="secondary">{t('users.adjust_needs_permission')}</Typography.Paragraph> : null}
      <Form.Item name="type" label={t('topup.type')}>
        <Radio.Group
          optionType="button"
          buttonStyle="solid"
          options={ENTRY_TYPES.map((k) => ({ value: k, label: <span data-testid={`topup-type-${k}`}>{t(`ledger.types.${k}`)}</span> }))}
          style={{ display: 'flex', flexWrap: 'wrap', rowGap: 8 }}
        />
      </Form.Item>
      {type === 'correction' ? (
        <Form.Item name="direction" label={t('users.adjust_direction')}>
          <Radio.Group optionType="button" options={[{ value: 'add', label: t('users.add') }, { value: 'deduct', label: t('users.deduct') }]} />
        </Form.Item>
      ) : null}
      <Row gutter={16}>
        <Col xs={24} sm={12}>
          <Form.Item name="amount" label={t('users.adjust_amount')} rules={[{ required: true, message: t('form.required') }, usdRule(t, { nonZero: true })]}>
            <Input prefix={takes ? '−$' : '$'} inputMode="decimal" placeholder="10.00" data-testid="balance-amount" />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12}>
          <Form.Item
            name="payment_method"
            label={t('topup.method')}
            rules={type === 'topup' ? [{ required: true, message: t('topup.method_required') }] : []}
          >
            <Select
              allowClear={type !== 'topup'}
              placeholder={t('topup.method_placeholder')}
              options={PAYMENT_METHODS.map((m) => ({ value: m, label: t(`topup.methods.${m}`) }))}
              data-testid="topup-method"
            />
          </Form.Item>
        </Col>
      </Row>
      <Form.Item name="reference" label={t('topup.reference')} extra={t('topup.reference_hint')}>
        <Input maxLength={200} placeholder={t('topup.reference_placeholder')} data-testid="topup-reference" />
      </Form.Item>
      <Form.Item name="reason" label={t('users.adjust_reason')} rules={[{ required: true, whitespace: true, message: t('users.reason_required') }]}>
        <Input.TextArea autoSize={{ minRows: 2, maxRows: 4 }} maxLength={500} showCount data-testid="balance-reason" />
      </Form.Item>
      <Button type="primary" danger={takes} htmlType="submit" loading={adjust.isPending} data-testid="balance-submit">
        {t('topup.submit_as', { type: t(`ledger.types.${type}`) })}
      </Button>
    </Form>
  );
}
