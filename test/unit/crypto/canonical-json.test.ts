// RFC 8785 (JCS) with the RFC's own examples: §3.2.2 (serialization), §3.2.3 (sorting) and the
// IEEE-754 number table of Appendix B; plus what we refuse to canonicalize, and signJson/verifyJson.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/crypto/bytes.js';
import { canonicalBytes, canonicalJson } from '../../../src/crypto/canonical-json.js';
import { signJson, verifyJson } from '../../../src/crypto/signature.js';
import { expectCode, providers } from './helpers.js';

describe('RFC 8785 examples', () => {
  it('§3.2.2: the sample object', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('§3.2.3: members sorted by UTF-16 code units', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    // (JS objects list integer-like keys first, so the order is checked on the text itself)
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    // the UTF-8 of the start of the RFC's output: {"\r":"Carriage Return","1":"One","<U+0080>":…
    expect(toHex(canonicalBytes(input)).slice(0, 2 * 37)).toBe(
      '7b225c72223a22436172726961676520526574757' + '26e222c2231223a224f6e65222c22c280',
    );
  });

  // Appendix B: IEEE-754 bit patterns and their canonical text
  const numbers: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(numbers)('Appendix B: %s → %s', (bits, text) => {
    const n = new DataView(Uint8Array.from(Buffer.from(bits, 'hex')).buffer).getFloat64(0);
    expect(canonicalJson(n)).toBe(text);
  });
  it.each(['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000'])('Appendix B: %s (NaN/Infinity) is an error', (bits) => {
    const n = new DataView(Uint8Array.from(Buffer.from(bits, 'hex')).buffer).getFloat64(0);
    expectCode(() => canonicalJson(n), 'JSON_NOT_CANONICALIZABLE');
  });
});

describe('SPEC §3.2 example', () => {
  it('{"b":[1.50,true],"a":"€"} → {"a":"€","b":[1.5,true]}', () => {
    expect(canonicalJson(JSON.parse('{"b":[1.50,true],"a":"€"}'))).toBe('{"a":"€","b":[1.5,true]}');
  });
});

describe('what JCS refuses', () => {
  const refused: [string, unknown][] = [
    ['undefined', undefined],
    ['a member that is undefined', { a: undefined }],
    ['a function', { f: () => 1 }],
    ['a bigint', { n: 1n }],
    ['a symbol', Symbol('x')],
    ['a lone high surrogate', { s: 'a\ud800b' }],
    ['a lone low surrogate in a key', { ['\udc00']: 1 }],
    ['a Date', { d: new Date(0) }],
    ['a Uint8Array', { b: new Uint8Array(1) }],
    ['a sparse array', [1, , 3]],
    ['NaN', { n: Number.NaN }],
  ];
  it.each(refused)('%s', (_w, v) => {
    expectCode(() => canonicalJson(v), 'JSON_NOT_CANONICALIZABLE');
  });
  it('a cycle', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expectCode(() => canonicalJson(a), 'JSON_NOT_CANONICALIZABLE');
  });
  it('accepts a surrogate pair and the same object twice (not a cycle)', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ e: '\ud83d\ude00', a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1},"e":"😀"}');
  });
  it('null-prototype objects are plain', () => {
    const o = Object.assign(Object.create(null), { b: 1, a: [] });
    expect(canonicalJson(o)).toBe('{"a":[],"b":1}');
  });
});

describe.each(providers.map((p) => [p.name, p] as const))('signJson / verifyJson (%s)', (_n, p) => {
  const key = p.mldsa87.fromSeed();
  it('verifies the same value in any member order and whitespace; rejects changes', () => {
    const sig = signJson(p, key, 'vote', { persona: 7, vote: 'approve', reasons: ['a', 'b'] });
    const reordered = JSON.parse('{ "vote" : "approve", "reasons":["a","b"], "persona": 7.0 }');
    expect(verifyJson(p, key.publicKey, 'vote', reordered, sig)).toBe(true);
    expect(verifyJson(p, key.publicKey, 'vote', { ...reordered, persona: 8 }, sig)).toBe(false);
    expect(verifyJson(p, key.publicKey, 'decision', reordered, sig)).toBe(false);
    expect(verifyJson(p, key.publicKey, 'vote', { x: undefined }, sig)).toBe(false);
  });
});
