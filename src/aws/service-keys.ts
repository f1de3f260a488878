/**
 * How the services (Lambda proxy, Fargate worker) get their private keys at start-up: from the
 * three custody secrets (SPEC §7.1), decoded and checked in memory, cached for the life of the
 * process, never written to disk.
 *
 * Each secret's stated fingerprint must equal the fingerprint of the public key derived from its
 * PEM: a secret edited by hand or mixed up between algorithms fails loudly at start-up instead of
 * producing undecryptable answers later.
 */
import { InputError, RemoteError } from '../errors.js';
import { type PrivateKeyOf, decodeKeyPem, fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { defaultProvider } from '../crypto/providers.js';
import type { ServiceKeys } from '../keys/key-dir.js';
import { auditSigningKey, type AuditSigningKey } from '../keys/audit-key.js';
import { AUDIT_KEY_SECRET, DEFAULT_PREFIX, KEY_SECRETS, type KeyAlgorithm, type KeySecretSpec, checkPrefix, parseKeySecret, secretName } from './secret-format.js';
import { STAGE_CURRENT, type SecretStore } from './secret-store.js';

export interface ReadKeySecret<A extends KeyAlgorithm = KeyAlgorithm> {
  name: string;
  versionId: string;
  key: PrivateKeyOf[A];
  fingerprint: string;
  pem: string;
  created: string;
}

/** Decodes a PEM private key of algorithm `alg`; `source` names it in errors (never the contents). */
export function decodePrivateKey<A extends KeyAlgorithm>(p: CryptoProvider, pem: string, alg: A, source: string): PrivateKeyOf[A] {
  const decoded = decodeKeyPem(p, pem, source);
  if (decoded.kind !== 'private' || decoded.alg !== alg) {
    throw new RemoteError('SECRET_WRONG_KEY', `${source} holds ${decoded.kind === 'private' ? 'a private' : 'a public'} ${decoded.alg} key; an ${alg} private key was expected`);
  }
  return decoded.key as PrivateKeyOf[A];
}

/**
 * Reads one custody secret (a stage, AWSCURRENT by default), decodes its key and checks that the
 * fingerprint it states is the fingerprint of the key it holds.
 */
export async function readKeySecret<A extends KeyAlgorithm>(
  p: CryptoProvider,
  store: SecretStore,
  prefix: string,
  spec: Pick<KeySecretSpec, 'suffix'> & { algorithm: A },
  stage = STAGE_CURRENT,
): Promise<ReadKeySecret<A>> {
  const name = secretName(prefix, spec.suffix);
  const got = await store.get(name, stage);
  const parsed = parseKeySecret(got.value, spec.algorithm);
  if (!parsed.ok) {
    throw new RemoteError('SECRET_MALFORMED', `secret ${name} is not an ima-qs key secret: ${parsed.reason}`, {
      hint: 'see SPEC §7.1 for the format; upload the keys again with ima-qs keys upload',
    });
  }
  let key: PrivateKeyOf[A];
  try {
    key = decodePrivateKey(p, parsed.secret.pem, spec.algorithm, `secret ${name}`);
  } catch (err) {
    // SPEC §7.1: a PEM that does not decode is a malformed secret (remote state, exit 4), not bad local input
    if (!(err instanceof InputError)) throw err;
    throw new RemoteError('SECRET_MALFORMED', `secret ${name} is not an ima-qs key secret: its pem does not decode (${err.code})`, {
      hint: 'see SPEC §7.1 for the format; upload the keys again with ima-qs keys upload',
      cause: err,
    });
  }
  const actual = fingerprint(spec.algorithm, key.publicKey);
  if (actual !== parsed.secret.fingerprint) {
    throw new RemoteError('SECRET_FINGERPRINT_MISMATCH', `secret ${name} states fingerprint ${parsed.secret.fingerprint.slice(0, 16)}… but holds the key ${actual.slice(0, 16)}…`, {
      hint: 'the secret was edited or mixed up; upload the right keys again',
    });
  }
  return { name, versionId: got.versionId, key, fingerprint: actual, pem: parsed.secret.pem, created: parsed.secret.created };
}

/** Reads all three key secrets of a prefix (AWSCURRENT unless `stage` says otherwise). */
export async function readServiceKeys(p: CryptoProvider, store: SecretStore, prefix: string, stage = STAGE_CURRENT) {
  const [mlkem, mldsa, ecdh] = await Promise.all([
    readKeySecret(p, store, prefix, KEY_SECRETS[0] as KeySecretSpec & { algorithm: 'ML-KEM-768' }, stage),
    readKeySecret(p, store, prefix, KEY_SECRETS[1] as KeySecretSpec & { algorithm: 'ML-DSA-87' }, stage),
    readKeySecret(p, store, prefix, KEY_SECRETS[2] as KeySecretSpec & { algorithm: 'P-384' }, stage),
  ]);
  return { mlkem, mldsa, ecdh };
}

const cache = new WeakMap<SecretStore, Map<string, Promise<ServiceKeys>>>();

/**
 * The service start-up call: the three private keys from Secrets Manager, checked, cached in
 * memory per (store, prefix) so warm Lambda invocations do not call AWS again. A failed load is
 * not cached: the next call tries again.
 */
export function loadServiceKeysFromSecrets(
  store: SecretStore,
  opts: { prefix?: string; provider?: CryptoProvider } = {},
): Promise<ServiceKeys> {
  const prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
  let byPrefix = cache.get(store);
  if (!byPrefix) cache.set(store, (byPrefix = new Map()));
  const hit = byPrefix.get(prefix);
  if (hit) return hit;
  const p = opts.provider ?? defaultProvider();
  const loading = readServiceKeys(p, store, prefix).then((r) => ({ mlkem: r.mlkem.key, mldsa: r.mldsa.key, ecdh: r.ecdh.key }) as ServiceKeys);
  byPrefix.set(prefix, loading);
  loading.catch(() => byPrefix!.delete(prefix));
  return loading;
}

/** Drops the cached keys (after a rotation, or in tests). */
export function forgetServiceKeys(store: SecretStore, prefix?: string): void {
  if (prefix === undefined) cache.delete(store);
  else cache.get(store)?.delete(prefix);
}

/**
 * The audit key from its custody secret (SPEC §7.1 `P/audit-ml-dsa-87-private`, §8.11): read and
 * checked like the others, for the checkpoint writer only.
 */
export async function loadAuditKeyFromSecrets(p: CryptoProvider, store: SecretStore, prefix: string): Promise<AuditSigningKey> {
  const r = await readKeySecret(p, store, checkPrefix(prefix), AUDIT_KEY_SECRET);
  return auditSigningKey(r.key, r.name);
}
