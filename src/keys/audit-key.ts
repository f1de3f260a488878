/**
 * The audit key (SPEC §2.4, §8.11): a separate ML-DSA-87 key pair that signs only chain
 * registrations and checkpoints (contexts ima-qs/v2/chain and ima-qs/v2/checkpoint), so that the
 * online decision key alone cannot rewrite the audit history behind a checkpoint. Files in the key
 * folder: audit_ml_dsa_87_private.key (0600) / audit_ml_dsa_87_public.key (0644); in Secrets
 * Manager: the `audit` member of the generation's key-set secret (SPEC §7.1). The root certifies it
 * as `signers.audit` of every key-set statement (SPEC §7.3), and verifiers trust it through that
 * statement alone (src/audit/checkpoint-trust.ts). Only the checkpoint writer uses the private key.
 */
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { encodePrivateKeyPem, encodePublicKeyPem, fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { exists, writeFileAtomic, writePrivateFile } from '../io/files.js';
import { readPrivateKey } from './key-dir.js';

export const AUDIT_KEY_FILES = {
  private: 'audit_ml_dsa_87_private.key',
  public: 'audit_ml_dsa_87_public.key',
} as const;

/** The audit signing key as the checkpoint writer holds it. */
export interface AuditSigningKey {
  key: MlDsaPrivateKey;
  /** SPEC §1.4 fingerprint of its public key */
  fingerprint: string;
  /** where it came from (a path or a secret name), for the start-up log; never the key */
  source: string;
}

export function generateAuditKey(p: CryptoProvider): MlDsaPrivateKey {
  return p.mldsa87.fromSeed();
}

export function auditSigningKey(key: MlDsaPrivateKey, source: string): AuditSigningKey {
  return { key, fingerprint: fingerprint('ML-DSA-87', key.publicKey), source };
}

/** True when the folder already holds either audit key file. */
export async function hasAuditKey(dir: string): Promise<boolean> {
  return (await exists(join(dir, AUDIT_KEY_FILES.private))) || (await exists(join(dir, AUDIT_KEY_FILES.public)));
}

/**
 * Writes the audit key pair into `dir` (which exists). Without `force` an existing audit key file
 * is refused before anything is written (FILE_EXISTS): a key folder is never silently re-keyed.
 */
export async function writeAuditKey(dir: string, key: MlDsaPrivateKey, opts: { force?: boolean } = {}): Promise<string[]> {
  const priv = join(dir, AUDIT_KEY_FILES.private);
  const pub = join(dir, AUDIT_KEY_FILES.public);
  if (!opts.force && (await hasAuditKey(dir))) {
    throw new InputError('FILE_EXISTS', `${dir} already holds an audit key (${AUDIT_KEY_FILES.private})`, {
      hint: 'an existing audit key is kept; pass --force only to replace it (checkpoints it signed stay verifiable with its public key)',
    });
  }
  await writePrivateFile(priv, encodePrivateKeyPem(key), opts.force === true);
  await writeFileAtomic(pub, encodePublicKeyPem('ML-DSA-87', key.publicKey), { mode: 0o644, force: opts.force === true });
  return [priv, pub];
}

/** The audit private key of a key folder, checked against its public partner (SPEC §2.4). */
export async function loadAuditKey(p: CryptoProvider, dir: string): Promise<AuditSigningKey> {
  const path = join(dir, AUDIT_KEY_FILES.private);
  if (!(await exists(path))) {
    throw new InputError('AUDIT_KEY_MISSING', `${dir} holds no audit key (${AUDIT_KEY_FILES.private})`, {
      hint: 'add one with `ima-qs keys generate --out DIR --audit-key-only` (the existing keys are kept)',
    });
  }
  return auditSigningKey(await readPrivateKey(p, path, 'ML-DSA-87'), path);
}
