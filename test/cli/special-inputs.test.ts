/**
 * Every small input is read with a bound (issue 20, SPEC §1.6), tried as a careless or hostile
 * user would: each command that reads a key, signature, response or request file gets
 * /dev/zero, /dev/urandom, a FIFO whose writer never writes, a FIFO nobody opens for writing, a
 * FIFO that writes forever and a regular file over every limit — and stdin for the commands
 * that read '-'. Each run is the real binary in a child process: it must exit 3 with the input's
 * own error code (or INPUT_TIMEOUT) well before a 10 s deadline, leave no output file, and keep
 * its peak RSS (getrusage ru_maxrss of the child, reported by a --require'd exit hook) under
 * 150 MiB. The measured times and peaks are printed at the end (not asserted beyond the bound).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, repoRoot, runCli } from '../helpers/cli.js';
import { tempDir } from './helpers/bytes-io.js';

const DEADLINE_MS = 10_000;
const MAX_RSS_KIB = 150 * 1024;
const PIN = 'ab'.repeat(32);

let dir: string;
let preload: string;
const measured: string[] = [];

beforeAll(async () => {
  dir = tempDir('ima-qs-special-');
  preload = join(dir, 'rss-on-exit.cjs');
  // ru_maxrss of the child itself (KiB), written when it exits: the peak, whatever came before
  writeFileSync(
    preload,
    "process.on('exit', () => { try { require('fs').writeFileSync(process.env.IMA_QS_TEST_RSS_FILE, String(process.resourceUsage().maxRSS)); } catch {} });\n",
  );
  expect((await runCli(['keys', 'generate', '--out', join(dir, 'keys')])).code).toBe(0);
  writeFileSync(join(dir, 'plain.txt'), 'the plaintext\n');
  expect((await runCli(['encrypt', '--to', 'keys', '-o', 'good.ima', 'plain.txt'], { cwd: dir })).code).toBe(0);
  expect((await runCli(['sign', '--key', 'keys', '-o', 'good.sig', 'plain.txt'], { cwd: dir })).code).toBe(0);
  // over every limit (4 MiB responses are the largest); starts with '{' so `verify FILE --key`
  // takes the response path and meets the limit there too
  writeFileSync(join(dir, 'big'), Buffer.concat([Buffer.from('{'), Buffer.alloc(4 * 1024 * 1024, 0x61)]));
  mkdirSync(join(dir, 'fifos'));
});

afterAll(() => {
  if (measured.length) process.stderr.write(`special inputs (elapsed ms, peak RSS MiB):\n${measured.sort().join('\n')}\n`);
});

type Kind = 'zero' | 'urandom' | 'fifo-silent' | 'fifo-no-writer' | 'fifo-endless' | 'over-limit';
const KINDS: Kind[] = ['zero', 'urandom', 'fifo-silent', 'fifo-no-writer', 'fifo-endless', 'over-limit'];

/** [name, argv with X for the special input and OUT for an output file, the too-large code] */
const COMMANDS: [string, string[], string][] = [
  ['keys show X', ['keys', 'show', 'X'], 'KEY_MALFORMED'],
  ['sign --key X', ['sign', '--key', 'X', '-o', 'OUT', 'plain.txt'], 'KEY_MALFORMED'],
  ['encrypt --to X', ['encrypt', '--to', 'X', '-o', 'OUT', 'plain.txt'], 'KEY_MALFORMED'],
  ['decrypt --identity X', ['decrypt', '--identity', 'X', '-o', 'OUT', 'good.ima'], 'KEY_MALFORMED'],
  ['verify --key X', ['verify', 'plain.txt', '--signature', 'good.sig', '--key', 'X'], 'KEY_MALFORMED'],
  ['verify --signature X', ['verify', 'plain.txt', '--signature', 'X', '--key', 'keys'], 'BAD_SIGNATURE_FILE'],
  ['verify X --pin', ['verify', 'X', '--pin', PIN], 'RESPONSE_MALFORMED'],
  ['verify X --key DIR', ['verify', 'X', '--key', 'keys'], 'RESPONSE_MALFORMED'],
  ['request analyze X', ['request', 'analyze', 'X', '--endpoint', 'http://127.0.0.1:9', '--pin', PIN], 'INPUT_TOO_LARGE'],
];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  rssKiB: number;
}

