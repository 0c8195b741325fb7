import type { ReactNode } from 'react';
import type { RouteObject } from 'react-router-dom';
import type { useMe } from '@/features/auth/api';

export type Me = NonNullable<ReturnType<typeof useMe>['data']>;

/** One entry of the side navigation: shown only when the signed-in person may use the page. */
export interface NavEntry {
  path: string;
  /** i18n key of the label. */
  label: string;
  icon: ReactNode;
  /** i18n key of the menu group the entry sits under; entries without one come first, ungrouped. */
  group?: string;
  allowed: (me: Me) => boolean;
}

/**
 * An area of the console (the customer portal, the reseller's staff pages, the platform's operator
 * pages): its pages, routed inside the shell, and their navigation entries. Areas are listed in
 * ./index.ts; the shell and the router know nothing else about them.
 */
export interface Area {
  nav: NavEntry[];
  routes: RouteObject[];
}
