/**
 * The service key directory written by `ima-qs keys generate` (SPEC §2.4): three key pairs as PEM
 * files — ML-KEM-768 and ECDH P-384 (together the composite KEM recipient key) and ML-DSA-87 (the
 * service signing key, whose fingerprint operators pin). Private files 0600 in a 0700 folder, never
 * overwritten without `force`; all six names are checked before anything is written so a refused
 * run leaves nothing half-written. Loading checks each private key against its public file.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { equalBytes } from '../crypto/bytes.js';
import { type CompositeKemPrivateKey, compositeKeyFrom } from '../crypto/composite-kem.js';
import {
  type DecodedKey,
  type KeyAlg,
  type PrivateKeyOf,
  decodeKeyPem,
  encodePrivateKeyPem,
  encodePublicKeyPem,
  expectPrivate,
  expectPublic,
  fingerprint,
} from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey, MlKemPrivateKey, P384PrivateKey } from '../crypto/provider.js';
import { ensurePrivateDir, exists, fsError, isDirectory, readInputFile, writeFileAtomic, writePrivateFile } from '../io/files.js';

export const KEY_FILES = {
  mlkemPublic: 'ml_kem_768_public.key',
  mlkemPrivate: 'ml_kem_768_private.key',
  mldsaPublic: 'ml_dsa_87_public.key',
  mldsaPrivate: 'ml_dsa_87_private.key',
  ecdhPublic: 'ecdh_p384_public.key',
  ecdhPrivate: 'ecdh_p384_private.key',
} as const;

/** A key file is a few KiB of PEM; anything far larger is not one. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

export interface ServiceKeys {
  mlkem: MlKemPrivateKey;
  mldsa: MlDsaPrivateKey;
  ecdh: P384PrivateKey;
}

export interface ServicePublicKeys {
  mlkem: Uint8Array;
  mldsa: Uint8Array;
  ecdh: Uint8Array;
}

type Slot = keyof ServicePublicKeys;

const SLOTS: { slot: Slot; alg: KeyAlg; pub: string; priv: string }[] = [
  { slot: 'mlkem', alg: 'ML-KEM-768', pub: KEY_FILES.mlkemPublic, priv: KEY_FILES.mlkemPrivate },
  { slot: 'mldsa', alg: 'ML-DSA-87', pub: KEY_FILES.mldsaPublic, priv: KEY_FILES.mldsaPrivate },
  { slot: 'ecdh', alg: 'P-384', pub: KEY_FILES.ecdhPublic, priv: KEY_FILES.ecdhPrivate },
];

const SLOT_OF_ALG: Partial<Record<KeyAlg, Slot>> = { 'ML-KEM-768': 'mlkem', 'ML-DSA-87': 'mldsa', 'P-384': 'ecdh' };

export function generateServiceKeys(p: CryptoProvider): ServiceKeys {
  return { mlkem: p.mlkem768.fromSeed(), mldsa: p.mldsa87.fromSeed(), ecdh: p.p384.fromScalar() };
}

export function publicKeysOf(keys: ServiceKeys): ServicePublicKeys {
  return { mlkem: keys.mlkem.publicKey, mldsa: keys.mldsa.publicKey, ecdh: keys.ecdh.publicKey };
}

/**
 * Writes the six PEM files into `dir` (created 0700). Without `force`, refuses — before writing
 * anything — when any of the six exists. Returns the paths written, private files first.
 */
export async function writeKeyDir(dir: string, keys: ServiceKeys, opts: { force?: boolean } = {}): Promise<string[]> {
  const force = opts.force === true;
  if (!force) {
    const present: string[] = [];
    for (const name of Object.values(KEY_FILES)) if (await exists(join(dir, name))) present.push(name);
    if (present.length > 0) {
      throw new InputError('FILE_EXISTS', `${dir} already holds key files (${present.join(', ')})`, {
        hint: 'choose another folder, or pass --force to replace the keys (the old private keys are lost)',
        details: { existing: present },
      });
    }
  }
  await ensurePrivateDir(dir);
  const written: string[] = [];
  const privates: [string, string][] = [
    [KEY_FILES.mlkemPrivate, encodePrivateKeyPem(keys.mlkem)],
    [KEY_FILES.mldsaPrivate, encodePrivateKeyPem(keys.mldsa)],
    [KEY_FILES.ecdhPrivate, encodePrivateKeyPem(keys.ecdh)],
  ];
  const publics: [string, string][] = [
    [KEY_FILES.mlkemPublic, encodePublicKeyPem('ML-KEM-768', keys.mlkem.publicKey)],
    [KEY_FILES.mldsaPublic, encodePublicKeyPem('ML-DSA-87', keys.mldsa.publicKey)],
    [KEY_FILES.ecdhPublic, encodePublicKeyPem('P-384', keys.ecdh.publicKey)],
  ];
  for (const [name, text] of privates) {
    const path = join(dir, name);
    await writePrivateFile(path, text, force);
    written.push(path);
  }
  for (const [name, text] of publics) {
    const path = join(dir, name);
    await writeFileAtomic(path, text, { mode: 0o644, force });
    written.push(path);
  }
  return written;
}

