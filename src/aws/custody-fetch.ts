/**
 * `keys fetch`, break-glass recovery (SPEC §7.2): the one code path that reads a key set OUT of
 * custody (GetSecretValue, which needs kms:Decrypt through Secrets Manager). Operators cannot run
 * it (their policy has neither); the break-glass role can, assumed with MFA, every use in
 * CloudTrail (infra/custody.tf). A decisions signer held in AWS KMS is not in the set at all.
 */
import { join } from 'node:path';
import { encodePrivateKeyPem, encodePublicKeyPem, fingerprint } from '../crypto/key-codec.js';
import { InputError, RemoteError } from '../errors.js';
import { ensurePrivateDir, exists, writeFileAtomic, writePrivateFile } from '../io/files.js';
import { KEY_FILES } from '../keys/key-dir.js';
import { KEYSET_FILES, keySetText } from '../keys/key-set-files.js';
import type { CustodyPorts } from './custody-upload.js';
import { AUDIT_KEY_FILES } from '../keys/audit-key.js';
import { decodeKeySetSecret, keysetSecretName, parseKeysetVersionId } from './keyset-secret.js';
import { STAGE_CURRENT } from './secret-store.js';

export interface FetchReport {
  generation: number;
  versionId: string;
  root: string;
  files: string[];
  /** the private keys the set held (the decisions signer is absent when it lives in KMS) */
  roles: string[];
}

/**
 * Break-glass recovery (SPEC §7.2): reads one generation of the key set (AWSCURRENT, or the given
 * generation) — GetSecretValue, which only the break-glass role may call — and writes it as a key
 * folder: the private keys it holds (0600, folder 0700), their public keys, keyset.json and the
 * root's public key. Never overwrites without `force`.
 */
export async function fetchKeys(ports: Pick<CustodyPorts, 'store' | 'p'>, req: { prefix: string; out: string; force: boolean; generation?: number }): Promise<FetchReport> {
  const { store, p } = ports;
  const name = keysetSecretName(req.prefix);
  let got;
  if (req.generation === undefined) got = await store.get(name, STAGE_CURRENT);
  else {
    const d = await store.describe(name);
    const v = d?.versions.find((x) => parseKeysetVersionId(x.versionId)?.generation === req.generation);
    if (!v) throw new RemoteError('AWS_NOT_FOUND', `${name} holds no version of generation ${req.generation}`, { hint: 'ima-qs keys status lists the generations in custody' });
    got = await store.getVersion(name, v.versionId);
  }
  const k = decodeKeySetSecret(p, got.value, `secret ${name}`);
  const files: [string, string, boolean][] = [
    [KEY_FILES.mlkemPrivate, encodePrivateKeyPem(k.keys.mlkem), true],
    [KEY_FILES.mlkemPublic, encodePublicKeyPem('ML-KEM-768', k.keys.mlkem.publicKey), false],
    [KEY_FILES.ecdhPrivate, encodePrivateKeyPem(k.keys.ecdh), true],
    [KEY_FILES.ecdhPublic, encodePublicKeyPem('P-384', k.keys.ecdh.publicKey), false],
    ...(k.keys.mldsa
      ? ([
          [KEY_FILES.mldsaPrivate, encodePrivateKeyPem(k.keys.mldsa), true],
          [KEY_FILES.mldsaPublic, encodePublicKeyPem('ML-DSA-87', k.keys.mldsa.publicKey), false],
        ] as [string, string, boolean][])
      : []),
    [AUDIT_KEY_FILES.private, encodePrivateKeyPem(k.keys.audit), true],
    [AUDIT_KEY_FILES.public, encodePublicKeyPem('ML-DSA-87', k.keys.audit.publicKey), false],
    [KEYSET_FILES.current, keySetText(k.keyset), false],
    [KEYSET_FILES.root, encodePublicKeyPem('ML-DSA-87', k.root), false],
  ];
  if (!req.force) {
    const present = [];
    for (const [f] of files) if (await exists(join(req.out, f))) present.push(f);
    if (present.length) throw new InputError('FILE_EXISTS', `${req.out} already holds key files (${present.join(', ')})`, { hint: 'choose another folder, or pass --force' });
  }
  await ensurePrivateDir(req.out);
  const written: string[] = [];
  for (const [f, text, secret] of files) {
    const path = join(req.out, f);
    if (secret) await writePrivateFile(path, text, req.force);
    else await writeFileAtomic(path, text, { mode: 0o644, force: req.force });
    written.push(path);
  }
  return {
    generation: k.generation,
    versionId: got.versionId,
    root: fingerprint('ML-DSA-87', k.root),
    files: written,
    roles: Object.keys(k.pems),
  };
}
