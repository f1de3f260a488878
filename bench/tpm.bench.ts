/**
 * PCR anchoring throughput through tpm2-tools against a private swtpm (DESIGN.md: ~20 ms per
 * extend caps one-extend-per-decision at ~50/s; group commit removes the cap).
 *
 *   node --import tsx bench/tpm.bench.ts [--entries 200] [--batches 20]
 *
 * Measures, with the event log on (append + fsync per commit, as the worker runs it):
 *   one-per-entry : PcrAnchor.extendEvent per entry  (1 tpm2_pcrextend per entry)
 *   group commit  : PcrAnchor.extendBatch of 64      (1 tpm2_pcrextend per 64 entries)
 * and prints a table and one JSON line. Not a test: no assertions, numbers vary by machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PcrAnchor } from '../src/tpm/anchor.js';
import { EventLog } from '../src/tpm/event-log.js';
import { Tpm2ToolsBank } from '../src/tpm/tpm2-tools.js';
import { startSwtpm } from '../test/helpers/swtpm.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const ENTRIES = arg('entries', 200);
const BATCHES = arg('batches', 20);
const BATCH = 64;

const tpm = await startSwtpm();
const work = mkdtempSync('/tmp/ima-tpmbench-');
try {
  const bank = new Tpm2ToolsBank({ tcti: tpm.tcti, env: process.env });
  const entry = (i: number) => ({ type: 'ima-qs/audit', data: Buffer.from(`audit entry ${i}`) });

  // warm-up (first spawn, page cache) and the anchor's initial read
  const a1 = new PcrAnchor(bank, new EventLog(join(work, 'single.log')), { pcr: 11, banks: ['sha256'] });
  await a1.extendEvent(entry(-1));
  let t = performance.now();
  for (let i = 0; i < ENTRIES; i++) await a1.extendEvent(entry(i));
  const singleMs = performance.now() - t;

  const a2 = new PcrAnchor(bank, new EventLog(join(work, 'batch.log')), { pcr: 12, banks: ['sha256'] });
  await a2.extendEvent(entry(-1));
  t = performance.now();
  for (let b = 0; b < BATCHES; b++) await a2.extendBatch(Array.from({ length: BATCH }, (_, i) => entry(b * BATCH + i)));
  const batchMs = performance.now() - t;

  const rows = [
    { mode: 'one-per-entry', entries: ENTRIES, extends: ENTRIES, ms: singleMs },
    { mode: `group commit ${BATCH}`, entries: BATCHES * BATCH, extends: BATCHES, ms: batchMs },
  ].map((r) => ({
    ...r,
    ms: Math.round(r.ms),
    msPerExtend: +(r.ms / r.extends).toFixed(2),
    extendsPerSec: Math.round((r.extends / r.ms) * 1000),
    entriesPerSec: Math.round((r.entries / r.ms) * 1000),
  }));

  const pad = (s: unknown, n: number) => String(s).padStart(n);
  process.stdout.write(`tpm2-tools ${bank.tcti.replace(/path=.*/, 'path=…')} (swtpm), sha256, event log with fsync\n`);
  process.stdout.write(`${'mode'.padEnd(16)}${pad('entries', 9)}${pad('extends', 9)}${pad('ms', 8)}${pad('ms/extend', 11)}${pad('extends/s', 11)}${pad('entries/s', 11)}\n`);
  for (const r of rows) {
    process.stdout.write(`${r.mode.padEnd(16)}${pad(r.entries, 9)}${pad(r.extends, 9)}${pad(r.ms, 8)}${pad(r.msPerExtend, 11)}${pad(r.extendsPerSec, 11)}${pad(r.entriesPerSec, 11)}\n`);
  }
  process.stdout.write(JSON.stringify({ bench: 'tpm', node: process.version, batch: BATCH, rows }) + '\n');
} finally {
  await tpm.stop();
  rmSync(work, { recursive: true, force: true });
}
