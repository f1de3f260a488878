/**
 * Long polling of `GET /api/decisions/{handle}?wait=S` (SPEC §8.2): what a held request waits on.
 *
 * - `intervalWaiter`: the default (the Lambda, which shares no memory with the worker): wakes after
 *   a fixed interval so the handler re-reads the decisions table — bounded reads per held request.
 * - `InProcessDecisionWaiter`: when proxy and worker share a process (`local up`), the worker's
 *   store wakes the held requests of that handle at once; `notifyingTable` wraps the decisions
 *   Table port the worker writes through, so the worker's own logic is unchanged.
 */
import type { Item, PutOptions, Table } from '../../ports.js';

export interface DecisionWaiter {
  /**
   * Optional (the in-process waiter): true when `handle` was queued by this process and nothing
   * was stored for it yet — every store of this process notifies, so the decisions table need not
   * be read to know that a poll is pending.
   */
  pendingHere?(handle: string): boolean;
  /** Optional: this process queued `handle` (called after the enqueue succeeded). */
  expect?(handle: string): void;
  /**
   * Resolves when a decision (decided or rejected) for `handle` may have been stored, after `ms`,
   * or when `signal` aborts, whichever comes first; never rejects. A resolution is only a hint:
   * the caller reads the table again — unless it resolves with the stored item itself (the
   * in-process waiter, handed it by the worker's own store), which is then the answer.
   */
  wait(handle: string, ms: number, signal?: AbortSignal): Promise<Item | void>;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const abortableSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Wakes every `intervalMs` (or at the deadline): the handler re-reads the decisions table. */
export function intervalWaiter(intervalMs: number, sleep: Sleep = abortableSleep): DecisionWaiter {
  return { wait: (_handle, ms, signal) => sleep(Math.min(ms, intervalMs), signal) };
}

/** How many recently stored handles are remembered (a wait that starts just after the store). */
const RECENT_MAX = 10_000;
/** How many of their stored items are kept for a wait that starts late (a few KiB each). */
const RECENT_ITEMS_MAX = 256;

/** Notified by the worker's store in the same process; wakes the waits of that handle. */
export class InProcessDecisionWaiter implements DecisionWaiter {
  private readonly waiting = new Map<string, Set<(item?: Item) => void>>();
  // A decision stored between the handler's read and its wait would otherwise be missed until
  // the deadline: a wait on a handle stored recently resolves at once.
  private readonly recent = new Set<string>();
  private readonly items = new Map<string, Item>();
  /** queued here, nothing stored yet (bounded: a handle dropped from it is simply read) */
  private readonly pending = new Set<string>();

  expect(handle: string): void {
    if (this.recent.has(handle)) return;
    this.pending.add(handle);
    if (this.pending.size > RECENT_MAX) this.pending.delete(this.pending.values().next().value!);
  }

  pendingHere(handle: string): boolean {
    return this.pending.has(handle);
  }

  /** waits currently held (for tests and stats) */
  get held(): number {
    let n = 0;
    for (const s of this.waiting.values()) n += s.size;
    return n;
  }

  /** `item`: the final item as stored (decided or rejected), handed to the held polls as their answer */
  notify(handle: string, item?: Item): void {
    this.pending.delete(handle);
    this.recent.delete(handle);
    this.recent.add(handle);
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.values().next().value!);
    if (item) {
      this.items.delete(handle);
      this.items.set(handle, item);
      if (this.items.size > RECENT_ITEMS_MAX) this.items.delete(this.items.keys().next().value!);
    }
    for (const wake of [...(this.waiting.get(handle) ?? [])]) wake(item);
  }

  wait(handle: string, ms: number, signal?: AbortSignal): Promise<Item | void> {
    if (this.recent.has(handle)) return Promise.resolve(this.items.get(handle));
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<Item | void>((resolve) => {
      let set = this.waiting.get(handle);
      if (!set) this.waiting.set(handle, (set = new Set()));
      const mine = set;
      const done = (item?: Item) => {
        clearTimeout(t);
        signal?.removeEventListener('abort', stop);
        mine.delete(done);
        if (mine.size === 0 && this.waiting.get(handle) === mine) this.waiting.delete(handle);
        resolve(item);
      };
      const stop = () => done();
      const t = setTimeout(stop, ms);
      signal?.addEventListener('abort', stop, { once: true });
      mine.add(done);
    });
  }
}

/**
 * The decisions table as the worker sees it, notifying `waiter` after each put of a final item
 * ('decided' or 'rejected'). A conditional put that finds the item already there (another worker
 * stored first) notifies too: either way the decision is now readable.
 */
export function notifyingTable(table: Table, waiter: { notify(handle: string, item?: Item): void }): Table {
  return {
    name: table.name,
    key: table.key,
    put: async (item: Item, opts?: PutOptions) => {
      const r = await table.put(item, opts);
      // the stored item rides along only when this put stored it (else another worker's is there)
      if (item.status === 'decided' || item.status === 'rejected') waiter.notify(String(item[table.key.partition]), r ? item : undefined);
      return r;
    },
    get: (key) => table.get(key),
    query: (partition, opts) => table.query(partition, opts),
    update: (key, set, opts) => table.update(key, set, opts),
    deleteIf: (key, ifEquals) => table.deleteIf(key, ifEquals),
    partitions: () => table.partitions(),
  };
}
