/**
 * The worker's keys (SPEC §7.2, §7.3, §8.8 SIGNER): the key ring of generations (KEYS_DIR or the
 * key-set secret), the decisions signer (the key set's own key, or a KMS key), and what a
 * pipeline thread needs to build the same: plain data (`KeySetSpec`, `SignerSpec`) that crosses a
 * thread boundary. Each pipeline thread opens its own ring on the same source (pipeline-thread.ts):
 * it finds a request's generation and certifies its decisions the way this thread's ring does.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig, type AwsClientConfig, type Env } from '../aws/config.js';
import { SecretsKeySetSource } from '../aws/keyset-secret.js';
import { KmsSigner, KmsSigningKey } from '../aws/kms-signer.js';
import { SecretsManagerStore } from '../aws/secret-store.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { InlineSigner, type Signer } from '../crypto/signer.js';
import { PreconditionError, toImaError } from '../errors.js';
import { KeyRing, type HeldKeySet, type KeySetSource } from '../keys/key-ring.js';
import { DirKeySetSource } from '../keys/key-set-dir-source.js';
import type { WorkerConfig } from './config.js';
import type { Logger } from './log.js';

/** Where the generations come from, as plain data. */
export type KeySetSpec = { kind: 'dir'; dir: string } | { kind: 'secrets'; prefix: string; client: AwsClientConfig };

/** The decisions signer, as plain data: the key set's private key, or a KMS key. */
export type SignerSpec = { kind: 'key'; key: MlDsaPrivateKey } | { kind: 'kms'; keyArn: string; client: AwsClientConfig };

export function keySetSpec(config: WorkerConfig, env: Env): KeySetSpec {
  if ('dir' in config.keys) return { kind: 'dir', dir: config.keys.dir };
  return { kind: 'secrets', prefix: config.keys.prefix, client: awsClientConfig('SECRETS_MANAGER', {}, env) };
}

export function keySetSourceFrom(p: CryptoProvider, spec: KeySetSpec): KeySetSource {
  if (spec.kind === 'dir') return new DirKeySetSource(p, spec.dir);
  return new SecretsKeySetSource(p, new SecretsManagerStore(new SecretsManagerClient(spec.client)), spec.prefix);
}

/** The worker's key-set source: KEYS_DIR (a certified folder or a folder of generations) or the key-set secret. */
export function keySetSource(p: CryptoProvider, config: WorkerConfig, env: Env): KeySetSource {
  return keySetSourceFrom(p, keySetSpec(config, env));
}

/** A private key that crossed a thread boundary: its native handle made again from the seed. */
export function rehydrateMlDsa(p: CryptoProvider, key: MlDsaPrivateKey): MlDsaPrivateKey {
  return key.seed ? p.mldsa87.fromSeed(key.seed) : p.mldsa87.fromExpanded(key.expandedKey!);
}

/** The Signer a spec names (a pipeline thread's own). */
export async function signerFrom(p: CryptoProvider, spec: SignerSpec): Promise<Signer> {
  if (spec.kind === 'key') return new InlineSigner(p, rehydrateMlDsa(p, spec.key));
  return KmsSigner.open(p, new KmsSigningKey(new KMSClient(spec.client)), spec.keyArn);
}

export interface WorkerKeys {
  ring: KeyRing;
  /** this thread's signer (inline pipelines, the start checks) */
  signer: Signer;
  signerSpec: SignerSpec;
  signerFingerprint: string;
  /** the current generation (its KEM key: the default recipient; its public key: the audit recipient by default) */
  current: HeldKeySet;
  /** the audit key's fingerprint once the checkpoint writer holds it (rotation of it stops the task) */
  setAuditFingerprint(fp: string): void;
}

export interface WorkerKeysOptions {
  /** the key ring's reload period (default 60 s) */
  reloadMs?: number;
  /** told when the newest generation certifies another decisions or audit signer than this worker's */
  onSignerRotated?: (info: { generation: number; fingerprint: string; purpose: 'decisions' | 'audit' }) => void;
}

/**
 * Opens the ring and the signer, and checks that a generation valid now certifies the signer
 * (SIGNER_NOT_HELD / SIGNER_NOT_CERTIFIED otherwise: exit 5, no response would verify).
 */
export async function openWorkerKeys(p: CryptoProvider, config: WorkerConfig, env: Env, log: Logger, opts: WorkerKeysOptions = {}): Promise<WorkerKeys> {
  let signerFp = '';
  let auditFp = '';
  const ring = await KeyRing.open(p, keySetSource(p, config, env), {
    ...(opts.reloadMs !== undefined ? { reloadMs: opts.reloadMs } : {}),
    onReloadError: (err) => log.log('warn', 'key set reload failed; keeping the generations held', { code: toImaError(err).code }),
    onChange: (r) => {
      log.log('info', 'key set generations changed', { held: r.sets.map((x) => `${x.stage}:${x.generation}`) });
      const newest = r.newest(Date.now());
      const signers = newest?.keyset.statement.signers;
      if (newest && signers && signerFp && signers.decisions.fingerprint !== signerFp && newest.decisionsKey) {
        opts.onSignerRotated?.({ generation: newest.generation, fingerprint: signers.decisions.fingerprint, purpose: 'decisions' });
      } else if (newest && signers && auditFp && signers.audit.fingerprint !== auditFp) {
        // the checkpoint writer signs with the audit key it started with: a fresh task takes the new one
        opts.onSignerRotated?.({ generation: newest.generation, fingerprint: signers.audit.fingerprint, purpose: 'audit' });
      }
    },
  });
  const now = Date.now();
  let signerSpec: SignerSpec;
  if (config.signer.kind === 'kms') {
    signerSpec = { kind: 'kms', keyArn: config.signer.keyArn, client: awsClientConfig('KMS', {}, env) };
  } else {
    const held = ring.sets.find((x) => x.decisionsKey && x.notBefore <= now && now <= x.notAfter);
    if (!held?.decisionsKey) {
      ring.stop();
      throw new PreconditionError('SIGNER_NOT_HELD', `no valid generation in ${ring.sourceName} holds its decisions signer's private key`, {
        hint: 'the statement certifies a signer held elsewhere: set SIGNER=kms:<key arn> (SPEC §8.8)',
      });
    }
    signerSpec = { kind: 'key', key: held.decisionsKey };
  }
  const signer = signerSpec.kind === 'key' ? new InlineSigner(p, signerSpec.key) : await signerFrom(p, signerSpec);
  signerFp = fingerprint('ML-DSA-87', signer.publicKey);
  try {
    // Precondition: a generation valid now certifies this signer (else no response would verify)
    ring.certificationFor(signer.publicKey, now);
  } catch (err) {
    ring.stop();
    await signer.close();
    throw new PreconditionError('SIGNER_NOT_CERTIFIED', `no valid generation in ${ring.sourceName} certifies the signer ${signerFp.slice(0, 16)}…`, {
      hint: config.signer.kind === 'kms' ? 'certify the KMS key with the root (ima-qs keys certify --kms-signer FILE) and publish that generation' : 'upload a current key set (ima-qs keys upload)',
      cause: err,
    });
  }
  const current = ring.sets.find((x) => x.stage === 'current')!;
  return {
    ring,
    signer,
    signerSpec,
    signerFingerprint: signerFp,
    current,
    setAuditFingerprint: (fp) => {
      auditFp = fp;
    },
  };
}
