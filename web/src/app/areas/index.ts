import { identity } from './identity';
import { platform } from './platform';
import { portal } from './portal';
import { requests } from './requests';
import { reseller } from './reseller';
import type { Area, Me, NavEntry } from './types';

/**
 * Every area of the console, in the order their navigation entries are shown. The staff areas
 * come first: the start page is the first page the person may use (an operator's first page, a
 * customer's dashboard).
 */
export const AREAS: Area[] = [platform, reseller, portal, requests, identity];

/** The navigation entries the signed-in person may use, in order. */
export function allowedNav(me: Me): NavEntry[] {
  return AREAS.flatMap((area) => area.nav).filter((entry) => entry.allowed(me));
}
