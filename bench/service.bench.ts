/**
 * Service benchmark: decisions per second and per-stage latency (open, council, sign, audit+PCR,
 * seal, store) for ONE worker pipeline on this machine, with the crypto provider's signing inline
 * (pure JS on Node 20, native on Node ≥ 24.7) and on the worker-thread signing pool.
 * Ports: in-memory tables; PCR: the simulated bank (a state file; a swtpm extend adds ~21 ms per
 * batch, i.e. ~2 ms per decision at batch 10). Run: node --import tsx bench/service.bench.ts [--n 40]
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain } from '../src/audit/audit-chain.js';
import { AUDIT_KEY, TableAuditStore } from '../src/audit/audit-store.js';
import { getProvider } from '../src/crypto/providers.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPrivateKey, recipientPublicKey } from '../src/keys/key-dir.js';
import { toBase64 } from '../src/crypto/bytes.js';
import { certifyKeySet } from '../src/protocol/keyset.js';
import { RulesModel } from '../src/service/council/councils.js';
import { MemoryTable } from '../src/service/memory/memory-table.js';
import { DECISIONS_KEY, REQUESTS_KEY, encodeQueued } from '../src/protocol/records.js';
import { sealRequest } from '../src/protocol/request.js';
import { InlineSigner, type Signer } from '../src/crypto/signer.js';
import { processBatch } from '../src/service/worker/pipeline.js';
import { SigningPool } from '../src/service/worker/signing-pool.js';
import { SimulatedBank } from '../src/tpm/simulated-bank.js';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 40;
const BATCH = 10;
const p = getProvider('node');
const keys = generateServiceKeys(p);
const pub = publicKeysOf(keys);
// the root-signed statement every response carries (SPEC §8.10): made once, as a worker holds it
const root = p.mldsa87.fromSeed();
const certification = { root: toBase64(root.publicKey), keyset: certifyKeySet(p, root, { kem: recipientPublicKey(pub), decisions: pub.mldsa, audit: p.mldsa87.fromSeed().publicKey, notBefore: new Date(Date.now() - 60_000) }) };
const fp = fingerprints(pub);
const recipient = recipientPublicKey(pub);
const content = 'export function add(a: number, b: number) {\n  return a + b;\n}\n'.repeat(20);

async function run(label: string, signer: Signer, batch: number) {
  const lines: { ms: Record<string, number> }[] = [];
  const log = { log: (_l: string, msg: string, f: Record<string, unknown> = {}) => void (msg === 'decision stored' && lines.push(f as { ms: Record<string, number> })) };
  const clock = { now: () => Date.now() };
  const deps = {
    p,
    recipientKey: recipientPrivateKey(keys),
    signer,
    signerFingerprint: fp.mldsa,
    certification: () => certification,
    model: new RulesModel(),
    requests: new MemoryTable('r', REQUESTS_KEY),
    decisions: new MemoryTable('d', DECISIONS_KEY),
    clock,
    log,
    audit: new AuditChain(p, {
      chain: 'bench',
      store: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)),
      pcrBank: new SimulatedBank(join(mkdtempSync(join(tmpdir(), 'ima-bench-')), 'pcr.json')),
      pcr: 16,
      signer,
      signerFingerprint: fp.mldsa,
      recipient,
      recipientFingerprint: fp.composite,
      clock,
    }),
  };
  const bodies = Array.from({ length: N }, () => {
    const r = sealRequest(p, recipient, 'analyze', { name: 'add.ts', content });
    return encodeQueued(r.handle, 'analyze', Date.now(), r.sealed);
  });
  await processBatch(deps, bodies.splice(0, 2)); // warm-up
  lines.length = 0;
  const t0 = performance.now();
  for (let i = 0; i < bodies.length; i += batch) await processBatch(deps, bodies.slice(i, i + batch));
  const s = (performance.now() - t0) / 1000;
  const med = (k: string) => {
    const v = lines.map((l) => l.ms[k]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const stages = ['open', 'council', 'sign', 'audit', 'seal', 'store', 'total'];
  console.log(
    `${`${label}, batch ${batch}`.padEnd(46)} ${(lines.length / s).toFixed(1).padStart(6)} decisions/s   median ms: ${stages.map((k) => `${k} ${med(k)}`).join(', ')}`,
  );
}

console.log(`node ${process.version}, provider ${p.name}, native PQ ${p.nativePq}, ${availableParallelism()} cores, ${N} decisions per run`);
// batch 1: clean per-stage latency (nothing interleaves); batch 10: throughput with group commit
for (const batch of [1, BATCH]) await run('inline signing', new InlineSigner(p, keys.mldsa), batch);
try {
  const pool = await SigningPool.start(keys.mldsa);
  for (const batch of [1, BATCH]) await run(`signing pool (${pool.size} threads, native ${pool.native})`, pool, batch);
  await pool.close();
} catch (err) {
  // Node 20 + tsx: worker threads cannot load .ts (ERR_UNKNOWN_FILE_EXTENSION); the built dist/ works
  console.log(`signing pool: not measured here (${(err as { cause?: { code?: string } }).cause?.code ?? String(err)})`);
}
