/**
 * Key files (SPEC §2): PEM (RFC 7468) around SubjectPublicKeyInfo ("PUBLIC KEY") and PKCS#8 /
 * OneAsymmetricKey ("PRIVATE KEY") for ML-KEM-768 (RFC 9935), ML-DSA-87 (RFC 9881), P-384
 * (RFC 5480 / RFC 5915) and the composite KEM (draft-ietf-lamps-pq-composite-kem). PQ private keys
 * are written seed-only and read in all three forms (seed, expandedKey, both — "both" must agree
 * with the seed's expansion). Decoding is strict and every failure is an InputError that says what
 * the file is and what was expected, never what its secret bytes are.
 */
import { p384 } from '@noble/curves/nist.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { InputError } from '../errors.js';
import { concatBytes, equalBytes, fromBase64, toBase64, toHex } from './bytes.js';
import { PEM_LEADING_WS, PEM_WS_ONLY, classifyPemBodyLine, newPemBody, withoutCr } from './pem-rules.js';
import {
  type CompositeKemPrivateKey,
  compositePrivateKeyFromBytes,
  compositePrivateKeyToBytes,
} from './composite-kem.js';
import { DerReader } from './der.js';
import {
  ALG_TITLE,
  type KeyAlg,
  OID,
  PUBLIC_KEY_BYTES,
  checkEmbeddedPublic,
  curveName,
  decodeEcPrivateKey,
  p384Pkcs8Der,
  pkcs8Der,
  pqExpandedPkcs8Der,
  pqSeedPkcs8Der,
  spkiDer,
  wrongCurve,
} from './key-der.js';
import type { CryptoProvider, MlDsaPrivateKey, MlKemPrivateKey, P384PrivateKey } from './provider.js';

export type { KeyAlg } from './key-der.js';
export { spkiDer } from './key-der.js';

export type AnyPrivateKey = MlKemPrivateKey | MlDsaPrivateKey | P384PrivateKey | CompositeKemPrivateKey;
export interface PrivateKeyOf {
  'ML-KEM-768': MlKemPrivateKey;
  'ML-DSA-87': MlDsaPrivateKey;
  'P-384': P384PrivateKey;
  'MLKEM768-P384': CompositeKemPrivateKey;
}

export type DecodedKey =
  | { kind: 'public'; alg: KeyAlg; publicKey: Uint8Array }
  | { kind: 'private'; alg: KeyAlg; key: AnyPrivateKey; publicKey: Uint8Array };

/** Sizes of the private-key forms (FIPS 203 / FIPS 204). */
const PQ_FORMS = {
  'ML-KEM-768': { seed: 64, expanded: 2400 },
  'ML-DSA-87': { seed: 32, expanded: 4896 },
} as const;

/** Algorithms we recognise only to name them in errors. */
const OTHER_ALGS: Record<string, string> = {
  '1.2.840.113549.1.1.1': 'RSA',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '2.16.840.1.101.3.4.4.1': 'ML-KEM-512',
  '2.16.840.1.101.3.4.4.3': 'ML-KEM-1024',
  '2.16.840.1.101.3.4.3.17': 'ML-DSA-44',
  '2.16.840.1.101.3.4.3.18': 'ML-DSA-65',
};

const PEM_MAX_CHARS = 1 << 20;

// ---- encoding ----

function pem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function encodePublicKeyPem(alg: KeyAlg, publicKey: Uint8Array): string {
  return pem('PUBLIC KEY', spkiDer(alg, publicKey));
}

/** PKCS#8 DER of a private key: PQ keys seed-only (expandedKey only when read without a seed). */
export function privateKeyDer(key: AnyPrivateKey): Uint8Array {
  switch (key.alg) {
    case 'ML-KEM-768':
    case 'ML-DSA-87':
      return key.seed ? pqSeedPkcs8Der(key.alg, key.seed) : pqExpandedPkcs8Der(key.alg, key.expandedKey!);
    case 'P-384':
      return p384Pkcs8Der(key.scalar, key.publicKey);
    case 'MLKEM768-P384':
      return pkcs8Der('MLKEM768-P384', compositePrivateKeyToBytes(key));
  }
}

export function encodePrivateKeyPem(key: AnyPrivateKey): string {
  return pem('PRIVATE KEY', privateKeyDer(key));
}

/** Lowercase hex SHA3-256 of the SPKI DER (SPEC §1.4): 64 characters. */
export function fingerprint(alg: KeyAlg, publicKey: Uint8Array): string {
  return toHex(sha3_256(spkiDer(alg, publicKey)));
}

// ---- PEM ----

