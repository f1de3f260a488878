/**
 * The pure-JS provider: @noble/* only, no `node:` imports, so it bundles for a browser
 * (DESIGN.md "Providers"). It is also the PQ fallback of the node provider on runtimes without
 * native ML-KEM / ML-DSA, and the reference the differential tests compare the native path with.
 *
 * Prepared keys: the expanded forms (FIPS 203 dk, FIPS 204 sk, the ML-KEM "prepared" matrix) are
 * computed once per key object and kept in WeakMaps, never on the object itself, so a key object
 * prints and serializes as just its seed-bearing fields and repeated use never re-expands.
 */
import { type KEMPrepared, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { p384 } from '@noble/curves/nist.js';
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import { gcm } from '@noble/ciphers/aes.js';
import { randomBytes as nobleRandom } from '@noble/hashes/utils.js';
import { InputError } from '../errors.js';
import { equalBytes, expectLength } from './bytes.js';
import type { CryptoProvider, MlDsaPrivateKey, MlKemPrivateKey, P384PrivateKey } from './provider.js';

/** FIPS 203 Table 3 / FIPS 204 Table 2 / SEC 1: the sizes every entry point checks first. */
export const SIZES = {
  mlkem768: { seed: 64, publicKey: 1184, expandedKey: 2400, cipherText: 1088, sharedSecret: 32 },
  mldsa87: { seed: 32, publicKey: 2592, expandedKey: 4896, signature: 4627, maxContext: 255 },
  p384: { scalar: 48, publicKey: 97, sharedSecret: 48 },
  aes256gcm: { key: 32, nonce: 12, tag: 16 },
} as const;

type KemPrepared = KEMPrepared;

/** Per-key caches (WeakMap: nothing secret is reachable from the key object's own properties). */
const kemExpanded = new WeakMap<MlKemPrivateKey, { dk: Uint8Array; prepared: KemPrepared }>();
const dsaExpanded = new WeakMap<MlDsaPrivateKey, Uint8Array>();
/** Encapsulation keys seen before, by array identity, re-checked by content on every hit. */
const kemPublicPrepared = new WeakMap<Uint8Array, KemPrepared>();

// ---- key objects (shared with provider-node, which builds the same shapes) ----

export function makeMlKemKey(publicKey: Uint8Array, seed?: Uint8Array, expandedKey?: Uint8Array): MlKemPrivateKey {
  return Object.freeze({ alg: 'ML-KEM-768' as const, ...(seed ? { seed } : { expandedKey }), publicKey });
}

export function makeMlDsaKey(publicKey: Uint8Array, seed?: Uint8Array, expandedKey?: Uint8Array): MlDsaPrivateKey {
  return Object.freeze({ alg: 'ML-DSA-87' as const, ...(seed ? { seed } : { expandedKey }), publicKey });
}

export function makeP384Key(scalar: Uint8Array, publicKey: Uint8Array): P384PrivateKey {
  return Object.freeze({ alg: 'P-384' as const, scalar, publicKey });
}

/** FIPS 203 §7.3 decapsulation-key check: H(ek) stored in dk matches the embedded ek. */
export function mlkemPublicFromExpanded(dk: Uint8Array): Uint8Array {
  expectLength(dk, SIZES.mlkem768.expandedKey, 'ML-KEM-768 expanded key', 'KEY_MALFORMED');
  const ek = dk.slice(1152, 1152 + 1184);
  const h = dk.subarray(2336, 2368);
  if (!equalBytes(sha3_256(ek), h)) {
    throw new InputError('KEY_MALFORMED', 'ML-KEM-768 expanded key fails the FIPS 203 hash check');
  }
  return ek;
}

/** The public key of an expanded ML-DSA-87 sk, checked against the tr = H(pk) it stores (FIPS 204 §6.1). */
export function mldsaPublicFromExpanded(sk: Uint8Array): Uint8Array {
  expectLength(sk, SIZES.mldsa87.expandedKey, 'ML-DSA-87 expanded key', 'KEY_MALFORMED');
  let pk: Uint8Array;
  try {
    pk = ml_dsa87.getPublicKey(sk);
  } catch (cause) {
    throw new InputError('KEY_MALFORMED', 'ML-DSA-87 expanded key does not decode', { cause });
  }
  if (!equalBytes(shake256(pk, { dkLen: 64 }), sk.subarray(64, 128))) {
    throw new InputError('KEY_MALFORMED', 'ML-DSA-87 expanded key is inconsistent (tr does not match its public key)');
  }
  return pk;
}

export function checkContext(context: Uint8Array): void {
  if (!(context instanceof Uint8Array) || context.length > SIZES.mldsa87.maxContext) {
    throw new InputError('BAD_CONTEXT', 'context expected Uint8Array of at most 255 bytes');
  }
}

/** Rejects scalars outside [1, n-1] (SEC 1 §3.2.1) before any curve arithmetic. */
export function checkP384Scalar(scalar: Uint8Array): void {
  expectLength(scalar, SIZES.p384.scalar, 'P-384 private scalar', 'KEY_MALFORMED');
  if (!p384.utils.isValidSecretKey(scalar)) {
    throw new InputError('KEY_MALFORMED', 'P-384 private scalar is out of range');
  }
}

export function invalidPoint(cause?: unknown): InputError {
  return new InputError('EC_POINT_INVALID', 'P-384 public key is not a valid uncompressed curve point', { cause });
}

// ---- ML-KEM-768 (FIPS 203) ----

function kemCache(key: MlKemPrivateKey): { dk: Uint8Array; prepared: KemPrepared } {
  let c = kemExpanded.get(key);
  if (!c) {
    const dk = key.seed ? ml_kem768.keygen(key.seed).secretKey : key.expandedKey!;
    c = { dk, prepared: ml_kem768.prepare(key.publicKey) };
    kemExpanded.set(key, c);
  }
  return c;
}

function kemPrepareFor(publicKey: Uint8Array): KemPrepared {
  const hit = kemPublicPrepared.get(publicKey);
  if (hit && equalBytes(hit.publicKey, publicKey)) return hit;
  let prepared: KemPrepared;
  try {
    prepared = ml_kem768.prepare(publicKey); // FIPS 203 §7.2 modulus check happens here
  } catch (cause) {
    throw new InputError('KEY_MALFORMED', 'ML-KEM-768 public key fails the FIPS 203 modulus check', { cause });
  }
  kemPublicPrepared.set(publicKey, prepared);
  return prepared;
}

// ---- the provider ----

export const nobleProvider: CryptoProvider = Object.freeze({
  name: 'noble' as const,
  nativePq: false,

  randomBytes(n: number): Uint8Array {
    return nobleRandom(n);
  },

  sha3_256(...parts: Uint8Array[]): Uint8Array {
    const h = sha3_256.create();
    for (const p of parts) h.update(p);
    return h.digest();
  },

  mlkem768: Object.freeze({
    fromSeed(seed?: Uint8Array): MlKemPrivateKey {
      if (seed !== undefined) expectLength(seed, SIZES.mlkem768.seed, 'ML-KEM-768 seed', 'KEY_MALFORMED');
      const s = seed ? Uint8Array.from(seed) : nobleRandom(SIZES.mlkem768.seed);
      const { secretKey, publicKey } = ml_kem768.keygen(s);
      const key = makeMlKemKey(publicKey, s);
      kemExpanded.set(key, { dk: secretKey, prepared: ml_kem768.prepare(publicKey) });
      return key;
    },
    fromExpanded(expandedKey: Uint8Array): MlKemPrivateKey {
      const dk = Uint8Array.from(expandedKey);
      return makeMlKemKey(mlkemPublicFromExpanded(dk), undefined, dk);
    },
    expand(seed: Uint8Array): Uint8Array {
      expectLength(seed, SIZES.mlkem768.seed, 'ML-KEM-768 seed', 'KEY_MALFORMED');
      return ml_kem768.keygen(seed).secretKey;
    },
    encapsulate(publicKey: Uint8Array) {
      expectLength(publicKey, SIZES.mlkem768.publicKey, 'ML-KEM-768 public key', 'KEY_MALFORMED');
      return kemPrepareFor(publicKey).encapsulate();
    },
    decapsulate(key: MlKemPrivateKey, cipherText: Uint8Array): Uint8Array {
      expectLength(cipherText, SIZES.mlkem768.cipherText, 'ML-KEM-768 ciphertext', 'CIPHERTEXT_MALFORMED');
      const c = kemCache(key);
      return c.prepared.decapsulate(cipherText, c.dk); // implicit rejection (FIPS 203 §6.3)
    },
  }),

  mldsa87: Object.freeze({
    fromSeed(seed?: Uint8Array): MlDsaPrivateKey {
      if (seed !== undefined) expectLength(seed, SIZES.mldsa87.seed, 'ML-DSA-87 seed', 'KEY_MALFORMED');
      const s = seed ? Uint8Array.from(seed) : nobleRandom(SIZES.mldsa87.seed);
      const { secretKey, publicKey } = ml_dsa87.keygen(s);
      const key = makeMlDsaKey(publicKey, s);
      dsaExpanded.set(key, secretKey);
      return key;
    },
    fromExpanded(expandedKey: Uint8Array): MlDsaPrivateKey {
      const sk = Uint8Array.from(expandedKey);
      const key = makeMlDsaKey(mldsaPublicFromExpanded(sk), undefined, sk);
      dsaExpanded.set(key, sk);
      return key;
    },
    expand(seed: Uint8Array): Uint8Array {
      expectLength(seed, SIZES.mldsa87.seed, 'ML-DSA-87 seed', 'KEY_MALFORMED');
      return ml_dsa87.keygen(seed).secretKey;
    },
    sign(key: MlDsaPrivateKey, message: Uint8Array, context: Uint8Array): Uint8Array {
      checkContext(context);
      let sk = dsaExpanded.get(key);
      if (!sk) {
        sk = key.seed ? ml_dsa87.keygen(key.seed).secretKey : key.expandedKey!;
        dsaExpanded.set(key, sk);
      }
      // hedged (FIPS 204 §3.4): noble draws 32 bytes of fresh randomness when extraEntropy is unset
      return ml_dsa87.sign(message, sk, { context });
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: Uint8Array): boolean {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== SIZES.mldsa87.publicKey) return false;
      if (!(signature instanceof Uint8Array) || signature.length !== SIZES.mldsa87.signature) return false;
      if (!(message instanceof Uint8Array) || !(context instanceof Uint8Array) || context.length > 255) return false;
      try {
        return ml_dsa87.verify(signature, message, publicKey, { context });
      } catch {
        return false;
      }
    },
  }),

  p384: Object.freeze({
    fromScalar(scalar?: Uint8Array): P384PrivateKey {
      if (scalar !== undefined) checkP384Scalar(scalar);
      const s = scalar ? Uint8Array.from(scalar) : p384.utils.randomSecretKey();
      return makeP384Key(s, p384.getPublicKey(s, false));
    },
    ecdh(key: P384PrivateKey, peerPublicKey: Uint8Array): Uint8Array {
      expectLength(peerPublicKey, SIZES.p384.publicKey, 'P-384 public key', 'EC_POINT_INVALID');
      if (peerPublicKey[0] !== 4) throw invalidPoint();
      let shared: Uint8Array;
      try {
        shared = p384.getSharedSecret(key.scalar, peerPublicKey, true); // validates the point
      } catch (cause) {
        throw invalidPoint(cause);
      }
      return shared.subarray(1); // SEC 1 §3.3.1: the x-coordinate
    },
    ephemeralEcdh(peerPublicKey: Uint8Array) {
      const eph = nobleProvider.p384.fromScalar();
      try {
        return { publicKey: eph.publicKey, sharedSecret: nobleProvider.p384.ecdh(eph, peerPublicKey) };
      } finally {
        eph.scalar.fill(0);
      }
    },
  }),

  aes256gcm: Object.freeze({
    seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
      expectLength(key, SIZES.aes256gcm.key, 'AES-256-GCM key');
      expectLength(nonce, SIZES.aes256gcm.nonce, 'AES-256-GCM nonce');
      return gcm(key, nonce, aad).encrypt(plaintext);
    },
    open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
      expectLength(key, SIZES.aes256gcm.key, 'AES-256-GCM key');
      expectLength(nonce, SIZES.aes256gcm.nonce, 'AES-256-GCM nonce');
      if (sealed.length < SIZES.aes256gcm.tag) return null;
      try {
        return gcm(key, nonce, aad).decrypt(sealed);
      } catch {
        return null;
      }
    },
  }),
});
