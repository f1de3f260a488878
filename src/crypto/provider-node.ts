/**
 * The node:crypto provider (DESIGN.md "Providers"): native P-384 ECDH, AES-256-GCM, SHA3-256 and
 * randomness on every Node, and native ML-KEM-768 / ML-DSA-87 when the running Node has them
 * (OpenSSL ≥ 3.5, Node ≥ 24.7). Native PQ is decided by a feature test run once at load — never by
 * version sniffing: the keys must import from our seed-only PKCS#8 (SPEC §2.3), derive the same
 * public key as FIPS 203/204 KeyGen_internal (cross-checked with noble on a fixed seed), round-trip,
 * and an ML-DSA signature made under one context must NOT verify under another (Node 24.6–24.7
 * accepted the `context` option but ignored it). Otherwise PQ runs on the noble implementation.
 *
 * Every imported KeyObject is cached in a WeakMap keyed by our key object (or by the public-key
 * array, re-checked by content), so repeated sign / decapsulate / encapsulate never re-import.
 */
import * as nc from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { equalBytes, expectLength } from './bytes.js';
import type { CryptoProvider, MlDsaPrivateKey, MlKemPrivateKey, P384PrivateKey } from './provider.js';
import {
  SIZES,
  checkContext,
  checkP384Scalar,
  invalidPoint,
  makeMlDsaKey,
  makeMlKemKey,
  makeP384Key,
  nobleProvider,
} from './provider-noble.js';
import { p384Pkcs8Der, pqSeedPkcs8Der, spkiDer } from './key-der.js';

/** The parts of node:crypto that @types/node 20 does not describe (Node ≥ 24.7). */
interface NodePq {
  encapsulate(key: KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: KeyObject, ciphertext: Uint8Array): Buffer;
  sign(alg: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }): Buffer;
  verify(alg: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }, sig: Uint8Array): boolean;
}
const pq = nc as unknown as NodePq;

/** A zero-copy plain Uint8Array view of a Buffer (so results compare equal to noble's). */
function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function importPkcs8(der: Uint8Array): KeyObject {
  return nc.createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' });
}

function importSpki(der: Uint8Array): KeyObject {
  return nc.createPublicKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'spki' });
}

/** The raw public key: the SPKI's BIT STRING contents are the last `len` bytes of its DER. */
function rawPublic(priv: KeyObject, len: number): Uint8Array {
  const der = nc.createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return u8(der).slice(der.length - len);
}

// ---- feature tests (once, at load) ----

const FIXED_KEM_SEED = Uint8Array.from({ length: 64 }, (_, i) => i);
const FIXED_DSA_SEED = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

function probeMlKem(): boolean {
  try {
    if (typeof pq.encapsulate !== 'function' || typeof pq.decapsulate !== 'function') return false;
    const priv = importPkcs8(pqSeedPkcs8Der('ML-KEM-768', FIXED_KEM_SEED));
    const pub = rawPublic(priv, SIZES.mlkem768.publicKey);
    if (!equalBytes(pub, nobleProvider.mlkem768.fromSeed(FIXED_KEM_SEED).publicKey)) return false;
    const { sharedKey, ciphertext } = pq.encapsulate(importSpki(spkiDer('ML-KEM-768', pub)));
    return ciphertext.length === SIZES.mlkem768.cipherText && equalBytes(pq.decapsulate(priv, ciphertext), sharedKey);
  } catch {
    return false;
  }
}

function probeMlDsa(): boolean {
  try {
    const priv = importPkcs8(pqSeedPkcs8Der('ML-DSA-87', FIXED_DSA_SEED));
    const pubRaw = rawPublic(priv, SIZES.mldsa87.publicKey);
    if (!equalBytes(pubRaw, nobleProvider.mldsa87.fromSeed(FIXED_DSA_SEED).publicKey)) return false;
    const pub = importSpki(spkiDer('ML-DSA-87', pubRaw));
    const msg = Uint8Array.of(1, 2, 3);
    const a = Uint8Array.of(0x61);
    const sig = pq.sign(null, msg, { key: priv, context: a });
    return (
      sig.length === SIZES.mldsa87.signature &&
      pq.verify(null, msg, { key: pub, context: a }, sig) === true &&
      pq.verify(null, msg, { key: pub, context: Uint8Array.of(0x62) }, sig) === false // context enforced
    );
  } catch {
    return false;
  }
}

export const nativeMlKem = probeMlKem();
export const nativeMlDsa = probeMlDsa();

// ---- KeyObject caches ----

const kemPriv = new WeakMap<MlKemPrivateKey, KeyObject>();
const dsaPriv = new WeakMap<MlDsaPrivateKey, KeyObject>();
const ecPriv = new WeakMap<P384PrivateKey, KeyObject>();

