/**
 * Shared pieces of the local-stack tests: temp dirs, the files a request sends, and the verify
 * command run the way `ima-qs verify response.json --json` renders it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { CliDeps } from '../../../src/context.js';
import type { VerifyResponseFlags } from '../../../src/commands/verify-response.js';
import { runCli } from '../../helpers/cli.js';

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeSamples(dir: string): { code: string; claims: string } {
  const code = join(dir, 'app.py');
  writeFileSync(code, 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    return a + b\n');
  const claims = join(dir, 'claims.txt');
  writeFileSync(claims, 'What is claimed is:\n1. A method of sealing a request with ML-KEM-768 and P-384, comprising signing each vote with ML-DSA-87.\n');
  return { code, claims };
}

export function quietDeps(cwd: string): CliDeps {
  return {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: Readable.from([]),
    env: {},
    cwd,
    interactive: false,
  };
}

/** `ima-qs verify response.json --json` through the real program: the JSON document and the exit code. */
export async function verifyJson(file: string, flags: VerifyResponseFlags, cwd: string) {
  const argv = ['verify', file, '--json'];
  if (flags.pin) argv.push('--pin', flags.pin);
  if (flags.key) argv.push('--key', flags.key);
  if (flags.requestDigest) argv.push('--request-digest', flags.requestDigest);
  const r = await runCli(argv, { cwd, env: {} });
  return { code: r.code, doc: r.json() as { ok: boolean; error?: { code: string }; failed: string[]; checks: { name: string; ok: boolean }[] } };
}
