import { CheckOutlined, CopyOutlined } from '@ant-design/icons';
import { App, Button, Input, Space } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

/** Put text on the clipboard; falls back to a hidden textarea where the Clipboard API is missing (http://). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function CopyButton({ text, label, testId, size }: { text: string; label?: string; testId?: string; size?: 'small' | 'middle' }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [done, setDone] = useState(false);
  return (
    <Button
      size={size}
      data-testid={testId}
      icon={done ? <CheckOutlined /> : <CopyOutlined />}
      aria-label={label ?? t('common.copy')}
      onClick={async () => {
        const ok = await copyText(text);
        if (ok) {
          setDone(true);
          void message.success(t('common.copied'));
          setTimeout(() => setDone(false), 2000);
        } else void message.error(t('common.copy_failed'));
      }}
    >
      {label ?? t('common.copy')}
    </Button>
  );
}

/** A read-only value with a copy button beside it (base URL, a new key). */
export function CopyField({ value, testId, monospace = true }: { value: string; testId?: string; monospace?: boolean }) {
  return (
    <Space.Compact style={{ width: '100%' }}>
      <Input readOnly value={value} data-testid={testId} style={monospace ? { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' } : undefined} onFocus={(e) => e.target.select()} />
      <CopyButton text={value} testId={testId ? `${testId}-copy` : undefined} />
    </Space.Compact>
  );
}