const LABEL_HINTS: Record<string, string> = {
  'EC PRIVATE KEY': 'this is a SEC 1 EC key; convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY`',
  'RSA PRIVATE KEY': 'RSA keys are not used by ima-qs',
  'RSA PUBLIC KEY': 'RSA keys are not used by ima-qs',
  'ENCRYPTED PRIVATE KEY': 'decrypt it first (`openssl pkcs8 -in KEY`); ima-qs reads unencrypted PKCS#8',
  CERTIFICATE: 'give the key file, not a certificate',
};

/**
 * Strict RFC 7468 parsing with the one rule of pem-rules.ts (SPEC §2.1, the same as the armor's
 * §4.4): one block, matching labels, 64-column base64 lines (the last 4..64), LF or CRLF, only
 * whitespace before BEGIN and after END, nothing else.
 */
export function parsePem(text: string, source: string): { label: string; der: Uint8Array } {
  const malformed = (why: string, hint?: string) =>
    new InputError('KEY_MALFORMED', `${source} is not a PEM key file (${why})`, hint ? { hint } : {});
  if (typeof text !== 'string') throw malformed('not text');
  if (text.length > PEM_MAX_CHARS) throw malformed('too large');
  const lead = PEM_LEADING_WS.exec(text);
  const lines = text.slice(lead ? lead[0].length : 0).split('\n');
  const first = withoutCr(lines[0]);
  const begin = /^-----BEGIN ([A-Z0-9 ]+)-----$/.exec(first);
  if (!begin) {
    if (first === '' && lines.length === 1) throw malformed('no BEGIN/END block');
    throw malformed(lines.some((l) => l.startsWith('-----BEGIN ')) ? 'text before the BEGIN line' : 'no BEGIN line');
  }
  const label = begin[1];
  if (label !== 'PUBLIC KEY' && label !== 'PRIVATE KEY') {
    throw new InputError('KEY_UNSUPPORTED_FORMAT', `${source} is a PEM "${label}"; a "PUBLIC KEY" or "PRIVATE KEY" was expected`, {
      hint: LABEL_HINTS[label] ?? 'ima-qs reads SPKI public keys and PKCS#8 private keys',
    });
  }
  const body = newPemBody();
  const parts: Uint8Array[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = withoutCr(lines[i]);
    const end = /^-----END ([A-Z0-9 ]+)-----$/.exec(line);
    if (end) {
      if (end[1] !== label) throw malformed(`BEGIN ${label} does not match END ${end[1]}`);
      if (body.lines === 0) throw malformed('empty body');
      if (!PEM_WS_ONLY.test(lines.slice(i + 1).join('\n'))) {
        throw malformed(lines.slice(i + 1).some((l) => l.startsWith('-----')) ? 'more than one PEM block' : 'data after the END line');
      }
      return { label, der: concatBytes(...parts) };
    }
    if (line.startsWith('-----')) throw malformed(line.startsWith('-----BEGIN ') ? 'more than one PEM block' : 'a line that is not base64');
    if (line.includes(':')) throw malformed('PEM headers are not supported (encrypted keys are not read)');
    try {
      classifyPemBodyLine(line, body);
      parts.push(fromBase64(line, 'the line'));
    } catch (err) {
      throw malformed(`line ${i + 1 + (lead ? (lead[0].match(/\n/g) ?? []).length : 0)}: ${(err as Error).message}`);
    }
  }
  throw malformed('no END line');
}

// ---- decoding ----

function wrongSize(source: string, alg: KeyAlg, kind: string, got: number, want: number): InputError {
  return new InputError(
    'KEY_WRONG_SIZE',
    `the ${kind} in ${source} is ${got} bytes; an ${ALG_TITLE[alg]} ${kind} is ${want}`,
  );
}

function unsupported(source: string, name: string, kind: 'public' | 'private'): InputError {
  return new InputError('KEY_UNSUPPORTED_ALGORITHM', `${source} is an ${name} ${kind} key, which ima-qs does not use`, {
    hint: 'ima-qs uses ML-KEM-768, ML-DSA-87 and ECDH P-384 keys',
  });
}

/** The algorithm of an AlgorithmIdentifier, with the parameter rules of each RFC. */
function readAlgorithm(r: DerReader, source: string, kind: 'public' | 'private'): KeyAlg {
  const ai = r.sequence('AlgorithmIdentifier');
  const oid = ai.oid('algorithm');
  let alg: KeyAlg;
  switch (oid) {
    case OID.mlkem768:
      alg = 'ML-KEM-768';
      break;
    case OID.mldsa87:
      alg = 'ML-DSA-87';
      break;
    case OID.mlkem768p384:
      alg = 'MLKEM768-P384';
      break;
    case OID.ecPublicKey: {
      if (ai.peekTag() !== 0x06) throw ai.fail('EC key without a named curve');
      const curve = ai.oid('namedCurve');
      ai.finish('AlgorithmIdentifier');
      if (curve !== OID.secp384r1) throw wrongCurve(source, curve);
      return 'P-384';
    }
    default:
      throw unsupported(source, OTHER_ALGS[oid] ?? `unknown (OID ${oid})`, kind);
  }
  ai.finish('AlgorithmIdentifier'); // RFC 9935 §3, RFC 9881 §2: parameters MUST be absent
  return alg;
}

