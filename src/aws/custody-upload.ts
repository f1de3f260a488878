/**
 * The custody lifecycle behind `keys upload`, `keys rotate` and `keys fetch` (SPEC §7.2), written
 * against the ports only (SecretStore, KeyService) so tests can put a wrapper in between.
 *
 * upload/rotate: check the KMS key → DescribeSecret both secrets → plan → (confirm) → apply →
 * DescribeSecret again. Never a GetSecretValue, never a kms:Decrypt: an operator writes key
 * material and checks it by the version ids custody shows (key-custody.ts). `keys fetch` is the
 * one command that reads a key set back (custody-fetch.ts), and it needs the break-glass role.
 */
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { loadKeySetDir } from '../keys/key-set-files.js';
import { type CustodyMode, type CustodyPlan, type Phase, type PlanStep, planCustody } from './key-custody.js';
import { type ReadBack, applyPlan, checkAfterWrite } from './custody-apply.js';
import { type KeyService, type KmsKeyInfo, assertUsableForSecrets, checkKmsKeyRef } from './key-service.js';
import { encodeKeySetSecret, keysetSecretName } from './keyset-secret.js';
import { PUBLIC_KEYS_SUFFIX, secretName } from './secret-format.js';
import type { SecretStore } from './secret-store.js';

export interface CustodyPorts {
  store: SecretStore;
  kms: KeyService;
  p: CryptoProvider;
  now: () => Date;
}


export interface UploadRequest {
  /** the certified key folder (keys generate / keys certify) */
  dir: string;
  prefix: string;
  kmsKeyRef: string;
  mode: CustodyMode;
  dryRun: boolean;
  immediately?: boolean;
  expectPhase?: Phase;
  waits?: { publishMs: number; overlapMs: number };
  /** asked once, with the plan, when there is something to write */
  confirm: (plan: CustodyPlan) => Promise<boolean>;
  onProgress?: (done: number, total: number) => void;
}

export interface UploadReport {
  kmsKey: KmsKeyInfo;
  generation: number;
  root: string;
  plan: CustodyPlan;
  applied?: PlanStep[];
  readBack?: ReadBack[];
  declined?: boolean;
}

export async function uploadKeys(ports: CustodyPorts, req: UploadRequest): Promise<UploadReport> {
  const { store, kms, p } = ports;
  const now = ports.now();
  const local = await loadKeySetDir(p, req.dir);
  // Precondition: the KMS key is enabled and symmetric before anything else is read or written.
  const ref = checkKmsKeyRef(req.kmsKeyRef);
  const kmsKey = await kms.describe(ref);
  assertUsableForSecrets(ref, kmsKey);
  const remote = { keyset: await store.describe(keysetSecretName(req.prefix)), document: await store.describe(secretName(req.prefix, PUBLIC_KEYS_SUFFIX)) };
  const value = () =>
    encodeKeySetSecret({
      root: local.root,
      keyset: local.keyset,
      // the decisions signer's private key goes into custody only when the folder holds the certified one (not a KMS signer)
      keys: { mlkem: local.keys.mlkem, ecdh: local.keys.ecdh, ...(local.signerInFolder ? { mldsa: local.keys.mldsa } : {}), audit: local.audit },
      created: now,
    });
  const plan = planCustody(p, { root: local.root, keyset: local.keyset, previous: local.previous, value }, remote, {
    prefix: req.prefix,
    kmsKeyArn: kmsKey.arn,
    mode: req.mode,
    now,
    immediately: req.immediately,
    waits: req.waits,
    expectPhase: req.expectPhase,
  });
  const report: UploadReport = { kmsKey, generation: local.keyset.statement.generation, root: fingerprint('ML-DSA-87', local.root), plan };
  if (plan.refused || plan.notBefore || req.dryRun) return report;
  if (plan.steps.length) {
    if (!(await req.confirm(plan))) return { ...report, declined: true };
    report.applied = await applyPlan(store, plan, { keyset: value, document: plan.documentText }, req.onProgress);
  } else report.applied = [];
  report.readBack = await checkAfterWrite(store, plan);
  return report;
}
