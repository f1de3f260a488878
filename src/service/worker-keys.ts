/**
 * The worker's keys (SPEC §7.2, §7.5, §8.8): the key ring over KEYS_DIR or the key-set secret, and
 * the decisions signer (a key the ring holds, or an ML-DSA-87 key in KMS).
 *
 * The main thread holds one ring: it watches for a rotation of the signer and feeds the checkpoint
 * writer. Each pipeline thread (pipelines.ts) opens its own ring from the same source, described
 * by a structured-clonable `KeySourceSpec`, and its own signer from a `SignerSpec` naming the same
 * key: a thread opens requests sealed to any generation it holds (reloading on an unknown one) and
 * certifies its decisions with the newest generation that certifies the signer, without a round
 * trip to the main thread. The private keys never cross a thread boundary as messages.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig, type AwsClientConfig, type Env } from '../aws/config.js';
import { SecretsKeySetSource } from '../aws/keyset-secret.js';
import { KmsSigner, KmsSigningKey } from '../aws/kms-signer.js';
import { SecretsManagerStore } from '../aws/secret-store.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { InlineSigner, type Signer } from '../crypto/signer.js';
import { PreconditionError, toImaError } from '../errors.js';
import { KeyRing, type KeySetSource } from '../keys/key-ring.js';
import { DirKeySetSource } from '../keys/key-set-dir-source.js';
import type { WorkerConfig } from './config.js';
import type { Logger } from './log.js';
import type { PipelineDeps } from './worker/pipeline.js';

/** Where the key sets are read from (plain data: it crosses to the pipeline threads). */
export type KeySourceSpec = { kind: 'dir'; dir: string } | { kind: 'secrets'; prefix: string; client: AwsClientConfig };

/** Which decisions signer to sign with (plain data). */
export type SignerSpec = { kind: 'keyset'; fingerprint: string } | { kind: 'kms'; keyArn: string; client: AwsClientConfig };

export function keySourceSpec(config: Pick<WorkerConfig, 'keys'>, env: Env): KeySourceSpec {
  if ('dir' in config.keys) return { kind: 'dir', dir: config.keys.dir };
  return { kind: 'secrets', prefix: config.keys.prefix, client: awsClientConfig('SECRETS_MANAGER', {}, env) };
}

export function openKeySource(p: CryptoProvider, spec: KeySourceSpec): KeySetSource {
  if (spec.kind === 'dir') return new DirKeySetSource(p, spec.dir);
  return new SecretsKeySetSource(p, new SecretsManagerStore(new SecretsManagerClient(spec.client)), spec.prefix);
}

/** The worker's key-set source: KEYS_DIR (a certified folder or a folder of generations) or the key-set secret. */
export function keySetSource(p: CryptoProvider, config: Pick<WorkerConfig, 'keys'>, env: Env): KeySetSource {
  return openKeySource(p, keySourceSpec(config, env));
}

/**
 * The signer a `SignerSpec` names: for `keyset`, the decisions key of a generation the ring holds
 * whose certified signer has that fingerprint; for `kms`, the KMS key.
 */
export async function openSigner(p: CryptoProvider, ring: KeyRing, spec: SignerSpec): Promise<Signer> {
  if (spec.kind === 'kms') return KmsSigner.open(p, new KmsSigningKey(new KMSClient(spec.client)), spec.keyArn);
  const held = ring.sets.find((x) => x.decisionsKey && fingerprint('ML-DSA-87', x.decisions) === spec.fingerprint);
  if (!held?.decisionsKey) {
    throw new PreconditionError('SIGNER_NOT_HELD', `no generation in ${ring.sourceName} holds the decisions key ${spec.fingerprint.slice(0, 16)}…`);
  }
  return new InlineSigner(p, held.decisionsKey);
}

export interface WorkerKeys {
  ring: KeyRing;
  signer: Signer;
  signerFingerprint: string;
  /** what a pipeline thread opens the same ring and signer from */
  source: KeySourceSpec;
  signerSpec: SignerSpec;
  /** the audit signer the checkpoint writer runs with: a newer generation certifying another one stops the task */
  watchAudit(fingerprintHex: string): void;
  close(): Promise<void>;
}

export interface WorkerKeyOptions {
  /** the key ring's reload period (default 60 s) */
  reloadMs?: number;
  /**
   * told when the newest generation certifies another decisions signer than the one this worker
   * runs with (a Secrets Manager signer rotated), or another audit signer than its checkpoint
   * writer's: the container stops, ECS starts a fresh task
   */
  onSignerRotated?: (info: { generation: number; fingerprint: string; purpose: 'decisions' | 'audit' }) => void;
}

/** Opens the ring and the signer, and checks that a generation valid now certifies the signer. */
export async function openWorkerKeys(p: CryptoProvider, config: WorkerConfig, env: Env, log: Logger, opts: WorkerKeyOptions = {}): Promise<WorkerKeys> {
  let signerFp = '';
  let auditFp = '';
  const source = keySourceSpec(config, env);
  const ring = await KeyRing.open(p, openKeySource(p, source), {
    reloadMs: opts.reloadMs,
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
    if (!held) {
      ring.stop();
      throw new PreconditionError('SIGNER_NOT_HELD', `no valid generation in ${ring.sourceName} holds its decisions signer's private key`, {
        hint: 'the statement certifies a signer held elsewhere: set SIGNER=kms:<key arn> (SPEC §8.8)',
      });
    }
    signerSpec = { kind: 'keyset', fingerprint: fingerprint('ML-DSA-87', held.decisions) };
  }
  let signer: Signer;
  try {
    signer = await openSigner(p, ring, signerSpec);
  } catch (err) {
    ring.stop();
    throw err;
  }
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
  return {
    ring,
    signer,
    signerFingerprint: signerFp,
    source,
    signerSpec,
    watchAudit: (fp) => (auditFp = fp),
    close: async () => {
      ring.stop();
      await signer.close();
    },
  };
}

/**
 * What a pipeline takes from a key ring: the current generation's KEM key, the KEM key of every
 * held generation by fingerprint, the certification of a decisions signer at a time, and the
 * public key of a signer some held generation certifies.
 */
export function ringKeys(ring: KeyRing): Pick<PipelineDeps, 'recipientKey' | 'recipientFor' | 'certification' | 'signerKeyFor'> {
  return {
    recipientKey: ring.sets.find((x) => x.stage === 'current')!.recipient,
    recipientFor: (fp) => ring.recipientFor(fp),
    certification: (at, key) => ring.certificationFor(key, at),
    signerKeyFor: (fp) => ring.decisionsKeyOf(fp),
  };
}
