/**
 * A council with a time budget (SPEC §8.3, issue 12.2): the model runs on its own worker thread,
 * one consultation at a time; one that runs longer than the budget is stopped — the thread is
 * terminated and a fresh one started — and refused for good as COUNCIL_TIMEOUT (a deterministic
 * failure: the same content would take as long again). Meanwhile the pipeline's thread, the
 * consumer's visibility renewals and heartbeat, and the other pipelines keep running; queued
 * consultations of the same pipeline wait and then get their own full budget.
 *
 * The thread also has a heap limit, so content that makes a model allocate without bound fails
 * that consultation (COUNCIL_FAILED) instead of the process.
 */
import { Worker } from 'node:worker_threads';
import { ImaError, InputError, type ErrorClass } from '../../errors.js';
import { threadModule } from '../worker/thread-module.js';
import type { Council, CouncilInput, PersonaModel, PersonaVote } from '../../protocol/council/types.js';

/** Which model the thread runs: the rules, or a module exporting createModel() (embedders, tests). */
export type CouncilModelSpec = { kind: 'rules' } | { kind: 'module'; url: string };

export const DEFAULT_COUNCIL_BUDGET_MS = 10_000;
/** the council thread's old-generation heap (MiB) */
const HEAP_MB = 512;

interface Job {
  id: number;
  council: string;
  input: CouncilInput;
  resolve(v: PersonaVote[]): void;
  reject(e: Error): void;
}

export class BudgetedCouncil implements PersonaModel {
  private worker?: Worker;
  private starting?: Promise<void>;
  private readonly queue: Job[] = [];
  private busy?: { job: Job; timer: NodeJS.Timeout };
  private seq = 0;
  private closed = false;
  /** consultations stopped at the budget (for tests and logs) */
  timeouts = 0;

  private constructor(
    readonly name: string,
    private readonly spec: CouncilModelSpec,
    private readonly budgetMs: number,
  ) {}

  static async start(spec: CouncilModelSpec, opts: { budgetMs?: number } = {}): Promise<BudgetedCouncil> {
    const c = new BudgetedCouncil('', spec, opts.budgetMs ?? DEFAULT_COUNCIL_BUDGET_MS);
    const name = await c.spawn();
    (c as { name: string }).name = name;
    return c;
  }

  consult(council: Council, input: CouncilInput): Promise<PersonaVote[]> {
    if (this.closed) return Promise.reject(new ImaError('internal', 'COUNCIL_CLOSED', 'the council is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: ++this.seq, council: council.id, input, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.reject(new ImaError('internal', 'COUNCIL_CLOSED', 'the council is closed'));
    await this.worker?.terminate();
  }

  /** Starts a council thread; resolves with the model's name once it is ready. */
  private spawn(): Promise<string> {
    const mod = threadModule(import.meta.url, 'council-thread', 'service/council');
    const w = new Worker(mod.url, {
      workerData: this.spec,
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
      ...(mod.execArgv ? { execArgv: mod.execArgv } : {}),
    });
    this.worker = w;
    w.unref();
    const ready = new Promise<string>((resolve, reject) => {
      w.once('message', (m: { ready?: boolean; name?: string }) => (m.ready ? resolve(String(m.name)) : reject(new Error('the council thread did not start'))));
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`the council thread exited (${code}) before it was ready`)));
    });
    w.on('message', (m: { id?: number; votes?: PersonaVote[]; error?: { errorClass: ErrorClass; code: string; message: string } }) => {
      if (m.id === undefined || this.busy?.job.id !== m.id) return;
      const { job, timer } = this.busy;
      clearTimeout(timer);
      this.busy = undefined;
      if (m.votes) job.resolve(m.votes);
      else job.reject(new ImaError(m.error!.errorClass, m.error!.code, m.error!.message));
      this.pump();
    });
    w.on('error', (err) => this.lost(w, new ImaError('internal', 'COUNCIL_FAILED', `the council thread failed: ${String((err as Error)?.message ?? err).slice(0, 200)}`)));
    w.on('exit', () => this.lost(w, new ImaError('internal', 'COUNCIL_FAILED', 'the council thread ended')));
    this.starting = ready.then(
      () => undefined,
      () => undefined,
    );
    return ready;
  }

  /** The thread died under a consultation (out of memory, a crash): that one fails, a new thread starts. */
  private lost(w: Worker, err: ImaError): void {
    if (this.worker !== w || this.closed) return;
    this.worker = undefined;
    if (this.busy) {
      clearTimeout(this.busy.timer);
      this.busy.job.reject(err);
      this.busy = undefined;
    }
    this.restart();
  }

  private restart(): void {
    if (this.closed) return;
    this.spawn().then(
      () => this.pump(),
      (e) => {
        for (const j of this.queue.splice(0)) j.reject(new ImaError('internal', 'COUNCIL_FAILED', `the council thread does not start: ${String((e as Error)?.message ?? e).slice(0, 200)}`));
      },
    );
  }

  private pump(): void {
    if (this.busy || this.queue.length === 0 || this.closed) return;
    const w = this.worker;
    if (!w) return; // restarting: pumped when ready
    void this.starting?.then(() => {
      if (this.busy || this.worker !== w || this.queue.length === 0) return;
      const job = this.queue.shift()!;
      const timer = setTimeout(() => this.overBudget(w), this.budgetMs);
      this.busy = { job, timer };
      w.postMessage({ id: job.id, council: job.council, input: job.input });
    });
  }

  private overBudget(w: Worker): void {
    if (this.worker !== w || !this.busy) return;
    const { job } = this.busy;
    this.busy = undefined;
    this.worker = undefined;
    this.timeouts++;
    job.reject(new InputError('COUNCIL_TIMEOUT', `the council did not decide within its budget of ${this.budgetMs} ms`));
    void w.terminate();
    this.restart();
  }
}
