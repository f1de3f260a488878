// OpenSSL (through node:crypto) reads the PEM files we write, and we read the ones it writes
// (SPEC §2): P-384 on every Node; ML-KEM-768 / ML-DSA-87 where OpenSSL ≥ 3.5 is embedded (Node 24).
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../src/crypto/bytes.js';
import {
  decodeKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
  expectPrivate,
  expectPublic,
  spkiDer,
} from '../../src/crypto/key-codec.js';
import { getProvider } from '../../src/crypto/providers.js';
import { nativePq, nativePresenceTest, skipReason } from './native.js';

const providers = [getProvider('noble'), getProvider('node')];

describe('P-384 PEM interop with OpenSSL (every Node)', () => {
  it.each(providers.map((p) => [p.name, p] as const))('node:crypto reads our P-384 PEM files (%s) and agrees on ECDH', (_n, p) => {
    const ours = p.p384.fromScalar();
    const priv = createPrivateKey(encodePrivateKeyPem(ours));
    const pub = createPublicKey(encodePublicKeyPem('P-384', ours.publicKey));
    expect(priv.asymmetricKeyType).toBe('ec');
    expect(priv.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(equalBytes(pub.export({ format: 'der', type: 'spki' }), spkiDer('P-384', ours.publicKey))).toBe(true);
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const native = diffieHellman({ privateKey: priv, publicKey: peer.publicKey });
    const peerPoint = expectPublic(decodeKeyPem(p, peer.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'peer.pub'), 'P-384', 'peer.pub');
    expect(equalBytes(native, p.p384.ecdh(ours, peerPoint))).toBe(true);
  });

  it('we read OpenSSL-written P-384 PKCS#8 (with its embedded public key) and SPKI', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    for (const p of providers) {
      const d = decodeKeyPem(p, k.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'ossl.key');
      const pub = expectPublic(decodeKeyPem(p, k.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'ossl.pub'), 'P-384', 'ossl.pub');
      expect(equalBytes(expectPrivate(d, 'P-384', 'ossl.key').publicKey, pub)).toBe(true);
    }
  });
});

describe('ML-KEM-768 / ML-DSA-87 PEM interop with OpenSSL 3.5', () => {
  nativePresenceTest();

  describe.skipIf(!nativePq)(`native (skipped when ${skipReason})`, () => {
    const cases = [
      ['ML-KEM-768', 'ml-kem-768'],
      ['ML-DSA-87', 'ml-dsa-87'],
    ] as const;
    for (const p of providers) {
      it.each(cases)(`OpenSSL reads our %s PEM files (${p.name} provider)`, (alg, osslType) => {
        const key = alg === 'ML-KEM-768' ? p.mlkem768.fromSeed() : p.mldsa87.fromSeed();
        const priv = createPrivateKey(encodePrivateKeyPem(key));
        const pub = createPublicKey(encodePublicKeyPem(alg, key.publicKey));
        expect(priv.asymmetricKeyType).toBe(osslType);
        expect(pub.asymmetricKeyType).toBe(osslType);
        // OpenSSL derives the same public key from our seed-only private key
        const derived = createPublicKey(priv).export({ format: 'der', type: 'spki' });
        expect(equalBytes(derived, spkiDer(alg, key.publicKey))).toBe(true);
        expect(equalBytes(pub.export({ format: 'der', type: 'spki' }), spkiDer(alg, key.publicKey))).toBe(true);
      });
    }

    it.each(cases)('we read the %s PEM files OpenSSL writes', (alg, osslType) => {
      // @types/node 20 does not list the PQ key types
      const k = (generateKeyPairSync as unknown as (t: string) => { privateKey: KeyObject; publicKey: KeyObject })(osslType);
      const privPem = k.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      const pubPem = k.publicKey.export({ format: 'pem', type: 'spki' }) as string;
      for (const p of providers) {
        const priv = expectPrivate(decodeKeyPem(p, privPem, 'ossl.key'), alg, 'ossl.key');
        const pub = expectPublic(decodeKeyPem(p, pubPem, 'ossl.pub'), alg, 'ossl.pub');
        expect(equalBytes(priv.publicKey, pub)).toBe(true);
      }
    });
  });
});
