import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../../src/crypto/bytes.js';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { signJson } from '../../../src/crypto/signature.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { generateServiceKeys, fingerprints, publicKeysOf } from '../../../src/keys/key-dir.js';
import {
  assertPublicKeysDocument,
  createPublicKeysDocument,
  verifyPublicKeysDocument,
} from '../../../src/protocol/keys-document.js';

const p = defaultProvider();
const keys = generateServiceKeys(p);
const other = generateServiceKeys(p);
const fp = fingerprints(publicKeysOf(keys));
const now = new Date('2026-11-28T12:00:00Z');
const doc = createPublicKeysDocument(p, { mlkem: keys.mlkem.publicKey, ecdh: keys.ecdh.publicKey, signingKey: keys.mldsa, now, validityDays: 30 });
const text = JSON.stringify(doc);
const clone = () => JSON.parse(text);

/** Re-signs a modified unsigned body with a given key (to reach the checks after the signature). */
function resign(body: any, key = keys.mldsa, purpose: 'keys' | 'file' = 'keys') {
  const { signature: _s, ...unsigned } = body;
  return { ...unsigned, signature: { ...body.signature, value: toBase64(signJson(p, key, purpose, unsigned)) } };
}

describe('public-keys document (SPEC §7.3)', () => {
  it('verifies against the pinned ML-DSA-87 fingerprint and yields the keys', () => {
    const v = verifyPublicKeysDocument(p, text, { pin: fp.mldsa, now });
    expect(v.valid).toBe(true);
    if (!v.valid) return;
    expect(v.fingerprints).toEqual({ mlkem: fp.mlkem, ecdh: fp.ecdh, composite: fp.composite, mldsa: fp.mldsa });
    expect(Buffer.from(v.keys.mlkem).equals(Buffer.from(keys.mlkem.publicKey))).toBe(true);
    expect(doc.notBefore).toBe('2026-11-28T12:00:00Z');
    expect(doc.notAfter).toBe('2026-12-28T12:00:00Z');
    expect(doc.signature.context).toBe('ima-qs/v1/keys');
    // the pin may be given in upper case; the parsed object verifies like the text
    expect(verifyPublicKeysDocument(p, clone(), { pin: fp.mldsa.toUpperCase(), now }).valid).toBe(true);
  });

  const cases: [string, () => { input: unknown; pin?: string; at?: Date }, string][] = [
    ['another pin', () => ({ input: text, pin: fingerprints(publicKeysOf(other)).mldsa }), 'KEYS_DOC_PIN_MISMATCH'],
    ['a pin that is not 32 bytes', () => ({ input: text, pin: fp.mldsa.slice(0, 62) }), 'KEYS_DOC_PIN_MISMATCH'],
    ['a pin that is not hex', () => ({ input: text, pin: 'z'.repeat(64) }), 'KEYS_DOC_PIN_MISMATCH'],
    ['a swapped encryption key', () => {
      const d = clone();
      d.keys.mlkem768.publicKey = toBase64(other.mlkem.publicKey);
      return { input: d };
    }, 'KEYS_DOC_BAD_SIGNATURE'],
    ['a changed validity', () => {
      const d = clone();
      d.notAfter = '2036-01-01T00:00:00Z';
      return { input: d };
    }, 'KEYS_DOC_BAD_SIGNATURE'],
    ['a flipped signature byte', () => {
      const d = clone();
      const s = fromBase64(d.signature.value);
      s[100] ^= 1;
      d.signature.value = toBase64(s);
      return { input: d };
    }, 'KEYS_DOC_BAD_SIGNATURE'],
    ['a signature made for another purpose', () => ({ input: resign(clone(), keys.mldsa, 'file') }), 'KEYS_DOC_BAD_SIGNATURE'],
    ['an embedded key other than the signer (re-signed by the other key)', () => {
      const d = clone();
      d.keys.mldsa87.publicKey = toBase64(other.mldsa.publicKey);
      return { input: resign(d, other.mldsa), pin: fp.mldsa };
    }, 'KEYS_DOC_PIN_MISMATCH'],
    ['a listed fingerprint that is not the key’s (validly signed)', () => {
      const d = clone();
      d.keys.p384.fingerprint = '0'.repeat(64);
      return { input: resign(d) };
    }, 'KEYS_DOC_MALFORMED'],
    ['a composite key that is not the two halves (validly signed)', () => {
      const d = clone();
      const c = fromBase64(d.keys.composite.publicKey);
      c[5] ^= 1;
      d.keys.composite.publicKey = toBase64(c);
      d.keys.composite.fingerprint = fingerprint('MLKEM768-P384', c); // listed correctly: only the halves check can catch it
      return { input: resign(d) };
    }, 'KEYS_DOC_MALFORMED'],
    ['before notBefore', () => ({ input: text, at: new Date('2026-11-28T11:59:59Z') }), 'KEYS_DOC_NOT_YET_VALID'],
    ['after notAfter', () => ({ input: text, at: new Date('2026-12-28T12:00:01Z') }), 'KEYS_DOC_EXPIRED'],
    ['not JSON', () => ({ input: '{"format":' }), 'KEYS_DOC_MALFORMED'],
    ['an array', () => ({ input: [] }), 'KEYS_DOC_MALFORMED'],
    ['another format', () => ({ input: { ...clone(), format: 'ima-qs-public-keys/v2' } }), 'KEYS_DOC_MALFORMED'],
    ['an unknown member', () => ({ input: { ...clone(), extra: 1 } }), 'KEYS_DOC_MALFORMED'],
    ['a short ML-KEM key', () => {
      const d = clone();
      d.keys.mlkem768.publicKey = toBase64(keys.mlkem.publicKey.slice(0, 1183));
      return { input: d };
    }, 'KEYS_DOC_MALFORMED'],
    ['a missing key entry', () => {
      const d = clone();
      delete d.keys.p384;
      return { input: d };
    }, 'KEYS_DOC_MALFORMED'],
    ['a date that is not UTC', () => ({ input: { ...clone(), notAfter: '2026-12-28T12:00:00+01:00' } }), 'KEYS_DOC_MALFORMED'],
    // signed, so only the structure check can refuse them: a NaN bound would pass the validity check
    ['a signed notAfter in month 13', () => ({ input: resign({ ...clone(), notAfter: '2026-13-01T00:00:00Z' }) }), 'KEYS_DOC_MALFORMED'],
    ['a signed notBefore of February 30', () => ({ input: resign({ ...clone(), notBefore: '2026-02-30T00:00:00Z' }) }), 'KEYS_DOC_MALFORMED'],
    ['another signature context', () => {
      const d = clone();
      d.signature.context = 'ima-qs/v1/file';
      return { input: d };
    }, 'KEYS_DOC_MALFORMED'],
    ['oversized text', () => ({ input: ' '.repeat(70_000) }), 'KEYS_DOC_MALFORMED'],
  ];
  for (const [name, make, code] of cases) {
    it(`says no (${code}) for ${name}`, () => {
      const { input, pin, at } = make();
      const v = verifyPublicKeysDocument(p, input, { pin: pin ?? fp.mldsa, now: at ?? now });
      expect(v.valid).toBe(false);
      if (!v.valid) expect(v.code).toBe(code);
      if (!v.valid && name.startsWith('a composite')) expect(v.reason).toMatch(/followed by/);
    });
  }

  it('assertPublicKeysDocument throws a VerificationError (exit 1)', () => {
    expect(() => assertPublicKeysDocument(p, text, { pin: fingerprints(publicKeysOf(other)).mldsa, now })).toThrow(
      expect.objectContaining({ code: 'KEYS_DOC_PIN_MISMATCH', exitCode: 1 }),
    );
  });
});
