/**
 * The DER structures of key material (SPEC §2): algorithm identifiers, SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7), OneAsymmetricKey / PKCS#8 (RFC 5958), SEC 1 ECPrivateKey (RFC 5915), and
 * the seed-only private-key CHOICE of RFC 9935 (ML-KEM) / RFC 9881 (ML-DSA). Shared by the key
 * codec, the composite KEM (its dk embeds an ECPrivateKey) and the node provider (which imports
 * keys into OpenSSL as DER). Pure: no `node:` imports.
 */
import { InputError } from '../errors.js';
import { equalBytes, expectLength } from './bytes.js';
import {
  DerReader,
  derBitString,
  derExplicit,
  derImplicit,
  derOctetString,
  derOid,
  derSequence,
  derSmallInteger,
} from './der.js';

export type KeyAlg = 'ML-KEM-768' | 'ML-DSA-87' | 'P-384' | 'MLKEM768-P384';

export const OID = {
  /** RFC 9935 / NIST CSOR id-alg-ml-kem-768 */
  mlkem768: '2.16.840.1.101.3.4.4.2',
  /** RFC 9881 / NIST CSOR id-ml-dsa-87 */
  mldsa87: '2.16.840.1.101.3.4.3.19',
  /** RFC 5480 id-ecPublicKey */
  ecPublicKey: '1.2.840.10045.2.1',
  /** RFC 5480 secp384r1 */
  secp384r1: '1.3.132.0.34',
  /** draft-ietf-lamps-pq-composite-kem id-MLKEM768-ECDH-P384-SHA3-256 */
  mlkem768p384: '1.3.6.1.5.5.7.6.60',
} as const;

/** Raw public-key sizes (the SPKI BIT STRING contents). */
export const PUBLIC_KEY_BYTES: Record<KeyAlg, number> = {
  'ML-KEM-768': 1184,
  'ML-DSA-87': 2592,
  'P-384': 97,
  'MLKEM768-P384': 1281,
};

/** Names for messages ("an ML-KEM-768 public key"). */
export const ALG_TITLE: Record<KeyAlg, string> = {
  'ML-KEM-768': 'ML-KEM-768',
  'ML-DSA-87': 'ML-DSA-87',
  'P-384': 'ECDH P-384',
  'MLKEM768-P384': 'composite ML-KEM-768 + ECDH P-384',
};

export function algorithmIdentifier(alg: KeyAlg): Uint8Array {
  switch (alg) {
    case 'ML-KEM-768':
      return derSequence(derOid(OID.mlkem768)); // parameters absent (RFC 9935 §3)
    case 'ML-DSA-87':
      return derSequence(derOid(OID.mldsa87)); // parameters absent (RFC 9881 §2)
    case 'MLKEM768-P384':
      return derSequence(derOid(OID.mlkem768p384)); // parameters absent (composite-kem draft)
    case 'P-384':
      return derSequence(derOid(OID.ecPublicKey), derOid(OID.secp384r1)); // RFC 5480 §2.1.1 namedCurve
  }
}

/** SubjectPublicKeyInfo DER for a raw public key (length-checked). */
export function spkiDer(alg: KeyAlg, publicKey: Uint8Array): Uint8Array {
  expectLength(publicKey, PUBLIC_KEY_BYTES[alg], `${ALG_TITLE[alg]} public key`, 'KEY_MALFORMED');
  return derSequence(algorithmIdentifier(alg), derBitString(publicKey));
}

/** OneAsymmetricKey v1 (RFC 5958 §2) without attributes: what we write for every private key. */
export function pkcs8Der(alg: KeyAlg, privateKeyOctets: Uint8Array): Uint8Array {
  return derSequence(derSmallInteger(0), algorithmIdentifier(alg), derOctetString(privateKeyOctets));
}

/** The seed-only private key: the CHOICE alternative `seed [0] IMPLICIT OCTET STRING` (RFC 9935 §6, RFC 9881 §6). */
export function pqSeedPkcs8Der(alg: 'ML-KEM-768' | 'ML-DSA-87', seed: Uint8Array): Uint8Array {
  expectLength(seed, alg === 'ML-KEM-768' ? 64 : 32, `${alg} seed`, 'KEY_MALFORMED');
  return pkcs8Der(alg, derImplicit(0, seed));
}

