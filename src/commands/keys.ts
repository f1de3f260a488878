/**
 * `ima-qs keys generate`, `keys certify` and `keys show` (SPEC §2.4, §7.3): the service key folder —
 * six PEM files, the root-signed key-set statement (keyset.json), a report with algorithms, sizes
 * and fingerprints (never secrets) and the upload script for the custody step — and the offline
 * root in its own folder, whose fingerprint is the pin. Nothing is written when any target exists
 * without --force.
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
import { KEYSET_FILES, ROOT_FILES, certifyKeyDir, loadRootKey, readKeySetFile, writeRootDir } from '../keys/key-set-files.js';
import { DEFAULT_KEYSET_VALIDITY_DAYS, MAX_KEYSET_VALIDITY_DAYS, type SignedKeySet } from '../protocol/keyset.js';
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
  fingerprints: ServiceFingerprints;
  /** the audit key's (SPEC §8.11: signs registrations and checkpoints only; certified as `signers.audit`) */
  auditFingerprint: string;
  generated: string;
  /** the root's fingerprint: THE pin clients hold */
  root: { dir: string; fingerprint: string; created: boolean };
  generation: number;
  notAfter: string;
}

export interface CertifyFlags {
  /** the root folder (created by generate when absent) */
  root?: string;
  /** the previous generation's keyset.json (the new one is its generation + 1) */
  previous?: string;
  /** the public key of a decisions signer held in AWS KMS (keys signer create) */
  kmsSigner?: string;
  validDays?: string;
  service?: string;
}

function validDays(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]{0,3}$/.test(v) || Number(v) > MAX_KEYSET_VALIDITY_DAYS) {
    throw new UsageError('BAD_VALIDITY', `--valid-days ${v.slice(0, 12)} is not a whole number of days from 1 to ${MAX_KEYSET_VALIDITY_DAYS}`);
  }
  return Number(v);
}

function serviceName(v: string | undefined): string | undefined {
  if (v !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/.test(v)) throw new UsageError('BAD_SERVICE', '--service is 1-128 of A-Z a-z 0-9 . _ : / -');
  return v;
}

async function certifyOptions(deps: CliDeps, p: CryptoProvider, o: CertifyFlags): Promise<{ previous?: SignedKeySet; decisionsSigner?: Uint8Array; validityDays?: number; service?: string }> {
  const { readPublicKey } = await import('../keys/key-dir.js');
  return {
    previous: o.previous ? await readKeySetFile(resolve(deps.cwd, o.previous), { stdin: deps.stdin }) : undefined,
    decisionsSigner: o.kmsSigner ? await readPublicKey(p, resolve(deps.cwd, o.kmsSigner), 'ML-DSA-87') : undefined,
    validityDays: validDays(o.validDays),
    service: serviceName(o.service),
  };
}

/**
 * `keys generate --audit-key-only`: adds the audit key pair to an existing key folder (written
 * before the audit key existed), never replacing anything. The folder is then certified again
 * (`keys certify --force`): every key-set statement certifies an audit signer (SPEC §7.3).
 */
