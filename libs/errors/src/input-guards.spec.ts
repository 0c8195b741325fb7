import { AppException } from './app-exception';
import { findBadText, isStorableText, jsonDepthExceeds, MAX_JSON_DEPTH, parseJsonObjectBody, storableText } from './input-guards';

describe('input guards', () => {
  it('finds NUL and unpaired surrogates, and lets paired ones (emoji) through', () => {
    expect(isStorableText('plain ünïcödé 😀')).toBe(true);
    for (const bad of ['a\u0000b', '\ud800', 'a\ud800b', '\udc00', 'x\udc00\ud800']) expect(isStorableText(bad)).toBe(false);
    expect(storableText('a\u0000b\ud800c\u0001')).toBe('a\ufffdb\ufffdc\ufffd');
  });

  it('names the field of the first bad string, in values and keys, at any depth', () => {
    expect(findBadText({ a: 'ok', b: { c: ['fine', 'x\u0000'] } })).toEqual({ field: 'b.c.1', proto: false });
    expect(findBadText({ ['k\u0000']: 1 })?.proto).toBe(false);
    expect(findBadText(JSON.parse('{"a":{"__proto__":{"x":1}}}'))).toEqual({ field: 'a.__proto__', proto: true });
    expect(findBadText({ a: ['ok', { b: 'fine' }] })).toBeUndefined();
  });

  it('measures depth in one pass, ignoring brackets inside strings', () => {
    expect(jsonDepthExceeds('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonDepthExceeds('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(1000)}\\"${'{'.repeat(1000)}"}`)).toBe(false);
    // A million levels cost a linear scan, not a stack.
    const started = performance.now();
    expect(jsonDepthExceeds('['.repeat(1_000_000))).toBe(true);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('parses only JSON objects with storable text', () => {
    expect(parseJsonObjectBody('{"a":[1,{"b":"c"}]}')).toEqual({ a: [1, { b: 'c' }] });
    for (const body of ['', '  ', 'true', 'null', '42', '"x"', '[]', '{"a":', '{"a":"\\u0000"}', '{"a":"\\ud800"}', '[[[' + ']]]']) {
      expect(() => parseJsonObjectBody(body)).toThrow(AppException);
    }
    try {
      parseJsonObjectBody('{"name":"a\\u0000b"}');
    } catch (error) {
      expect((error as AppException).extras.errors).toEqual([{ field: 'name', messages: [expect.stringContaining('NUL')] }]);
    }
  });
});
