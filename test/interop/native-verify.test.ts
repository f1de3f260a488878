// Under Node 24 (OpenSSL 3.5): native crypto.verify accepts our ML-DSA-87 signatures with their
// context (and refuses them under another context); native decapsulation, with a key OpenSSL
// imported from our PEM, recovers the secret of our ML-KEM ciphertexts — and the reverse.
import * as nc from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { equalBytes, utf8 } from '../../src/crypto/bytes.js';
import { encodePrivateKeyPem, encodePublicKeyPem } from '../../src/crypto/key-codec.js';
import { getProvider } from '../../src/crypto/providers.js';
import { SIGNATURE_CONTEXTS, signBytes, verifyBytes } from '../../src/crypto/signature.js';
import { nativePq, nativePresenceTest, skipReason } from './native.js';

/** node:crypto calls that @types/node 20 does not describe */
const pq = nc as unknown as {
  encapsulate(key: KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: KeyObject, ct: Uint8Array): Buffer;
  sign(alg: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }): Buffer;
  verify(alg: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }, sig: Uint8Array): boolean;
};

const providers = [getProvider('noble'), getProvider('node')];

describe('native OpenSSL checks our signatures and ciphertexts', () => {
  nativePresenceTest();

  describe.skipIf(!nativePq)(`native (skipped when ${skipReason})`, () => {
    it.each(providers.map((p) => [p.name, p] as const))('crypto.verify accepts our ML-DSA-87 signatures with the context (%s)', (_n, p) => {
      const key = p.mldsa87.fromSeed();
      const pub = nc.createPublicKey(encodePublicKeyPem('ML-DSA-87', key.publicKey));
      const msg = utf8('{"decision":"approve"}');
      const sig = signBytes(p, key, 'decision', msg);
      expect(pq.verify(null, msg, { key: pub, context: utf8(SIGNATURE_CONTEXTS.decision) }, sig)).toBe(true);
      expect(pq.verify(null, msg, { key: pub, context: utf8(SIGNATURE_CONTEXTS.vote) }, sig)).toBe(false);
      expect(pq.verify(null, msg, { key: pub }, sig)).toBe(false);
    });

    it.each(providers.map((p) => [p.name, p] as const))('we verify crypto.sign signatures made from our PEM (%s)', (_n, p) => {
      const key = p.mldsa87.fromSeed();
      const priv = nc.createPrivateKey(encodePrivateKeyPem(key));
      const msg = utf8('audit entry');
      const sig = pq.sign(null, msg, { key: priv, context: utf8(SIGNATURE_CONTEXTS.audit) });
      expect(verifyBytes(p, key.publicKey, 'audit', msg, sig)).toBe(true);
      expect(verifyBytes(p, key.publicKey, 'file', msg, sig)).toBe(false);
    });

    it.each(providers.map((p) => [p.name, p] as const))('OpenSSL decapsulates our ML-KEM-768 ciphertexts, we decapsulate its (%s)', (_n, p) => {
      const key = p.mlkem768.fromSeed();
      const priv = nc.createPrivateKey(encodePrivateKeyPem(key));
      const pub = nc.createPublicKey(encodePublicKeyPem('ML-KEM-768', key.publicKey));
      for (let i = 0; i < 3; i++) {
        const ours = p.mlkem768.encapsulate(key.publicKey);
        expect(equalBytes(pq.decapsulate(priv, ours.cipherText), ours.sharedSecret)).toBe(true);
        const theirs = pq.encapsulate(pub);
        expect(equalBytes(p.mlkem768.decapsulate(key, theirs.ciphertext), theirs.sharedKey)).toBe(true);
      }
    });
  });
});
