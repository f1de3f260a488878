/**
 * The pipelines of `local up` (SPEC §9): `workers` pipelines, each on its own thread with its own
 * audit chain `local/<i>` (the worker's layout, pipelines.ts), or with 0 one pipeline on the
 * calling thread (its council in-process, without a budget: debugging). Every stored decision is
 * handed to the proxy's in-process waiter (held polls); every stored batch statement goes to
 * `onBatch` (the stack's checkpoint writer, SPEC §8.11).
 */
import { AuditChain } from '../audit/audit-chain.js';
import type { TableAuditStore } from '../audit/audit-store.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Signer } from '../crypto/signer.js';
import type { KeyRing } from '../keys/key-ring.js';
import { systemClock, type Table } from '../ports.js';
import type { SignedBatch } from '../protocol/batch-statement.js';
import { DEFAULT_TABLES } from '../protocol/records.js';
import { DEFAULT_MAX_SKEW_MS } from '../protocol/request.js';
import { DEFAULT_COUNCIL_BUDGET_MS, type CouncilModelSpec } from '../service/council/budget-council.js';
import { RulesModel } from '../service/council/councils.js';
import type { Logger } from '../service/log.js';
import { notifyingTable, type InProcessDecisionWaiter } from '../service/proxy/decision-waiter.js';
import { DEFAULT_CLAIM_LEASE_MS } from '../service/worker/pipeline.js';
import { InlinePipeline, ThreadPipeline, type PipelineRunner } from '../service/worker/pipelines.js';
import { ringKeys, type KeySourceSpec, type SignerSpec } from '../service/worker-keys.js';
import { ThreadLock } from '../tpm/pcr-lock.js';
import type { PcrBank } from '../tpm/pcr-bank.js';

export interface LocalPipelinesOptions {
  p: CryptoProvider;
  /** this thread's ring and signer (the inline pipeline), and what each thread opens its own from */
  ring: KeyRing;
  signer: Signer;
  keySource: KeySourceSpec;
  signerSpec: SignerSpec;
  keyReload: { reloadMs: number; minReloadGapMs?: number };
  signerFingerprint: string;
  recipient: { publicKey: Uint8Array; fingerprint: string };
  /** the chains' base (`local`): pipeline i appends to `<base>/<i>` */
  base: string;
  workers: number;
  /** with 0 workers: the tables and the bank on this thread */
  inline: { requests: Table; decisions: Table; auditStore: TableAuditStore; bank: PcrBank };
  /** with threads: the local tables' endpoint and how each thread opens the PCR bank */
  dynamoUrl: string;
  anchor: { kind: 'tpm'; tcti: string; env: Record<string, string | undefined> } | { kind: 'simulated'; stateFile: string };
  pcr: number;
  councilModel?: CouncilModelSpec;
  councilBudgetMs?: number;
  waiter: InProcessDecisionWaiter;
  onBatch: (chain: string, signed: SignedBatch, head: string) => void;
  log: Logger;
}

export function localChain(base: string, i: number): string {
  return `${base}/${i}`;
}

/** Starts the pipelines; on a failed start the ones started are closed again. */
export async function startLocalPipelines(o: LocalPipelinesOptions): Promise<PipelineRunner[]> {
  const shared = ThreadLock.buffer();
  if (o.workers === 0) {
    const { signer, ring } = o;
    const chain = localChain(o.base, 0);
    return [
      new InlinePipeline({
        p: o.p,
        ...ringKeys(ring),
        signer,
        signerFingerprint: o.signerFingerprint,
        model: new RulesModel(),
        requests: o.inline.requests,
        decisions: notifyingTable(o.inline.decisions, o.waiter),
        clock: systemClock,
        log: o.log,
        audit: new AuditChain(o.p, {
          chain,
          store: o.inline.auditStore,
          pcrBank: o.inline.bank,
          pcr: o.pcr,
          bank: 'sha256',
          signer,
          signerFingerprint: o.signerFingerprint,
          recipient: o.recipient.publicKey,
          recipientFingerprint: o.recipient.fingerprint,
          clock: systemClock,
          pcrLock: new ThreadLock(shared, 1),
          onBatch: (signed, head) => o.onBatch(chain, signed, head),
        }),
      }),
    ];
  }
  const dynamo = { endpoint: o.dynamoUrl, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 4 };
  const started = await Promise.allSettled(
    Array.from({ length: o.workers }, (_, i) =>
      ThreadPipeline.start(
        {
          index: i,
          chain: localChain(o.base, i),
          keySource: o.keySource,
          signer: o.signerSpec,
          keyReload: o.keyReload,
          signerFingerprint: o.signerFingerprint,
          dynamo,
          tables: DEFAULT_TABLES,
          anchor: o.anchor.kind === 'tpm' ? { kind: 'tpm', tcti: o.anchor.tcti, env: { ...o.anchor.env } } : o.anchor,
          pcr: o.pcr,
          bank: 'sha256',
          lock: { shared },
          recipient: o.recipient,
          model: o.councilModel ?? { kind: 'rules' },
          councilBudgetMs: o.councilBudgetMs ?? DEFAULT_COUNCIL_BUDGET_MS,
          maxSkewMs: DEFAULT_MAX_SKEW_MS,
          claimLeaseMs: DEFAULT_CLAIM_LEASE_MS,
          notifyStored: true,
          observeBatches: true,
        },
        { log: o.log, onStored: (handle, item) => o.waiter.notify(handle, item), onBatch: o.onBatch },
      ),
    ),
  );
  const pipelines = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(pipelines.map((x) => x.close()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return pipelines;
}
