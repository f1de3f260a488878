/**
 * `ima-qs keys generate` and `ima-qs keys show` (SPEC §2): the service key folder — six PEM files,
 * a report with algorithms, sizes and fingerprints (never secrets) and the upload script for the
 * custody step (`ima-qs keys upload`). Nothing is written when any target exists without --force.
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import type { App } from '../cli.js';
import type { CliDeps } from '../context.js';
import { InputError, UsageError } from '../errors.js';
import { facts, table } from '../output.js';
import { type DecodedKey, type KeyAlg, expectPublic, fingerprint } from '../crypto/key-codec.js';
import { defaultProvider } from '../crypto/providers.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { exists, isDirectory, writeFileAtomic } from '../io/files.js';
import {
  KEY_FILES,
  type ServiceFingerprints,
  checkPartner,
  fingerprints,
  generateServiceKeys,
  keyFilesIn,
  partnerOf,
  publicKeysOf,
  readKeyFile,
  recipientPublicKey,
  writeKeyDir,
} from '../keys/key-dir.js';
import { AUDIT_KEY_FILES, generateAuditKey, hasAuditKey, writeAuditKey } from '../keys/audit-key.js';

export const REPORT_FILE = 'KEY_GENERATION_REPORT.md';
export const UPLOAD_SCRIPT = 'upload_keys_to_aws.sh';

/** FIPS 203 / FIPS 204 / SEC 1 sizes (DESIGN.md "Corrections to the seed"). */
const SIZE_NOTES: Record<KeyAlg, string> = {
  'ML-KEM-768': 'public key 1184 B, ciphertext 1088 B, seed 64 B (NIST category 3)',
  'ML-DSA-87': 'public key 2592 B, signature 4627 B, seed 32 B (NIST category 5)',
  'P-384': 'point 97 B (uncompressed), shared secret 48 B',
  'MLKEM768-P384': 'public key 1281 B, ciphertext 1185 B, shared secret 32 B',
};

export interface GenerateResult {
  dir: string;
  files: string[];
  /** the service keys (absent with --audit-key-only) */
  fingerprints?: ServiceFingerprints;
  /** the audit key's (SPEC §8.11: signs registrations and checkpoints only) */
  auditFingerprint: string;
  generated: string;
}

/**
 * `keys generate --audit-key-only`: adds the audit key pair to an existing key folder (written
 * before the audit key existed), never replacing anything.
 */
export async function addAuditKey(deps: CliDeps, o: { out: string }, p: CryptoProvider = defaultProvider()): Promise<GenerateResult> {
  const dir = resolve(deps.cwd, o.out);
  if (!(await isDirectory(dir))) throw new InputError('NOT_A_DIRECTORY', `${o.out} is not a key folder`, { hint: '--audit-key-only adds the audit key to a folder written by `ima-qs keys generate`' });
  if (await hasAuditKey(dir)) {
    throw new InputError('FILE_EXISTS', `${o.out} already holds an audit key (${AUDIT_KEY_FILES.private})`, { hint: 'the existing audit key is kept' });
  }
  const key = generateAuditKey(p);
  const files = await writeAuditKey(dir, key);
  return { dir: o.out, files, auditFingerprint: fingerprint('ML-DSA-87', key.publicKey), generated: (deps.now?.() ?? new Date()).toISOString() };
}

export async function generateKeyDir(
  deps: CliDeps,
  o: { out: string; force?: boolean },
  p: CryptoProvider = defaultProvider(),
): Promise<GenerateResult> {
  const dir = resolve(deps.cwd, o.out);
  if (!o.force) {
    // all eight names checked before anything is written (writeKeyDir checks its six again)
    const names = [...Object.values(KEY_FILES), ...Object.values(AUDIT_KEY_FILES), REPORT_FILE, UPLOAD_SCRIPT];
    const present: string[] = [];
    for (const n of names) if (await exists(join(dir, n))) present.push(n);
    if (present.length > 0) {
      throw new InputError('FILE_EXISTS', `${o.out} already holds key files (${present.join(', ')})`, {
        hint: 'choose another folder, or pass --force to replace the keys (the old private keys are lost)',
        details: { existing: present },
      });
    }
  } else if ((await exists(dir)) && !(await isDirectory(dir))) {
    throw new InputError('NOT_A_DIRECTORY', `${o.out} is a file; a folder was expected`);
  }
  const keys = generateServiceKeys(p);
  const audit = generateAuditKey(p);
  const written = await writeKeyDir(dir, keys, { force: o.force });
  written.push(...(await writeAuditKey(dir, audit, { force: o.force })));
  const fps = fingerprints(publicKeysOf(keys));
  const auditFingerprint = fingerprint('ML-DSA-87', audit.publicKey);
  const generated = (deps.now?.() ?? new Date()).toISOString();
  await writeFileAtomic(join(dir, REPORT_FILE), reportText(fps, auditFingerprint, generated), { mode: 0o644, force: o.force });
  await writeFileAtomic(join(dir, UPLOAD_SCRIPT), UPLOAD_SCRIPT_TEXT, { mode: 0o700, force: o.force });
  return { dir: o.out, files: [...written, join(dir, REPORT_FILE), join(dir, UPLOAD_SCRIPT)], fingerprints: fps, auditFingerprint, generated };
}

