/**
 * The worker's audit identity (SPEC §8.7, §8.8, §8.11): the base chain id its pipelines append
 * under (`<base>/<i>`), and the checkpoint writer that registers every pipeline chain before its
 * first entry and checkpoints them with the audit key (worker-keys.ts: the one its generation certifies). The writer lives on the worker's main
 * thread: the pipeline threads (which open hostile requests) never hold the audit key; they post
 * each stored batch statement to it (pipelines.ts `onBatch`).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { hostname } from 'node:os';
import { checkChainId } from '../audit/audit-entry.js';
import { FileCheckpointStore } from '../audit/checkpoint-store-file.js';
import { CheckpointWriter } from '../audit/checkpoint-writer.js';
import { dynamoAuditStore } from '../aws/audit-store-dynamo.js';
import { s3CheckpointStore } from '../aws/checkpoint-store-s3.js';
import type { Env } from '../aws/config.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { RemoteError } from '../errors.js';
import { auditSigningKey } from '../keys/audit-key.js';
import { systemClock } from '../ports.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import type { WorkerConfig } from './config.js';
import type { Logger } from './log.js';
import type { WorkerKeys } from './worker-keys.js';

export type ChainIdSource = 'AUDIT_CHAIN_ID' | 'ecs-task' | 'hostname';

/** Audit chain of pipeline `i` (SPEC §8.7): `<AUDIT_CHAIN_ID>/<i>`. */
export function pipelineChain(base: string, i: number): string {
  return `${base}/${i}`;
}

/**
 * The worker's chain id (SPEC §8.8, §8.11): AUDIT_CHAIN_ID; else on ECS the task id (the last part
 * of the TaskARN from the task metadata endpoint v4: unique per task, what the registry lists);
 * else, outside ECS, the host name. On ECS a failed metadata read stops the start: a Fargate
 * task's host name is neither stable nor meaningful to an auditor. The pipelines' chains are
 * `<id>/<i>` (a 1–3 digit suffix: the id leaves room for it).
 */
export async function auditChainId(config: Pick<WorkerConfig, 'auditChainId' | 'ecsMetadataUri'>, fetchImpl: typeof fetch): Promise<{ id: string; source: ChainIdSource }> {
  if (config.auditChainId) return { id: config.auditChainId, source: 'AUDIT_CHAIN_ID' };
  if (!config.ecsMetadataUri) return { id: checkChainId(hostname().slice(0, 124)), source: 'hostname' };
  const fail = (why: string, cause?: unknown) =>
    new RemoteError('ECS_METADATA_FAILED', `reading the task id from the ECS task metadata endpoint failed: ${why}`, {
      hint: 'set AUDIT_CHAIN_ID, or check that the task runs on ECS (the agent sets ECS_CONTAINER_METADATA_URI_V4)',
      ...(cause ? { cause } : {}),
    });
  let text: string;
  try {
    const res = await fetchImpl(`${config.ecsMetadataUri.replace(/\/$/, '')}/task`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
    if (res.status !== 200) throw fail(`status ${res.status}`);
    text = await res.text();
  } catch (err) {
    throw err instanceof RemoteError ? err : fail('no answer', err);
  }
  if (text.length > 1 << 20) throw fail('the answer is over 1 MiB');
  let arn: unknown;
  try {
    arn = (parseStrictJson(text) as { TaskARN?: unknown }).TaskARN;
  } catch {
    throw fail('the answer is not JSON');
  }
  // arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/TASK_ID (or the old task/TASK_ID)
  const m = typeof arn === 'string' ? /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/(?:[A-Za-z0-9_-]{1,255}\/)?([A-Za-z0-9-]{1,64})$/.exec(arn) : null;
  if (!m) throw fail('TaskARN is not an ECS task ARN');
  return { id: m[1], source: 'ecs-task' };
}

/**
 * SPEC §8.11: with AUDIT_CHECKPOINTS, the checkpoint writer (the only user of the audit key: the
 * one the generation certifying the worker's signer certifies, SPEC §7.3) with every chain in
 * `chains` registered before its first entry (the statements that certify its audit key stored
 * first); undefined without AUDIT_CHECKPOINTS (main.ts warns).
 */
export async function workerCheckpoints(
  p: CryptoProvider,
  config: WorkerConfig,
  env: Env,
  o: { dynamo: DynamoDBClient; log: Logger; chains: readonly string[]; keys: WorkerKeys },
): Promise<CheckpointWriter | undefined> {
  if (!config.checkpoints) return undefined;
  const { ring, signer } = o.keys;
  const held = ring.auditKeyFor(signer.publicKey, Date.now());
  const loc = config.checkpoints.location;
  const writer = new CheckpointWriter(p, {
    store: loc.startsWith('s3://') ? s3CheckpointStore(loc, env).store : new FileCheckpointStore(loc),
    audit: dynamoAuditStore(o.dynamo, config.tables.audit),
    key: auditSigningKey(held.key, `${ring.sourceName} generation ${held.generation}`),
    certifications: () => ring.certifications(),
    clock: systemClock,
    everyEntries: config.checkpoints.everyEntries,
    everyMs: config.checkpoints.everySeconds * 1000,
    log: o.log,
  });
  // registered before the chains' first entries (the consumer has not started)
  for (const chain of o.chains) await writer.register(chain, o.keys.signerFingerprint);
  o.keys.watchAudit(writer.signer);
  return writer;
}