/**
 * FIPS 203 §7.2 encapsulation key check at the boundary, so a bad key file is refused when it is
 * read rather than at the first encapsulation: the 1152 bytes before ρ are 768 12-bit coefficients
 * (ByteDecode12), each of which MUST be < q = 3329 (equivalently ByteEncode12(ByteDecode12(t)) = t).
 */
function checkMlKemModulus(source: string, ek: Uint8Array): void {
  for (let i = 0; i < 1152; i += 3) {
    const a = ek[i] | ((ek[i + 1] & 0x0f) << 8);
    const b = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
    if (a >= 3329 || b >= 3329) {
      throw new InputError('KEY_MALFORMED', `${source} is not a valid ML-KEM-768 public key (a coefficient is not below q = 3329, FIPS 203 §7.2)`);
    }
  }
}

function checkPoint(source: string, point: Uint8Array): void {
  if (point[0] !== 4 || !p384.utils.isValidPublicKey(point, false)) {
    throw new InputError('KEY_MALFORMED', `${source} does not hold a valid uncompressed P-384 point`);
  }
}

/**
 * The full check of a composite public key (SPEC §1.1, §1.3) that arrives as raw bytes rather
 * than in a key file — a request's `reply_key` (SPEC §8.1): 1281 bytes, the ML-KEM-768 part
 * passes the FIPS 203 §7.2 modulus check and the P-384 part is an uncompressed point on the
 * curve. Throws KEY_MALFORMED naming `source`; pure, no provider needed.
 */
export function checkCompositePublicKey(source: string, publicKey: Uint8Array): void {
  if (publicKey.length !== PUBLIC_KEY_BYTES['MLKEM768-P384']) throw wrongSize(source, 'MLKEM768-P384', 'public key', publicKey.length, PUBLIC_KEY_BYTES['MLKEM768-P384']);
  checkMlKemModulus(source, publicKey.subarray(0, 1184));
  checkPoint(source, publicKey.subarray(1184));
}

function decodeSpki(der: Uint8Array, source: string): DecodedKey {
  const outer = new DerReader(der, source, 'KEY_MALFORMED');
  const r = outer.sequence('SubjectPublicKeyInfo');
  outer.finish('SubjectPublicKeyInfo');
  const alg = readAlgorithm(r, source, 'public');
  const publicKey = r.bitString('subjectPublicKey');
  r.finish('SubjectPublicKeyInfo');
  const want = PUBLIC_KEY_BYTES[alg];
  if (publicKey.length !== want) throw wrongSize(source, alg, 'public key', publicKey.length, want);
  if (alg === 'P-384') checkPoint(source, publicKey);
  if (alg === 'ML-KEM-768' || alg === 'MLKEM768-P384') checkMlKemModulus(source, publicKey.subarray(0, 1184));
  if (alg === 'MLKEM768-P384') checkPoint(source, publicKey.subarray(1184));
  return { kind: 'public', alg, publicKey: Uint8Array.from(publicKey) };
}

/** RFC 9935 §6 / RFC 9881 §6: seed [0], expandedKey OCTET STRING, or both SEQUENCE. */
function decodePqPrivate(p: CryptoProvider, alg: 'ML-KEM-768' | 'ML-DSA-87', octets: Uint8Array, source: string): MlKemPrivateKey | MlDsaPrivateKey {
  const sizes = PQ_FORMS[alg];
  const impl = alg === 'ML-KEM-768' ? p.mlkem768 : p.mldsa87;
  const outer = new DerReader(octets, source, 'KEY_MALFORMED');
  const tag = outer.peekTag();
  if (tag === 0x80) {
    const seed = outer.implicit(0, 'seed');
    outer.finish('private key');
    if (seed.length !== sizes.seed) throw wrongSize(source, alg, 'private key seed', seed.length, sizes.seed);
    return impl.fromSeed(seed);
  }
  if (tag === 0x04) {
    const expanded = outer.octetString('expandedKey');
    outer.finish('private key');
    if (expanded.length !== sizes.expanded) throw wrongSize(source, alg, 'expanded private key', expanded.length, sizes.expanded);
    return impl.fromExpanded(expanded);
  }
  if (tag === 0x30) {
    const both = outer.sequence('both');
    outer.finish('private key');
    const seed = both.octetString('seed');
    const expanded = both.octetString('expandedKey');
    both.finish('both');
    if (seed.length !== sizes.seed) throw wrongSize(source, alg, 'private key seed', seed.length, sizes.seed);
    if (expanded.length !== sizes.expanded) throw wrongSize(source, alg, 'expanded private key', expanded.length, sizes.expanded);
    if (!equalBytes(impl.expand(seed), expanded)) {
      throw new InputError('KEY_PAIR_MISMATCH', `${source}: the expanded ${alg} key does not match its seed`);
    }
    return impl.fromSeed(seed);
  }
  throw outer.fail(`unknown ${alg} private key form`);
}