/** Runs the binary; `stdin` is a file descriptor to give it, or 'silent' (a pipe nobody writes to). */
function runChild(argv: string[], tag: string, stdin: number | 'silent' | 'none' = 'none'): Promise<Outcome> {
  const rssFile = join(dir, `rss-${tag}`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(repoRoot, 'bin/ima-qs.js'), ...argv, '--json'], {
      cwd: dir,
      env: { ...process.env, NODE_OPTIONS: `--require ${preload}`, IMA_QS_TEST_RSS_FILE: rssFile, IMA_QS_INPUT_TIMEOUT_MS: '' },
      stdio: [typeof stdin === 'number' ? stdin : stdin === 'silent' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const ms = performance.now() - t0;
      const rssKiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : NaN;
      resolve({ code, stdout, stderr, ms, rssKiB });
    });
  });
}

/** Makes the special input of `kind`; returns its path and a cleanup that stops its writer. */
function specialInput(kind: Kind, tag: string): { path: string; stop: () => void } {
  const none = () => {};
  if (kind === 'zero') return { path: '/dev/zero', stop: none };
  if (kind === 'urandom') return { path: '/dev/urandom', stop: none };
  if (kind === 'over-limit') return { path: join(dir, 'big'), stop: none };
  const path = join(dir, 'fifos', tag);
  execFileSync('mkfifo', [path]);
  if (kind === 'fifo-no-writer') return { path, stop: none };
  // the writer opens the FIFO (blocking until our reader does), then stays silent or never stops
  const script = kind === 'fifo-silent' ? 'sleep 60' : 'exec yes';
  const w: ChildProcess = spawn('sh', ['-c', `exec >"$1"; ${script}`, 'sh', path], { stdio: 'ignore' });
  w.on('error', () => {});
  return { path, stop: () => w.kill('SIGKILL') };
}

function expectRefused(o: Outcome, code: string, label: string, outputs: string[] = []): void {
  measured.push(`${label.padEnd(46)} ${o.ms.toFixed(0).padStart(6)} ms ${(o.rssKiB / 1024).toFixed(1).padStart(6)} MiB  ${code}`);
  expect(o.code, `${label}: exit code (stderr: ${o.stderr.slice(0, 300)})`).toBe(3);
  expect(JSON.parse(o.stdout).error.code).toBe(code);
  expect(o.stderr).toMatch(/^ima-qs: error: /m);
  expectNoStack(o.stderr);
  expect(o.ms).toBeLessThan(DEADLINE_MS);
  expect(o.rssKiB).toBeGreaterThan(0);
  expect(o.rssKiB).toBeLessThan(MAX_RSS_KIB);
  for (const f of outputs) expect(existsSync(join(dir, f)), `${label}: ${f} was left behind`).toBe(false);
}

const cases = COMMANDS.flatMap(([name, argv, tooLarge]) => KINDS.map((kind) => ({ name, argv, tooLarge, kind })));

describe('every small input is read with a bound', () => {
  it.concurrent.each(cases)('$name with $kind', async ({ name, argv, tooLarge, kind }) => {
    const tag = `${name.replace(/[^a-z]+/gi, '-')}-${kind}`;
    const input = specialInput(kind, tag);
    try {
      const out = `out-${tag}`;
      const o = await runChild(argv.map((x) => (x === 'X' ? input.path : x === 'OUT' ? out : x)), tag);
      const code = kind === 'fifo-silent' || kind === 'fifo-no-writer' ? 'INPUT_TIMEOUT' : tooLarge;
      expectRefused(o, code, `${name} / ${kind}`, argv.includes('OUT') ? [out] : []);
    } finally {
      input.stop();
    }
  });

  it.concurrent.each([
    ['verify - --pin (response on stdin)', ['verify', '-', '--pin', PIN], 'RESPONSE_MALFORMED'],
    ['verify FILE --signature - (signature on stdin)', ['verify', 'plain.txt', '--signature', '-', '--key', 'keys'], 'BAD_SIGNATURE_FILE'],
  ])('%s: /dev/zero as stdin, and a stdin pipe that never writes', async (name, argv, tooLarge) => {
    const fd = openSync('/dev/zero', 'r');
    try {
      expectRefused(await runChild(argv, `${name.slice(0, 12)}-zero`, fd), tooLarge, `${name} / stdin /dev/zero`);
    } finally {
      closeSync(fd);
    }
    expectRefused(await runChild(argv, `${name.slice(0, 12)}-silent`, 'silent'), 'INPUT_TIMEOUT', `${name} / stdin silent pipe`);
  });
});