/** Reads and decodes one key file (bounded: SPEC §2); errors name the file as the user gave it. */
export async function readKeyFile(p: CryptoProvider, path: string): Promise<DecodedKey> {
  const bytes = await readInputFile(path, MAX_KEY_FILE_BYTES, 'key file', { tooLargeCode: 'KEY_MALFORMED' });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InputError('KEY_MALFORMED', `${path} is not a PEM key file (not text)`, { cause });
  }
  return decodeKeyPem(p, text, path);
}

/**
 * The partner of a key file (SPEC §2.4): `NAME_private.key` ↔ `NAME_public.key` in the same
 * folder — the six files of a key folder, and any other pair named that way (a composite
 * `recipient_private.key` beside its `recipient_public.key`). Other names have no partner.
 */
export function partnerOf(path: string): string | undefined {
  const m = /^(.*)_(private|public)\.key$/.exec(basename(path));
  if (!m) return undefined;
  return join(dirname(path), `${m[1]}_${m[2] === 'private' ? 'public' : 'private'}.key`);
}

/**
 * Checks a decoded key against its partner file, when that exists (SPEC §2.4: KEY_PAIR_MISMATCH;
 * a partner of another algorithm or kind is refused as what it is). A private partner that this
 * user may not read is skipped: a loader of public keys does not need it.
 */
export async function checkPartner(p: CryptoProvider, path: string, decoded: DecodedKey): Promise<void> {
  const partner = partnerOf(path);
  if (!partner) return;
  let other: DecodedKey;
  try {
    other = await readKeyFile(p, partner);
  } catch (err) {
    const code = (err as InputError).code;
    if (code === 'FILE_NOT_FOUND' || (decoded.kind === 'public' && code === 'PERMISSION_DENIED')) return;
    throw err;
  }
  const otherKey = decoded.kind === 'private' ? expectPublic(other, decoded.alg, partner) : expectPrivate(other, decoded.alg, partner).publicKey;
  if (!equalBytes(otherKey, decoded.publicKey)) {
    const [priv, pub] = decoded.kind === 'private' ? [path, partner] : [partner, path];
    throw new InputError('KEY_PAIR_MISMATCH', `${priv} does not match ${pub} (they are keys of different pairs)`, {
      hint: 'the folder mixes keys from different generations; restore the matching pair',
    });
  }
}

/** A private key of `alg` from `path`, checked against its partner public file (SPEC §2.4). */
export async function readPrivateKey<A extends KeyAlg>(p: CryptoProvider, path: string, alg: A): Promise<PrivateKeyOf[A]> {
  const decoded = await readKeyFile(p, path);
  const key = expectPrivate(decoded, alg, path);
  await checkPartner(p, path, decoded);
  return key;
}

/** A public key of `alg` from `path`, checked against its partner private file when there is one. */
export async function readPublicKey(p: CryptoProvider, path: string, alg: KeyAlg): Promise<Uint8Array> {
  const decoded = await readKeyFile(p, path);
  const key = expectPublic(decoded, alg, path);
  await checkPartner(p, path, decoded);
  return key;
}

async function requireDir(dir: string): Promise<void> {
  if (!(await isDirectory(dir))) {
    if (await exists(dir)) throw new InputError('NOT_A_DIRECTORY', `${dir} is a file; a key folder was expected`);
    throw fsError(Object.assign(new Error('missing'), { code: 'ENOENT' }), dir, 'read');
  }
}

/**
 * The three private keys of a key folder. Each is checked against its public file when that file
 * is present (KEY_PAIR_MISMATCH otherwise); a missing private file is FILE_NOT_FOUND.
 */
