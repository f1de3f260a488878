/**
 * The long-running SQS consumer of the Fargate worker (issue 5 §2): long polling, batches of up
 * to 10, the visibility timeout extended while a batch is worked on, a message deleted only once
 * its outcome is stored, poison released at once (the queue's redrive policy moves it to the
 * dead-letter queue after maxReceiveCount receives), and a graceful stop: `stop()` (SIGTERM)
 * ends the poll, lets the batch in hand finish within `graceMs`, and otherwise releases its
 * messages (visibility 0) so another worker takes them at once.
 */
import { toImaError } from '../../errors.js';
import type { Logger } from '../log.js';
import type { Queue, QueueMessage } from '../../ports.js';
import { processBatch, type Outcome, type PipelineDeps } from './pipeline.js';

export interface ConsumerOptions {
  batchSize?: number;
  waitSeconds?: number;
  /** the visibility timeout the worker keeps renewing while it works */
  visibilitySeconds?: number;
  graceMs?: number;
}

export class Consumer {
  private stopping = false;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private inFlight = new Map<string, QueueMessage>();
  readonly stats = { batches: 0, decided: 0, rejected: 0, duplicate: 0, poison: 0, retry: 0 };
  /** when a receive last succeeded (clock ms; 0 = never): the worker's liveness (heartbeat.ts) */
  lastPollAt = 0;

  constructor(
    private readonly queue: Queue,
    private readonly deps: PipelineDeps,
    private readonly log: Logger,
    private readonly opts: ConsumerOptions = {},
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Graceful stop (SIGTERM): finish the batch in hand or release it after graceMs. Returns how many
   * messages were released: their pipelines may still be running, and the caller should end the
   * process rather than let them finish after another worker has taken the messages over.
   */
  async stop(): Promise<{ released: number }> {
    this.stopping = true;
    this.abort.abort();
    const grace = this.opts.graceMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      (this.loop ?? Promise.resolve()).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace))),
    ]);
    clearTimeout(timer);
    const released = timedOut ? [...this.inFlight.values()] : [];
    if (released.length) await this.release(released);
    this.log.log('info', 'worker stopped', { ...this.stats, released: released.length });
    return { released: released.length };
  }

  private async release(msgs: QueueMessage[]): Promise<void> {
    await Promise.all(msgs.map((m) => this.queue.changeVisibility(m.receipt, 0).catch(() => undefined)));
  }

  private async run(): Promise<void> {
    const vis = this.opts.visibilitySeconds ?? 60;
    while (!this.stopping) {
      let msgs: QueueMessage[];
      try {
        msgs = await this.queue.receive({
          max: this.opts.batchSize ?? 10,
          waitSeconds: this.opts.waitSeconds ?? 20,
          visibilitySeconds: vis,
          signal: this.abort.signal,
        });
        this.lastPollAt = this.deps.clock.now();
      } catch (err) {
        if (this.stopping) break;
        const e = toImaError(err);
        this.log.log('error', 'receive failed', { code: e.code, error: e.message });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (msgs.length === 0) {
        await new Promise((r) => setTimeout(r, 10)); // an empty short poll must not spin
        continue;
      }
      this.stats.batches++;
      for (const m of msgs) this.inFlight.set(m.receipt, m);
      // keep the messages invisible while we work: renew at half the timeout
      const heartbeat = setInterval(() => {
        for (const m of this.inFlight.values()) void this.queue.changeVisibility(m.receipt, vis).catch(() => undefined);
      }, (vis * 1000) / 2);
      try {
        const outcomes = await processBatch(this.deps, msgs.map((m) => m.body));
        await Promise.all(outcomes.map((o, i) => this.settle(msgs[i], o)));
      } finally {
        clearInterval(heartbeat);
        for (const m of msgs) this.inFlight.delete(m.receipt);
      }
    }
  }

  private async settle(m: QueueMessage, o: Outcome): Promise<void> {
    this.stats[o.status]++;
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
