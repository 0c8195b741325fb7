import { AppException } from './app-exception';
import { CommonErrorCode } from './error-codes';

/** Deeper JSON than this is refused before it is parsed (no route needs more than a few levels). */
export const MAX_JSON_DEPTH = 64;

/** An unpaired UTF-16 surrogate (matched on code units, so no `u` flag). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const BAD_TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** False for text PostgreSQL cannot store (NUL) or JSON cannot carry (an unpaired surrogate). */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/** The text with NUL, other C0 controls and unpaired surrogates replaced, for headers that are stored. */
export function storableText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(LONE_SURROGATES, '\ufffd').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

/**
 * The deepest nesting of objects and arrays in a JSON text, by one linear scan with no recursion,
 * stopping as soon as `limit` is passed (so a hostile body cannot overflow a stack later).
 */
export function jsonDepthExceeds(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * The dotted path of the first string (value or key) that is not storable text, or of a
 * `__proto__` key, walking the value without recursion; undefined when all are fine.
 */
export function findBadText(root: unknown, prefix = ''): { field: string; proto: boolean } | undefined {
  const stack: Array<[unknown, string]> = [[root, prefix]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (!isStorableText(value)) return { field: path || '(body)', proto: false };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], path ? `${path}.${i}` : String(i)]);
    } else if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        const field = path ? `${path}.${key}` : key;
        if (key === '__proto__') return { field, proto: true };
        if (!isStorableText(key)) return { field: path ? `${path}.${storableText(key)}` : storableText(key), proto: false };
        stack.push([(value as Record<string, unknown>)[key], field]);
      }
    }
  }
  return undefined;
}

/** Refuses a value holding unstorable text with 400 naming the field. */
export function assertStorableText(value: unknown, prefix = ''): void {
  const bad = findBadText(value, prefix);
  if (!bad) return;
  if (bad.proto) throw AppException.validation([{ field: bad.field, messages: ['is not an allowed field name'] }]);
  throw AppException.validation([{ field: bad.field, messages: [`${bad.field} ${BAD_TEXT_MESSAGE}`] }]);
}

const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])|__proto__/;

/** False when the JSON text can hold no NUL, no surrogate (escaped or raw lone) and no `__proto__` key. */
function mayHoldBadText(text: string): boolean {
  return SUSPECT_ESCAPE.test(text) || LONE_SURROGATE.test(text);
}

function malformed(detail: string): AppException {
  return AppException.common(CommonErrorCode.MalformedRequest, 400, detail);
}

/**
 * The one JSON body parser: refuses empty bodies, nesting deeper than MAX_JSON_DEPTH, invalid
 * JSON, anything but an object at the top, and unstorable text anywhere in it.
 */
export function parseJsonObjectBody(text: string): Record<string, unknown> {
  if (text.trim() === '') throw malformed('The body is empty; send a JSON object.');
  if (jsonDepthExceeds(text)) throw malformed(`The body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed('The body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed('The body must be a JSON object.');
  // The walk allocates a path per string; a body whose text cannot hold a NUL, a surrogate or a
  // `__proto__` key (JSON escapes them, raw NUL is invalid JSON) needs none. One linear scan keeps
  // large inference bodies cheap.
  if (mayHoldBadText(text)) assertStorableText(value);
  return value as Record<string, unknown>;
}
