/**
 * Composite ML-KEM `id-MLKEM768-ECDH-P384-SHA3-256` (draft-ietf-lamps-pq-composite-kem; SPEC §1.3),
 * checked against the draft's own vector (test/vectors/standard/composite-mlkem768-p384.json).
 *
 *   public key   ek = mlkemPK (1184) ‖ P-384 uncompressed point (97)              = 1281 bytes
 *   ciphertext   c  = mlkemCT (1088) ‖ ephemeral P-384 uncompressed point (97)    = 1185 bytes
 *   private key  dk = ML-KEM seed d‖z (64) ‖ RFC 5915 ECPrivateKey DER (no publicKey)
 *   combiner     ss = SHA3-256(mlkemSS ‖ ecdhSS ‖ ephemeralPoint ‖ recipientPoint ‖ "MLKEM768-P384")
 *
 * where ecdhSS is the 48-byte x-coordinate (SEC 1 §3.3.1). Binding the traditional ciphertext and
 * public key makes the combiner robust even though ECDH alone is not IND-CCA (draft §3).
 * Encapsulation does the minimum: one ML-KEM encapsulation against a cached (prepared/imported)
 * public key, one native ephemeral key pair + ECDH, one SHA3.
 */
import { InputError } from '../errors.js';
import { concatBytes, equalBytes, expectLength, utf8, wipe } from './bytes.js';
import { checkEmbeddedPublic, decodeEcPrivateKey, ecPrivateKeyDer } from './key-der.js';
import type { CryptoProvider, MlKemPrivateKey, P384PrivateKey } from './provider.js';

export const MLKEM768_P384 = {
  name: 'id-MLKEM768-ECDH-P384-SHA3-256',
  oid: '1.3.6.1.5.5.7.6.60',
  label: 'MLKEM768-P384',
  publicKeyBytes: 1281,
  cipherTextBytes: 1185,
  sharedSecretBytes: 32,
} as const;

const MLKEM_PK = 1184;
const MLKEM_CT = 1088;
const MLKEM_SEED = 64;
const LABEL = utf8(MLKEM768_P384.label);

export interface CompositeKemPrivateKey {
  readonly alg: 'MLKEM768-P384';
  readonly mlkem: MlKemPrivateKey;
  readonly ecdh: P384PrivateKey;
  /** the composite public key, 1281 bytes */
  readonly publicKey: Uint8Array;
}

export function compositeKeyFrom(mlkem: MlKemPrivateKey, ecdh: P384PrivateKey): CompositeKemPrivateKey {
  if (mlkem?.alg !== 'ML-KEM-768') throw new InputError('KEY_WRONG_ALGORITHM', 'mlkem expected an ML-KEM-768 private key');
  if (ecdh?.alg !== 'P-384') throw new InputError('KEY_WRONG_ALGORITHM', 'ecdh expected a P-384 private key');
  return Object.freeze({ alg: 'MLKEM768-P384' as const, mlkem, ecdh, publicKey: concatBytes(mlkem.publicKey, ecdh.publicKey) });
}

export function compositeGenerate(p: CryptoProvider): CompositeKemPrivateKey {
  return compositeKeyFrom(p.mlkem768.fromSeed(), p.p384.fromScalar());
}

/** The two halves of a composite public key, as stable arrays so provider caches hit. */
const splitCache = new WeakMap<Uint8Array, { mlkem: Uint8Array; ecdh: Uint8Array }>();

function splitPublicKey(publicKey: Uint8Array): { mlkem: Uint8Array; ecdh: Uint8Array } {
  const hit = splitCache.get(publicKey);
  if (hit && equalBytes(hit.mlkem, publicKey.subarray(0, MLKEM_PK)) && equalBytes(hit.ecdh, publicKey.subarray(MLKEM_PK))) {
    return hit;
  }
  const parts = { mlkem: publicKey.slice(0, MLKEM_PK), ecdh: publicKey.slice(MLKEM_PK) };
  splitCache.set(publicKey, parts);
  return parts;
}

