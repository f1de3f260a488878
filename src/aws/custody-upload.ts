/**
 * The custody lifecycle behind `keys upload`, `keys rotate` and `keys fetch` (SPEC §7), written
 * against the ports only (SecretStore, KeyService) so tests can put a wrapper in between.
 *
 * upload/rotate: check the KMS key → plan → (confirm) → apply → read every secret back.
 * Nothing is written when the KMS key is unusable or any secret is a conflict / blocked.
 */
import { encodePrivateKeyPem } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { basename } from 'node:path';
import { KEY_FILES, type ServiceFingerprints, type ServiceKeys, fingerprints, publicKeysOf, writeKeyDir } from '../keys/key-dir.js';
import { type AppliedItem, type CustodyPlan, type LocalFingerprints, type PlanItem, type ReadBack, applyPlan, planCustody, readBack, refusedItems, writesIn } from './key-custody.js';
import { type KeyService, type KmsKeyInfo, assertUsableForSecrets, checkKmsKeyRef } from './key-service.js';
import { createPublicKeysDocument } from '../protocol/keys-document.js';
import { AUDIT_KEY_SECRET, KEY_SECRETS, encodeKeySecret, secretTags } from './secret-format.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { MlDsaPrivateKey } from '../crypto/provider.js';
import type { SecretStore } from './secret-store.js';
import { readKeySecret, readServiceKeys } from './service-keys.js';
import { AUDIT_KEY_FILES, hasAuditKey, writeAuditKey } from '../keys/audit-key.js';
import { InputError } from '../errors.js';

export interface CustodyPorts {
  store: SecretStore;
  kms: KeyService;
  p: CryptoProvider;
  now: () => Date;
}

export interface UploadRequest {
  keys: ServiceKeys;
  /** the audit key of the folder (SPEC §7.1 fourth secret), when it has one */
  auditKey?: MlDsaPrivateKey;
  prefix: string;
  kmsKeyRef: string;
  /** replace different existing keys (rotate) instead of refusing them */
  allowRotate: boolean;
  dryRun: boolean;
  validityDays?: number;
  /** asked once, with the plan, when there is something to write */
  confirm: (plan: CustodyPlan) => Promise<boolean>;
  /** progress of the writes */
  onProgress?: (done: number, total: number) => void;
}

export interface UploadReport {
  kmsKey: KmsKeyInfo;
  fingerprints: ServiceFingerprints;
  plan: CustodyPlan;
  refused: PlanItem[];
  /** set when writes were confirmed and made */
  applied?: AppliedItem[];
  readBack?: ReadBack[];
  declined?: boolean;
}

export async function uploadKeys(ports: CustodyPorts, req: UploadRequest): Promise<UploadReport> {
  const { store, kms, p } = ports;
  const now = ports.now();
  const local: LocalFingerprints = { ...fingerprints(publicKeysOf(req.keys)), ...(req.auditKey ? { audit: fingerprint('ML-DSA-87', req.auditKey.publicKey) } : {}) };
  // Precondition: the KMS key is enabled and symmetric before anything else is read or written.
  const ref = checkKmsKeyRef(req.kmsKeyRef);
  const kmsKey = await kms.describe(ref);
  assertUsableForSecrets(ref, kmsKey);

  const plan = await planCustody(p, store, { prefix: req.prefix, kmsKeyArn: kmsKey.arn, local, allowRotate: req.allowRotate, now });
  const report: UploadReport = { kmsKey, fingerprints: local, plan, refused: refusedItems(plan) };
  if (report.refused.length || req.dryRun) return report;

  const writes = writesIn(plan);
  if (writes.length) {
    if (!(await req.confirm(plan))) return { ...report, declined: true };
    const values = new Map<string, string>();
    const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const it of writes) {
      if (it.role === 'public-keys') {
        const doc = createPublicKeysDocument(p, {
          mlkem: req.keys.mlkem.publicKey,
          ecdh: req.keys.ecdh.publicKey,
          signingKey: req.keys.mldsa,
          now,
          validityDays: req.validityDays,
        });
        values.set(it.name, JSON.stringify(doc));
      } else if (it.role === 'audit') {
        values.set(it.name, encodeKeySecret({ algorithm: AUDIT_KEY_SECRET.algorithm, fingerprint: local.audit!, pem: encodePrivateKeyPem(req.auditKey!), created }));
      } else {
        const spec = KEY_SECRETS.find((s) => s.role === it.role)!;
        const pem = encodePrivateKeyPem(req.keys[spec.role]);
        values.set(it.name, encodeKeySecret({ algorithm: spec.algorithm, fingerprint: local[spec.role], pem, created }));
      }
    }
    const tags = (it: PlanItem) =>
      it.role === 'public-keys'
        ? { ...secretTags('public-keys', local.composite), signer: local.mldsa }
        : secretTags(it.algorithm, it.fingerprint);
    report.applied = await applyPlan(store, plan, values, tags, req.onProgress);
  } else {
    report.applied = plan.items.map((i) => ({ name: i.name, action: i.action, outcome: 'unchanged' as const }));
  }
  report.readBack = await readBack(p, store, plan, local, now);
  return report;
}

