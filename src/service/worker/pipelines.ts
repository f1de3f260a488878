/**
 * Pipelines per core (SPEC §8.8 WORKER_PIPELINES, issue 13.1): the worker runs N pipelines, each
 * on its own worker thread with its own audit chain `<AUDIT_CHAIN_ID>/<i>`, its own table client
 * and its own budgeted council thread, signing inline; one queue consumer (consumer.ts) on the
 * main thread feeds them, renews visibility and writes the heartbeat. The threads share nothing
 * but the PCR lock (pcr-lock.ts: a word in shared memory, plus a host-wide lock file when set).
 *
 * `PipelineRunner` is what the consumer drives: a `ThreadPipeline` (the worker, `local up`) or an
 * `InlinePipeline` on the calling thread (unit tests, embedding).
 */
import { Worker } from 'node:worker_threads';
import type { AnchorBank } from '../../protocol/anchor-math.js';
import type { Env } from '../../aws/config.js';
import { ImaError } from '../../errors.js';
import type { Item } from '../../ports.js';
import type { SignedBatch } from '../../protocol/batch-statement.js';
import { ThreadLock } from '../../tpm/pcr-lock.js';
import type { CouncilModelSpec } from '../council/budget-council.js';
import type { Level, Logger } from '../log.js';
import { processBatch, type Outcome, type PipelineDeps } from './pipeline.js';
import { threadModule } from './thread-module.js';
import type { KeySourceSpec, SignerSpec } from '../worker-keys.js';

export interface PipelineRunner {
  /** the audit chain this pipeline appends to */
  readonly chain: string;
  /** one batch at a time: outcomes in the order of `bodies` */
  process(bodies: string[]): Promise<Outcome[]>;
  close(): Promise<void>;
}

/** The pipeline on the calling thread. */
export class InlinePipeline implements PipelineRunner {
  constructor(readonly deps: PipelineDeps) {}

  get chain(): string {
    return this.deps.audit.chain;
  }

  process(bodies: string[]): Promise<Outcome[]> {
    return processBatch(this.deps, bodies);
  }

  async close(): Promise<void> {}
}

/** A DynamoDB client configuration that crosses a thread boundary (plain data). */
export interface DynamoClientSpec {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
  retryMode?: 'standard' | 'adaptive';
  requestHandler?: { connectionTimeout: number; requestTimeout: number };
}

/** Everything a pipeline thread builds its pipeline from (structured-clonable). */
export interface PipelineSpec {
  index: number;
  chain: string;
  /** the key sets (the thread opens its own ring: worker-keys.ts) and the decisions signer it names */
  keySource: KeySourceSpec;
  signer: SignerSpec;
  keyReload: { reloadMs: number; minReloadGapMs?: number };
  signerFingerprint: string;
  dynamo: DynamoClientSpec;
  tables: { requests: string; decisions: string; audit: string };
  anchor: { kind: 'tpm'; tcti?: string; env: Env } | { kind: 'simulated'; stateFile: string };
  pcr: number;
  bank: AnchorBank;
  /** the process-wide PCR lock word (ThreadLock.buffer()) and, host-wide, a lock file */
  lock: { shared: SharedArrayBuffer; file?: string };
  /** the audit recipient (composite public key) and its fingerprint */
  recipient: { publicKey: Uint8Array; fingerprint: string };
  model: CouncilModelSpec | { kind: 'http'; url: string; token?: string };
  councilBudgetMs: number;
  maxSkewMs: number;
  claimLeaseMs: number;
  /** post each stored decision to the main thread (local up wakes held polls with it) */
  notifyStored: boolean;
  /** post each stored batch statement to the main thread (its checkpoint writer: SPEC §8.11) */
  observeBatches: boolean;
}

export interface PipelineHooks {
  log: Logger;
  /** a decision or refusal was stored (with the stored item) */
  onStored?: (handle: string, item: Item) => void;
  /** a batch statement of `chain` was stored, its last entry's digest `head` (the checkpoint writer) */
  onBatch?: (chain: string, signed: SignedBatch, head: string) => void;
}