export async function addAuditKey(deps: CliDeps, o: { out: string }, p: CryptoProvider = defaultProvider()): Promise<{ dir: string; files: string[]; auditFingerprint: string; generated: string }> {
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
  o: { out: string; force?: boolean } & CertifyFlags,
  p: CryptoProvider = defaultProvider(),
): Promise<GenerateResult> {
  const dir = resolve(deps.cwd, o.out);
  const rootDir = resolve(deps.cwd, o.root ?? `${o.out.replace(/\/+$/, '')}_root`);
  // the default root folder of a previous run is replaced only with --force (a new root: a new pin)
  const rootExists = (await exists(join(rootDir, ROOT_FILES.private))) && !(o.root === undefined && o.force);
  if (rootExists && o.root === undefined) {
    throw new InputError('FILE_EXISTS', `${rootDir} already holds a root key`, {
      hint: 'certify with it explicitly: --root DIR --previous OLD/keyset.json, or pass --force to replace it too (a new root changes the pin)',
    });
  }
  if (o.previous && !rootExists) throw new UsageError('USAGE', '--previous needs the root that signed it (--root DIR)');
  const certify = await certifyOptions(deps, p, o); // usage errors before anything is written
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
  const root = rootExists ? await loadRootKey(p, rootDir) : await writeRootDir(p, rootDir, { force: o.force });
  const audit = generateAuditKey(p);
  const written = await writeKeyDir(dir, keys, { force: o.force });
  written.push(...(await writeAuditKey(dir, audit, { force: o.force })));
  const fps = fingerprints(publicKeysOf(keys));
  const now = deps.now?.() ?? new Date();
  const generated = now.toISOString();
  const signed = await certifyKeyDir(p, { root, dir, notBefore: now, force: true, ...certify });
  const auditFingerprint = fingerprint('ML-DSA-87', audit.publicKey);
  const rootFp = fingerprint('ML-DSA-87', root.publicKey);
  await writeFileAtomic(join(dir, REPORT_FILE), reportText(fps, auditFingerprint, generated, rootFp, signed), { mode: 0o644, force: o.force });
  await writeFileAtomic(join(dir, UPLOAD_SCRIPT), UPLOAD_SCRIPT_TEXT, { mode: 0o700, force: o.force });
  const extra = [KEYSET_FILES.current, KEYSET_FILES.root, ...(certify.previous ? [KEYSET_FILES.previous] : [])].map((f) => join(dir, f));
  return {
    dir: o.out,
    files: [...written, ...extra, join(dir, REPORT_FILE), join(dir, UPLOAD_SCRIPT)],
    fingerprints: fps,
    auditFingerprint,
    generated,
    root: { dir: rootDir, fingerprint: rootFp, created: !rootExists },
    generation: signed.statement.generation,
    notAfter: signed.statement.not_after,
  };
}

/** `keys certify`: the root signs a key folder's statement (a new generation: renewal, a KMS signer, a rotation). */
export async function certifyKeyDirCommand(deps: CliDeps, o: { keys: string; root: string; force?: boolean } & CertifyFlags, p: CryptoProvider = defaultProvider()) {
  const certify = await certifyOptions(deps, p, o);
  const root = await loadRootKey(p, resolve(deps.cwd, o.root));
  const signed = await certifyKeyDir(p, { root, dir: resolve(deps.cwd, o.keys), notBefore: deps.now?.() ?? new Date(), force: o.force, ...certify });
  const st = signed.statement;
  return {
    dir: o.keys,
    generation: st.generation,
    root: st.root,
    kem: st.kem.fingerprint,
    signers: { decisions: st.signers.decisions.fingerprint, audit: st.signers.audit.fingerprint },
    notBefore: st.not_before,
    notAfter: st.not_after,
    previous: st.previous,
  };
}

