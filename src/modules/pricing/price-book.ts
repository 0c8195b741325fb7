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
  /**
   * A sub-reseller's parent reseller (null or absent: the platform sells to this tenant). The
   * parent's book is then the tenant's list: `discountPercent` is the parent's discount off its
   * list price, never below the parent's own wholesale cost.
   */
  parentId?: string | null;
  /** This tenant's spot-pool factors per model (for the platform's tenant: the platform's), versions ascending. */
  spot?: Map<string, FactorVersion[]>;
  /** The platform's spot factors per model (for a reseller the platform sells to). */
  platformSpot?: Map<string, FactorVersion[]>;
}

/** One ancestor reseller of a sub-reseller: what it pays its own parent for the model. */
export interface PriceLevel {
  tenantId: string;
  wholesale: TokenPrice;
  compiledWholesale: CompiledPrice;
}

export type PricePool = 'standard' | 'spot';

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
  /**
   * A sub-reseller's price: the buckets where what it pays (its parent's list less its discount)
   * was lifted to its parent's own cost, e.g. after the platform raised the parent's wholesale.
   */
  wholesaleFloorApplied: PriceField[];
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
  /**
   * For a sub-reseller: its ancestor resellers, direct parent first, each with what it pays its
   * own parent (the last one pays the platform). Empty for the platform and its resellers.
   */
  levels: readonly PriceLevel[];
  /** The pool this price is for; a spot price with no factor anywhere in the chain is the standard one. */
  pool: PricePool;
  /** The spot factor applied to this tenant's retail (its own, else its seller's); null for standard. */
  spotFactor: string | null;
  /** Identity of the inputs (versions) this price was computed from: equal keys, equal prices. */
  memoKey: string;
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

  /** `parent`: a sub-reseller's parent's book (see PriceBookData.parentId). */
  constructor(
    readonly data: PriceBookData,
    readonly parent: PriceBook | null = null,
  ) {}

  /** The tenants whose prices this book depends on: itself and its ancestor resellers. */
  chain(): string[] {
    return this.parent ? [this.data.tenantId, ...this.parent.chain()] : [this.data.tenantId];
  }

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
  effective(model: string, at: number = Date.now(), customerId?: string | null, pool: PricePool = 'standard'): EffectivePrice | null {
    if (pool === 'spot') return this.spotEffective(model, at, customerId);
    const platform = versionAt(this.data.platform.get(model), at);
    if (!platform) return null;
    // A sub-reseller's list is its parent's list price (the parent's own, markup or inherited).
    const parentPrice = this.parent ? this.parent.effective(model, at) : null;
    if (this.parent && !parentPrice) return null;
    const reseller = this.data.tenantType === 'reseller';
    const rules = this.data.rules;
    const own = reseller ? versionAt(this.data.own.get(model), at) : null;
    const groupId = customerId && rules ? (rules.members.get(customerId) ?? null) : null;
    const customerOverride = customerId && rules ? overrideAt(rules.customerOverrides.get(`${customerId}\u0000${model}`), at) : null;
    const groupOverride = !customerOverride && groupId && rules ? overrideAt(rules.groupOverrides.get(`${groupId}\u0000${model}`), at) : null;
    const markup = reseller && !own && rules ? factorAt(rules.markup, at) : null;
    const multiplier = groupId && rules ? factorAt(rules.groupFactors.get(groupId), at) : null;
    const memoKey = [model, platform.id, own?.id, customerOverride?.id, groupOverride?.id, groupId, markup?.id, multiplier?.id, parentPrice?.memoKey].join('\u0000');
    const hit = this.memo.get(memoKey);
    if (hit) return hit;

    const discount = reseller ? this.data.discountPercent : '0';
    // What this tenant pays its seller: the platform's list less its discount, or its parent's
    // list less the discount the parent gives it, never below what the parent pays itself.
    const lifted = parentPrice ? raiseToFloor(wholesaleOf(parentPrice.retail, discount), parentPrice.wholesale) : null;
    const wholesale = lifted ? lifted.price : wholesaleOf(platform.price, discount);
    const inherited = parentPrice ? { id: parentPrice.retailVersionId, price: parentPrice.retail, effectiveFrom: parentPrice.retailEffectiveFrom } : platform;
    const base = own ?? inherited;
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
        effectiveFrom = laterOf(markup.effectiveFrom, inherited.effectiveFrom);
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
    // An inherited sub-reseller price is its parent's list, which may be below what the parent
    // charges it (a discount of 0 with a markup-less parent is equal, never below; a parent's
    // later price change can cross it): floored like any rule's price.
    if (winner === 'customer_override' || winner === 'group_override' || appliedMarkup !== null || appliedMultiplier !== null || (parentPrice && winner === 'inherited')) {
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
      wholesaleVersionId: parentPrice ? parentPrice.retailVersionId : platform.id,
      discountPercent: discount,
      compiledRetail: compilePrice(retail),
      compiledWholesale: compilePrice(wholesale),
      hidden: this.data.hidden.has(model) || (parentPrice?.hidden ?? false),
      rule: { winner, versionId, groupId, markup: appliedMarkup, multiplier: appliedMultiplier, floorApplied, wholesaleFloorApplied: lifted?.raised ?? [] },
      levels: parentPrice ? [{ tenantId: parentPrice.tenantId, wholesale: parentPrice.wholesale, compiledWholesale: parentPrice.compiledWholesale }, ...parentPrice.levels] : [],
      pool: 'standard',
      spotFactor: null,
      memoKey,
    };
    this.memo.set(memoKey, price);
    return price;
  }

  /**
   * The price of a request served by the spot pool: the standard price times the spot factor of
   * this tenant for the model (its own, else the one of whoever sells to it: its parent's
   * effective factor, or the platform's). What the tenant pays is its seller's spot price less
   * its discount (the platform's list times the platform's factor, or the parent's spot list),
   * never below the seller's own spot cost; the retail is raised to that spot wholesale bucket by
   * bucket. With no factor anywhere in the chain, the standard price itself (same object).
   */
  private spotEffective(model: string, at: number, customerId?: string | null): EffectivePrice | null {
    const std = this.effective(model, at, customerId);
    if (!std) return null;
    const reseller = this.data.tenantType === 'reseller';
    const parentSpot = this.parent ? this.parent.effective(model, at, null, 'spot') : null;
    if (this.parent && !parentSpot) return null;
    const platformFactor = reseller && !this.parent ? factorAt(this.data.platformSpot?.get(model), at) : null;
    const sellerFactor = parentSpot ? parentSpot.spotFactor : (platformFactor?.factor ?? null);
    const ownFactor = factorAt(this.data.spot?.get(model), at);
    const factor = ownFactor?.factor ?? sellerFactor;
    if (factor === null) return std;
    const memoKey = ['spot', std.memoKey, ownFactor?.id, platformFactor?.id, parentSpot?.memoKey].join('\u0000');
    const hit = this.memo.get(memoKey);
    if (hit) return hit;
    const platform = versionAt(this.data.platform.get(model), at)!;
    let wholesale: TokenPrice;
    if (parentSpot) wholesale = raiseToFloor(wholesaleOf(parentSpot.retail, std.discountPercent), parentSpot.wholesale).price;
    else if (reseller) wholesale = wholesaleOf(platformFactor ? scalePrice(platform.price, platformFactor.factor!) : platform.price, std.discountPercent);
    else wholesale = scalePrice(std.wholesale, factor);
    const floored = raiseToFloor(scalePrice(std.retail, factor), wholesale);
    const price: EffectivePrice = {
      ...std,
      retail: floored.price,
      wholesale,
      compiledRetail: compilePrice(floored.price),
      compiledWholesale: compilePrice(wholesale),
      rule: { ...std.rule, floorApplied: [...new Set([...std.rule.floorApplied, ...floored.raised])] },
      levels: parentSpot ? [{ tenantId: parentSpot.tenantId, wholesale: parentSpot.wholesale, compiledWholesale: parentSpot.compiledWholesale }, ...parentSpot.levels] : [],
      pool: 'spot',
      spotFactor: factor,
      memoKey,
    };
    this.memo.set(memoKey, price);
    return price;
  }

  /**
   * The times after `at` when the list price or the cost of `model` in this book changes: a
   * scheduled version of the platform's price, of this tenant's or an ancestor's own price or
   * markup. Ascending.
   */
  changesAfter(model: string, at: number): number[] {
    const times = new Set<number>();
    for (let book: PriceBook | null = this; book; book = book.parent) {
      const versions = [...(book.data.platform.get(model) ?? []), ...(book.data.own.get(model) ?? []), ...(book.data.rules?.markup ?? [])];
      for (const v of versions) if (v.effectiveFrom.getTime() > at) times.add(v.effectiveFrom.getTime());
    }
    return [...times].sort((x, y) => x - y);
  }

  /** Models the platform prices (now or on a schedule), sorted. */
  knownModels(): string[] {
    return [...this.data.platform.keys()].sort();
  }

  /** Models the tenant's customers may call at `at`: priced and not hidden, sorted. */
  listedModels(at: number = Date.now()): string[] {
    return this.knownModels().filter((model) => !this.hiddenInChain(model) && versionAt(this.data.platform.get(model), at) !== null);
  }

  /** Hidden by this tenant or by an ancestor (a parent that does not sell a model cannot resell it). */
  hiddenInChain(model: string): boolean {
    return this.data.hidden.has(model) || (this.parent?.hiddenInChain(model) ?? false);
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
