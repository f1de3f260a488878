/**
 * The long-running SQS consumer of the Fargate worker (issue 5 §2, issue 13.1): one receive loop
 * on the main thread feeding N pipelines (pipelines.ts; each on its own thread in the worker).
 * Long polling, batches of up to 10; a pipeline takes up to `batchSize` received messages as soon
 * as it has a free batch slot (two per pipeline: one batch is prepared while the other waits on
 * its group commit), so under load each group commit covers what arrived meanwhile. Every message the
 * worker holds (waiting for a pipeline or being worked on) has its visibility timeout renewed at
 * half of it by one timer here, which no pipeline can block. A message is deleted only once its
 * outcome is stored; poison is released at once (the queue's redrive policy moves it to the
 * dead-letter queue after maxReceiveCount receives).
 *
 * Graceful stop (`stop()`, SIGTERM): no more receives; messages not yet given to a pipeline are
 * released at once (visibility 0); every pipeline may finish its batch within `graceMs`, after
 * which the messages still in hand are released too, so another worker takes them at once.
 */
import { toImaError } from '../../errors.js';
import type { Logger } from '../log.js';
import type { Queue, QueueMessage } from '../../ports.js';
import type { Outcome } from './pipeline.js';
import type { PipelineRunner } from './pipelines.js';

export interface ConsumerOptions {
  /** messages per pipeline batch and per receive (1..10) */
  batchSize?: number;
  waitSeconds?: number;
  /** the visibility timeout the worker keeps renewing while it holds a message */
  visibilitySeconds?: number;
  graceMs?: number;
  /**
   * batches a pipeline works on at once (default 2): while one waits on its group commit (the
   * tables, the PCR), the next one is opened, judged and signed on the same thread
   */
  batchesPerPipeline?: number;
}

/** What the consumer reports per settled message and per batch (metrics.ts implements it). */
export interface ConsumerMetrics {
  /** `pickedAt`: when this worker received the message (clock ms) */
  outcome(o: Outcome, pickedAt: number): void;
  batch(outcomes: readonly Outcome[]): void;
}

export type ConsumerStats = { batches: number; decided: number; rejected: number; duplicate: number; poison: number; retry: number };

export class Consumer {
  private stopping = false;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  /** every message held: waiting in `buffer` or in a pipeline's batch */
  private readonly inFlight = new Map<string, QueueMessage>();
  private buffer: QueueMessage[] = [];
  /** when each held message was received (for QueueAgeAtPickup) */
  private readonly pickedAt = new WeakMap<QueueMessage, number>();
  /** free batch slots (a pipeline appears once per batch it may still take) */
  private readonly idle: PipelineRunner[];
  private readonly running = new Set<Promise<void>>();
  private wake?: () => void;
  private renewal?: NodeJS.Timeout;
  readonly stats: ConsumerStats = { batches: 0, decided: 0, rejected: 0, duplicate: 0, poison: 0, retry: 0 };
  /** when a receive last succeeded (clock ms; 0 = never): the worker's liveness (heartbeat.ts) */
  lastPollAt = 0;

  constructor(
    private readonly queue: Queue,
    readonly pipelines: readonly PipelineRunner[],
    private readonly log: Logger,
    private readonly opts: ConsumerOptions = {},
    private readonly metrics?: ConsumerMetrics,
    private readonly clock: { now(): number } = { now: () => Date.now() },
  ) {
    if (pipelines.length === 0) throw new RangeError('a consumer needs at least one pipeline');
    const per = Math.max(1, opts.batchesPerPipeline ?? 2);
    // one slot per batch a pipeline may hold; interleaved, so every pipeline gets work first
    this.idle = Array.from({ length: per }, () => [...pipelines]).flat();
  }

  private get batchSize(): number {
    return Math.min(10, Math.max(1, this.opts.batchSize ?? 10));
  }

  start(): void {
    if (this.loop) return;
    const vis = this.opts.visibilitySeconds ?? 60;
    // keep every held message invisible: renew at half the timeout (one timer, on this thread)
    this.renewal = setInterval(() => {
      for (const m of this.inFlight.values()) void this.queue.changeVisibility(m.receipt, vis).catch(() => undefined);
    }, (vis * 1000) / 2);
    this.renewal.unref();
    this.loop = this.run();
  }