function reportText(fp: ServiceFingerprints, audit: string, date: string, root: string, signed: SignedKeySet): string {
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

**Fingerprint to pin: the ROOT (ML-DSA-87):** \`${root}\`

The root is in its own folder (never uploaded; keep it offline). It certified this folder as
generation ${signed.statement.generation} (keyset.json), valid ${signed.statement.not_before} to ${signed.statement.not_after}:
decisions signer \`${signed.statement.signers.decisions.fingerprint}\`${signed.statement.signers.decisions.fingerprint === fp.mldsa ? ' (this folder\'s ML-DSA-87 key)' : ' (held elsewhere, e.g. in AWS KMS)'}, audit signer \`${signed.statement.signers.audit.fingerprint}\`.
Rotating any key of this folder leaves the pin unchanged; a new root changes it.

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
    // the six service files, and a root's (its own folder, or the public copy in a key folder)
    const names = [...(await keyFilesIn(path))];
    for (const f of [ROOT_FILES.private, ROOT_FILES.public, AUDIT_KEY_FILES.public, AUDIT_KEY_FILES.private]) if (!names.includes(f) && (await exists(join(path, f)))) names.push(f);
    names.sort();
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
  const certifyOptions = (c: Command) =>
    c
      .option('--previous <keyset.json>', "the previous generation's statement: the new one is its generation + 1")
      .option('--kms-signer <pubfile>', 'certify this ML-DSA-87 public key (keys signer create --kms) as the decisions signer instead of the folder\'s own')
      .option('--valid-days <n>', `validity of the statement (default ${DEFAULT_KEYSET_VALIDITY_DAYS}, at most ${MAX_KEYSET_VALIDITY_DAYS})`)
      .option('--service <name>', 'the service name in the statement (default ima-qs)');

  certifyOptions(
    app
      .command(keys, {
        name: 'generate',
        description: 'generate the service key pairs (ML-KEM-768, ML-DSA-87, ECDH P-384) and certify them with the offline root',
        examples: [
          'ima-qs keys generate --out quantum_keys',
          'ima-qs keys generate --out gen2 --root quantum_keys_root --previous quantum_keys/keyset.json',
          'ima-qs keys generate --out quantum_keys --force --json',
        ],
        notes: `Writes eight PEM files (private ones 0600, folder 0700): the three service key pairs and the
separate audit key pair (${AUDIT_KEY_FILES.private}: signs audit checkpoints only, SPEC §8.11);
keyset.json (the key-set statement the root signed: generation, KEM key, the decisions and the
audit signer, 90 days), ${REPORT_FILE} and ${UPLOAD_SCRIPT}. Without --root, a new root ML-DSA-87
key pair is written to OUT_root (its own folder: keep it offline, never upload it): its
fingerprint is THE pin clients and auditors hold. With --root and --previous, the folder is the
next generation of that root (a rotation: ima-qs keys rotate). Refuses to overwrite anything
without --force (and then writes nothing). --audit-key-only adds the audit key pair to an
existing folder, replacing nothing; certify the folder again afterwards (keys certify --force).`,
      })
      .requiredOption('--out <dir>', 'folder for the key files (created 0700)')
      .option('--root <dir>', 'the root folder to certify with (default: a new root in OUT_root)')
      .option('--force', 'replace existing key files, and a root in OUT_root (the old private keys are lost; a new root changes the pin)')
      .option('--audit-key-only', 'add only the audit key pair to an existing key folder (never replaces anything)'),
  ).action(
    app.action(async (o: { out: string; force?: boolean; auditKeyOnly?: boolean } & CertifyFlags) => {
      if (o.auditKeyOnly) {
        if (o.force || o.root || o.previous || o.kmsSigner || o.validDays || o.service) throw new UsageError('USAGE', '--audit-key-only goes alone with --out: it replaces and certifies nothing');
        const a = await addAuditKey(app.deps, o);
        return { data: { ...a }, human: table(['file'], a.files.map((f) => [f])) + '\n' + facts([['audit key (checkpoints only)', a.auditFingerprint], ['next', `ima-qs keys certify --root ROOT_DIR --keys ${o.out} --force`]]) };
      }
      const r = await generateKeyDir(app.deps, o);
      const human =
        table(['file'], r.files.map((f) => [f])) +
        '\n' +
        facts([
          ['root (PIN THIS)', r.root.fingerprint],
          ['root folder', `${r.root.dir}${r.root.created ? ' (new: keep it offline)' : ''}`],
          ['generation', `${r.generation} (valid until ${r.notAfter})`],
          ['signer (ML-DSA-87)', r.fingerprints.mldsa],
          ['recipient (MLKEM768-P384)', r.fingerprints.composite],
          ['ML-KEM-768', r.fingerprints.mlkem],
          ['ECDH P-384', r.fingerprints.ecdh],
          ['audit key (checkpoints only)', r.auditFingerprint],
        ]);
      return { data: { ...r }, human };
    }),
  );

  certifyOptions(
    app
      .command(keys, {
        name: 'certify',
        description: "sign a key folder's key-set statement with the offline root (a new generation)",
        examples: [
          'ima-qs keys certify --root quantum_keys_root --keys quantum_keys --previous quantum_keys/keyset.json --force',
          'ima-qs keys certify --root quantum_keys_root --keys quantum_keys --kms-signer quantum_keys/kms_signer_public.key --previous quantum_keys/keyset.json --force --json',
        ],
        notes: `Writes KEYS/keyset.json (and previous_keyset.json, and the root's public key). Every statement is a
new generation: renew one before it expires (90 days by default), certify a signer held in AWS KMS,
or certify a new folder; then publish it with ima-qs keys rotate. Run it where the root lives (offline).`,
      })
      .requiredOption('--root <dir>', 'the root folder')
      .requiredOption('--keys <dir>', 'the key folder to certify')
      .option('--force', `replace an existing ${KEYSET_FILES.current}`),
  ).action(
    app.action(async (o: { keys: string; root: string; force?: boolean } & CertifyFlags) => {
      const r = await certifyKeyDirCommand(app.deps, o);
      return {
        data: r,
        human: facts([
          ['generation', r.generation],
          ['root (the pin)', r.root],
          ['KEM (MLKEM768-P384)', r.kem],
          ['decisions signer', r.signers.decisions],
          ['audit signer', r.signers.audit],
          ['valid', `${r.notBefore} to ${r.notAfter}`],
        ]),
      };
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
