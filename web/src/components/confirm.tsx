import { App, Input, Space, Typography } from 'antd';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

/**
 * The two confirmation levels of the console:
 *  - `confirm`: Modal.confirm for destructive but recoverable actions (disable, revoke);
 *  - `typed`: for the most dangerous ones (delete, deduct balance) the OK button stays disabled
 *    until the person types the exact text shown (an email, or "DELETE").
 * Both resolve once `onOk` has finished; an error thrown by `onOk` keeps the dialog open (the
 * caller shows it as a message). Awaiting the instance is what tells antd not to re-throw that
 * error, which would otherwise surface as an unhandled promise rejection in the browser.
 */
export function useConfirm() {
  const { modal } = App.useApp();
  const { t } = useTranslation();

  function confirm(o: { title: ReactNode; content?: ReactNode; okText?: ReactNode; danger?: boolean; onOk: () => Promise<unknown> | void; onCancel?: () => void }) {
    const inst = modal.confirm({
      title: o.title,
      content: o.content,
      okText: o.okText ?? t('common.confirm'),
      cancelText: t('common.cancel'),
      okButtonProps: { danger: o.danger ?? true },
      onOk: o.onOk,
      onCancel: o.onCancel,
    });
    void inst.then(() => undefined, () => undefined);
  }

  function typed(o: { title: ReactNode; content?: ReactNode; expected: string; okText?: ReactNode; onOk: () => Promise<unknown> | void }) {
    const inst = modal.confirm({
      title: o.title,
      width: 460,
      okText: o.okText ?? t('common.confirm'),
      cancelText: t('common.cancel'),
      okButtonProps: { danger: true, disabled: true },
      content: (
        <TypedBody
          expected={o.expected}
          content={o.content}
          onMatch={(ok) => inst.update({ okButtonProps: { danger: true, disabled: !ok } })}
        />
      ),
      onOk: o.onOk,
    });
    void inst.then(() => undefined, () => undefined);
  }

  return { confirm, typed };
}

function TypedBody({ expected, content, onMatch }: { expected: string; content?: ReactNode; onMatch: (ok: boolean) => void }) {
  const { t } = useTranslation();
  const [value, setValue] = useState('');
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      {content}
      <Typography.Text>
        {t('confirm.type_to_confirm')} <Typography.Text code copyable={false}>{expected}</Typography.Text>
      </Typography.Text>
      <Input
        autoFocus
        data-testid="typed-confirm-input"
        value={value}
        placeholder={expected}
        onChange={(e) => {
          setValue(e.target.value);
          onMatch(e.target.value.trim() === expected);
        }}
      />
    </Space>
  );
}
