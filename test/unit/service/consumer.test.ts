/**
 * The consumer loop over the in-memory queue (SQS semantics: visibility, receive counts,
 * redrive): graceful stop releases a batch that cannot finish in time; several pipelines are fed
 * a batch each, each with its own chain, anchored in one PCR under one lock.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { RemoteError } from '../../../src/errors.js';
import { verifyJson } from '../../../src/crypto/signature.js';
import { CODE_COUNCIL } from '../../../src/service/council/councils.js';
import type { PersonaModel } from '../../../src/protocol/council/types.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { DECISIONS_KEY, REQUESTS_KEY, encodeQueued } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { Consumer } from '../../../src/service/worker/consumer.js';
import { InlinePipeline } from '../../../src/service/worker/pipelines.js';
import { ThreadLock } from '../../../src/tpm/pcr-lock.js';
import { verifyStore } from '../../../src/audit/audit-verify-run.js';
import { toHex } from '../../../src/crypto/bytes.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { CLEAN_CODE, memoryLogger, p, pipelineDeps, serviceFixture, tempDir } from './fixtures.js';

const f = serviceFixture();

describe('Consumer', () => {
  it('on stop, releases a batch that does not finish within the grace period; another worker then decides it once', async () => {
    const queue = new MemoryQueue({ visibilitySeconds: 60 });
    const decisions = new MemoryTable('d', DECISIONS_KEY);
    let unblock!: () => void;
    const blocked = new Promise<void>((r) => (unblock = r));
    const slow: PersonaModel = {
      name: 'slow',
      consult: async () => {
        await blocked;
        throw new RemoteError('PERSONA_MODEL_UNREACHABLE', 'gone'); // the stopped worker never finishes this one
      },
    };
    const base = { requests: new MemoryTable('r', REQUESTS_KEY), decisions, auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)), pcrBank: new SimulatedBank(join(tempDir(), 'pcr.json')), log: memoryLogger() };
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'a', content: CLEAN_CODE });
    await queue.send(encodeQueued(r.handle, 'analyze', Date.now(), r.sealed));

    const stuck = new Consumer(queue, [new InlinePipeline(pipelineDeps({ ...base, model: slow }))], base.log, { waitSeconds: 0, visibilitySeconds: 60, graceMs: 200 });
    stuck.start();
    await new Promise((res) => setTimeout(res, 100));
    await stuck.stop(); // SIGTERM path: the batch is released (visibility 0), not lost for 60 s
    unblock();

    const good = new Consumer(queue, [new InlinePipeline(pipelineDeps(base))], base.log, { waitSeconds: 0, visibilitySeconds: 60 });
    good.start();
    for (let i = 0; i < 100 && !(await decisions.get({ id: r.handle })); i++) await new Promise((res) => setTimeout(res, 50));
    await good.stop();
    expect((await decisions.get({ id: r.handle }))?.status).toBe('decided');
    expect(good.stats.decided).toBe(1);
    expect(queue.depth).toBe(0);
  });

  it('sends poison messages to the dead-letter queue after maxReceiveCount', async () => {
    const dlq = new MemoryQueue();
    const queue = new MemoryQueue({ redrive: { deadLetter: dlq, maxReceiveCount: 3 } });
    await queue.send('garbage');
    const base = { requests: new MemoryTable('r', REQUESTS_KEY), decisions: new MemoryTable('d', DECISIONS_KEY), auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)), pcrBank: new SimulatedBank(join(tempDir(), 'pcr.json')), log: memoryLogger() };
    const c = new Consumer(queue, [new InlinePipeline(pipelineDeps(base))], base.log, { waitSeconds: 0 });
    c.start();
    for (let i = 0; i < 100 && dlq.depth === 0; i++) await new Promise((res) => setTimeout(res, 20));
    await c.stop();
    expect(dlq.depth).toBe(1);
    expect(c.stats.poison).toBe(3);
  });
});

describe('Consumer with several pipelines', () => {
  it('feeds every pipeline (one batch each at a time), each with its own chain; stop waits for all of them', async () => {
    const queue = new MemoryQueue({ visibilitySeconds: 60 });
    const decisions = new MemoryTable('d', DECISIONS_KEY);
    const base = { requests: new MemoryTable('r', REQUESTS_KEY), decisions, auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)), pcrBank: new SimulatedBank(join(tempDir(), 'pcr.json')), log: memoryLogger() };
    const shared = ThreadLock.buffer();
    const seen: { chain: string; size: number; at: number }[] = [];
    const pipelines = [0, 1].map((i) => {
      const inner = new InlinePipeline(pipelineDeps({ ...base, chain: `w/${i}`, pcrLock: new ThreadLock(shared, i + 1) }));
      return {
        chain: inner.chain,
        process: async (bodies: string[]) => {
          seen.push({ chain: inner.chain, size: bodies.length, at: Date.now() });
          return inner.process(bodies);
        },
        close: () => inner.close(),
      };
    });
    const reqs = Array.from({ length: 12 }, (_, i) => sealRequest(p, f.recipient, 'analyze', { name: `a${i}`, content: CLEAN_CODE + i }));
    for (const r of reqs) await queue.send(encodeQueued(r.handle, 'analyze', Date.now(), r.sealed));
    const c = new Consumer(queue, pipelines, base.log, { waitSeconds: 0, batchSize: 3 });
    c.start();
    for (let i = 0; i < 200 && c.stats.decided < 12; i++) await new Promise((res) => setTimeout(res, 20));
    await c.stop();
    expect(c.stats.decided).toBe(12);
    expect(queue.depth).toBe(0);
    expect(new Set(seen.map((x) => x.chain))).toEqual(new Set(['w/0', 'w/1']));
    expect(Math.max(...seen.map((x) => x.size))).toBeLessThanOrEqual(3);
    const entries = [...(await base.auditStore.range('w/0')), ...(await base.auditStore.range('w/1'))];
    expect(entries).toHaveLength(12);
    // both chains anchored in one PCR under one lock: audit verify explains every transition
    const run = await verifyStore(p, base.auditStore, {
      chains: ['w/0', 'w/1'],
      trusted: new Map([[f.fp.mldsa, f.keys.mldsa.publicKey]]),
      evidence: async () => ({ source: 'simulated', values: [{ pcr: 16, bank: 'sha256', value: toHex((await base.pcrBank.read(16, ['sha256'])).sha256) }] }),
    });
    for (const r of run.results) {
      expect(r.verdict.problem).toBeUndefined();
      expect(r.pcr.status).toBe('match');
    }
  });

  it('on stop, releases the messages no pipeline has started at once', async () => {
    const queue = new MemoryQueue({ visibilitySeconds: 60 });
    let unblock!: () => void;
    const blocked = new Promise<void>((r) => (unblock = r));
    const slow = { chain: 'x/0', process: async (b: string[]) => (await blocked, b.map(() => ({ status: 'retry' as const, code: 'X' }))), close: async () => {} };
    for (let i = 0; i < 5; i++) await queue.send(`m${i}`);
    const c = new Consumer(queue, [slow], memoryLogger(), { waitSeconds: 0, batchSize: 2, graceMs: 100 });
    c.start();
    await new Promise((res) => setTimeout(res, 100));
    // one batch of 2 in the pipeline, one batch waiting; the fifth not received (room for one batch per pipeline)
    await c.stop();
    unblock();
    const back = await queue.receive({ max: 10, waitSeconds: 0 });
    expect(back).toHaveLength(5); // the waiting batch at once, the started one after the grace
  });
});
