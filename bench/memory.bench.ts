/**
 * Peak memory and start-up of the BUILT command line (dist/; run `npm run build` first), the way
 * an operator runs it: `ima-qs encrypt` / `decrypt` of 1 GiB, file to file and pipe to pipe
 * (issue 2: "peak memory of a 1 GiB encrypt stays under 100 MiB"), against the baseline of the
 * same command on 1 KiB, and `ima-qs --version`.
 *
 *   node --import tsx bench/memory.bench.ts [--mib 1024] [--runs 3]
 *
 * Peak RSS comes from getrusage in the child itself (bench/fixtures/rss-wrap.mjs). Not a test: no
 * assertions; numbers vary by machine and by how much garbage V8 lets pile up before collecting.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const root = new URL('..', import.meta.url).pathname;
const wrap = join(root, 'bench/fixtures/rss-wrap.mjs');
if (!existsSync(join(root, 'dist/main.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const MIB = arg('mib', 1024);
const RUNS = arg('runs', 3);
const PIECE = 1 << 20;

function zeros(bytes: number): Readable {
  let left = bytes;
  const piece = Buffer.alloc(PIECE);
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(PIECE, left);
      left -= n;
      this.push(n === PIECE ? piece : piece.subarray(0, n));
    },
  });
}

interface Run {
  kib: number;
  ms: number;
  code: number | null;
}

/** Runs ima-qs with argv; stdin from `input` (or nothing), stdout drained. */
function runCli(argv: string[], input?: Readable): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [wrap, ...argv], { stdio: ['pipe', 'pipe', 'ignore', 'pipe'] });
    let rss = '';
    child.stdio[3]!.on('data', (d: Buffer) => (rss += d.toString()));
    child.stdout!.resume();
    if (input) input.pipe(child.stdin!);
    else child.stdin!.end();
    child.on('error', reject);
    child.on('close', (code) => resolve({ kib: Number(rss), ms: performance.now() - t0, code }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'ima-membench-'));
try {
  const keys = join(dir, 'keys');
  const gen = await runCli(['keys', 'generate', '--out', keys]);
  if (gen.code !== 0) throw new Error('keys generate failed');
  const big = join(dir, 'big.bin');
  await pipeline(zeros(MIB * PIECE), createWriteStream(big));

  const rows: { what: string; runs: Run[] }[] = [];
  const measure = async (what: string, make: () => Promise<Run>) => {
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await make();
      if (r.code !== 0) throw new Error(`${what}: exit ${r.code}`);
      runs.push(r);
    }
    rows.push({ what, runs });
  };

  await measure('--version', () => runCli(['--version']));
  await measure('encrypt 1 KiB, pipe → pipe', () => runCli(['encrypt', '--to', keys, '-'], zeros(1024)));
  await measure(`encrypt ${MIB} MiB, file → file`, async () => {
    rmSync(join(dir, 'big.ima'), { force: true });
    return runCli(['encrypt', '--to', keys, '-o', join(dir, 'big.ima'), big]);
  });
  await measure(`decrypt ${MIB} MiB, file → file`, async () => {
    rmSync(join(dir, 'big.out'), { force: true });
    return runCli(['decrypt', '--identity', keys, '-o', join(dir, 'big.out'), join(dir, 'big.ima')]);
  });
  if (statSync(join(dir, 'big.out')).size !== MIB * PIECE) throw new Error('round trip size mismatch');
  await measure(`encrypt ${MIB} MiB, pipe → pipe`, () => runCli(['encrypt', '--to', keys, '-'], zeros(MIB * PIECE)));

  const fmt = (n: number) => (n / 1024).toFixed(1);
  process.stdout.write(`built CLI on node ${process.version}, ${RUNS} runs each; peak RSS in MiB (min / max), wall time median\n`);
  process.stdout.write(`${'what'.padEnd(36)}${'peak MiB'.padStart(16)}${'ms'.padStart(10)}\n`);
  for (const r of rows) {
    const k = r.runs.map((x) => x.kib).sort((a, b) => a - b);
    const ms = r.runs.map((x) => x.ms).sort((a, b) => a - b)[Math.floor(r.runs.length / 2)];
    process.stdout.write(`${r.what.padEnd(36)}${`${fmt(k[0])} / ${fmt(k[k.length - 1])}`.padStart(16)}${ms.toFixed(0).padStart(10)}\n`);
  }
  process.stdout.write(
    JSON.stringify({ bench: 'memory', node: process.version, mib: MIB, rows: rows.map((r) => ({ what: r.what, kib: r.runs.map((x) => x.kib), ms: r.runs.map((x) => Math.round(x.ms)) })) }) + '\n',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