/** The expandedKey-only form, written only for keys that were read that way (there is no seed). */
export function pqExpandedPkcs8Der(alg: 'ML-KEM-768' | 'ML-DSA-87', expandedKey: Uint8Array): Uint8Array {
  return pkcs8Der(alg, derOctetString(expandedKey));
}

/**
 * SEC 1 / RFC 5915 ECPrivateKey for P-384: version 1, the 48-byte scalar, then optionally
 * [0] namedCurve and [1] publicKey.
 */
export function ecPrivateKeyDer(scalar: Uint8Array, opts: { curve?: boolean; publicKey?: Uint8Array } = {}): Uint8Array {
  expectLength(scalar, 48, 'P-384 private scalar', 'KEY_MALFORMED');
  return derSequence(
    derSmallInteger(1),
    derOctetString(scalar),
    ...(opts.curve ? [derExplicit(0, derOid(OID.secp384r1))] : []),
    ...(opts.publicKey ? [derExplicit(1, derBitString(opts.publicKey))] : []),
  );
}

/** PKCS#8 of a P-384 key as OpenSSL writes it: curve in the AlgorithmIdentifier, point in [1]. */
export function p384Pkcs8Der(scalar: Uint8Array, publicKey?: Uint8Array): Uint8Array {
  return pkcs8Der('P-384', ecPrivateKeyDer(scalar, { publicKey }));
}

export interface DecodedEcPrivateKey {
  scalar: Uint8Array;
  /** the [1] publicKey when the encoding carries one (the caller checks it against the scalar) */
  publicKey?: Uint8Array;
}

/** Parses a P-384 ECPrivateKey strictly (RFC 5915 §3); `what` names the input in errors. */
export function decodeEcPrivateKey(bytes: Uint8Array, what: string): DecodedEcPrivateKey {
  const outer = new DerReader(bytes, what, 'KEY_MALFORMED');
  const r = outer.sequence('ECPrivateKey');
  outer.finish('ECPrivateKey');
  if (r.smallInteger('ECPrivateKey version') !== 1) throw r.fail('ECPrivateKey version is not 1');
  const scalar = r.octetString('ECPrivateKey privateKey');
  if (scalar.length !== 48) {
    throw new InputError('KEY_WRONG_SIZE', `${what}: the EC private key is ${scalar.length} bytes; a P-384 key is 48`); // SPEC §2.2 table
  }
  if (r.peekTag() === 0xa0) {
    const params = r.explicit(0, 'ECPrivateKey parameters');
    const curve = params.oid('namedCurve');
    params.finish('parameters');
    if (curve !== OID.secp384r1) throw wrongCurve(what, curve);
  }
  let publicKey: Uint8Array | undefined;
  if (r.peekTag() === 0xa1) {
    const pk = r.explicit(1, 'ECPrivateKey publicKey');
    publicKey = pk.bitString('publicKey');
    pk.finish('publicKey');
  }
  r.finish('ECPrivateKey');
  return { scalar: Uint8Array.from(scalar), publicKey };
}

const CURVE_NAMES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'EC P-256',
  '1.3.132.0.34': 'EC P-384',
  '1.3.132.0.35': 'EC P-521',
  '1.3.132.0.10': 'EC secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'EC brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'EC brainpoolP384r1',
};

export function curveName(oid: string): string {
  return CURVE_NAMES[oid] ?? `EC curve ${oid}`;
}

export function wrongCurve(what: string, oid: string): InputError {
  return new InputError('KEY_WRONG_ALGORITHM', `${what} is an ${curveName(oid)} key; an ECDH P-384 key was expected`);
}

/** Throws KEY_PAIR_MISMATCH unless `derived` equals the public key an encoding carried. */
export function checkEmbeddedPublic(what: string, derived: Uint8Array, carried: Uint8Array | undefined): void {
  if (carried && !equalBytes(derived, carried)) {
    throw new InputError('KEY_PAIR_MISMATCH', `${what}: the public key stored in the private key does not match it`);
  }
}