type FromThread =
  | { type: 'ready' }
  | { type: 'failed'; error: { errorClass: string; code: string; message: string } }
  | { type: 'done'; id: number; outcomes: Outcome[] }
  | { type: 'log'; level: Level; msg: string; fields: Record<string, unknown> }
  | { type: 'stored'; handle: string; item: Item }
  | { type: 'statement'; signed: SignedBatch; head: string }
  | { type: 'closed' };

/** One pipeline on its own worker thread; a thread that dies is replaced (its chain reopens from the store). */
export class ThreadPipeline implements PipelineRunner {
  private worker!: Worker;
  private seq = 0;
  private readonly pending = new Map<number, { resolve(o: Outcome[]): void; reject(e: Error): void }>();
  private closing = false;

  private constructor(
    private readonly spec: PipelineSpec,
    private readonly hooks: PipelineHooks,
  ) {}

  get chain(): string {
    return this.spec.chain;
  }

  static async start(spec: PipelineSpec, hooks: PipelineHooks): Promise<ThreadPipeline> {
    const t = new ThreadPipeline(spec, hooks);
    await t.spawn();
    return t;
  }

  private spawn(): Promise<void> {
    const mod = threadModule(import.meta.url, 'pipeline-thread', 'service/worker');
    const w = new Worker(mod.url, { workerData: this.spec, ...(mod.execArgv ? { execArgv: mod.execArgv } : {}) });
    this.worker = w;
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new ImaError(m.error.errorClass as never, m.error.code, m.error.message));
        else return;
        w.off('message', onMessage);
      };
      w.on('message', onMessage);
      w.once('error', reject);
      w.once('exit', (code) => reject(new ImaError('internal', 'PIPELINE_FAILED', `pipeline ${this.spec.index} exited (${code}) before it was ready`)));
    });
    w.on('message', (m: FromThread) => this.onMessage(m));
    w.on('error', (err) => this.hooks.log.log('error', 'pipeline thread failed', { pipeline: this.spec.index, error: String((err as Error)?.message ?? err).slice(0, 300) }));
    w.on('exit', (code) => {
      // a thread that ended while holding the PCR lock must not block the others
      ThreadLock.releaseIfHeldBy(this.spec.lock.shared, this.spec.index + 1);
      for (const p of this.pending.values()) p.reject(new ImaError('internal', 'PIPELINE_FAILED', `pipeline ${this.spec.index} ended (${code})`));
      this.pending.clear();
      if (this.closing || this.worker !== w) return;
      this.hooks.log.log('error', 'pipeline thread ended; starting it again', { pipeline: this.spec.index, code });
      this.spawn().catch((e: Error) => this.hooks.log.log('error', 'pipeline thread does not start', { pipeline: this.spec.index, error: e.message }));
    });
    return ready;
  }

  private onMessage(m: FromThread): void {
    if (m.type === 'done') {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m.outcomes);
    } else if (m.type === 'log') {
      this.hooks.log.log(m.level, m.msg, { ...m.fields, pipeline: this.spec.index });
    } else if (m.type === 'stored') {
      this.hooks.onStored?.(m.handle, m.item);
    } else if (m.type === 'statement') {
      // posted before the batch's 'done': the writer knows of it before the consumer sees the batch end
      this.hooks.onBatch?.(this.spec.chain, m.signed, m.head);
    }
  }

  process(bodies: string[]): Promise<Outcome[]> {
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'batch', id, bodies });
    });
  }

  /** Lets the thread close its council and table client, then ends it (5 s at most). */
  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    const closed = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5_000);
      w.on('message', (m: FromThread) => {
        if (m.type === 'closed') {
          clearTimeout(t);
          resolve();
        }
      });
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    w.postMessage({ type: 'close' });
    await closed;
    await w.terminate();
  }
}