function combine(p: CryptoProvider, mlkemSS: Uint8Array, ecdhSS: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  try {
    return p.sha3_256(mlkemSS, ecdhSS, ephemeral, recipient, LABEL);
  } finally {
    wipe(mlkemSS, ecdhSS);
  }
}

/** Composite Encaps(ek) (draft §4.1): fresh shared secret and its 1185-byte ciphertext. */
export function compositeEncapsulate(p: CryptoProvider, publicKey: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  expectLength(publicKey, MLKEM768_P384.publicKeyBytes, 'publicKey (composite ML-KEM-768 + P-384)', 'KEY_MALFORMED');
  const pk = splitPublicKey(publicKey);
  const kem = p.mlkem768.encapsulate(pk.mlkem);
  const ec = p.p384.ephemeralEcdh(pk.ecdh);
  const sharedSecret = combine(p, kem.sharedSecret, ec.sharedSecret, ec.publicKey, pk.ecdh);
  return { cipherText: concatBytes(kem.cipherText, ec.publicKey), sharedSecret };
}

/** Composite Decaps(dk, c) (draft §4.2). ML-KEM rejects implicitly; an invalid point throws InputError. */
export function compositeDecapsulate(p: CryptoProvider, key: CompositeKemPrivateKey, cipherText: Uint8Array): Uint8Array {
  if (key?.alg !== 'MLKEM768-P384') throw new InputError('KEY_WRONG_ALGORITHM', 'key expected a composite ML-KEM-768 + P-384 private key');
  expectLength(cipherText, MLKEM768_P384.cipherTextBytes, 'cipherText (composite ML-KEM-768 + P-384)', 'CIPHERTEXT_MALFORMED');
  const ephemeral = cipherText.subarray(MLKEM_CT);
  const mlkemSS = p.mlkem768.decapsulate(key.mlkem, cipherText.subarray(0, MLKEM_CT));
  let ecdhSS: Uint8Array;
  try {
    ecdhSS = p.p384.ecdh(key.ecdh, ephemeral);
  } catch (err) {
    wipe(mlkemSS);
    throw err;
  }
  return combine(p, mlkemSS, ecdhSS, ephemeral, key.ecdh.publicKey);
}

/** dk = ML-KEM seed (64) ‖ ECPrivateKey{1, scalar, [0] secp384r1} — the draft's serialization (its vector's `dk`). */
export function compositePrivateKeyToBytes(key: CompositeKemPrivateKey): Uint8Array {
  if (!key.mlkem.seed) {
    throw new InputError('KEY_NO_SEED', 'the composite private key has no ML-KEM seed (it was read from an expanded key)', {
      hint: 'composite private keys are serialized from the ML-KEM seed only',
    });
  }
  return concatBytes(key.mlkem.seed, ecPrivateKeyDer(key.ecdh.scalar, { curve: true }));
}

/** Parses dk (see above); an embedded [1] publicKey, if any, must match the scalar. */
export function compositePrivateKeyFromBytes(p: CryptoProvider, dk: Uint8Array, what = 'composite private key'): CompositeKemPrivateKey {
  if (!(dk instanceof Uint8Array) || dk.length <= MLKEM_SEED) {
    throw new InputError('KEY_MALFORMED', `${what} is ${dk?.length ?? 0} bytes; it must be a 64-byte ML-KEM seed followed by a P-384 ECPrivateKey`);
  }
  const ec = decodeEcPrivateKey(dk.subarray(MLKEM_SEED), what);
  const ecdh = p.p384.fromScalar(ec.scalar);
  checkEmbeddedPublic(what, ecdh.publicKey, ec.publicKey);
  return compositeKeyFrom(p.mlkem768.fromSeed(dk.subarray(0, MLKEM_SEED)), ecdh);
}
