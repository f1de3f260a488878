/**
 * Long polling (SPEC §8.2 `GET /api/decisions/{handle}?wait=S`): a pending poll is held until the
 * decision is stored (woken by a DecisionWaiter) or S seconds pass, then answers exactly as a plain
 * poll. Counted, not timed: table reads, waiter wakes, and an injected clock + sleep for the
 * default (re-read) waiter.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Item } from '../../../src/ports.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { InProcessDecisionWaiter, notifyingTable } from '../../../src/service/proxy/decision-waiter.js';
import { createProxyHandler, type ProxyDeps } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { event, p, serviceFixture } from './fixtures.js';

/** A decisions table that counts reads and can run a hook after a read (before it returns). */
class CountingTable extends MemoryTable {
  reads = 0;
  afterRead?: () => Promise<void>;
  override async get(key: Item): Promise<Item | undefined> {
    this.reads++;
    const r = await super.get(key);
    const hook = this.afterRead;
    this.afterRead = undefined;
    await hook?.();
    return r;
  }
}

const decided = (id: string) => ({ id, status: 'decided', sealed: new Uint8Array([1, 2, 3]), decided_at: 0, ttl: 0 });

describe('proxy: long polling a decision (?wait=S)', () => {
  const f = serviceFixture();
  const setup = (extra: Partial<ProxyDeps> = {}) => {
    let now = Date.UTC(2026, 0, 1);
    const requests = new MemoryTable('ima-quantum-requests', REQUESTS_KEY);
    const decisions = new CountingTable('ima-quantum-decisions', DECISIONS_KEY);
    const queue = new MemoryQueue({ visibilitySeconds: 30 });
    const clock = { now: () => now };
    const slept: number[] = [];
    // the default waiter's sleep: advances the injected clock instead of waiting
    const sleep = async (ms: number) => {
      slept.push(ms);
      now += ms;
      await hooks.onSleep?.(slept.length);
    };
    const hooks: { onSleep?: (n: number) => Promise<void> } = {};
    const proxy = createProxyHandler({ p, requests, decisions, queue, clock, keys: async () => f.published, sleep, ...extra });
    const submit = async () => {
      const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'let x = 1;\n' });
      expect((await proxy(event('POST', '/api/analyze', { body: r.sealed }))).statusCode).toBe(202);
      return r.handle;
    };
    const poll = (handle: string, query: string, ctx?: Parameters<typeof proxy>[1]) => proxy({ ...event('GET', `/api/decisions/${handle}`), rawQueryString: query }, ctx);
    return { decisions, proxy, submit, poll, slept, hooks, clock };
  };

  it('a held poll answers 200 as soon as the worker stores the decision (queued here: no read before; handed the stored item: none after)', async () => {
    const waiter = new InProcessDecisionWaiter();
    const s = setup({ waiter });
    const worker = notifyingTable(s.decisions, waiter); // what the worker writes through in `local up`
    const handle = await s.submit();
    expect(waiter.pendingHere(handle)).toBe(true);
    const held = s.poll(handle, 'wait=20');
    await vi.waitFor(() => expect(waiter.held).toBe(1));
    expect(s.decisions.reads).toBe(0);
    expect(await worker.put(decided(handle), { ifAbsent: true })).toBe(true);
    const res = await held;
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('AQID');
    expect(res.isBase64Encoded).toBe(true);
    expect(s.decisions.reads).toBe(0);
    expect(waiter.held).toBe(0);
    expect(waiter.pendingHere(handle)).toBe(false);
  });

  it('a handle queued by another instance (not pending here) is read from the table', async () => {
    const waiter = new InProcessDecisionWaiter();
    const s = setup({ waiter });
    const other = setup(); // another proxy instance, its own tables: the handle is unknown here
    const handle = await other.submit();
    expect(waiter.pendingHere(handle)).toBe(false);
    expect((await s.poll(handle, 'wait=0')).statusCode).toBe(404);
    expect(s.decisions.reads).toBe(1);
  });

  it('woken by a store that found another decision there: the held poll reads the table (the stored one is the answer)', async () => {
    const waiter = new InProcessDecisionWaiter();
    const s = setup({ waiter });
    const handle = await s.submit();
    const worker = notifyingTable(s.decisions, waiter);
    const held = s.poll(handle, 'wait=20');
    await vi.waitFor(() => expect(waiter.held).toBe(1));
    await s.decisions.put(decided(handle), { ifAbsent: true }); // another worker stored first, without a word
    expect(await worker.put({ ...decided(handle), sealed: new Uint8Array([9, 9]) }, { ifAbsent: true })).toBe(false); // ours lost: woken, no item
    const res = await held;
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('AQID');
    expect(s.decisions.reads).toBe(1);
  });

  it('a rejection stored while held answers 422 with its code', async () => {
    const waiter = new InProcessDecisionWaiter();
    const s = setup({ waiter });
    const handle = await s.submit();
    const held = s.poll(handle, 'wait=5');
    await vi.waitFor(() => expect(waiter.held).toBe(1));
    await notifyingTable(s.decisions, waiter).put({ id: handle, status: 'rejected', code: 'STALE_REQUEST', message: 'too old', decided_at: 0, ttl: 0 }, { ifAbsent: true });
    const res = await held;
    expect(res.statusCode).toBe(422);
    expect(JSON.parse(res.body!).error.code).toBe('STALE_REQUEST');
  });

  it('a decision stored between the read and the wait is not missed', async () => {
    const waiter = new InProcessDecisionWaiter();
    const s = setup({ waiter });
    const handle = await s.submit();
    // as if queued by an earlier instance: this poll reads, and the store lands right after that read
    (waiter as unknown as { pending: Set<string> }).pending.delete(handle);
    s.decisions.afterRead = async () => void (await notifyingTable(s.decisions, waiter).put(decided(handle), { ifAbsent: true }));
    const res = await s.poll(handle, 'wait=20');
    expect(res.statusCode).toBe(200);
    expect(s.decisions.reads).toBe(1); // the stored item was handed over
    expect(waiter.held).toBe(0);
  });

  it('a held poll is released when its caller goes away (the signal), answering 202', async () => {
    const waiter = new InProcessDecisionWaiter();
    const s = setup({ waiter });
    const handle = await s.submit();
    const ac = new AbortController();
    const held = s.poll(handle, 'wait=20', { signal: ac.signal });
    await vi.waitFor(() => expect(waiter.held).toBe(1));
    ac.abort();
    expect((await held).statusCode).toBe(202);
    expect(waiter.held).toBe(0);
  });

  it('default waiter: re-reads every 250 ms until the deadline, then 202 (bounded reads)', async () => {
    const s = setup();
    const handle = await s.submit();
    const t0 = s.clock.now();
    const res = await s.poll(handle, 'wait=2');
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body!)).toEqual({ handle, status: 'pending' });
    expect(s.slept.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(s.slept.every((ms) => ms <= 250)).toBe(true);
    expect(s.clock.now() - t0).toBe(2000);
    expect(s.decisions.reads).toBe(2000 / 250 + 1);
  });

  it('default waiter: the decision stored during the third sleep is answered by the next read', async () => {
    const s = setup();
    const handle = await s.submit();
    s.hooks.onSleep = async (n) => void (n === 3 && (await s.decisions.put(decided(handle))));
    const res = await s.poll(handle, 'wait=20');
    expect(res.statusCode).toBe(200);
    expect(s.decisions.reads).toBe(4);
    expect(s.slept).toHaveLength(3);
  });

  it('no wait (absent or 0) is the plain poll: one read, no sleep', async () => {
    const s = setup();
    const handle = await s.submit();
    for (const q of ['', 'wait=0', 'other=1']) expect((await s.poll(handle, q)).statusCode).toBe(202);
    expect(s.decisions.reads).toBe(3);
    expect(s.slept).toEqual([]);
  });

  it('an unknown handle is 404 at once, whatever the wait', async () => {
    const s = setup();
    const res = await s.poll('cd'.repeat(32), 'wait=20');
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body!).error.code).toBe('UNKNOWN_HANDLE');
    expect(s.slept).toEqual([]);
  });

  it('on Lambda the wait stops 1 s before the function times out', async () => {
    const s = setup();
    const handle = await s.submit();
    expect((await s.poll(handle, 'wait=20', { getRemainingTimeInMillis: () => 1500 })).statusCode).toBe(202);
    expect(s.slept.reduce((a, b) => a + b, 0)).toBe(500);
  });

  it('reads wait from queryStringParameters when there is no raw query string', async () => {
    const s = setup();
    const handle = await s.submit();
    const res = await s.proxy({ ...event('GET', `/api/decisions/${handle}`), queryStringParameters: { wait: '1' } });
    expect(res.statusCode).toBe(202);
    expect(s.slept.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('a malformed or out-of-range wait is 400 BAD_WAIT, before any read', async () => {
    const s = setup();
    const handle = await s.submit();
    for (const q of ['wait=21', 'wait=-1', 'wait=abc', 'wait=1.5', 'wait=', 'wait=100', 'wait=%201', 'wait=1&wait=2']) {
      const res = await s.poll(handle, q);
      expect(res.statusCode, q).toBe(400);
      expect(JSON.parse(res.body!).error.code, q).toBe('BAD_WAIT');
    }
    expect(s.decisions.reads).toBe(0);
  });
});