function reportText(fp: ServiceFingerprints, audit: string, date: string): string {
  return `# ima-qs key generation report

Generated: ${date}

This report holds public facts only (algorithms, sizes, fingerprints): no secret material.
A fingerprint is the SHA3-256 of the key's SubjectPublicKeyInfo DER (SPEC §2).

| purpose | algorithm | files | sizes | fingerprint |
|---|---|---|---|---|
| encryption (KEM) | ML-KEM-768 (FIPS 203) | ${KEY_FILES.mlkemPublic}, ${KEY_FILES.mlkemPrivate} | ${SIZE_NOTES['ML-KEM-768']} | \`${fp.mlkem}\` |
| encryption (ECDH) | ECDH P-384 | ${KEY_FILES.ecdhPublic}, ${KEY_FILES.ecdhPrivate} | ${SIZE_NOTES['P-384']} | \`${fp.ecdh}\` |
| signatures | ML-DSA-87 (FIPS 204) | ${KEY_FILES.mldsaPublic}, ${KEY_FILES.mldsaPrivate} | ${SIZE_NOTES['ML-DSA-87']} | \`${fp.mldsa}\` |
| audit checkpoints (SPEC §8.11; not the service key) | ML-DSA-87 (FIPS 204) | ${AUDIT_KEY_FILES.public}, ${AUDIT_KEY_FILES.private} | ${SIZE_NOTES['ML-DSA-87']} | \`${audit}\` |
| recipient (what envelopes name) | id-MLKEM768-ECDH-P384-SHA3-256 | (ML-KEM-768 + P-384 public keys) | ${SIZE_NOTES['MLKEM768-P384']} | \`${fp.composite}\` |

**Service fingerprint to pin (ML-DSA-87):** \`${fp.mldsa}\`

- Private key files are PKCS#8 PEM in seed-only form, mode 0600, in a 0700 folder. Keep them off
  shared disks; move them into custody with \`./${UPLOAD_SCRIPT}\` (AWS Secrets Manager under a KMS key).
- Public key files are SPKI PEM and may be shared.
`;
}

const UPLOAD_SCRIPT_TEXT = `#!/bin/sh
# Uploads the private keys of this folder to AWS Secrets Manager, encrypted under a KMS key.
# Usage: KMS_KEY_ID=alias/ima-qs ./${UPLOAD_SCRIPT} [--profile P] [--region R] [--yes]
set -eu
exec ima-qs keys upload --keys "$(dirname "$0")" --kms-key "\${KMS_KEY_ID:?set KMS_KEY_ID}" "$@"
`;

export interface KeyRow {
  file: string;
  algorithm: KeyAlg;
  kind: 'public' | 'private';
  /** bytes of the public key (for a private key file: of its public key) */
  size: number;
  fingerprint: string;
}

