import Decimal from 'decimal.js';

/**
 * Money, everywhere in AIGateway (DESIGN.md "Money"): never a float.
 *
 * - API: decimal strings (`"0.15"`), in the currency unit (USD by default).
 * - PostgreSQL: NUMERIC with scale {@link MONEY_SCALE} for amounts, {@link PRICE_SCALE} for prices.
 * - Redis and hot-path arithmetic: integer **nano-units** (1 unit = 10^-9 of the currency unit),
 *   as `bigint` in TypeScript and integers in Lua. 10^-9 is fine enough that one token of a model
 *   priced at 0.001 per million tokens costs exactly one unit, and coarse enough that a balance of
 *   nine million currency units still fits the 2^53 integers Redis' Lua can add exactly.
 *
 * The one rounding rule: the cost of a request is computed exactly (tokens x price per million /
 * 10^6, summed over buckets, plus the per-request price) and then rounded **up** to a whole
 * nano-unit, once per request and price list ({@link costUnits}). Rounding up means no request with
 * a non-zero price is ever free, and the error is below one nano-unit per request.
 */
export const MONEY_SCALE = 9;
/**
 * The currency of every amount (ISO 4217). One for the whole platform: a reseller's retail prices
 * are floored by its wholesale prices, which only compare within one currency.
 */
export const CURRENCY = 'USD';
/** Prices are per million tokens, with at most this many decimals. */
export const PRICE_SCALE = 9;
export const UNITS_PER_CURRENCY_UNIT = 1_000_000_000n;

const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -40, toExpPos: 40 });
const DECIMAL_STRING = /^-?(0|[1-9]\d{0,17})(\.\d+)?$/;

/** True if `value` is a plain decimal string (no exponent, no sign but a leading minus, no spaces). */
export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL_STRING.test(value);
}

/** Number of digits after the decimal point of a decimal string. */
export function decimalPlaces(value: string): number {
  const dot = value.indexOf('.');
  return dot < 0 ? 0 : value.length - dot - 1;
}

/** A decimal amount (currency units) to nano-units; throws if it has more than 9 decimals. */
export function toUnits(amount: string | Decimal): bigint {
  const d = new D(amount);
  const units = d.times(UNITS_PER_CURRENCY_UNIT.toString());
  if (!units.isInteger()) throw new RangeError(`amount ${amount} has more than ${MONEY_SCALE} decimals`);
  return BigInt(units.toFixed(0));
}

