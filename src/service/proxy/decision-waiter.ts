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
   * Resolves when a decision (decided or rejected) for `handle` may have been stored, after `ms`,
   * or when `signal` aborts, whichever comes first; never rejects. A resolution is only a hint:
   * the caller reads the table again.
   */
  wait(handle: string, ms: number, signal?: AbortSignal): Promise<void>;
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

/** Notified by the worker's store in the same process; wakes the waits of that handle. */
export class InProcessDecisionWaiter implements DecisionWaiter {
  private readonly waiting = new Map<string, Set<() => void>>();
  // A decision stored between the handler's read and its wait would otherwise be missed until
  // the deadline: a wait on a handle stored recently resolves at once.
  private readonly recent = new Set<string>();

  /** waits currently held (for tests and stats) */
  get held(): number {
    let n = 0;
    for (const s of this.waiting.values()) n += s.size;
    return n;
  }

  notify(handle: string): void {
    this.recent.delete(handle);
    this.recent.add(handle);
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.values().next().value!);
    for (const wake of [...(this.waiting.get(handle) ?? [])]) wake();
  }

  wait(handle: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted || this.recent.has(handle)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.waiting.get(handle);
      if (!set) this.waiting.set(handle, (set = new Set()));
      const mine = set;
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        mine.delete(done);
        if (mine.size === 0 && this.waiting.get(handle) === mine) this.waiting.delete(handle);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      mine.add(done);
    });
  }
}

/**
 * The decisions table as the worker sees it, notifying `waiter` after each put of a final item
 * ('decided' or 'rejected'). A conditional put that finds the item already there (another worker
 * stored first) notifies too: either way the decision is now readable.
 */
export function notifyingTable(table: Table, waiter: { notify(handle: string): void }): Table {
  return {
    name: table.name,
    key: table.key,
    put: async (item: Item, opts?: PutOptions) => {
      const r = await table.put(item, opts);
      if (item.status === 'decided' || item.status === 'rejected') waiter.notify(String(item[table.key.partition]));
      return r;
    },
    get: (key) => table.get(key),
    query: (partition, opts) => table.query(partition, opts),
    update: (key, set, opts) => table.update(key, set, opts),
    deleteIf: (key, ifEquals) => table.deleteIf(key, ifEquals),
    partitions: () => table.partitions(),
  };
}
