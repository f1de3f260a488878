/**
 * toBase64 (RFC 4648 §4, padded) builds its text in one native decode: it must equal the
 * reference encoder byte for byte at every length (all three padding cases) and round-trip
 * through the strict decoder.
 */
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../../src/crypto/bytes.js';

describe('toBase64', () => {
  it('equals Buffer base64 and round-trips, lengths 0-300 and 150 000', () => {
    let seed = 7;
    const rand = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    for (const n of [...Array.from({ length: 301 }, (_, i) => i), 150_000]) {
      const b = rand(n);
      const s = toBase64(b);
      expect(s).toBe(Buffer.from(b).toString('base64'));
      expect(fromBase64(s)).toEqual(b);
    }
    expect(toBase64(Uint8Array.from({ length: 256 }, (_, i) => i))).toBe(Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i)).toString('base64'));
  });
});
