/**
 * One pipeline thread (pipelines.ts): builds its pipeline from the `PipelineSpec` it was started
 * with — its own key ring and signer (worker-keys.ts), its own DynamoDB client, its own audit
 * chain, the PCR lock it shares, its budgeted council thread, inline ML-DSA signing — then decides the batches the main thread posts to it.
 * Messages in: {type:'batch', id, bodies} · {type:'close'}. Out: ready/failed, done, log, stored, statement, closed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parentPort, workerData } from 'node:worker_threads';
import { AuditChain } from '../../audit/audit-chain.js';
import { AUDIT_KEY, TableAuditStore } from '../../audit/audit-store.js';
import { DynamoTable } from '../../aws/dynamo-table.js';
import { getProvider } from '../../crypto/providers.js';
import type { Signer } from '../../crypto/signer.js';
import { KeyRing } from '../../keys/key-ring.js';
import { toImaError } from '../../errors.js';
import { systemClock, type Item, type Table } from '../../ports.js';
import type { SignedBatch } from '../../protocol/batch-statement.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../../protocol/records.js';
import { FileLock, ThreadLock, bothLocks, type PcrLock } from '../../tpm/pcr-lock.js';
import type { PcrBank } from '../../tpm/pcr-bank.js';
import { SimulatedBank } from '../../tpm/simulated-bank.js';
import { Tpm2ToolsBank } from '../../tpm/tpm2-tools.js';
import { BudgetedCouncil } from '../council/budget-council.js';
import { HttpPersonaModel } from '../council/persona-model-http.js';
import type { PersonaModel } from '../../protocol/council/types.js';
import type { Logger } from '../log.js';
import { notifyingTable } from '../proxy/decision-waiter.js';
import { processBatch, type PipelineDeps } from './pipeline.js';
import type { PipelineSpec } from './pipelines.js';
import { openKeySource, openSigner, ringKeys } from '../worker-keys.js';

const spec = workerData as PipelineSpec;
const port = parentPort!;

async function build(): Promise<{ deps: PipelineDeps; close(): Promise<void> }> {
  const p = getProvider('node');
  // this thread's own ring over the same key sets as the main thread's (worker-keys.ts)
  const ring = await KeyRing.open(p, openKeySource(p, spec.keySource), spec.keyReload);
  let signer: Signer;
  try {
    signer = await openSigner(p, ring, spec.signer);
  } catch (err) {
    ring.stop();
    throw err;
  }
  const dynamo = new DynamoDBClient(spec.dynamo);
  const requests = new DynamoTable(dynamo, spec.tables.requests, REQUESTS_KEY);
  let decisions: Table = new DynamoTable(dynamo, spec.tables.decisions, DECISIONS_KEY);
  if (spec.notifyStored) {
    decisions = notifyingTable(decisions, { notify: (handle: string, item?: Item) => item && port.postMessage({ type: 'stored', handle, item }) });
  }
  const log: Logger = { log: (level, msg, fields = {}) => port.postMessage({ type: 'log', level, msg, fields }) };
  const bank: PcrBank = spec.anchor.kind === 'tpm' ? new Tpm2ToolsBank({ env: spec.anchor.env, tcti: spec.anchor.tcti }) : new SimulatedBank(spec.anchor.stateFile);
  let pcrLock: PcrLock = new ThreadLock(spec.lock.shared, spec.index + 1);
  if (spec.lock.file) pcrLock = bothLocks(pcrLock, new FileLock(spec.lock.file));
  let model: PersonaModel;
  let council: BudgetedCouncil | undefined;
  if (spec.model.kind === 'http') {
    const token = spec.model.token;
    model = new HttpPersonaModel({ url: spec.model.url, ...(token !== undefined ? { token: async () => token } : {}) });
  } else {
    model = council = await BudgetedCouncil.start(spec.model, { budgetMs: spec.councilBudgetMs });
  }
  const deps: PipelineDeps = {
    p,
    ...ringKeys(ring),
    signer,
    signerFingerprint: spec.signerFingerprint,
    model,
    requests,
    decisions,
    clock: systemClock,
    log,
    maxSkewMs: spec.maxSkewMs,
    claimLeaseMs: spec.claimLeaseMs,
    audit: new AuditChain(p, {
      chain: spec.chain,
      store: new TableAuditStore(new DynamoTable(dynamo, spec.tables.audit, AUDIT_KEY)),
      pcrBank: bank,
      pcr: spec.pcr,
      bank: spec.bank,
      signer,
      signerFingerprint: spec.signerFingerprint,
      recipient: spec.recipient.publicKey,
      recipientFingerprint: spec.recipient.fingerprint,
      clock: systemClock,
      pcrLock,
      ...(spec.observeBatches ? { onBatch: (signed: SignedBatch, head: string) => port.postMessage({ type: 'statement', signed, head }) } : {}),
    }),
  };
  return {
    deps,
    close: async () => {
      await council?.close();
      dynamo.destroy();
      ring.stop();
      await signer.close();
    },
  };
}

try {
  const { deps, close } = await build();
  port.on('message', (m: { type: 'batch'; id: number; bodies: string[] } | { type: 'close' }) => {
    if (m.type === 'batch') {
      processBatch(deps, m.bodies).then(
        (outcomes) => port.postMessage({ type: 'done', id: m.id, outcomes }),
        (err) => {
          // processBatch settles every message itself; this is a bug: the batch comes back
          const e = toImaError(err);
          deps.log.log('error', 'pipeline batch failed', { code: e.code, error: e.message });
          port.postMessage({ type: 'done', id: m.id, outcomes: m.bodies.map(() => ({ status: 'retry', code: e.code })) });
        },
      );
    } else if (m.type === 'close') {
      void close().finally(() => port.postMessage({ type: 'closed' }));
    }
  });
  port.postMessage({ type: 'ready' });
} catch (err) {
  const e = toImaError(err);
  port.postMessage({ type: 'failed', error: { errorClass: e.errorClass, code: e.code, message: e.message } });
}
