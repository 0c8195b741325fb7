import { ReactNode } from 'react';

/**
 * A horizontally scrolling area for wide tables on narrow screens, reachable by keyboard (a
 * scrollable region must be focusable) and named for screen readers.
 */
export function ScrollRegion({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div role="region" aria-label={label} tabIndex={0} style={{ overflowX: 'auto' }}>
      {children}
    </div>
  );
}
