/**
 * Freshness from entry, not from pickup (SPEC §8.1, issue 12 item 5): the worker measures the
 * request's timestamp against the proxy's `received_at`, which the proxy takes from its own
 * clock only. A backlog never makes a fresh request stale; a request that was stale when it
 * arrived stays refused even if the worker's clock happens to be near its timestamp.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { toBase64 } from '../../../src/crypto/bytes.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY, decodeQueued } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { processBatch } from '../../../src/service/worker/pipeline.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { event, memoryLogger, p, pipelineDeps, serviceFixture, tempDir } from './fixtures.js';

const T0 = Date.parse('2026-05-01T12:00:00.000Z');
const MIN = 60_000;

function setup() {
  const f = serviceFixture();
  const clocks = { proxy: T0, worker: T0 };
  const requests = new MemoryTable('r', REQUESTS_KEY);
  const decisions = new MemoryTable('d', DECISIONS_KEY);
  const queue = new MemoryQueue({ visibilitySeconds: 30 });
  const proxy = createProxyHandler({ p, requests, decisions, queue, clock: { now: () => clocks.proxy }, keys: async () => f.published });
  const deps = pipelineDeps({
    requests,
    decisions,
    auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)),
    pcrBank: new SimulatedBank(join(tempDir(), 'pcr.json')),
    clock: { now: () => clocks.worker },
    log: memoryLogger(),
  });
  return { f, clocks, queue, proxy, deps, decisions };
}

async function post(s: ReturnType<typeof setup>, timestampMs: number) {
  const r = sealRequest(p, s.f.recipient, 'analyze', { name: 'a.ts', content: 'export const one = 1;\n' }, { nowMs: timestampMs });
  const res = await s.proxy(event('POST', '/api/analyze', { body: r.sealed }));
  expect(res.statusCode).toBe(202);
  return r;
}

async function work(s: ReturnType<typeof setup>) {
  const msgs = await s.queue.receive({ max: 10, waitSeconds: 0 });
  return processBatch(s.deps, msgs.map((m) => m.body));
}

describe('freshness is measured at entry (the proxy’s received_at)', () => {
  it('a request that waited two hours in the queue is still decided', async () => {
    const s = setup();
    await post(s, T0);
    s.clocks.worker = T0 + 120 * MIN; // a backlog far beyond the 5-minute skew
    const [out] = await work(s);
    expect(out).toMatchObject({ status: 'decided' });
  });

  it('a request stale when it arrived is refused, even by a worker whose clock is near its timestamp', async () => {
    const s = setup();
    const r = await post(s, T0 - 10 * MIN);
    s.clocks.worker = T0 - 10 * MIN;
    const [out] = await work(s);
    expect(out).toMatchObject({ status: 'rejected', code: 'STALE_REQUEST' });
    const stored = await s.decisions.get({ id: r.handle });
    expect(stored?.message).toContain('from the time the service received it');
  });

  it('the skew limit applies both ways around received_at, at its edge', async () => {
    const s = setup();
    await post(s, T0 - 5 * MIN); // exactly at the limit: accepted
    await post(s, T0 + 5 * MIN + 1); // 1 ms beyond, in the future: refused
    s.clocks.worker = T0 + 60 * MIN;
    const outs = await work(s);
    expect(outs.map((o) => o.status).sort()).toEqual(['decided', 'rejected']);
  });

  it('received_at is the proxy clock: nothing from the request or the event is taken for it', async () => {
    const s = setup();
    const r = sealRequest(p, s.f.recipient, 'analyze', { name: 'a.ts', content: 'x' }, { nowMs: T0 - 60 * MIN });
    const e = event('POST', '/api/analyze', { body: r.sealed });
    e.headers['x-received-at'] = String(T0 - 60 * MIN);
    e.headers.date = new Date(T0 - 60 * MIN).toUTCString();
    e.requestContext.timeEpoch = T0 - 60 * MIN;
    e.requestContext.time = new Date(T0 - 60 * MIN).toUTCString();
    expect((await s.proxy(e)).statusCode).toBe(202);
    const [m] = await s.queue.receive({ max: 1, waitSeconds: 0 });
    expect(decodeQueued(m.body).msg.received_at).toBe(T0);
  });

  it('a queue message whose received_at is not a whole, non-negative number of ms is poison', async () => {
    const s = setup();
    const r = sealRequest(p, s.f.recipient, 'analyze', { name: 'a.ts', content: 'x' }, { nowMs: T0 });
    for (const receivedAt of [-1, 1.5, '1746100800000', null, Number.MAX_SAFE_INTEGER + 2]) {
      const body = JSON.stringify({ v: 1, handle: r.handle, route: 'analyze', received_at: receivedAt, body: toBase64(r.sealed) });
      expect(() => decodeQueued(body)).toThrow(expect.objectContaining({ code: 'POISON_MESSAGE' }));
      expect((await processBatch(s.deps, [body]))[0]).toEqual({ status: 'poison', code: 'POISON_MESSAGE' });
    }
  });
});
