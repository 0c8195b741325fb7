/**
 * The one money formatter: amounts arrive as decimal strings (up to 9 decimals) and are shown
 * exactly, in the tenant's currency and the viewer's language. No JavaScript number ever holds an
 * amount: the string is normalised by hand and handed to Intl.NumberFormat as a string, which
 * formats decimal strings exactly (ECMA-402 "Intl.NumberFormat v3").
 */
const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** "-0.001250000" -> "-0.00125"; at least `minDecimals` decimals kept. */
export function normalizeDecimal(value: string, minDecimals = 2): string {
  const match = DECIMAL.exec(value.trim());
  if (!match) throw new Error(`not a decimal amount: ${value}`);
  const [, sign, whole, fraction = ''] = match;
  let digits = fraction.replace(/0+$/, '');
  if (digits.length < minDecimals) digits = digits.padEnd(minDecimals, '0');
  const integer = whole.replace(/^0+(?=\d)/, '');
  const isZero = /^0*$/.test(integer + digits);
  return `${sign && !isZero ? '-' : ''}${integer}${digits ? `.${digits}` : ''}`;
}

function decimals(value: string): number {
  return value.split('.')[1]?.length ?? 0;
}

/** `formatMoney("-0.001250000", "USD", "en")` -> "-$0.00125". */
export function formatMoney(value: string | null | undefined, currency: string, locale: string, minDecimals = 2): string {
  if (value === null || value === undefined || value === '') return '—';
  const normalized = normalizeDecimal(value, minDecimals);
  const places = decimals(normalized);
  const format = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: places,
    maximumFractionDigits: places,
  });
  return format.format(normalized as unknown as number);
}

/** Adds decimal strings exactly (running balances), scaled to 9 decimals as the api keeps them. */
export function addDecimals(a: string, b: string): string {
  const scale = 9;
  const toUnits = (v: string) => {
    const match = DECIMAL.exec(v.trim());
    if (!match) throw new Error(`not a decimal amount: ${v}`);
    const [, sign, whole, fraction = ''] = match;
    const units = BigInt(whole + fraction.padEnd(scale, '0').slice(0, scale));
    return sign ? -units : units;
  };
  const sum = toUnits(a) + toUnits(b);
  const negative = sum < 0n;
  const digits = (negative ? -sum : sum).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** Compares decimal strings exactly: -1, 0, 1. */
export function compareDecimals(a: string, b: string): number {
  const difference = addDecimals(a, b.startsWith('-') ? b.slice(1) : `-${b}`);
  if (/^-?0\.0+$/.test(difference)) return 0;
  return difference.startsWith('-') ? -1 : 1;
}

/** a - b, exactly. */
export function subtractDecimals(a: string, b: string): string {
  return addDecimals(a, b.startsWith('-') ? b.slice(1) : `-${b}`);
}