export interface FetchedFile {
  path: string;
  /** private files: the file is byte-for-byte the PEM stored in the secret */
  identicalToSecret?: boolean;
}

export interface FetchReport {
  fingerprints: ServiceFingerprints;
  versions: Record<string, string>;
  files: FetchedFile[];
}

/**
 * Reads the three current key secrets (each checked against its stated fingerprint) and writes
 * the six key files into `out` (0700; private files 0600, never overwritten without `force`).
 */
export async function fetchKeys(ports: Pick<CustodyPorts, 'store' | 'p'>, req: { prefix: string; out: string; force: boolean }): Promise<FetchReport> {
  const r = await readServiceKeys(ports.p, ports.store, req.prefix);
  const keys: ServiceKeys = { mlkem: r.mlkem.key, mldsa: r.mldsa.key, ecdh: r.ecdh.key };
  // the audit key (SPEC §7.1): fetched when its secret exists (a deployment before it has none)
  let audit: Awaited<ReturnType<typeof readKeySecret<'ML-DSA-87'>>> | undefined;
  try {
    audit = await readKeySecret(ports.p, ports.store, req.prefix, AUDIT_KEY_SECRET);
  } catch (err) {
    if ((err as { code?: string }).code !== 'AWS_NOT_FOUND') throw err;
  }
  if (audit && !req.force && (await hasAuditKey(req.out))) {
    throw new InputError('FILE_EXISTS', `${req.out} already holds an audit key`, { hint: 'choose another folder, or pass --force' });
  }
  const paths = await writeKeyDir(req.out, keys, { force: req.force });
  if (audit) paths.push(...(await writeAuditKey(req.out, audit.key, { force: req.force })));
  // seed-only PKCS#8 is deterministic (SPEC §2.3), so the file written is the PEM stored
  const stored: Record<string, { key: Parameters<typeof encodePrivateKeyPem>[0]; pem: string }> = {
    [KEY_FILES.mlkemPrivate]: r.mlkem,
    [KEY_FILES.mldsaPrivate]: r.mldsa,
    [KEY_FILES.ecdhPrivate]: r.ecdh,
    ...(audit ? { [AUDIT_KEY_FILES.private]: audit } : {}),
  };
  const files: FetchedFile[] = paths.map((path) => {
    const s = stored[basename(path)];
    return s ? { path, identicalToSecret: encodePrivateKeyPem(s.key) === s.pem } : { path };
  });
  return {
    fingerprints: fingerprints(publicKeysOf(keys)),
    versions: { [r.mlkem.name]: r.mlkem.versionId, [r.mldsa.name]: r.mldsa.versionId, [r.ecdh.name]: r.ecdh.versionId, ...(audit ? { [audit.name]: audit.versionId } : {}) },
    files,
  };
}
