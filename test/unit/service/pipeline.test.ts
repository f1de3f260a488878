/**
 * The whole request → decision path with real crypto over in-memory ports and the (labelled)
 * simulated PCR bank: proxy handler with APIGatewayProxyEventV2 events → queue → worker pipeline →
 * sealed decision → client opens and verifies every signature; the audit chain links and its PCR
 * replay equals the bank.
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseCore } from '../../../src/audit/audit-entry.js';
import { verifyJson } from '../../../src/crypto/signature.js';
import { batchPcrDigest } from '../../../src/protocol/batch-statement.js';
import { leafHash, rootFromLeafHashes } from '../../../src/protocol/merkle.js';
import { verifyRefusal } from '../../../src/protocol/refusal.js';
import { TableAuditStore, AUDIT_KEY } from '../../../src/audit/audit-store.js';
import { fromHex, toHex } from '../../../src/crypto/bytes.js';
import { openBytes } from '../../../src/crypto/envelope.js';
import { fromBase64 } from '../../../src/crypto/bytes.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { processBatch } from '../../../src/service/worker/pipeline.js';
import { replayDigests } from '../../../src/tpm/pcr-math.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { BAD_CODE, CLEAN_CODE, event, memoryLogger, openDecision, p, pipelineDeps, serviceFixture, tempDir } from './fixtures.js';

function setup() {
  const requests = new MemoryTable('ima-quantum-requests', REQUESTS_KEY);
  const decisions = new MemoryTable('ima-quantum-decisions', DECISIONS_KEY);
  const auditTable = new MemoryTable('ima-tpm-audit-log', AUDIT_KEY);
  const auditStore = new TableAuditStore(auditTable);
  const queue = new MemoryQueue({ visibilitySeconds: 30 });
  const bank = new SimulatedBank(join(tempDir(), 'pcr.json'));
  const log = memoryLogger();
  const f = serviceFixture();
  const proxy = createProxyHandler({ p, requests, decisions, queue, clock: { now: () => Date.now() }, keys: async () => f.published, log });
  const deps = pipelineDeps({ requests, decisions, auditStore, pcrBank: bank, log });
  return { requests, decisions, auditStore, queue, bank, log, proxy, deps, f };
}

async function drain(s: ReturnType<typeof setup>) {
  const msgs = await s.queue.receive({ max: 10, waitSeconds: 0 });
  const out = await processBatch(s.deps, msgs.map((m) => m.body));
  for (const [i, o] of out.entries()) if (o.status === 'decided' || o.status === 'rejected' || o.status === 'duplicate') await s.queue.delete(msgs[i].receipt);
  return out;
}

describe('service pipeline (in-memory ports, real crypto)', () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it('request in → verified decision out, audit chained and anchored', async () => {
    const keysRes = await s.proxy(event('GET', '/api/keys'));
    expect(keysRes.statusCode).toBe(200);
    expect(keysRes.headers?.['cache-control']).toContain('max-age=60');
    expect(keysRes.body).not.toMatch(/PRIVATE/);

    const reqs = [
      sealRequest(p, s.f.recipient, 'analyze', { name: 'add.ts', content: CLEAN_CODE }),
      sealRequest(p, s.f.recipient, 'analyze', { name: 'bad.py', content: BAD_CODE }),
    ];
    for (const r of reqs) {
      const res = await s.proxy(event('POST', '/api/analyze', { body: r.sealed }));
      expect(res.statusCode).toBe(202);
      expect(JSON.parse(res.body!).handle).toBe(r.handle);
      const pending = await s.proxy(event('GET', `/api/decisions/${r.handle}`));
      expect(pending.statusCode).toBe(202);
    }
    const out = await drain(s);
    expect(out.map((o) => o.status)).toEqual(['decided', 'decided']);
    expect(s.queue.depth).toBe(0);

    const outcomes: string[] = [];
    for (const r of reqs) {
      const res = await s.proxy(event('GET', `/api/decisions/${r.handle}`));
      expect(res.statusCode).toBe(200);
      expect(res.isBase64Encoded).toBe(true);
      const response = openDecision(res.body!, r.replyKey) as any;
      const v = verifyResponse(p, response, s.f.pin, { requestDigest: r.handle, requireAnchor: true });
      expect(v.checks.filter((c) => !c.ok)).toEqual([]);
      expect(v.ok).toBe(true);
      expect(response.v).toBe(2);
      expect(response.votes).toHaveLength(21);
      expect(response.audit.batch.statement.pcr.simulated).toBe(true);
      outcomes.push(response.decision.outcome);
    }
    // different inputs → different decisions
    expect(outcomes).toEqual(['approve', 'reject']);

    // the audit chain: two v3 entries, linked, one signed batch statement, PCR = replay
    const recs = await s.auditStore.range('worker-1');
    expect(recs.map((r) => r.seq)).toEqual([0, 1]);
    expect(recs.map((r) => parseCore(r).v)).toEqual([3, 3]);
    expect(recs.every((r) => r.signature === undefined && r.anchor === undefined)).toBe(true);
    expect(parseCore(recs[1]).prev).toBe(recs[0].digest);
    const batches = await s.auditStore.batches('worker-1');
    expect(batches).toHaveLength(1);
    const st = JSON.parse(batches[0].statement);
    expect(st).toMatchObject({ first_seq: 0, size: 2, chain: 'worker-1' });
    expect(verifyJson(p, s.f.keys.mldsa.publicKey, 'batch', st, fromBase64(batches[0].signature))).toBe(true);
    const root = rootFromLeafHashes(p, recs.map((r) => leafHash(p, fromHex(r.digest))));
    expect(toHex(root)).toBe(st.entries_root);
    const expected = replayDigests('sha256', [batchPcrDigest('sha256', 2, root)]);
    const actual = (await s.bank.read(16, ['sha256'])).sha256;
    expect(toHex(actual)).toBe(toHex(expected));
    // the audit payload opens with the service's own composite key and holds the signed decision
    const payload = JSON.parse(new TextDecoder().decode(openBytes(p, s.f.recipientKey, fromBase64(recs[0].payload!))));
    expect(payload.decision.request_digest).toBe(reqs[0].handle);
    // logs carry timings and no secret material
    const decided = s.log.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'decision stored');
    expect(Object.keys(decided[0].ms)).toEqual(expect.arrayContaining(['open', 'council', 'sign', 'audit', 'seal', 'store', 'total']));
    expect(s.log.lines.join('\n')).not.toContain(CLEAN_CODE.slice(0, 20));
  });

  it('a replayed body is refused with 409 without decrypting; an unknown handle is 404', async () => {
    const r = sealRequest(p, s.f.recipient, 'patents', { name: 'x.txt', content: 'Title: A widget\n' });
    expect((await s.proxy(event('POST', '/api/patents', { body: r.sealed }))).statusCode).toBe(202);
    const again = await s.proxy(event('POST', '/api/patents', { body: r.sealed }));
    expect(again.statusCode).toBe(409);
    expect(JSON.parse(again.body!).error.code).toBe('REPLAYED_REQUEST');
    expect(s.queue.depth).toBe(1);
    const unknown = await s.proxy(event('GET', `/api/decisions/${'ab'.repeat(32)}`));
    expect(unknown.statusCode).toBe(404);
  });

  it('redelivery of the same message gives one decision and one audit entry', async () => {
    const r = sealRequest(p, s.f.recipient, 'analyze', { name: 'a.ts', content: CLEAN_CODE });
    await s.proxy(event('POST', '/api/analyze', { body: r.sealed }));
    const [m] = await s.queue.receive({ max: 1, waitSeconds: 0 });
    const first = await processBatch(s.deps, [m.body]);
    const second = await processBatch(s.deps, [m.body]);
    expect(first[0].status).toBe('decided');
    expect(second[0].status).toBe('duplicate');
    expect(await s.auditStore.range('worker-1')).toHaveLength(1);
  });

  it('refusals: stale timestamp, reused request id, tampered envelope, wrong route', async () => {
    const stale = sealRequest(p, s.f.recipient, 'analyze', { name: 'a', content: 'x' }, { nowMs: Date.now() - 10 * 60_000 });
    const id = '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b';
    const one = sealRequest(p, s.f.recipient, 'analyze', { name: 'a', content: 'one' }, { requestId: id });
    const two = sealRequest(p, s.f.recipient, 'analyze', { name: 'a', content: 'two' }, { requestId: id });
    const tampered = sealRequest(p, s.f.recipient, 'analyze', { name: 'a', content: 'y' });
    tampered.sealed[tampered.sealed.length - 3] ^= 1;
    const wrongRoute = sealRequest(p, s.f.recipient, 'patents', { name: 'a', content: 'z' });
    const handles: string[] = [];
    for (const r of [stale, one, two, tampered, wrongRoute]) {
      const res = await s.proxy(event('POST', '/api/analyze', { body: r.sealed }));
      expect(res.statusCode).toBe(202);
      handles.push(JSON.parse(res.body!).handle);
    }
    await drain(s);
    await drain(s);
    const status = async (h: string) => {
      const res = await s.proxy(event('GET', `/api/decisions/${h}`));
      if (res.statusCode !== 422) return res.statusCode;
      // every refusal is signed by the service key and bound to its request (SPEC §8.10.5)
      const body = JSON.parse(res.body!);
      const v = verifyRefusal(p, body.refusal, { publicKey: s.f.keys.mldsa.publicKey, fingerprint: s.f.fp.mldsa }, h);
      expect(v.ok).toBe(true);
      expect(verifyRefusal(p, body.refusal, { publicKey: s.f.keys.mldsa.publicKey, fingerprint: s.f.fp.mldsa }, 'ab'.repeat(32)).ok).toBe(false);
      return body.error.code;
    };
    expect(await status(stale.handle)).toBe('STALE_REQUEST');
    expect(await status(one.handle)).toBe(200);
    expect(await status(two.handle)).toBe('REQUEST_ID_REUSED');
    expect(await status(handles[3])).toBe('DECRYPT_FAILED');
    expect(await status(wrongRoute.handle)).toBe('ROUTE_MISMATCH');
    expect(s.queue.depth).toBe(0);
    expect(await s.auditStore.range('worker-1')).toHaveLength(1);
  });
});
