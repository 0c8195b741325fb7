import type { TFunction } from 'i18next';

/** What a price or a usage record counts (the API's `unit`). */
export type PriceUnit = 'token' | 'image' | 'second' | 'character' | 'search_unit' | 'request';

const UNITS: readonly PriceUnit[] = ['token', 'image', 'second', 'character', 'search_unit', 'request'];

/** The unit as the API gave it, `token` for anything unknown (records made before units existed). */
export function unitOf(value: string | null | undefined): PriceUnit {
  return UNITS.includes(value as PriceUnit) ? (value as PriceUnit) : 'token';
}

/** "Seconds of audio", "图片"... */
export function unitName(t: TFunction, unit: string | null | undefined): string {
  return t(`units.name.${unitOf(unit)}`);
}

/** "per second", "每张图片"...: what a unit's price is for. */
export function unitPrice(t: TFunction, unit: string | null | undefined): string {
  return t(`units.price.${unitOf(unit)}`);
}

/** "13 s", "2 张图片"...: a quantity billed in its unit, the number formatted by `number`. */
export function unitQuantity(t: TFunction, unit: string | null | undefined, quantity: number, number: (n: number) => string): string {
  return t(`units.quantity.${unitOf(unit)}`, { count: number(quantity) as unknown as number });
}

/**
 * The quantity billed: the record's own, or for tokens recorded before units existed (quantity 0)
 * the sum of the token buckets.
 */
export function billedQuantity(r: { unit?: string | null; quantity?: number | null; inputTokens: number; outputTokens: number; cacheReadTokens?: number; cacheWriteTokens?: number }): number {
  if (unitOf(r.unit) !== 'token' || r.quantity) return r.quantity ?? 0;
  return r.inputTokens + r.outputTokens + (r.cacheReadTokens ?? 0) + (r.cacheWriteTokens ?? 0);
}
