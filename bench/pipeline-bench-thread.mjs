// One pipeline thread of bench/service.bench.ts: the production pipeline (dist/, built first) with
// its own in-memory tables and chain, anchoring in the shared simulated PCR under the shared lock.
// In: arrays of queue message bodies; out: how many were decided.
import { parentPort, workerData } from 'node:worker_threads';
import { AuditChain } from '../dist/audit/audit-chain.js';
import { AUDIT_KEY, TableAuditStore } from '../dist/audit/audit-store.js';
import { compositeKeyFrom } from '../dist/crypto/composite-kem.js';
import { getProvider } from '../dist/crypto/providers.js';
import { InlineSigner } from '../dist/crypto/signer.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../dist/protocol/records.js';
import { RulesModel } from '../dist/service/council/councils.js';
import { MemoryTable } from '../dist/service/memory/memory-table.js';
import { processBatch } from '../dist/service/worker/pipeline.js';
import { SimulatedBank } from '../dist/tpm/simulated-bank.js';
import { ThreadLock } from '../dist/tpm/pcr-lock.js';

const { i, keys, fp, recipient, shared, pcrFile, batch, certification } = workerData;
const p = getProvider('node');
const mldsa = p.mldsa87.fromSeed(keys.mldsa.seed);
const signer = new InlineSigner(p, mldsa);
const clock = { now: () => Date.now() };
const d = {
  p,
  recipientKey: compositeKeyFrom(p.mlkem768.fromSeed(keys.mlkem.seed), p.p384.fromScalar(keys.ecdh.scalar)),
  // the root-signed statement every response carries (made once in the main thread, as a worker holds it)
  certification: () => certification,
  signer,
  signerFingerprint: fp.mldsa,
  model: new RulesModel(),
  requests: new MemoryTable('r', REQUESTS_KEY),
  decisions: new MemoryTable('d', DECISIONS_KEY),
  clock,
  log: { log() {} },
  audit: new AuditChain(p, {
    chain: `bench/${i}`,
    store: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)),
    pcrBank: new SimulatedBank(pcrFile),
    pcr: 16,
    signer,
    signerFingerprint: fp.mldsa,
    recipient,
    recipientFingerprint: fp.composite,
    clock,
    pcrLock: new ThreadLock(shared, i + 1),
  }),
};
// two batches in flight, as the worker's consumer gives a pipeline (one prepared while the other commits)
parentPort.on('message', async (bodies) => {
  let decided = 0;
  let next = 0;
  const lane = async () => {
    while (next < bodies.length) {
      const mine = bodies.slice(next, (next += batch));
      const outs = await processBatch(d, mine);
      decided += outs.filter((o) => o.status === 'decided').length; // after the await: the other lane adds too
    }
  };
  await Promise.all([lane(), lane()]);
  parentPort.postMessage({ decided });
});
parentPort.postMessage({ ready: true });