/** Public KeyObjects by array identity; the stored copy is compared on each hit (arrays are mutable). */
function publicCache(build: (raw: Uint8Array) => KeyObject) {
  const map = new WeakMap<Uint8Array, { copy: Uint8Array; key: KeyObject }>();
  return (raw: Uint8Array): KeyObject => {
    const hit = map.get(raw);
    if (hit && equalBytes(hit.copy, raw)) return hit.key;
    const key = build(raw);
    map.set(raw, { copy: Uint8Array.from(raw), key });
    return key;
  };
}

const kemPublic = publicCache((raw) => {
  try {
    return importSpki(spkiDer('ML-KEM-768', raw));
  } catch (cause) {
    throw new InputError('KEY_MALFORMED', 'ML-KEM-768 public key fails the FIPS 203 modulus check', { cause });
  }
});
const dsaPublic = publicCache((raw) => importSpki(spkiDer('ML-DSA-87', raw)));
const ecPublic = publicCache((raw) => {
  if (raw[0] !== 4) throw invalidPoint();
  try {
    return importSpki(spkiDer('P-384', raw)); // OpenSSL checks the point is on the curve
  } catch (cause) {
    throw invalidPoint(cause);
  }
});

function kemKeyObject(key: MlKemPrivateKey): KeyObject {
  let k = kemPriv.get(key);
  if (!k) {
    k = importPkcs8(pqSeedPkcs8Der('ML-KEM-768', key.seed!));
    kemPriv.set(key, k);
  }
  return k;
}

function dsaKeyObject(key: MlDsaPrivateKey): KeyObject {
  let k = dsaPriv.get(key);
  if (!k) {
    k = importPkcs8(pqSeedPkcs8Der('ML-DSA-87', key.seed!));
    dsaPriv.set(key, k);
  }
  return k;
}

function ecKeyObject(key: P384PrivateKey): KeyObject {
  let k = ecPriv.get(key);
  if (!k) {
    // our key objects always carry the point derived from the scalar; passing it spares OpenSSL
    // recomputing it (≈1.5 ms on first use of a key made by the other provider)
    k = importPkcs8(p384Pkcs8Der(key.scalar, key.publicKey));
    ecPriv.set(key, k);
  }
  return k;
}

// ---- the provider ----

const noblePq = nobleProvider;

