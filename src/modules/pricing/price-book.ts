import Decimal from 'decimal.js';
import { CompiledPrice, compilePrice, imagePriceOf, PRICE_SCALE, TokenPrice, trimDecimal } from '@app/money';

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
  /** Groups, markup, multipliers and overrides (absent: none, as for a book built in a unit test). */
  rules?: PriceRulesData;
}

/** One version of a multiplier: the tenant's markup or a group's multiplier; factor null clears it. */
export interface FactorVersion {
  id: string;
  factor: string | null;
  effectiveFrom: Date;
}

/** One version of an explicit price of a model for a group or a customer; price null clears it. */
export interface OverrideVersion {
  id: string;
  price: TokenPrice | null;
  effectiveFrom: Date;
}

export interface PriceRulesData {
  /** The tenant-wide markup on wholesale, versions ascending. */
  markup: FactorVersion[];
  /** Per group id, its multiplier versions ascending. */
  groupFactors: Map<string, FactorVersion[]>;
  /** Per `${groupId}\u0000${model}`, versions ascending. */
  groupOverrides: Map<string, OverrideVersion[]>;
  /** Per `${customerId}\u0000${model}`, versions ascending. */
  customerOverrides: Map<string, OverrideVersion[]>;
  /** customer id -> group id. */
  members: Map<string, string>;
}

/**
 * Which rule set a customer's price, for the price API's answer: the winner (an override of the
 * customer, of its group, the tenant's own price, the markup on wholesale, or the platform's
 * retail price inherited), the group multiplier applied on top of a base price, and the buckets
 * the wholesale floor raised.
 */
export interface PriceRuleExplanation {
  winner: 'customer_override' | 'group_override' | 'own' | 'markup' | 'inherited';
  versionId: string;
  groupId: string | null;
  markup: string | null;
  multiplier: string | null;
  floorApplied: PriceField[];
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
  /** Which rule won (for a customer: overrides, group multiplier, markup, floor). */
  rule: PriceRuleExplanation;
}

export const PRICE_FIELDS = ['inputPerMillion', 'outputPerMillion', 'cacheReadPerMillion', 'cacheWritePerMillion', 'cacheWrite1hPerMillion', 'reasoningPerMillion', 'perRequest'] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];

/** The last version in effect at `at` (versions sorted ascending), or null. */
export function versionAt<V extends { effectiveFrom: Date }>(versions: readonly V[] | undefined, at: number): V | null {
  if (!versions) return null;
  let found: V | null = null;
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
    ...unitOf(price, apply),
  };
}

/** The unit and the image table (each entry through `apply`), for a price derived from `price`. */
function unitOf(price: TokenPrice, apply: (value: string) => string | null | undefined): Pick<TokenPrice, 'unit' | 'imagePrices'> {
  const out: Pick<TokenPrice, 'unit' | 'imagePrices'> = {};
  if (price.unit) out.unit = price.unit;
  if (price.imagePrices) out.imagePrices = Object.fromEntries(Object.entries(price.imagePrices).map(([key, value]) => [key, apply(value)!]));
  return out;
}

/**
 * `price` times `factor` in every bucket, each rounded up to {@link PRICE_SCALE} decimals (in the
 * seller's favour, at most 10^-9 per million tokens). Buckets that fall back to another keep doing
 * so, which is the same as multiplying the fallback.
 */
export function scalePrice(price: TokenPrice, factor: string): TokenPrice {
  const k = new Decimal(factor);
  const apply = (value: string | null | undefined) =>
    value === null || value === undefined ? value : trimDecimal(new Decimal(value).times(k).toDecimalPlaces(PRICE_SCALE, Decimal.ROUND_CEIL).toFixed());
  return {
    inputPerMillion: apply(price.inputPerMillion)!,
    outputPerMillion: apply(price.outputPerMillion)!,
    cacheReadPerMillion: apply(price.cacheReadPerMillion),
    cacheWritePerMillion: apply(price.cacheWritePerMillion),
    cacheWrite1hPerMillion: apply(price.cacheWrite1hPerMillion),
    reasoningPerMillion: apply(price.reasoningPerMillion),
    perRequest: apply(price.perRequest),
    ...unitOf(price, apply),
  };
}

/**
 * `price` raised to `floor` bucket by bucket (the wholesale floor). Unchanged (the same object)
 * when no bucket is below; otherwise every bucket is explicit, so a fallback bucket (cache read
 * billed as input) cannot slip under a lower-priced floor of its own.
 */
export function raiseToFloor(price: TokenPrice, floor: TokenPrice): { price: TokenPrice; raised: PriceField[] } {
  const below = belowFloor(price, floor);
  const images = imagesBelowFloor(price, floor);
  if (below.length === 0 && images.length === 0) return { price, raised: [] };
  const explicit: Record<PriceField, string> = explicitPrice(price);
  for (const b of below) explicit[b.field] = b.floor;
  const raised: TokenPrice = { ...explicit, ...unitOf(price, (v) => v) };
  if (images.length) raised.imagePrices = { ...raised.imagePrices, ...Object.fromEntries(images.map((i) => [i.key, i.floor])) };
  return { price: raised, raised: below.map((b) => b.field) };
}

/**
 * The image sizes and qualities (keys of either table) where `retail`'s per-image price is below
 * `floor`'s, with the floor of each: a per-image price is floored like any bucket.
 */
