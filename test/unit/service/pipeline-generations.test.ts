// The worker across key-set generations (SPEC §7.2): a request is opened with the KEM key of the
// generation its envelope names; one sealed to a key the worker does not hold is RETRIED
// (UNKNOWN_RECIPIENT, the message comes back), never refused; a body that is not an envelope is
// still refused as before. And the proxy accepts every recipient its document lists.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { toHex } from '../../../src/crypto/bytes.js';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { DECISIONS_KEY, REQUESTS_KEY, encodeQueued } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { processBatch } from '../../../src/service/worker/pipeline.js';
import { cachedFor, publishedKeys } from '../../../src/service/wiring.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { testKeySet } from '../../helpers/keyset.js';
import { CLEAN_CODE, event, memoryLogger, p, pipelineDeps, serviceFixture, tempDir } from './fixtures.js';

const f = serviceFixture();
const previous = compositeGenerate(p); // another generation's KEM key

function deps(recipientFor: (fp: string) => Promise<ReturnType<typeof compositeGenerate> | undefined>) {
  return {
    ...pipelineDeps({
      requests: new MemoryTable('r', REQUESTS_KEY),
      decisions: new MemoryTable('d', DECISIONS_KEY),
      auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)),
      pcrBank: new SimulatedBank(join(tempDir(), 'pcr.json')),
      log: memoryLogger(),
    }),
    recipientFor,
  };
}
const queued = (recipient: Uint8Array) => {
  const r = sealRequest(p, recipient, 'analyze', { name: 'a.ts', content: CLEAN_CODE });
  return { r, body: encodeQueued(r.handle, 'analyze', Date.now(), r.sealed) };
};

describe('the worker holds several generations', () => {
  it('opens a request sealed to any generation it holds, by the fingerprint its envelope names', async () => {
    const held = new Map([
      [f.fp.composite, f.recipientKey],
      [fingerprint('MLKEM768-P384', previous.publicKey), previous],
    ]);
    const asked: string[] = [];
    const d = deps(async (fp) => (asked.push(fp), held.get(fp)));
    const out = await processBatch(d, [queued(f.recipient).body, queued(previous.publicKey).body]);
    expect(out.map((o) => o.status)).toEqual(['decided', 'decided']);
    expect(asked).toEqual([f.fp.composite, fingerprint('MLKEM768-P384', previous.publicKey)]);
  });

  it('a request sealed to a key the worker does not hold is retried (UNKNOWN_RECIPIENT), not refused', async () => {
    const d = deps(async () => undefined);
    const { r, body } = queued(previous.publicKey);
    const [out] = await processBatch(d, [body]);
    expect(out).toEqual({ status: 'retry', handle: r.handle, receivedAt: expect.any(Number), code: 'UNKNOWN_RECIPIENT' });
    expect(await d.decisions.get({ id: r.handle })).toBeUndefined(); // no refusal stored
  });

  it('a body that is not an envelope is still refused (signed), not retried', async () => {
    const d = deps(async () => f.recipientKey);
    const junk = new TextEncoder().encode('x'.repeat(2000));
    const { requestHandle } = await import('../../../src/protocol/request.js');
    const handle = requestHandle(p, junk);
    const [out] = await processBatch(d, [encodeQueued(handle, 'analyze', Date.now(), junk)]);
    expect(out).toMatchObject({ status: 'rejected', code: 'NOT_AN_ENVELOPE' });
  });
});

describe('the proxy during a rotation', () => {
  it('accepts requests sealed to every generation its document lists; refuses others before any write', async () => {
    const g1 = testKeySet(p);
    const g2 = testKeySet(p, { root: g1.root, previous: g1.keyset, accepted: [g1.keyset] });
    const published = publishedKeys(g2.doc, 'ima/quantum/public-keys');
    expect(published.recipientFingerprints!.map(toHex)).toEqual([g2.keyset.statement.kem.fingerprint, g1.keyset.statement.kem.fingerprint]);
    const requests = new MemoryTable('r', REQUESTS_KEY);
    const handler = createProxyHandler({ p, requests, decisions: new MemoryTable('d', DECISIONS_KEY), queue: new MemoryQueue(), clock: { now: () => Date.now() }, keys: async () => published });
    const seal = (kem: string) => sealRequest(p, new Uint8Array(Buffer.from(kem, 'base64')), 'analyze', { name: 'a', content: 'x' }).sealed;
    for (const ks of [g2, g1]) expect((await handler(event('POST', '/api/analyze', { body: seal(ks.keyset.statement.kem.public_key) }))).statusCode).toBe(202);
    const stranger = await handler(event('POST', '/api/analyze', { body: seal(testKeySet(p).keyset.statement.kem.public_key) }));
    expect(stranger.statusCode).toBe(400);
    expect(JSON.parse(stranger.body!).error.code).toBe('WRONG_RECIPIENT');
    // GET /api/keys: the document as published, cacheable for a minute only (a rotation reaches clients)
    const keys = await handler(event('GET', '/api/keys'));
    expect(keys.body).toBe(g2.doc);
    expect(keys.headers?.['cache-control']).toBe('public, max-age=60');
    // a secret that is not a v2 document is PUBLIC_KEYS_MALFORMED (503 at the proxy), not a crash
    expect(() => publishedKeys('{"format":"ima-qs-public-keys/v1"}', 'x')).toThrow(expect.objectContaining({ code: 'PUBLIC_KEYS_MALFORMED' }));
  });

  it('the proxy re-reads its document after the TTL (≤ 5 min; 60 s), keeps it within, and does not keep a failure', async () => {
    let now = 0;
    let reads = 0;
    let fail = false;
    const get = cachedFor(60_000, async () => {
      reads++;
      if (fail) throw new Error('unreachable');
      return reads;
    }, () => now);
    expect(await get()).toBe(1);
    now = 59_999;
    expect(await get()).toBe(1);
    now = 60_000;
    expect(await get()).toBe(2);
    fail = true;
    now = 120_000;
    await expect(get()).rejects.toThrow('unreachable');
    fail = false;
    expect(await get()).toBe(4); // the failure was not kept
  });
});
