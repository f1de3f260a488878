/**
 * Issue 12.2 (SPEC §8.3 council budget): the council runs on its own thread with a per-request
 * budget. A council that never finishes (test/fixtures/slow-model.mjs busy-loops on its marker)
 * is stopped at the budget and refused for good with a signed COUNCIL_TIMEOUT — no vote, no
 * decision signature, no audit entry — while the other request of the same batch is decided and
 * the consumer's visibility renewals and timers on the main thread keep running (a visibility of
 * 2 s, shorter than the budget: without renewals the messages would be delivered again).
 * Real parts: a pipeline thread (dist/, built by `npm test`), dynalite tables, the simulated bank.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { DynamoTable } from '../../../src/aws/dynamo-table.js';
import { toBase64 } from '../../../src/crypto/bytes.js';
import { createTables, startDynalite } from '../../../src/local/local-stack.js';
import type { Queue, ReceiveOptions } from '../../../src/ports.js';
import { DECISIONS_KEY, DEFAULT_TABLES, encodeQueued } from '../../../src/protocol/records.js';
import { verifyRefusal } from '../../../src/protocol/refusal.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { Consumer } from '../../../src/service/worker/consumer.js';
import { ThreadPipeline } from '../../../src/service/worker/pipelines.js';
import { ThreadLock } from '../../../src/tpm/pcr-lock.js';
import { repoRoot } from '../../helpers/cli.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { CLEAN_CODE, memoryLogger, openDecision, p, serviceFixture, tempDir } from '../../unit/service/fixtures.js';

const f = serviceFixture();
const BUDGET_MS = 3000;
const VISIBILITY = 2;
let db: { url: string; close(): Promise<void> };
let dynamo: DynamoDBClient;
const dir = tempDir('ima-budget-');

beforeAll(async () => {
  // the fixture's keys, certified by its root, as a KEYS_DIR the pipeline thread opens its ring from
  await writeCertifiedKeyDir(p, join(dir, 'keys'), join(dir, 'root'), { keys: f.keys, audit: f.audit, root: f.rootKey });
  db = await startDynalite(join(dir, 'db'));
  dynamo = new DynamoDBClient({ endpoint: db.url, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await createTables(dynamo);
});

afterAll(async () => {
  dynamo?.destroy();
  await db?.close();
});

describe('the council budget', () => {
  it('a council over its budget: a signed COUNCIL_TIMEOUT; the other request of the batch is decided; renewals and timers go on', async () => {
    const log = memoryLogger();
    const pipeline = await ThreadPipeline.start(
      {
        index: 0,
        chain: 'budget/0',
        keySource: { kind: 'dir', dir: join(dir, 'keys') },
        signer: { kind: 'keyset', fingerprint: f.fp.mldsa },
        keyReload: { reloadMs: 0 },
        signerFingerprint: f.fp.mldsa,
        dynamo: { endpoint: db.url, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 2 },
        tables: DEFAULT_TABLES,
        anchor: { kind: 'simulated', stateFile: join(dir, 'pcr.json') },
        pcr: 16,
        bank: 'sha256',
        lock: { shared: ThreadLock.buffer() },
        recipient: { publicKey: f.recipient, fingerprint: f.fp.composite },
        model: { kind: 'module', url: pathToFileURL(join(repoRoot, 'test/fixtures/slow-model.mjs')).href },
        councilBudgetMs: BUDGET_MS,
        maxSkewMs: 300_000,
        claimLeaseMs: 120_000,
        notifyStored: false,
        observeBatches: false,
      },
      { log },
    );
    // the queue, counting deliveries and visibility renewals
    const inner = new MemoryQueue({ visibilitySeconds: VISIBILITY });
    const deliveries = new Map<string, number>();
    let renewals = 0;
    const queue: Queue = {
      send: (b) => inner.send(b),
      receive: async (o: ReceiveOptions) => {
        const msgs = await inner.receive(o);
        for (const m of msgs) deliveries.set(m.body, (deliveries.get(m.body) ?? 0) + 1);
        return msgs;
      },
      delete: (r) => inner.delete(r),
      changeVisibility: async (r, s) => {
        if (s > 0) renewals++;
        return inner.changeVisibility(r, s);
      },
    };
    const slow = sealRequest(p, f.recipient, 'analyze', { name: 'slow.ts', content: '// SLOW-COUNCIL\n' });
    const normal = sealRequest(p, f.recipient, 'analyze', { name: 'add.ts', content: CLEAN_CODE });
    for (const r of [slow, normal]) await queue.send(encodeQueued(r.handle, 'analyze', Date.now(), r.sealed));

    const consumer = new Consumer(queue, [pipeline], log, { waitSeconds: 0, visibilitySeconds: VISIBILITY, batchSize: 10 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 100); // the main thread's event loop meanwhile
    const t0 = Date.now();
    consumer.start();
    const decisions = new DynamoTable(dynamo, DEFAULT_TABLES.decisions, DECISIONS_KEY);
    try {
      for (let i = 0; i < 300 && !((await decisions.get({ id: slow.handle })) && (await decisions.get({ id: normal.handle }))); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      clearInterval(timer);
      await consumer.stop();
      await pipeline.close();
    }
    const elapsed = Date.now() - t0;

    // both came in one batch, each delivered once: renewed while the council ran
    expect(consumer.stats.batches).toBe(1);
    expect([...deliveries.values()]).toEqual([1, 1]);
    expect(renewals).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS);
    expect(ticks).toBeGreaterThanOrEqual(5); // not blocked: a blocked main thread would have ticked about once

    const refused = await decisions.get({ id: slow.handle });
    expect(refused).toMatchObject({ status: 'rejected', code: 'COUNCIL_TIMEOUT' });
    const v = verifyRefusal(p, JSON.parse(String(refused!.refusal)), { publicKey: f.keys.mldsa.publicKey, fingerprint: f.fp.mldsa }, slow.handle);
    expect(v.ok).toBe(true);

    const decided = await decisions.get({ id: normal.handle });
    expect(decided?.status).toBe('decided');
    const response = openDecision(toBase64(decided!.sealed as Uint8Array), normal.replyKey) as { decision: { model: string } };
    expect(verifyResponse(p, response, f.pin, { requestDigest: normal.handle }).checks.filter((c) => !c.ok)).toEqual([]);
    expect(response.decision.model).toBe('test/slow');

    // the refused request left nothing in the audit chain: one entry, the decided one
    const entries = await new TableAuditStore(new DynamoTable(dynamo, DEFAULT_TABLES.audit, AUDIT_KEY)).range('budget/0');
    expect(entries.map((e) => JSON.parse(e.core).request_digest)).toEqual([normal.handle]);
  }, 60_000);
});