/** Nano-units to a decimal string in currency units, with exactly 9 decimals (`"1.500000000"`). */
export function fromUnits(units: bigint | number | string): string {
  // Whole nano-units (the usual case, on the metering path for every amount) are split as digits:
  // exact, and far cheaper than a Decimal. Anything else (a fraction) goes through Decimal.
  let whole: bigint;
  if (typeof units === 'bigint') whole = units;
  else if (typeof units === 'number' ? Number.isSafeInteger(units) : /^-?\d+$/.test(units)) whole = BigInt(units);
  else return new D(units.toString()).dividedBy(UNITS_PER_CURRENCY_UNIT.toString()).toFixed(MONEY_SCALE);
  const negative = whole < 0n;
  const digits = (negative ? -whole : whole).toString().padStart(MONEY_SCALE + 1, '0');
  const cut = digits.length - MONEY_SCALE;
  return `${negative ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

/** Trailing zeros removed (`"1.500000000"` -> `"1.5"`), for display. */
export function trimDecimal(value: string): string {
  return new D(value).toFixed();
}

/** Token counts of one request, by the buckets that are priced apart. */
export interface TokenUsage {
  input: number;
  output: number;
  /** Prompt tokens read from the upstream's cache (billed at the cached-input price when set). */
  cacheRead?: number;
  /** Prompt tokens written to the upstream's cache (billed at the cache-write price when set), both kinds. */
  cacheWrite?: number;
  /** Of `cacheWrite`, the tokens written for one hour (Anthropic `ttl: "1h"`): billed at the 1-hour price. */
  cacheWrite1h?: number;
  /** Of `output`, the reasoning tokens: billed at the reasoning price when set, else as output. */
  reasoning?: number;
  /** Billable units of the per-request price (rerank: Cohere's search units); 1 when absent. */
  requests?: number;
}

/** A price list entry: decimal strings per million tokens, and per request. */
export interface TokenPrice {
  inputPerMillion: string;
  outputPerMillion: string;
  /** Absent: cache reads are billed as input. */
  cacheReadPerMillion?: string | null;
  /** Absent: cache writes are billed as input. */
  cacheWritePerMillion?: string | null;
  /** One-hour cache writes. Absent: twice the input price (what Anthropic charges for them). */
  cacheWrite1hPerMillion?: string | null;
  /** Reasoning tokens. Absent: billed as output. */
  reasoningPerMillion?: string | null;
  perRequest?: string | null;
  /**
   * What the price counts (README "Price units"); absent: `token`. For `image`, `second`,
   * `search_unit` and `request`, `perRequest` is the price of one unit (one image, one second of
   * audio...); for `character`, `inputPerMillion` is the price of a million input characters.
   */
  unit?: PriceUnitName;
  /**
   * Per image by size and quality (`unit: image`): keys `"<size>/<quality>"` or `"<size>"`
   * (any quality), decimal strings per image; a size and quality not listed costs `perRequest`.
   */
  imagePrices?: Record<string, string> | null;
}

/** The units a price may count (the providers library names them PRICE_UNITS too). */
export const PRICE_UNIT_NAMES = ['token', 'image', 'second', 'character', 'search_unit', 'request'] as const;
export type PriceUnitName = (typeof PRICE_UNIT_NAMES)[number];

/** The key an image price table is searched by, most specific first: `size/quality`, `size`. */
export function imagePriceKeys(size: string | null | undefined, quality: string | null | undefined): [string, string] {
  const s = size || 'auto';
  return [`${s}/${quality || 'auto'}`, s];
}

/** The per-image price of `size` and `quality` under `price` (its table, else perRequest). */
export function imagePriceOf(price: TokenPrice, size: string | null | undefined, quality: string | null | undefined): string {
  const table = price.imagePrices;
  if (table) for (const key of imagePriceKeys(size, quality)) if (table[key] !== undefined) return table[key];
  return price.perRequest ?? '0';
}

/**
 * The cost of one request in nano-units under one price: exact sum, then one ceiling to a whole
 * nano-unit. This is the only place a request's money is rounded.
 */
export function costUnits(usage: TokenUsage, price: TokenPrice): bigint {
  const cacheRead = usage.cacheRead ?? 0;
  const { cacheWrite5m, cacheWrite1h, plainOutput, reasoning } = splitBuckets(usage);
  const perToken = new D(usage.input)
    .times(price.inputPerMillion)
    .plus(new D(plainOutput).times(price.outputPerMillion))
    .plus(new D(reasoning).times(price.reasoningPerMillion ?? price.outputPerMillion))
    .plus(new D(cacheRead).times(price.cacheReadPerMillion ?? price.inputPerMillion))
    .plus(new D(cacheWrite5m).times(price.cacheWritePerMillion ?? price.inputPerMillion))
    .plus(new D(cacheWrite1h).times(price.cacheWrite1hPerMillion ?? new D(price.inputPerMillion).times(2)));
  const total = perToken.dividedBy(1_000_000).plus(new D(price.perRequest ?? 0).times(usage.requests ?? 1));
  return BigInt(total.times(UNITS_PER_CURRENCY_UNIT.toString()).toDecimalPlaces(0, Decimal.ROUND_CEIL).toFixed(0));
}

/**
 * The sub-buckets (`cacheWrite1h` of `cacheWrite`, `reasoning` of `output`) taken out of their
 * totals, each at most its total: a token is billed once, in exactly one bucket.
 */
function splitBuckets(usage: TokenUsage): { cacheWrite5m: number; cacheWrite1h: number; plainOutput: number; reasoning: number } {
  const cacheWrite = usage.cacheWrite ?? 0;
  const cacheWrite1h = Math.min(usage.cacheWrite1h ?? 0, cacheWrite);
  const reasoning = Math.min(usage.reasoning ?? 0, usage.output);
  return { cacheWrite5m: cacheWrite - cacheWrite1h, cacheWrite1h, plainOutput: usage.output - reasoning, reasoning };
}

/**
 * Prices converted once to nano-units per token as exact rationals (numerator over 10^6), so the
 * hot path can price a request with integer arithmetic only. `unitsFor` equals {@link costUnits}.
 */
export interface CompiledPrice {
  /** Nano-units per million tokens, by bucket: integers when prices have at most 9 decimals... */
  inputPerMillionUnits: bigint;
  outputPerMillionUnits: bigint;
  cacheReadPerMillionUnits: bigint;
  cacheWritePerMillionUnits: bigint;
  cacheWrite1hPerMillionUnits: bigint;
  reasoningPerMillionUnits: bigint;
  perRequestUnits: bigint;
  /** The image price table in nano-units per image (absent: none). */
  imagePerUnits?: ReadonlyMap<string, bigint>;
}

export function compilePrice(price: TokenPrice): CompiledPrice {
  const table = price.imagePrices ? Object.entries(price.imagePrices) : [];
  return {
    ...(table.length ? { imagePerUnits: new Map(table.map(([key, value]) => [key, toUnits(value)])) } : {}),
    inputPerMillionUnits: toUnits(price.inputPerMillion),
    outputPerMillionUnits: toUnits(price.outputPerMillion),
    cacheReadPerMillionUnits: toUnits(price.cacheReadPerMillion ?? price.inputPerMillion),
    cacheWritePerMillionUnits: toUnits(price.cacheWritePerMillion ?? price.inputPerMillion),
    cacheWrite1hPerMillionUnits: price.cacheWrite1hPerMillion != null ? toUnits(price.cacheWrite1hPerMillion) : toUnits(price.inputPerMillion) * 2n,
    reasoningPerMillionUnits: toUnits(price.reasoningPerMillion ?? price.outputPerMillion),
    perRequestUnits: toUnits(price.perRequest ?? '0'),
  };
}

/** `price` with its per-request (per-image) amount set to the table's price of `size` and `quality`. */
export function compiledForImage(price: CompiledPrice, size: string | null | undefined, quality: string | null | undefined): CompiledPrice {
  if (!price.imagePerUnits) return price;
  for (const key of imagePriceKeys(size, quality)) {
    const units = price.imagePerUnits.get(key);
    if (units !== undefined) return { ...price, perRequestUnits: units };
  }
  return price;
}

/** {@link costUnits} with integers only (prices already compiled): ceil(sum / 10^6). */
export function compiledCostUnits(usage: TokenUsage, price: CompiledPrice): bigint {
  let scaled =
    BigInt(usage.input) * price.inputPerMillionUnits +
    BigInt(usage.output) * price.outputPerMillionUnits +
    BigInt(usage.cacheRead ?? 0) * price.cacheReadPerMillionUnits +
    BigInt(usage.cacheWrite ?? 0) * price.cacheWritePerMillionUnits;
  // The sub-buckets only when present (chat answers rarely have them): their price replaces the total's.
  if (usage.cacheWrite1h || usage.reasoning) {
    const { cacheWrite1h, reasoning } = splitBuckets(usage);
    scaled += BigInt(cacheWrite1h) * (price.cacheWrite1hPerMillionUnits - price.cacheWritePerMillionUnits);
    scaled += BigInt(reasoning) * (price.reasoningPerMillionUnits - price.outputPerMillionUnits);
  }
  const million = 1_000_000n;
  return (scaled + million - 1n) / million + price.perRequestUnits * BigInt(usage.requests ?? 1);
}
