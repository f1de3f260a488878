/**
 * Enqueue and replay guard agree (SPEC §8.2, issue 12 item 6): the replay guard is written before
 * the SQS send; when the send fails the proxy answers 503 and removes the guard item it wrote —
 * only that one (a conditional delete on its `attempt`), so a newer write of the same handle
 * survives. A 503 therefore means "not queued": the same body is accepted when sent again.
 */
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import type { Queue } from '../../../src/ports.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY, requestKey } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { event, memoryLogger, p, serviceFixture } from './fixtures.js';

/** A real in-memory queue whose next `failures` sends fail as SQS being unreachable would (optionally after `gate`). */
function flakyQueue(failures: number, gate?: Promise<void>): MemoryQueue & { sent: number } {
  const q = new MemoryQueue({ visibilitySeconds: 30 }) as MemoryQueue & { sent: number };
  q.sent = 0;
  const send = q.send.bind(q);
  let left = failures;
  q.send = async (body: string) => {
    if (gate) await gate;
    if (left > 0) {
      left--;
      throw new RemoteError('AWS_UNREACHABLE', 'sending to the request queue: connect ECONNREFUSED');
    }
    q.sent++;
    return send(body);
  };
  return q;
}

function setup(queue: Queue, now = () => Date.now()) {
  const f = serviceFixture();
  const requests = new MemoryTable('ima-quantum-requests', REQUESTS_KEY);
  const log = memoryLogger();
  const proxy = createProxyHandler({ p, requests, decisions: new MemoryTable('d', DECISIONS_KEY), queue, clock: { now }, keys: async () => f.published, log });
  const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'x' });
  const post = () => proxy(event('POST', '/api/analyze', { body: r.sealed }));
  const poll = () => proxy(event('GET', `/api/decisions/${r.handle}`));
  return { requests, proxy, r, post, poll, log };
}

const code = (res: { body?: string }) => JSON.parse(res.body!).error?.code;

describe('a failed enqueue leaves no replay guard behind', () => {
  it('503 = not queued: no guard, polls say unknown, the same body sent again is queued once', async () => {
    const queue = flakyQueue(1);
    const s = setup(queue);
    const first = await s.post();
    expect(first.statusCode).toBe(503);
    expect(code(first)).toBe('SERVICE_UNAVAILABLE');
    expect(await s.requests.get({ id: requestKey(s.r.handle) })).toBeUndefined();
    expect((await s.poll()).statusCode).toBe(404);
    expect(s.log.lines.join('\n')).toContain('replay guard undone');

    const again = await s.post();
    expect(again.statusCode).toBe(202);
    expect(JSON.parse(again.body!).handle).toBe(s.r.handle);
    expect(queue.sent).toBe(1);
    expect(queue.depth).toBe(1);
    expect((await s.poll()).statusCode).toBe(202);
    // and the guard works again once the body is queued
    const third = await s.post();
    expect(third.statusCode).toBe(409);
    expect(code(third)).toBe('REPLAYED_REQUEST');
  });

  it('several failures in a row: each answer is 503 and the body stays sendable', async () => {
    const queue = flakyQueue(3);
    const s = setup(queue);
    for (let i = 0; i < 3; i++) expect((await s.post()).statusCode).toBe(503);
    expect((await s.post()).statusCode).toBe(202);
    expect(queue.depth).toBe(1);
  });

  it('the undo removes only the guard this request wrote, never a newer one of the same handle', async () => {
    // request A writes its guard, its send hangs; A's guard expires (TTL) and B, the same body,
    // writes a new guard and is queued; then A's send fails: A must not delete B's guard
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const clock = { t: Date.now() };
    const gatedFail = flakyQueue(1, gate);
    const s = setup(gatedFail, () => clock.t);
    const a = s.post();
    await new Promise((r) => setTimeout(r, 20));
    const guardA = await s.requests.get({ id: requestKey(s.r.handle) });
    expect(guardA?.attempt).toMatch(/^[0-9a-f]{32}$/);

    clock.t += 25 * 3600 * 1000; // past the replay guard's 24 h TTL: A's item counts as absent
    const workingQueue = new MemoryQueue({ visibilitySeconds: 30 });
    const proxyB = createProxyHandler({ p, requests: s.requests, decisions: new MemoryTable('d', DECISIONS_KEY), queue: workingQueue, clock: { now: () => clock.t }, keys: async () => serviceFixture().published });
    expect((await proxyB(event('POST', '/api/analyze', { body: s.r.sealed }))).statusCode).toBe(202);
    const guardB = await s.requests.get({ id: requestKey(s.r.handle) });
    expect(guardB?.attempt).not.toBe(guardA?.attempt);

    release();
    expect((await a).statusCode).toBe(503);
    expect(await s.requests.get({ id: requestKey(s.r.handle) })).toEqual(guardB);
    expect((await proxyB(event('POST', '/api/analyze', { body: s.r.sealed }))).statusCode).toBe(409);
  });

  it('if the undo fails too, the answer is still 503 and the log says the guard stays until its TTL', async () => {
    const s = setup(flakyQueue(1));
    s.requests.deleteIf = async () => {
      throw new RemoteError('AWS_UNREACHABLE', 'deleting from table ima-quantum-requests: connect ECONNREFUSED');
    };
    const res = await s.post();
    expect(res.statusCode).toBe(503);
    expect(s.log.lines.join('\n')).toMatch(/replay guard left until its ttl/);
  });
});

describe('MemoryTable.deleteIf (the port contract the DynamoDB adapter also meets)', () => {
  it('deletes only when every named attribute matches; reports what it did', async () => {
    const t = new MemoryTable('t', REQUESTS_KEY);
    await t.put({ id: 'k', attempt: 'a1', n: 1, b: new Uint8Array([1, 2]) });
    expect(await t.deleteIf({ id: 'missing' }, { attempt: 'a1' })).toBe(false);
    expect(await t.deleteIf({ id: 'k' }, { attempt: 'a2' })).toBe(false);
    expect(await t.deleteIf({ id: 'k' }, { attempt: 'a1', n: 2 })).toBe(false);
    expect(await t.deleteIf({ id: 'k' }, { attempt: 'a1', b: new Uint8Array([1, 3]) })).toBe(false);
    expect(await t.get({ id: 'k' })).toBeDefined();
    expect(await t.deleteIf({ id: 'k' }, { attempt: 'a1', n: 1, b: new Uint8Array([1, 2]) })).toBe(true);
    expect(await t.get({ id: 'k' })).toBeUndefined();
  });
});