export const nodeProvider: CryptoProvider = Object.freeze({
  name: 'node' as const,
  nativePq: nativeMlKem && nativeMlDsa,

  randomBytes(n: number): Uint8Array {
    return u8(nc.randomBytes(n));
  },

  sha3_256(...parts: Uint8Array[]): Uint8Array {
    const h = nc.createHash('sha3-256');
    for (const p of parts) h.update(p);
    return u8(h.digest());
  },

  mlkem768: !nativeMlKem
    ? noblePq.mlkem768
    : Object.freeze({
        fromSeed(seed?: Uint8Array): MlKemPrivateKey {
          if (seed !== undefined) expectLength(seed, SIZES.mlkem768.seed, 'ML-KEM-768 seed', 'KEY_MALFORMED');
          const s = seed ? Uint8Array.from(seed) : u8(nc.randomBytes(SIZES.mlkem768.seed));
          const priv = importPkcs8(pqSeedPkcs8Der('ML-KEM-768', s));
          const key = makeMlKemKey(rawPublic(priv, SIZES.mlkem768.publicKey), s);
          kemPriv.set(key, priv);
          return key;
        },
        fromExpanded: noblePq.mlkem768.fromExpanded,
        expand: noblePq.mlkem768.expand,
        encapsulate(publicKey: Uint8Array) {
          expectLength(publicKey, SIZES.mlkem768.publicKey, 'ML-KEM-768 public key', 'KEY_MALFORMED');
          const { sharedKey, ciphertext } = pq.encapsulate(kemPublic(publicKey));
          return { cipherText: u8(ciphertext), sharedSecret: u8(sharedKey) };
        },
        decapsulate(key: MlKemPrivateKey, cipherText: Uint8Array): Uint8Array {
          expectLength(cipherText, SIZES.mlkem768.cipherText, 'ML-KEM-768 ciphertext', 'CIPHERTEXT_MALFORMED');
          if (!key.seed) return noblePq.mlkem768.decapsulate(key, cipherText); // expanded-only key file
          return u8(pq.decapsulate(kemKeyObject(key), cipherText));
        },
      }),

  mldsa87: !nativeMlDsa
    ? noblePq.mldsa87
    : Object.freeze({
        fromSeed(seed?: Uint8Array): MlDsaPrivateKey {
          if (seed !== undefined) expectLength(seed, SIZES.mldsa87.seed, 'ML-DSA-87 seed', 'KEY_MALFORMED');
          const s = seed ? Uint8Array.from(seed) : u8(nc.randomBytes(SIZES.mldsa87.seed));
          const priv = importPkcs8(pqSeedPkcs8Der('ML-DSA-87', s));
          const key = makeMlDsaKey(rawPublic(priv, SIZES.mldsa87.publicKey), s);
          dsaPriv.set(key, priv);
          return key;
        },
        fromExpanded: noblePq.mldsa87.fromExpanded,
        expand: noblePq.mldsa87.expand,
        sign(key: MlDsaPrivateKey, message: Uint8Array, context: Uint8Array): Uint8Array {
          checkContext(context);
          if (!key.seed) return noblePq.mldsa87.sign(key, message, context);
          // OpenSSL signs hedged by default (FIPS 204 §3.4); no deterministic flag is passed
          return u8(pq.sign(null, message, { key: dsaKeyObject(key), context }));
        },
        verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: Uint8Array): boolean {
          if (!(publicKey instanceof Uint8Array) || publicKey.length !== SIZES.mldsa87.publicKey) return false;
          if (!(signature instanceof Uint8Array) || signature.length !== SIZES.mldsa87.signature) return false;
          if (!(message instanceof Uint8Array) || !(context instanceof Uint8Array) || context.length > 255) return false;
          try {
            return pq.verify(null, message, { key: dsaPublic(publicKey), context }, signature) === true;
          } catch {
            return false;
          }
        },
      }),

  p384: Object.freeze({
    fromScalar(scalar?: Uint8Array): P384PrivateKey {
      if (scalar !== undefined) checkP384Scalar(scalar);
      // the point from the scalar through the ECDH API, not a generated KeyObject exported as a
      // JWK: Node 20 can deadlock when a key-generation job is collected while that key is being
      // exported (seen in CI: ~KeyGenJob waiting on the mutex ExportJWK holds)
      const dh = nc.createECDH('secp384r1');
      if (scalar === undefined) dh.generateKeys();
      else dh.setPrivateKey(scalar);
      const raw = u8(dh.getPrivateKey()); // big-endian, without leading zero octets
      const s = new Uint8Array(SIZES.p384.scalar);
      s.set(raw, s.length - raw.length);
      const publicKey = u8(dh.getPublicKey()) // uncompressed point by default;
      const key = makeP384Key(s, publicKey);
      ecPriv.set(key, importPkcs8(p384Pkcs8Der(s, publicKey)));
      return key;
    },
    ecdh(key: P384PrivateKey, peerPublicKey: Uint8Array): Uint8Array {
      expectLength(peerPublicKey, SIZES.p384.publicKey, 'P-384 public key', 'EC_POINT_INVALID');
      return u8(nc.diffieHellman({ privateKey: ecKeyObject(key), publicKey: ecPublic(peerPublicKey) }));
    },
    ephemeralEcdh(peerPublicKey: Uint8Array) {
      expectLength(peerPublicKey, SIZES.p384.publicKey, 'P-384 public key', 'EC_POINT_INVALID');
      ecPublic(peerPublicKey); // validates the point (on the curve, not infinity): EC_POINT_INVALID
      const dh = nc.createECDH('secp384r1');
      const publicKey = u8(dh.generateKeys()) // uncompressed point by default;
      return { publicKey, sharedSecret: u8(dh.computeSecret(peerPublicKey)) };
    },
  }),

  aes256gcm: Object.freeze({
    seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
      expectLength(key, SIZES.aes256gcm.key, 'AES-256-GCM key');
      expectLength(nonce, SIZES.aes256gcm.nonce, 'AES-256-GCM nonce');
      const c = nc.createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(aad);
      const head = c.update(plaintext);
      const tail = c.final();
      const out = new Uint8Array(head.length + tail.length + SIZES.aes256gcm.tag);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(c.getAuthTag(), head.length + tail.length);
      return out;
    },
    open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
      expectLength(key, SIZES.aes256gcm.key, 'AES-256-GCM key');
      expectLength(nonce, SIZES.aes256gcm.nonce, 'AES-256-GCM nonce');
      if (sealed.length < SIZES.aes256gcm.tag) return null;
      const split = sealed.length - SIZES.aes256gcm.tag;
      try {
        const d = nc.createDecipheriv('aes-256-gcm', key, nonce);
        d.setAAD(aad);
        d.setAuthTag(sealed.subarray(split));
        const head = d.update(sealed.subarray(0, split));
        const tail = d.final(); // throws when the tag does not authenticate
        if (tail.length === 0) return u8(head);
        const out = new Uint8Array(head.length + tail.length);
        out.set(head, 0);
        out.set(tail, head.length);
        return out;
      } catch {
        return null;
      }
    },
  }),
});
