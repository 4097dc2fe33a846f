import { Typography } from 'antd';
import { useMemo } from 'react';
import { adminKeys, useChannels, usePrices } from '../api/admin';
import { api, call } from '../api/client';
import { RemotePicker, type PickerOption } from '../components/pickers';
import { maskEmail } from '../lib/mask';

async function searchUsers(q: string): Promise<PickerOption[]> {
  const { items } = await call(api.GET('/api/admin/users', { params: { query: { q: q || undefined, page: 1, page_size: 20, sort: 'created_at', order: 'desc' } } }));
  return items.map((u) => ({
    value: u.id,
    label: `${u.email} (#${u.id})`,
    render: (
      <span>
        {u.email} <Typography.Text type="secondary">#{u.id}{u.name ? ` · ${u.name}` : ''}</Typography.Text>
      </span>
    ),
  }));
}

async function searchKeys(q: string): Promise<PickerOption[]> {
  const { items } = await call(api.GET('/api/admin/keys', { params: { query: { q: q || undefined, page: 1, page_size: 20 } } }));
  return items.map((k) => ({
    value: k.id,
    label: `${k.name || k.display} (${k.display})`,
    render: (
      <span>
        {k.name || '—'} <Typography.Text type="secondary" className="tg-mono">{k.display}</Typography.Text>{' '}
        <Typography.Text type="secondary">· {maskEmail(k.owner_email)}</Typography.Text>
      </span>
    ),
  }));
}

/** A user, searched by email, name or ID; holds the user's id. */
export function UserPicker(p: { value?: number | string | null; onChange?: (v: number | undefined) => void; placeholder?: string; testId?: string }) {
  return <RemotePicker queryKey={adminKeys.users} search={searchUsers} {...p} />;
}

/** A key, searched by name or prefix; holds the key's id. */
export function KeyPicker(p: { value?: number | string | null; onChange?: (v: number | undefined) => void; placeholder?: string; testId?: string }) {
  return <RemotePicker queryKey={adminKeys.keys} search={searchKeys} {...p} />;
}

/** Every model the platform knows: priced ones and those a channel serves. */
export function useKnownModels(): string[] {
  const prices = usePrices();
  const channels = useChannels({});
  return useMemo(() => {
    const all = new Set<string>();
    for (const p of prices.data?.items ?? []) all.add(p.model);
    for (const c of channels.data?.items ?? []) for (const m of c.models) if (!m.includes('*')) all.add(m);
    return [...all].sort();
  }, [prices.data, channels.data]);
}
