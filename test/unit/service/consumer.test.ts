/**
 * The consumer loop over the in-memory queue (SQS semantics: visibility, receive counts,
 * redrive): graceful stop releases a batch that cannot finish in time; the signing pool's
 * signatures verify like inline ones.
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
import { SigningPool } from '../../../src/service/worker/signing-pool.js';
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

    const stuck = new Consumer(queue, pipelineDeps({ ...base, model: slow }), base.log, { waitSeconds: 0, visibilitySeconds: 60, graceMs: 200 });
    stuck.start();
    await new Promise((res) => setTimeout(res, 100));
    await stuck.stop(); // SIGTERM path: the batch is released (visibility 0), not lost for 60 s
    unblock();

    const good = new Consumer(queue, pipelineDeps(base), base.log, { waitSeconds: 0, visibilitySeconds: 60 });
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
    const c = new Consumer(queue, pipelineDeps(base), base.log, { waitSeconds: 0 });
    c.start();
    for (let i = 0; i < 100 && dlq.depth === 0; i++) await new Promise((res) => setTimeout(res, 20));
    await c.stop();
    expect(dlq.depth).toBe(1);
    expect(c.stats.poison).toBe(3);
  });
});

describe('SigningPool', () => {
  it('signs on worker threads; signatures verify with their context', async () => {
    const pool = await SigningPool.start(f.keys.mldsa, { threads: 2 });
    try {
      const values = CODE_COUNCIL.personas.slice(0, 4).map((x) => ({ persona: x.id }));
      const sigs = await pool.signAll(values.map((value) => ({ purpose: 'vote' as const, value })));
      expect(sigs).toHaveLength(4);
      sigs.forEach((s, i) => {
        expect(verifyJson(p, f.keys.mldsa.publicKey, 'vote', values[i], s)).toBe(true);
        expect(verifyJson(p, f.keys.mldsa.publicKey, 'decision', values[i], s)).toBe(false);
      });
    } finally {
      await pool.close();
    }
  });
});