  /**
   * Graceful stop (SIGTERM). Returns how many messages were released while a pipeline still had
   * them: those pipelines may still be running, and the caller should end the process rather than
   * let them finish after another worker has taken the messages over.
   */
  async stop(): Promise<{ released: number }> {
    this.stopping = true;
    this.abort.abort();
    this.wake?.();
    await this.loop?.catch(() => undefined);
    // not started yet: back to the queue at once
    const waiting = this.buffer.splice(0);
    for (const m of waiting) this.inFlight.delete(m.receipt);
    await this.release(waiting);
    const grace = this.opts.graceMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all([...this.running]).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace))),
    ]);
    clearTimeout(timer);
    clearInterval(this.renewal);
    const released = timedOut ? [...this.inFlight.values()] : [];
    if (released.length) await this.release(released);
    this.log.log('info', 'worker stopped', { ...this.stats, released: released.length + waiting.length });
    return { released: released.length };
  }

  private async release(msgs: QueueMessage[]): Promise<void> {
    await Promise.all(msgs.map((m) => this.queue.changeVisibility(m.receipt, 0).catch(() => undefined)));
  }

  /** Room for more messages: at most one batch waiting per pipeline slot that is free. */
  private get room(): number {
    return Math.max(1, this.idle.length) * this.batchSize - this.buffer.length;
  }

  private async run(): Promise<void> {
    const vis = this.opts.visibilitySeconds ?? 60;
    while (!this.stopping) {
      if (this.room <= 0) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      let msgs: QueueMessage[];
      try {
        msgs = await this.queue.receive({
          max: Math.min(this.batchSize, this.room),
          waitSeconds: this.opts.waitSeconds ?? 20,
          visibilitySeconds: vis,
          signal: this.abort.signal,
        });
        this.lastPollAt = this.clock.now();
      } catch (err) {
        if (this.stopping) break;
        const e = toImaError(err);
        this.log.log('error', 'receive failed', { code: e.code, error: e.message });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (this.stopping) {
        await this.release(msgs);
        break;
      }
      if (msgs.length === 0) {
        await new Promise((r) => setTimeout(r, 10)); // an empty short poll must not spin
        continue;
      }
      for (const m of msgs) {
        this.inFlight.set(m.receipt, m);
        this.pickedAt.set(m, this.lastPollAt);
        this.buffer.push(m);
      }
      this.dispatch();
    }
  }

  /** Gives waiting messages to free pipelines, a batch each. */
  private dispatch(): void {
    while (this.idle.length > 0 && this.buffer.length > 0 && !this.stopping) {
      const pipeline = this.idle.shift()!;
      const msgs = this.buffer.splice(0, this.batchSize);
      const job = this.work(pipeline, msgs).finally(() => {
        this.running.delete(job);
        this.idle.push(pipeline);
        this.dispatch();
        this.wake?.();
      });
      this.running.add(job);
    }
  }

  private async work(pipeline: PipelineRunner, msgs: QueueMessage[]): Promise<void> {
    this.stats.batches++;
    try {
      let outcomes: Outcome[];
      try {
        outcomes = await pipeline.process(msgs.map((m) => m.body));
      } catch (err) {
        // the pipeline itself failed (its thread died): the messages come back after their timeout
        const e = toImaError(err);
        this.log.log('error', 'pipeline failed; its messages will come back', { chain: pipeline.chain, code: e.code, error: e.message });
        outcomes = msgs.map(() => ({ status: 'retry', code: e.code }));
      }
      await Promise.all(outcomes.map((o, i) => this.settle(msgs[i], o)));
      this.metrics?.batch(outcomes);
    } finally {
      for (const m of msgs) this.inFlight.delete(m.receipt);
    }
  }

  private async settle(m: QueueMessage, o: Outcome): Promise<void> {
    this.stats[o.status]++;
    this.metrics?.outcome(o, this.pickedAt.get(m) ?? this.clock.now());
    try {
      if (o.status === 'decided' || o.status === 'rejected' || o.status === 'duplicate') {
        await this.queue.delete(m.receipt); // only now: the outcome is stored
      } else if (o.status === 'poison') {
        this.log.log('warn', 'poison message released towards the dead-letter queue', { message_id: m.id, receives: m.receiveCount });
        await this.queue.changeVisibility(m.receipt, 0);
      }
      // retry: leave it; it comes back when its visibility timeout ends
    } catch (err) {
      const e = toImaError(err);
      this.log.log('warn', 'queue settle failed (the message will come back; the decision is stored once)', { message_id: m.id, code: e.code });
    }
  }
}
