import { useSyncExternalStore } from 'react';

// ProLayout's phone breakpoint (its menu becomes a drawer below 768 px), read synchronously so
// that the first render already knows; antd's Grid.useBreakpoint answers only after an effect.
const PHONE_QUERY = '(max-width: 767px)';

function subscribe(onChange: () => void): () => void {
  const mq = window.matchMedia(PHONE_QUERY);
  mq.addEventListener('change', onChange);
  return () => mq.removeEventListener('change', onChange);
}

/** Whether the screen is phone-sized. */
export function usePhone(): boolean {
  return useSyncExternalStore(subscribe, () => window.matchMedia(PHONE_QUERY).matches);
}