function decodePkcs8(p: CryptoProvider, der: Uint8Array, source: string): DecodedKey {
  const outer = new DerReader(der, source, 'KEY_MALFORMED');
  const r = outer.sequence('PrivateKeyInfo');
  outer.finish('PrivateKeyInfo');
  const version = r.smallInteger('version');
  if (version !== 0 && version !== 1) throw r.fail(`PKCS#8 version ${version}`);
  const alg = readAlgorithm(r, source, 'private');
  const octets = r.octetString('privateKey');
  if (r.peekTag() === 0xa0) r.next(); // [0] attributes: carry nothing we use
  let carried: Uint8Array | undefined;
  if (version === 1 && r.peekTag() === 0x81) {
    const bits = r.implicit(1, 'publicKey'); // RFC 5958 [1] IMPLICIT BIT STRING
    if (bits.length === 0 || bits[0] !== 0) throw r.fail('publicKey has unused bits');
    carried = bits.subarray(1);
  }
  r.finish('PrivateKeyInfo');

  let key: AnyPrivateKey;
  switch (alg) {
    case 'ML-KEM-768':
    case 'ML-DSA-87':
      key = decodePqPrivate(p, alg, octets, source);
      break;
    case 'P-384': {
      const ec = decodeEcPrivateKey(octets, source);
      key = p.p384.fromScalar(ec.scalar);
      checkEmbeddedPublic(source, key.publicKey, ec.publicKey);
      break;
    }
    case 'MLKEM768-P384':
      key = compositePrivateKeyFromBytes(p, octets, source);
      break;
  }
  checkEmbeddedPublic(source, key.publicKey, carried);
  return { kind: 'private', alg, key, publicKey: key.publicKey };
}

/** Decodes one PEM key file; `source` names it in errors ("server.pub"). */
export function decodeKeyPem(p: CryptoProvider, pemText: string, source: string): DecodedKey {
  const { label, der } = parsePem(pemText, source);
  return decodeKeyDer(p, der, label === 'PUBLIC KEY' ? 'public' : 'private', source);
}

/** Decodes SPKI ('public') or PKCS#8 ('private') DER. */
export function decodeKeyDer(p: CryptoProvider, der: Uint8Array, kind: 'public' | 'private', source: string): DecodedKey {
  return kind === 'public' ? decodeSpki(der, source) : decodePkcs8(p, der, source);
}

function describe(d: DecodedKey): string {
  return `an ${ALG_TITLE[d.alg]} ${d.kind} key`;
}

/** The raw public key, when `decoded` is a public key of `alg`. */
export function expectPublic(decoded: DecodedKey, alg: KeyAlg, source: string): Uint8Array {
  if (decoded.alg !== alg) {
    throw new InputError('KEY_WRONG_ALGORITHM', `${source} is ${describe(decoded)}; an ${ALG_TITLE[alg]} public key was expected`);
  }
  if (decoded.kind !== 'public') {
    throw new InputError('KEY_NOT_PUBLIC', `${source} is a private key; an ${ALG_TITLE[alg]} public key was expected`, {
      hint: 'give the matching public key file (never hand out a private key)',
    });
  }
  return decoded.publicKey;
}

/** The private key, when `decoded` is a private key of `alg`. */
export function expectPrivate<A extends KeyAlg>(decoded: DecodedKey, alg: A, source: string): PrivateKeyOf[A] {
  if (decoded.alg !== alg) {
    throw new InputError('KEY_WRONG_ALGORITHM', `${source} is ${describe(decoded)}; an ${ALG_TITLE[alg]} private key was expected`);
  }
  if (decoded.kind !== 'private') {
    throw new InputError('KEY_NOT_PRIVATE', `${source} is a public key; an ${ALG_TITLE[alg]} private key was expected`, {
      hint: 'give the private key file (ml_*_private.key / ecdh_p384_private.key)',
    });
  }
  return decoded.key as PrivateKeyOf[A];
}

export { curveName };
