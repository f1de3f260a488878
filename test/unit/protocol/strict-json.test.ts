/**
 * The strict JSON reader (SPEC §3.3, issue 18): what it accepts reads exactly as JSON.parse reads
 * it; what it refuses is every text on which two parsers could disagree (duplicate members,
 * lone surrogates) or where the writer's spelling of a number would matter (700e0 vs 700).
 */
import { describe, expect, it } from 'vitest';
import { StrictJsonError, parseStrictJson, parseStrictJsonBytes } from '../../../src/protocol/strict-json.js';

const reasonOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(StrictJsonError);
    expect((err as StrictJsonError).code).toBe('JSON_MALFORMED');
    expect((err as StrictJsonError).exitCode).toBe(3);
    return (err as StrictJsonError).reason;
  }
  throw new Error('expected a refusal');
};

describe('parseStrictJson accepts RFC 8259 JSON and reads it as JSON.parse does', () => {
  it.each([
    ['null', 'null'],
    ['true with whitespace', ' \t\r\n true \n'],
    ['integers', '[0, -1, 7, 9007199254740991, -9007199254740991, 1000]'],
    ['strings with every escape', '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac"'],
    ['a surrogate pair, escaped and literal', '["\\ud83d\\ude00", "😀"]'],
    ['nested objects and arrays', '{"a":{"b":[{"c":[]},{}]},"d":"e","f":null,"g":false}'],
    ['an empty name and __proto__ as a plain member', '{"":1,"__proto__":{"x":2}}'],
    ['non-ASCII text', '{"name":"Grüße, 世界"}'],
  ])('%s', (_name, text) => {
    const got = parseStrictJson(text);
    expect(got).toEqual(JSON.parse(text));
    expect(JSON.stringify(got)).toBe(JSON.stringify(JSON.parse(text)));
  });

  it('keeps "__proto__" as an own member, never as the prototype', () => {
    const v = parseStrictJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('round-trips 300 random documents of integers, strings, arrays and objects', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const gen = (depth: number): unknown => {
      switch (depth > 4 ? rnd(4) : rnd(6)) {
        case 0: return rnd(2) === 0 ? rnd(1e9) : -rnd(1e9);
        case 1: return String.fromCharCode(...Array.from({ length: rnd(8) }, () => [0x22, 0x5c, 0x0a, 0x41, 0xe9, 0x20ac, 0x01][rnd(7)]));
        case 2: return [null, true, false][rnd(3)];
        case 3: return rnd(3) === 0 ? '' : 'x';
        case 4: return Array.from({ length: rnd(4) }, () => gen(depth + 1));
        default: return Object.fromEntries(Array.from({ length: rnd(4) }, (_, i) => [`k${i}${'é'.repeat(rnd(2))}`, gen(depth + 1)]));
      }
    };
    for (let i = 0; i < 300; i++) {
      const doc = gen(0);
      const text = JSON.stringify(doc, null, i % 2 ? 2 : undefined);
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    }
  });
});

describe('parseStrictJson refuses', () => {
  it.each([
    ['a duplicate member', '{"context":"a","context":"b"}', /duplicate member name "context"/],
    ['a duplicate spelled with an escape', '{"a":1,"\\u0061":2}', /duplicate member name "a"/],
    ['a duplicate deep inside', '{"file":{"size":1,"size":2}}', /duplicate member name "size"/],
    ['a fraction', '{"size":700.0}', /plain integers/],
    ['an exponent', '{"size":7e2}', /plain integers/],
    ['an exponent with a zero power', '{"size":700e0}', /plain integers/],
    ['an upper-case exponent', '[1E2]', /plain integers/],
    ['-0', '[-0]', /-0/],
    ['2^53', '[9007199254740992]', /2\^53/],
    ['a leading zero', '[007]', /leading zero/],
    ['a plus sign', '[+1]', /unexpected character/],
    ['a lone escaped high surrogate', '"\\ud83d"', /unpaired surrogate/],
    ['a lone escaped low surrogate', '"\\ude00x"', /unpaired surrogate/],
    ['a high surrogate followed by a non-surrogate escape', '"\\ud83d\\u0041"', /unpaired surrogate/],
    ['a literal lone surrogate', `"${String.fromCharCode(0xd800)}"`, /unpaired surrogate/],
    ['a byte-order mark', '\ufeff{}', /unexpected character/],
    ['a comment', '{} // note', /data after/],
    ['a trailing comma', '[1,2,]', /unexpected character/],
    ['NaN', '[NaN]', /unexpected character/],
    ['single quotes', "{'a':1}", /member name/],
    ['a raw control character', '"a\u0001b"', /control character/],
    ['an invalid escape', '"\\x41"', /invalid escape/],
    ['a short \\u escape', '"\\u12"', /\\u escape/],
    ['an unterminated string', '"abc', /unterminated/],
    ['two values', '{} {}', /data after/],
    ['an empty text', '', /end of input/],
    ['whitespace only', ' \n', /end of input/],
    ['a non-breaking space as whitespace', '\u00a0{}', /unexpected character/],
    ['nesting deeper than 64', '['.repeat(65) + ']'.repeat(65), /nesting deeper than 64/],
  ])('%s', (_name, text, why) => {
    expect(reasonOf(() => parseStrictJson(text))).toMatch(why);
  });

  it('nesting of exactly 64 is fine; the depth and length bounds are the caller’s to set', () => {
    expect(parseStrictJson('['.repeat(64) + ']'.repeat(64))).toBeDefined();
    expect(reasonOf(() => parseStrictJson('[[[]]]', { maxDepth: 2 }))).toMatch(/nesting deeper than 2/);
    expect(reasonOf(() => parseStrictJson('"12345"', { maxLength: 6 }))).toMatch(/longer than 6/);
    expect(parseStrictJson('"1234"', { maxLength: 6 })).toBe('1234');
  });

  it('bytes: strict UTF-8 (an invalid sequence is refused, never replaced), no BOM', () => {
    expect(parseStrictJsonBytes(new TextEncoder().encode('{"a":"é"}'))).toEqual({ a: 'é' });
    expect(reasonOf(() => parseStrictJsonBytes(Uint8Array.of(0x22, 0xc3, 0x28, 0x22)))).toMatch(/not UTF-8/);
    expect(reasonOf(() => parseStrictJsonBytes(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)))).toMatch(/unexpected character/);
  });
});
