import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { AutoComplete, Select, Spin } from 'antd';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

/** `value`, or its last change once it has stood still for `ms` (typing in a search box). */
export function useDebounced<T>(value: T, ms = 250): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

export interface PickerOption {
  value: number;
  /** What the box shows once picked. */
  label: string;
  /** A richer line in the drop-down (defaults to the label). */
  render?: ReactNode;
}

/**
 * A select that searches the server as the person types (users by email, keys by name…) and holds
 * the picked row's id. Used in query forms: `renderFormItem: () => <RemotePicker … />` (the form
 * passes `value` and `onChange`).
 */
export function RemotePicker({
  queryKey,
  search,
  value,
  onChange,
  placeholder,
  testId,
}: {
  /** Prefix of the TanStack Query key (the resource's key, so its mutations refresh the picker). */
  queryKey: readonly unknown[];
  search: (keyword: string) => Promise<PickerOption[]>;
  value?: number | string | null;
  onChange?: (value: number | undefined) => void;
  placeholder?: string;
  testId?: string;
}) {
  const { t } = useTranslation();
  const [keyword, setKeyword] = useState('');
  const kw = useDebounced(keyword.trim());
  // The picked option is kept, so its label shows even when a later search does not return it.
  const [picked, setPicked] = useState<PickerOption | null>(null);
  const q = useQuery({ queryKey: [...queryKey, 'picker', kw], queryFn: () => search(kw), placeholderData: keepPreviousData, staleTime: 30_000 });
  const current = value === undefined || value === null || value === '' ? undefined : Number(value);
  const options = useMemo(() => {
    const list = q.data ?? [];
    const all = picked && picked.value === current && !list.some((o) => o.value === picked.value) ? [picked, ...list] : list;
    return all.map((o) => ({ value: o.value, label: o.label, render: o.render }));
  }, [q.data, picked, current]);
  return (
    <Select<number>
      showSearch
      allowClear
      filterOption={false}
      value={current}
      placeholder={placeholder}
      data-testid={testId}
      onSearch={setKeyword}
      onChange={(v) => {
        setPicked((q.data ?? []).find((o) => o.value === v) ?? null);
        setKeyword('');
        onChange?.(v ?? undefined);
      }}
      onDropdownVisibleChange={(open) => (open ? undefined : setKeyword(''))}
      loading={q.isFetching}
      notFoundContent={q.isFetching ? <Spin size="small" /> : q.isError ? t('errors.codes.network') : t('common.no_match')}
      options={options}
      optionRender={(o) => (o.data as { render?: ReactNode }).render ?? o.label}
      style={{ width: '100%' }}
    />
  );
}

/**
 * A text field with suggestions (model names): pick one from the list or type any value; the
 * list narrows as the person types.
 */
export function SuggestInput({ value, onChange, options, placeholder, testId }: { value?: string; onChange?: (v: string) => void; options: string[]; placeholder?: string; testId?: string }) {
  const [text, setText] = useState('');
  const shown = useMemo(() => {
    const s = text.trim().toLowerCase();
    return [...new Set(options)].filter((o) => !s || o.toLowerCase().includes(s)).sort().map((o) => ({ value: o, label: o }));
  }, [options, text]);
  return (
    <AutoComplete
      allowClear
      value={value}
      options={shown}
      placeholder={placeholder}
      data-testid={testId}
      onSearch={setText}
      onChange={(v) => onChange?.(v ?? '')}
      style={{ width: '100%' }}
    />
  );
}