export async function loadPrivateKeys(p: CryptoProvider, dir: string): Promise<ServiceKeys> {
  await requireDir(dir);
  return {
    mlkem: await readPrivateKey(p, join(dir, KEY_FILES.mlkemPrivate), 'ML-KEM-768'),
    mldsa: await readPrivateKey(p, join(dir, KEY_FILES.mldsaPrivate), 'ML-DSA-87'),
    ecdh: await readPrivateKey(p, join(dir, KEY_FILES.ecdhPrivate), 'P-384'),
  };
}

/** What `loadPublicKeys` found: some of the three service keys, and the composite when known. */
export interface LoadedPublicKeys extends Partial<ServicePublicKeys> {
  /** composite KEM public key (1281 bytes) — present when both halves are known */
  composite?: Uint8Array;
}

/**
 * Public keys from a key folder or a single file.
 * - A folder gives all three (from the *_public.key files; FILE_NOT_FOUND if one is missing), and
 *   `composite`.
 * - A single file gives the one key it holds: `mlkem`, `mldsa` or `ecdh`; a composite public key
 *   file (OID 1.3.6.1.5.5.7.6.60) gives `composite` and its two halves `mlkem` and `ecdh`.
 *   A private key file is refused (KEY_NOT_PUBLIC): public keys are what gets handed around.
 */
export async function loadPublicKeys(p: CryptoProvider, dirOrFile: string): Promise<LoadedPublicKeys> {
  if (await isDirectory(dirOrFile)) {
    const out: Partial<ServicePublicKeys> = {};
    for (const s of SLOTS) out[s.slot] = await readPublicKey(p, join(dirOrFile, s.pub), s.alg);
    return { ...out, composite: recipientPublicKey(out as ServicePublicKeys) };
  }
  const decoded = await readKeyFile(p, dirOrFile);
  if (decoded.kind !== 'public') expectPublic(decoded, decoded.alg, dirOrFile); // throws KEY_NOT_PUBLIC
  await checkPartner(p, dirOrFile, decoded);
  if (decoded.alg === 'MLKEM768-P384') {
    const c = decoded.publicKey;
    return { composite: c, mlkem: c.slice(0, 1184), ecdh: c.slice(1184) };
  }
  return { [SLOT_OF_ALG[decoded.alg]!]: decoded.publicKey };
}

/** All three public keys, or KEY_MISSING naming the one that is absent. */
export function requireAll(pub: Partial<ServicePublicKeys>, source: string): ServicePublicKeys {
  for (const s of SLOTS) {
    if (!pub[s.slot]) {
      throw new InputError('KEY_MISSING', `${basename(source)} does not provide the ${s.alg} public key`, {
        hint: 'give the key folder written by `ima-qs keys generate`',
      });
    }
  }
  return pub as ServicePublicKeys;
}

/** The composite KEM public key (mlkemPK ‖ P-384 point) that senders encrypt to. */
export function recipientPublicKey(pub: Pick<ServicePublicKeys, 'mlkem' | 'ecdh'>): Uint8Array {
  const out = new Uint8Array(pub.mlkem.length + pub.ecdh.length);
  out.set(pub.mlkem, 0);
  out.set(pub.ecdh, pub.mlkem.length);
  return out;
}

export function recipientPrivateKey(keys: Pick<ServiceKeys, 'mlkem' | 'ecdh'>): CompositeKemPrivateKey {
  return compositeKeyFrom(keys.mlkem, keys.ecdh);
}

export interface ServiceFingerprints {
  mlkem: string;
  /** THE service fingerprint: operators pin the ML-DSA-87 key */
  mldsa: string;
  ecdh: string;
  /** of the composite public key (SPKI with the composite OID): what envelopes name */
  composite: string;
}

export function fingerprints(pub: ServicePublicKeys): ServiceFingerprints {
  return {
    mlkem: fingerprint('ML-KEM-768', pub.mlkem),
    mldsa: fingerprint('ML-DSA-87', pub.mldsa),
    ecdh: fingerprint('P-384', pub.ecdh),
    composite: fingerprint('MLKEM768-P384', recipientPublicKey(pub)),
  };
}

/** Names of the key files present in a folder (for `keys show`). */
export async function keyFilesIn(dir: string): Promise<string[]> {
  // the six service key files and the audit key pair (audit-key.ts, SPEC §2.4)
  const names = new Set<string>([...Object.values(KEY_FILES), 'audit_ml_dsa_87_private.key', 'audit_ml_dsa_87_public.key']);
  try {
    return (await readdir(dir)).filter((n) => names.has(n)).sort();
  } catch (err) {
    throw fsError(err, dir, 'read');
  }
}
