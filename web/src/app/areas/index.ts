import { platform } from './platform';
import { portal } from './portal';
import type { Area, Me, NavEntry } from './types';

/** Every area of the console, in the order their navigation entries are shown. */
// The platform's operator pages first: an operator's start page is their first one.
export const AREAS: Area[] = [platform, portal];

/** The navigation entries the signed-in person may use, in order. */
export function allowedNav(me: Me): NavEntry[] {
  return AREAS.flatMap((area) => area.nav).filter((entry) => entry.allowed(me));
}
