import { useCallback, useState } from 'react';

/**
 * The state of a create/edit drawer: whether it is open, what it edits (null: a new one), and a
 * session number to use as the drawer's React `key`, so every opening starts with a fresh form.
 * (Without it, antd keeps the last values in the form's store: a second "new key" would inherit the
 * first one's quota, models and IPs.)
 */
export function useDrawer<T>() {
  const [state, setState] = useState<{ open: boolean; target: T | null; session: number }>({ open: false, target: null, session: 0 });
  const show = useCallback((target: T | null = null) => setState((s) => ({ open: true, target, session: s.session + 1 })), []);
  const setOpen = useCallback((open: boolean) => setState((s) => ({ ...s, open })), []);
  return { ...state, show, setOpen };
}
