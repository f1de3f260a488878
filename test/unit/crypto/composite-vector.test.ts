// draft-ietf-lamps-pq-composite-kem's own vector for id-MLKEM768-ECDH-P384-SHA3-256, verbatim,
// against both providers: ek from dk, Decaps(dk, c) = k, and dk_pkcs8 parsed (SPEC §1.3, §2.4).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../../src/crypto/bytes.js';
import {
  MLKEM768_P384,
  compositeDecapsulate,
  compositePrivateKeyFromBytes,
  compositePrivateKeyToBytes,
} from '../../../src/crypto/composite-kem.js';
import { decodeKeyDer, encodePrivateKeyPem, decodeKeyPem, privateKeyDer } from '../../../src/crypto/key-codec.js';
import { b64, loadVector, providers, repoVectorPath, sharedVectorExists, sharedVectorPath } from './helpers.js';

const v = loadVector(repoVectorPath);

describe('composite vector file', () => {
  it.skipIf(!sharedVectorExists)('the repo copy is byte-identical to ../shared/vectors', () => {
    expect(readFileSync(repoVectorPath).equals(readFileSync(sharedVectorPath))).toBe(true);
  });

  it('has the sizes of the draft', () => {
    expect(b64(v.ek).length).toBe(MLKEM768_P384.publicKeyBytes);
    expect(b64(v.c).length).toBe(MLKEM768_P384.cipherTextBytes);
    expect(b64(v.k).length).toBe(MLKEM768_P384.sharedSecretBytes);
  });
});

describe.each(providers.map((p) => [p.name, p] as const))('composite vector with the %s provider', (_name, p) => {
  it('derives ek from dk', () => {
    const key = compositePrivateKeyFromBytes(p, b64(v.dk));
    expect(equalBytes(key.publicKey, b64(v.ek))).toBe(true);
  });

  it('decapsulates c to k', () => {
    const key = compositePrivateKeyFromBytes(p, b64(v.dk));
    expect(equalBytes(compositeDecapsulate(p, key, b64(v.c)), b64(v.k))).toBe(true);
  });

  it('re-serializes dk and dk_pkcs8 byte for byte', () => {
    const key = compositePrivateKeyFromBytes(p, b64(v.dk));
    expect(equalBytes(compositePrivateKeyToBytes(key), b64(v.dk))).toBe(true);
    expect(equalBytes(privateKeyDer(key), b64(v.dk_pkcs8))).toBe(true);
  });

  it('parses dk_pkcs8 as a composite private key with the vector ek', () => {
    const d = decodeKeyDer(p, b64(v.dk_pkcs8), 'private', 'dk_pkcs8');
    expect(d.kind).toBe('private');
    expect(d.alg).toBe('MLKEM768-P384');
    expect(equalBytes(d.publicKey, b64(v.ek))).toBe(true);
    if (d.kind !== 'private' || d.key.alg !== 'MLKEM768-P384') throw new Error('unreachable');
    expect(equalBytes(compositeDecapsulate(p, d.key, b64(v.c)), b64(v.k))).toBe(true);
    // and through PEM
    const again = decodeKeyPem(p, encodePrivateKeyPem(d.key), 'vector.pem');
    expect(equalBytes(again.publicKey, b64(v.ek))).toBe(true);
  });

  it('a changed ciphertext gives a different secret (ML-KEM implicit rejection, combiner binds the point)', () => {
    const key = compositePrivateKeyFromBytes(p, b64(v.dk));
    const c = b64(v.c);
    c[10] ^= 1;
    expect(equalBytes(compositeDecapsulate(p, key, c), b64(v.k))).toBe(false);
  });
});