export function imagesBelowFloor(retail: TokenPrice, floor: TokenPrice): Array<{ key: string; floor: string }> {
  const keys = new Set([...Object.keys(retail.imagePrices ?? {}), ...Object.keys(floor.imagePrices ?? {})]);
  const below: Array<{ key: string; floor: string }> = [];
  for (const key of keys) {
    const [size, quality] = key.split('/');
    const f = imagePriceOf(floor, size, quality ?? null);
    if (new Decimal(imagePriceOf(retail, size, quality ?? null)).lessThan(f)) below.push({ key, floor: trimDecimal(f) });
  }
  return below;
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

  /**
   * The price of `model` at `at`, for `customerId` when given (its overrides and group), else the
   * tenant's list price. Null when the platform has no price for the model at `at` (an unknown
   * model). Resolution, first match wins:
   *   1. the customer's override of the model;
   *   2. its group's override of the model;
   *   3. a base price: the tenant's own price, else wholesale x the tenant's markup, else the
   *      platform's retail price (inherited); times the group's multiplier when it has one.
   * Every price a rule of this kind produced (1-3 except a plain own or inherited price) is raised
   * to wholesale bucket by bucket: a reseller never sells below its cost.
   */
  effective(model: string, at: number = Date.now(), customerId?: string | null): EffectivePrice | null {
    const platform = versionAt(this.data.platform.get(model), at);
    if (!platform) return null;
    const reseller = this.data.tenantType === 'reseller';
    const rules = this.data.rules;
    const own = reseller ? versionAt(this.data.own.get(model), at) : null;
    const groupId = customerId && rules ? (rules.members.get(customerId) ?? null) : null;
    const customerOverride = customerId && rules ? overrideAt(rules.customerOverrides.get(`${customerId}\u0000${model}`), at) : null;
    const groupOverride = !customerOverride && groupId && rules ? overrideAt(rules.groupOverrides.get(`${groupId}\u0000${model}`), at) : null;
    const markup = reseller && !own && rules ? factorAt(rules.markup, at) : null;
    const multiplier = groupId && rules ? factorAt(rules.groupFactors.get(groupId), at) : null;
    const memoKey = [model, platform.id, own?.id, customerOverride?.id, groupOverride?.id, groupId, markup?.id, multiplier?.id].join('\u0000');
    const hit = this.memo.get(memoKey);
    if (hit) return hit;

    const discount = reseller ? this.data.discountPercent : '0';
    const wholesale = wholesaleOf(platform.price, discount);
    const base = own ?? platform;
    let retail: TokenPrice;
    let versionId: string;
    let effectiveFrom: Date;
    let winner: PriceRuleExplanation['winner'];
    let appliedMarkup: string | null = null;
    let appliedMultiplier: string | null = null;
    if (customerOverride) {
      ({ price: retail, versionId, effectiveFrom } = { price: customerOverride.price!, versionId: customerOverride.id, effectiveFrom: customerOverride.effectiveFrom });
      winner = 'customer_override';
    } else if (groupOverride) {
      ({ price: retail, versionId, effectiveFrom } = { price: groupOverride.price!, versionId: groupOverride.id, effectiveFrom: groupOverride.effectiveFrom });
      winner = 'group_override';
    } else {
      if (markup) {
        retail = scalePrice(wholesale, markup.factor!);
        versionId = markup.id;
        effectiveFrom = laterOf(markup.effectiveFrom, platform.effectiveFrom);
        winner = 'markup';
        appliedMarkup = markup.factor;
      } else {
        retail = base.price;
        versionId = base.id;
        effectiveFrom = base.effectiveFrom;
        winner = own || !reseller ? 'own' : 'inherited';
      }
      if (multiplier) {
        retail = scalePrice(retail, multiplier.factor!);
        effectiveFrom = laterOf(effectiveFrom, multiplier.effectiveFrom);
        appliedMultiplier = multiplier.factor;
      }
    }
    let floorApplied: PriceField[] = [];
    if (winner === 'customer_override' || winner === 'group_override' || appliedMarkup !== null || appliedMultiplier !== null) {
      const floored = raiseToFloor(retail, wholesale);
      retail = floored.price;
      floorApplied = floored.raised;
    }
    const price: EffectivePrice = {
      tenantId: this.data.tenantId,
      model,
      retail,
      retailSource: own || !reseller ? 'own' : 'inherited',
      retailVersionId: versionId,
      retailEffectiveFrom: effectiveFrom,
      wholesale,
      wholesaleVersionId: platform.id,
      discountPercent: discount,
      compiledRetail: compilePrice(retail),
      compiledWholesale: compilePrice(wholesale),
      hidden: this.data.hidden.has(model),
      rule: { winner, versionId, groupId, markup: appliedMarkup, multiplier: appliedMultiplier, floorApplied },
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

/** The last version of a factor in effect at `at`, unless that version clears it. */
function factorAt(versions: readonly FactorVersion[] | undefined, at: number): FactorVersion | null {
  const v = versionAt(versions, at);
  return v && v.factor !== null ? v : null;
}

function overrideAt(versions: readonly OverrideVersion[] | undefined, at: number): OverrideVersion | null {
  const v = versionAt(versions, at);
  return v && v.price !== null ? v : null;
}

const laterOf = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);
