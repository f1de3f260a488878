/**
 * The checkpoint inputs of `audit verify` (SPEC §8.11): the checkpoint store, and the trust in its
 * signers through the ROOT pin alone (SPEC §7.3). The audit key that signs registrations and
 * checkpoints, and the decisions signer that signs batch statements, are trusted because a
 * statement signed by the pinned root, stored in the checkpoint store itself (keysets/…),
 * certifies them — never because a key file was handed over beside the evidence.
 */
import { join } from 'node:path';
import type { CliDeps } from '../context.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import { InputError, UsageError } from '../errors.js';
import { exists, isDirectory } from '../io/files.js';
import type { CheckpointStore } from '../audit/checkpoint-store.js';
import { FileCheckpointStore } from '../audit/checkpoint-store-file.js';
import { assessCheckpoints, readCheckpointEvidence, type CheckpointAssessment } from '../audit/checkpoint-verify.js';
import { certifiedSigners, type CertifiedKey, type CertifiedSigners } from '../audit/checkpoint-trust.js';
import type { TrustedSigners } from '../audit/audit-verify.js';
import { s3CheckpointStore } from '../aws/checkpoint-store-s3.js';
import { readPublicKey } from '../keys/key-dir.js';
import { ROOT_FILES } from '../keys/key-set-files.js';
import { LOCAL_ROOT_DIR } from '../local/local-keys.js';
import { resolvePath, type AuditSource, type SourceFlags } from './audit-source.js';

/** SPEC §9: where the local stack writes its registrations and checkpoints. */
export const LOCAL_CHECKPOINTS = 'checkpoints';

export interface CheckpointFlags {
  checkpoints?: string;
  /** the root fingerprint (SPEC §1.4): the only trust anchor of the checkpoints */
  pin?: string;
}

/**
 * The checkpoint store to compare with (SPEC §8.11): --checkpoints s3://BUCKET[/PREFIX] or a
 * folder; with --state, STATE/checkpoints when the stack wrote one. Undefined: none given.
 */
export async function openCheckpointStore(
  flags: CheckpointFlags & SourceFlags,
  source: AuditSource,
  deps: CliDeps,
): Promise<{ store: CheckpointStore; close(): void } | undefined> {
  let where = flags.checkpoints;
  if (!where && source.stateDir && (await isDirectory(join(source.stateDir, LOCAL_CHECKPOINTS)))) where = join(source.stateDir, LOCAL_CHECKPOINTS);
  if (!where) return undefined;
  if (where.startsWith('s3://')) {
    return s3CheckpointStore(where, deps.env, { profile: flags.profile, region: flags.region });
  }
  const dir = resolvePath(deps, where);
  if (!(await isDirectory(dir))) throw new InputError('CHECKPOINTS_NOT_FOUND', `${where} is not a folder of checkpoints`, { hint: 'give s3://BUCKET[/PREFIX] or the folder the worker writes (STATE/checkpoints for local up)' });
  return { store: new FileCheckpointStore(dir), close: () => {} };
}

/** --pin, else with --state the local stack's own root (STATE/root): the stack trusts itself. */
export async function auditPin(p: CryptoProvider, pin: string | undefined, source: AuditSource): Promise<string> {
  if (pin !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(pin)) throw new UsageError('BAD_PIN', '--pin is not a root fingerprint (64 hex digits)', { hint: 'the root fingerprint from `ima-qs keys generate` (its report, or keys show ROOT_DIR)' });
    return pin.toLowerCase();
  }
  const local = source.stateDir ? join(source.stateDir, LOCAL_ROOT_DIR, ROOT_FILES.public) : undefined;
  if (local && (await exists(local))) return fingerprint('ML-DSA-87', await readPublicKey(p, local, 'ML-DSA-87'));
  throw new UsageError('AUDIT_PIN_REQUIRED', 'checking checkpoints needs the root pin: the audit key is trusted only through a statement the root signed', {
    hint: 'pass --pin ROOT_FINGERPRINT (what clients pin; SPEC §7.3)',
  });
}

export interface CheckpointTrust {
  assessment?: CheckpointAssessment;
  certified?: CertifiedSigners;
}

/** Reads and judges the checkpoint store against the root pin (undefined members: no store). */
export async function checkpointTrust(p: CryptoProvider, o: CheckpointFlags & SourceFlags, source: AuditSource, deps: CliDeps): Promise<CheckpointTrust> {
  const cpStore = await openCheckpointStore(o, source, deps);
  if (!cpStore) {
    if (o.pin !== undefined) throw new UsageError('USAGE', '--pin goes with --checkpoints (or --state with STATE/checkpoints)');
    return {};
  }
  try {
    const pin = await auditPin(p, o.pin, source);
    const evidence = await readCheckpointEvidence(cpStore.store);
    const certified = certifiedSigners(p, pin, evidence.objects);
    return { assessment: assessCheckpoints(p, evidence, certified), certified };
  } finally {
    cpStore.close();
  }
}

/**
 * The batch-statement signers: --key (or STATE/keys), and every decisions signer the root
 * certified — those only for statements dated inside a certifying statement's span.
 */
export function withCertifiedSigners(given: TrustedSigners | undefined, certified: CertifiedSigners | undefined): TrustedSigners {
  const out = new Map(given ?? []);
  const validity = new Map<string, CertifiedKey['windows']>();
  if (certified) {
    for (const [fp, c] of certified.decisions) {
      if (out.has(fp)) continue; // given explicitly: trusted as given
      out.set(fp, c.key);
      validity.set(fp, c.windows);
    }
  }
  return Object.assign(out, { validity });
}
