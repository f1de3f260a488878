/**
 * Polling a pending request (SPEC §8.2): the proxy remembers the handles it queued (until their
 * replay-guard TTL), so a pending poll reads one table instead of two; the answers stay the same
 * (202 pending, 404 unknown or expired, 200 decided) whichever proxy instance is asked.
 */
import { describe, expect, it } from 'vitest';
import type { Item } from '../../../src/ports.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, DEFAULT_TTL_SECONDS, REQUESTS_KEY } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { event, p, serviceFixture } from './fixtures.js';

/** A requests table that counts reads and can drop items, as DynamoDB's TTL sweep eventually does. */
class SweptTable extends MemoryTable {
  reads = 0;
  readonly swept = new Set<string>();
  override async get(key: Item): Promise<Item | undefined> {
    this.reads++;
    return this.swept.has(String(key.id)) ? undefined : super.get(key);
  }
}

describe('proxy: polling a pending request', () => {
  const f = serviceFixture();
  const setup = () => {
    let now = Date.UTC(2026, 0, 1);
    const requests = new SweptTable('ima-quantum-requests', REQUESTS_KEY);
    const decisions = new MemoryTable('ima-quantum-decisions', DECISIONS_KEY);
    const queue = new MemoryQueue({ visibilitySeconds: 30 });
    const clock = { now: () => now };
    const proxy = () => createProxyHandler({ p, requests, decisions, queue, clock, keys: async () => f.published });
    return { requests, decisions, proxy, advance: (ms: number) => (now += ms) };
  };

  it('the instance that queued the request answers 202 without reading the requests table again', async () => {
    const s = setup();
    const proxy = s.proxy();
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'let x = 1;\n' });
    expect((await proxy(event('POST', '/api/analyze', { body: r.sealed }))).statusCode).toBe(202);
    const reads = s.requests.reads;
    for (let i = 0; i < 3; i++) expect((await proxy(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(202);
    expect(s.requests.reads).toBe(reads);

    // another instance (a cold Lambda container) reads it once, then remembers it too
    const other = s.proxy();
    expect((await other(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(202);
    expect((await other(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(202);
    expect(s.requests.reads).toBe(reads + 1);

    // decided: 200 from both, whatever they remembered
    await s.decisions.put({ id: r.handle, status: 'decided', sealed: new Uint8Array([1, 2, 3]), decided_at: 0, ttl: 0 });
    for (const h of [proxy, other]) {
      const res = await h(event('GET', `/api/decisions/${r.handle}`));
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('AQID');
    }
  });

  it('past the TTL it reads again: an expired, swept request is 404 as before; an unknown handle is 404', async () => {
    const s = setup();
    const proxy = s.proxy();
    const r = sealRequest(p, f.recipient, 'patents', { name: 'p.txt', content: 'Title: A widget\n' });
    expect((await proxy(event('POST', '/api/patents', { body: r.sealed }))).statusCode).toBe(202);
    s.requests.swept.add(`req#${r.handle}`);
    // within the TTL the remembered answer is the one the (unswept) item would give
    expect((await proxy(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(202);
    s.advance((DEFAULT_TTL_SECONDS + 1) * 1000);
    const gone = await proxy(event('GET', `/api/decisions/${r.handle}`));
    expect(gone.statusCode).toBe(404);
    expect(JSON.parse(gone.body!).error.code).toBe('UNKNOWN_HANDLE');
    expect((await proxy(event('GET', `/api/decisions/${'cd'.repeat(32)}`))).statusCode).toBe(404);
  });
});
