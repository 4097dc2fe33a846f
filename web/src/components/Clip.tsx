import type { ReactNode } from 'react';

/**
 * Text cut to `max` pixels with an ellipsis, whole on hover: long emails, URLs and names must not
 * widen a list past the screen (the lists fit 1280 px).
 */
export function Clip({ max, title, children }: { max: number; title?: string; children: ReactNode }) {
  return (
    <span title={title ?? (typeof children === 'string' ? children : undefined)} style={{ display: 'inline-block', maxWidth: max, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap', verticalAlign: 'bottom' }}>
      {children}
    </span>
  );
}
