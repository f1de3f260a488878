/**
 * An in-memory `Queue` with SQS's delivery semantics for the calls we make: at-least-once
 * delivery, a visibility timeout per delivery, ApproximateReceiveCount, long polling, and a
 * redrive policy (a message received more than `maxReceiveCount` times moves to the dead-letter
 * queue instead of being delivered). Time comes from an injectable `Clock`.
 */
import { randomUUID } from 'node:crypto';
import { InputError } from '../../errors.js';
import { systemClock, type Clock, type Queue, type QueueMessage, type ReceiveOptions } from '../../ports.js';

interface Stored {
  id: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  receipt?: string;
}

export interface MemoryQueueOptions {
  visibilitySeconds?: number;
  clock?: Clock;
  /** SQS RedrivePolicy: after this many receives the next receive moves the message to `deadLetter` */
  redrive?: { deadLetter: MemoryQueue; maxReceiveCount: number };
  /** how often a long poll looks again (ms) */
  pollMs?: number;
}

export class MemoryQueue implements Queue {
  private readonly messages: Stored[] = [];
  private readonly visibilitySeconds: number;
  private readonly clock: Clock;

  constructor(private readonly opts: MemoryQueueOptions = {}) {
    this.visibilitySeconds = opts.visibilitySeconds ?? 30;
    this.clock = opts.clock ?? systemClock;
  }

  async send(body: string): Promise<string> {
    const id = randomUUID();
    this.messages.push({ id, body, receiveCount: 0, visibleAt: 0 });
    return id;
  }

  async receive(opts: ReceiveOptions): Promise<QueueMessage[]> {
    if (!Number.isInteger(opts.max) || opts.max < 1 || opts.max > 10) {
      throw new InputError('BAD_RECEIVE', `receive max is ${opts.max}; SQS allows 1 to 10`);
    }
    const deadline = Date.now() + opts.waitSeconds * 1000;
    for (;;) {
      await new Promise((r) => setImmediate(r)); // like a network call: never a pure-microtask loop
      const got = this.take(opts);
      if (got.length > 0 || Date.now() >= deadline || opts.signal?.aborted) return got;
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 10));
    }
  }

  private take(opts: ReceiveOptions): QueueMessage[] {
    const now = this.clock.now();
    const out: QueueMessage[] = [];
    for (let i = 0; i < this.messages.length && out.length < opts.max; i++) {
      const m = this.messages[i];
      if (m.visibleAt > now) continue;
      const redrive = this.opts.redrive;
      if (redrive && m.receiveCount >= redrive.maxReceiveCount) {
        this.messages.splice(i--, 1);
        void redrive.deadLetter.send(m.body);
        continue;
      }
      m.receiveCount++;
      m.receipt = randomUUID();
      m.visibleAt = now + (opts.visibilitySeconds ?? this.visibilitySeconds) * 1000;
      out.push({ id: m.id, receipt: m.receipt, body: m.body, receiveCount: m.receiveCount });
    }
    return out;
  }

  private byReceipt(receipt: string): Stored | undefined {
    return this.messages.find((m) => m.receipt === receipt);
  }

  async delete(receipt: string): Promise<void> {
    const i = this.messages.findIndex((m) => m.receipt === receipt);
    if (i >= 0) this.messages.splice(i, 1); // SQS: deleting with a stale receipt is not an error
  }

  async changeVisibility(receipt: string, seconds: number): Promise<void> {
    const m = this.byReceipt(receipt);
    if (!m) throw new InputError('RECEIPT_INVALID', 'the message receipt is no longer valid');
    m.visibleAt = this.clock.now() + seconds * 1000;
  }

  /** test helper: messages stored (visible or in flight) */
  get depth(): number {
    return this.messages.length;
  }
}
