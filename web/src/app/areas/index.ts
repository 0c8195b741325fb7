import { portal } from './portal';
import { reseller } from './reseller';
import type { Area, Me, NavEntry } from './types';

/** Every area of the console, in the order their navigation entries are shown. */
export const AREAS: Area[] = [portal, reseller];

/** The navigation entries the signed-in person may use, in order. */
export function allowedNav(me: Me): NavEntry[] {
  return AREAS.flatMap((area) => area.nav).filter((entry) => entry.allowed(me));
}
