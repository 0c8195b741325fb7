import Decimal from 'decimal.js';
import { CompiledPrice, compilePrice, PRICE_SCALE, TokenPrice, trimDecimal } from '@app/money';

/** One version of one model's price in one list (the platform's, or a reseller's own). */
export interface PriceVersion {
  id: string;
  model: string;
  price: TokenPrice;
  effectiveFrom: Date;
  setBy: string | null;
  createdAt: Date;
}

/** Everything needed to price any model of one tenant at any time, held in memory. */
export interface PriceBookData {
  tenantId: string;
  tenantType: 'platform' | 'reseller';
  /** Per model, versions sorted by effectiveFrom ascending. */
  platform: Map<string, PriceVersion[]>;
  own: Map<string, PriceVersion[]>;
  hidden: Set<string>;
  /** Wholesale discount in percent, a decimal string ('0' when none). */
  discountPercent: string;
}

export interface EffectivePrice {
  tenantId: string;
  model: string;
  /** What the tenant's customers pay. */
  retail: TokenPrice;
  retailSource: 'own' | 'inherited';
  retailVersionId: string;
  retailEffectiveFrom: Date;
  /** What the platform charges the tenant (the platform's own tenant: equal to retail). */
  wholesale: TokenPrice;
  wholesaleVersionId: string;
  discountPercent: string;
  compiledRetail: CompiledPrice;
  compiledWholesale: CompiledPrice;
  hidden: boolean;
}

export const PRICE_FIELDS = ['inputPerMillion', 'outputPerMillion', 'cacheReadPerMillion', 'cacheWritePerMillion', 'cacheWrite1hPerMillion', 'reasoningPerMillion', 'perRequest'] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];

/** The last version in effect at `at` (versions sorted ascending), or null. */
export function versionAt(versions: readonly PriceVersion[] | undefined, at: number): PriceVersion | null {
  if (!versions) return null;
  let found: PriceVersion | null = null;
  for (const v of versions) {
    if (v.effectiveFrom.getTime() <= at) found = v;
    else break;
  }
  return found;
}

/** Every bucket explicitly (cache buckets fall back to input, 1-hour writes to twice input, reasoning to output, per-request to 0): for comparisons. */
export function explicitPrice(price: TokenPrice): Record<PriceField, string> {
  return {
    inputPerMillion: price.inputPerMillion,
    outputPerMillion: price.outputPerMillion,
    cacheReadPerMillion: price.cacheReadPerMillion ?? price.inputPerMillion,
    cacheWritePerMillion: price.cacheWritePerMillion ?? price.inputPerMillion,
    cacheWrite1hPerMillion: price.cacheWrite1hPerMillion ?? trimDecimal(new Decimal(price.inputPerMillion).times(2).toFixed()),
    reasoningPerMillion: price.reasoningPerMillion ?? price.outputPerMillion,
    perRequest: price.perRequest ?? '0',
  };
}

/**
 * The wholesale price: the platform price less the reseller's discount. A discounted price may have
 * more decimals than a price can hold; it is rounded up to {@link PRICE_SCALE} decimals (in the
 * platform's favour, at most 10^-9 per million tokens). A request's cost is still rounded once,
 * by `costUnits`.
 */
export function wholesaleOf(price: TokenPrice, discountPercent: string): TokenPrice {
  if (new Decimal(discountPercent).isZero()) return price;
  const factor = new Decimal(100).minus(discountPercent).dividedBy(100);
  const apply = (value: string | null | undefined) =>
    value === null || value === undefined ? value : trimDecimal(new Decimal(value).times(factor).toDecimalPlaces(PRICE_SCALE, Decimal.ROUND_CEIL).toFixed());
  return {
    inputPerMillion: apply(price.inputPerMillion)!,
    outputPerMillion: apply(price.outputPerMillion)!,
    cacheReadPerMillion: apply(price.cacheReadPerMillion),
    cacheWritePerMillion: apply(price.cacheWritePerMillion),
    cacheWrite1hPerMillion: apply(price.cacheWrite1hPerMillion),
    reasoningPerMillion: apply(price.reasoningPerMillion),
    perRequest: apply(price.perRequest),
  };
}

/** The buckets where `retail` is below `floor`, with the floor of each. */
export function belowFloor(retail: TokenPrice, floor: TokenPrice): Array<{ field: PriceField; floor: string }> {
  const r = explicitPrice(retail);
  const f = explicitPrice(floor);
  return PRICE_FIELDS.filter((field) => new Decimal(r[field]).lessThan(f[field])).map((field) => ({ field, floor: trimDecimal(f[field]) }));
}

/** retail - wholesale per bucket (the reseller's margin per million tokens / per request). */
export function marginOf(retail: TokenPrice, wholesale: TokenPrice): Record<PriceField, string> {
  const r = explicitPrice(retail);
  const w = explicitPrice(wholesale);
  return Object.fromEntries(PRICE_FIELDS.map((field) => [field, trimDecimal(new Decimal(r[field]).minus(w[field]).toFixed())])) as Record<PriceField, string>;
}

/**
 * A tenant's price book in memory: the effective price of a model at a time, with the integer
 * (compiled) prices memoised per version pair so the hot path allocates nothing new per request.
 */
export class PriceBook {
  private readonly memo = new Map<string, EffectivePrice>();

  constructor(readonly data: PriceBookData) {}

  /** Null when the platform has no price for the model at `at` (an unknown model). */
  effective(model: string, at: number = Date.now()): EffectivePrice | null {
    const platform = versionAt(this.data.platform.get(model), at);
    if (!platform) return null;
    const own = this.data.tenantType === 'reseller' ? versionAt(this.data.own.get(model), at) : null;
    const retail = own ?? platform;
    const memoKey = `${model}\u0000${retail.id}\u0000${platform.id}`;
    const hit = this.memo.get(memoKey);
    if (hit) return hit;
    const discount = this.data.tenantType === 'reseller' ? this.data.discountPercent : '0';
    const wholesale = wholesaleOf(platform.price, discount);
    const price: EffectivePrice = {
      tenantId: this.data.tenantId,
      model,
      retail: retail.price,
      retailSource: own ? 'own' : this.data.tenantType === 'platform' ? 'own' : 'inherited',
      retailVersionId: retail.id,
      retailEffectiveFrom: retail.effectiveFrom,
      wholesale,
      wholesaleVersionId: platform.id,
      discountPercent: discount,
      compiledRetail: compilePrice(retail.price),
      compiledWholesale: compilePrice(wholesale),
      hidden: this.data.hidden.has(model),
    };
    this.memo.set(memoKey, price);
    return price;
  }

  /** Models the platform prices (now or on a schedule), sorted. */
  knownModels(): string[] {
    return [...this.data.platform.keys()].sort();
  }

  /** Models the tenant's customers may call at `at`: priced and not hidden, sorted. */
  listedModels(at: number = Date.now()): string[] {
    return this.knownModels().filter((model) => !this.data.hidden.has(model) && versionAt(this.data.platform.get(model), at) !== null);
  }
}