export async function showKeys(deps: CliDeps, target: string, p: CryptoProvider = defaultProvider()): Promise<KeyRow[]> {
  const path = resolve(deps.cwd, target);
  const rows: KeyRow[] = [];
  const add = (d: DecodedKey, shown: string) =>
    rows.push({ file: shown, algorithm: d.alg, kind: d.kind, size: d.publicKey.length, fingerprint: fingerprint(d.alg, d.publicKey) });
  if (await isDirectory(path)) {
    const names = await keyFilesIn(path);
    if (names.length === 0) {
      throw new InputError('NO_KEY_FILES', `${target} holds no ima-qs key files`, {
        hint: `expected ${Object.values(KEY_FILES).join(', ')}`,
      });
    }
    const decoded = new Map<string, DecodedKey>();
    for (const n of names) {
      const d = await readKeyFile(p, join(path, n));
      decoded.set(n, d);
      add(d, n);
    }
    // SPEC §2.4: every pair present is checked (a folder that mixes generations is not shown as ok)
    for (const [n, d] of decoded) {
      const partner = partnerOf(n);
      if (d.kind === 'private' && partner && decoded.has(partner)) await checkPartner(p, join(path, n), d);
    }
    const mlkem = decoded.get(KEY_FILES.mlkemPublic);
    const ecdh = decoded.get(KEY_FILES.ecdhPublic);
    if (mlkem && ecdh) {
      // the composite recipient key that envelopes name (not a file of its own)
      const c = recipientPublicKey({ mlkem: expectPublic(mlkem, 'ML-KEM-768', KEY_FILES.mlkemPublic), ecdh: expectPublic(ecdh, 'P-384', KEY_FILES.ecdhPublic) });
      rows.push({ file: '(recipient: ML-KEM-768 + P-384)', algorithm: 'MLKEM768-P384', kind: 'public', size: c.length, fingerprint: fingerprint('MLKEM768-P384', c) });
    }
  } else {
    const d = await readKeyFile(p, path);
    await checkPartner(p, path, d);
    add(d, target);
  }
  return rows;
}

export function registerKeyFiles(keys: Command, app: App): void {
  app
    .command(keys, {
      name: 'generate',
      description: 'generate the service key pairs (ML-KEM-768, ML-DSA-87, ECDH P-384) into a folder',
      examples: ['ima-qs keys generate --out quantum_keys', 'ima-qs keys generate --out quantum_keys --force --json', 'ima-qs keys generate --out quantum_keys --audit-key-only'],
      notes: `Writes eight PEM files (private ones 0600, folder 0700): the three service key pairs and the
separate audit key pair (${AUDIT_KEY_FILES.private}: signs audit checkpoints only, SPEC §8.11),
${REPORT_FILE} and ${UPLOAD_SCRIPT}. Refuses to overwrite anything without --force (and then
writes nothing). --audit-key-only adds the audit key pair to an existing folder, replacing nothing.`,
    })
    .requiredOption('--out <dir>', 'folder for the key files (created 0700)')
    .option('--force', 'replace existing key files (the old private keys are lost)')
    .option('--audit-key-only', 'add only the audit key pair to an existing key folder (never replaces anything)')
    .action(
      app.action(async (o: { out: string; force?: boolean; auditKeyOnly?: boolean }) => {
        if (o.auditKeyOnly && o.force) throw new UsageError('USAGE', '--audit-key-only never replaces anything: it does not go with --force');
        const r = o.auditKeyOnly ? await addAuditKey(app.deps, o) : await generateKeyDir(app.deps, o);
        const human =
          table(['file'], r.files.map((f) => [f])) +
          '\n' +
          facts([
            ...(r.fingerprints
              ? ([
                  ['ML-DSA-87 (pin this)', r.fingerprints.mldsa],
                  ['recipient (MLKEM768-P384)', r.fingerprints.composite],
                  ['ML-KEM-768', r.fingerprints.mlkem],
                  ['ECDH P-384', r.fingerprints.ecdh],
                ] as [string, string][])
              : []),
            ['audit key (checkpoints only)', r.auditFingerprint],
          ]);
        return { data: { ...r }, human };
      }),
    );

  app
    .command(keys, {
      name: 'show',
      description: 'show the algorithms, kinds, sizes and fingerprints of a key folder or key file',
      examples: ['ima-qs keys show quantum_keys', 'ima-qs keys show quantum_keys/ml_dsa_87_public.key --json'],
    })
    .argument('<dir|file>', 'key folder or PEM key file')
    .action(
      app.action(async (target: string) => {
        const rows = await showKeys(app.deps, target);
        const human = table(
          ['file', 'algorithm', 'kind', 'public key', 'fingerprint (SHA3-256 of SPKI)'],
          rows.map((r) => [r.file, r.algorithm, r.kind, `${r.size} B`, r.fingerprint]),
        );
        return { data: { keys: rows }, human };
      }),
    );
}
