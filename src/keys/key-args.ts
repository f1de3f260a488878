/**
 * Turns the key arguments of the file commands (--to, --identity, --key) into keys, reading only
 * the files each command needs and saying in the user's terms what was wrong (STYLE.md §4):
 *   --to DIR|PUBFILE        a key folder (ml_kem_768_public.key + ecdh_p384_public.key) or a
 *                           composite MLKEM768-P384 public key PEM file
 *   --identity DIR|FILE     a key folder (ml_kem_768_private.key + ecdh_p384_private.key) or a
 *                           composite private key PEM file
 *   sign --key DIR|FILE     the ML-DSA-87 private key (ml_dsa_87_private.key)
 *   verify --key DIR|FILE   the ML-DSA-87 public key (ml_dsa_87_public.key)
 */
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { CompositeKemPrivateKey } from '../crypto/composite-kem.js';
import { type DecodedKey, type KeyAlg, expectPrivate, expectPublic } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { KEY_FILES, checkPartner, readKeyFile, readPrivateKey, readPublicKey, recipientPrivateKey, recipientPublicKey } from './key-dir.js';
import { isDirectory } from '../io/files.js';

const TITLE: Record<KeyAlg, string> = {
  'ML-KEM-768': 'an ML-KEM-768',
  'ML-DSA-87': 'an ML-DSA-87',
  'P-384': 'an ECDH P-384',
  'MLKEM768-P384': 'a composite MLKEM768-P384',
};

function wrongKind(source: string, d: DecodedKey, flag: string, wanted: string): InputError {
  return new InputError('KEY_WRONG_ALGORITHM', `${source} is ${TITLE[d.alg]} ${d.kind} key; ${flag} needs ${wanted}`, {
    hint:
      d.alg === 'ML-KEM-768' || d.alg === 'P-384'
        ? 'encryption uses both halves of the recipient key: give the key folder (it holds ml_kem_768_* and ecdh_p384_*)'
        : `give the key folder written by 'ima-qs keys generate'`,
  });
}

/** The 1281-byte composite public key to encrypt to (each half checked against its private file, if present). */
export async function resolveRecipient(p: CryptoProvider, arg: string, cwd: string): Promise<Uint8Array> {
  const path = resolve(cwd, arg);
  if (await isDirectory(path)) {
    const mlkem = await readPublicKey(p, join(path, KEY_FILES.mlkemPublic), 'ML-KEM-768');
    const ecdh = await readPublicKey(p, join(path, KEY_FILES.ecdhPublic), 'P-384');
    return recipientPublicKey({ mlkem, ecdh });
  }
  const d = await readKeyFile(p, path);
  if (d.alg !== 'MLKEM768-P384') throw wrongKind(arg, d, '--to', 'a key folder or a composite MLKEM768-P384 public key');
  const key = expectPublic(d, 'MLKEM768-P384', arg);
  await checkPartner(p, path, d);
  return key;
}

/** The composite private key to decrypt with; each private key is checked against its public file if present. */
export async function resolveIdentity(p: CryptoProvider, arg: string, cwd: string): Promise<CompositeKemPrivateKey> {
  const path = resolve(cwd, arg);
  if (await isDirectory(path)) {
    const mlkem = await readPrivateKey(p, join(path, KEY_FILES.mlkemPrivate), 'ML-KEM-768');
    const ecdh = await readPrivateKey(p, join(path, KEY_FILES.ecdhPrivate), 'P-384');
    return recipientPrivateKey({ mlkem, ecdh });
  }
  const d = await readKeyFile(p, path);
  if (d.alg !== 'MLKEM768-P384') throw wrongKind(arg, d, '--identity', 'a key folder or a composite MLKEM768-P384 private key');
  const key = expectPrivate(d, 'MLKEM768-P384', arg);
  await checkPartner(p, path, d);
  return key;
}

/** The ML-DSA-87 signing key, checked against its public file if present (SPEC §2.4). */
export async function resolveSigningKey(p: CryptoProvider, arg: string, cwd: string): Promise<MlDsaPrivateKey> {
  const path = resolve(cwd, arg);
  if (await isDirectory(path)) return readPrivateKey(p, join(path, KEY_FILES.mldsaPrivate), 'ML-DSA-87');
  const d = await readKeyFile(p, path);
  if (d.alg !== 'ML-DSA-87') throw wrongKind(arg, d, 'sign --key', 'an ML-DSA-87 private key (or the key folder)');
  const key = expectPrivate(d, 'ML-DSA-87', arg);
  await checkPartner(p, path, d);
  return key;
}

/** The ML-DSA-87 public key to verify with (checked against its private file, if present). */
export async function resolveVerifyKey(p: CryptoProvider, arg: string, cwd: string): Promise<Uint8Array> {
  const path = resolve(cwd, arg);
  if (await isDirectory(path)) return readPublicKey(p, join(path, KEY_FILES.mldsaPublic), 'ML-DSA-87');
  const d = await readKeyFile(p, path);
  if (d.alg !== 'ML-DSA-87') throw wrongKind(arg, d, 'verify --key', 'an ML-DSA-87 public key (or the key folder)');
  const key = expectPublic(d, 'ML-DSA-87', arg);
  await checkPartner(p, path, d);
  return key;
}
