/**
 * Runs the ima-qs program in-process with collecting sinks (no process.* touched), and spawns the
 * built binary for the few tests that must see a real process.
 */
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli.js';
import type { CliDeps } from '../../src/context.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws if it is not exactly one JSON document) */
  json<T = any>(): T;
}

export async function runCli(argv: string[], over: Partial<CliDeps> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    stdin: Readable.from([]),
    env: { ...process.env },
    cwd: process.cwd(),
    interactive: false,
    ...over,
  };
  const code = await run(argv, deps);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

/** Spawns `node bin/ima-qs.js` (dist/ must be built: npm test builds it first). */
export function spawnCli(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [`${repoRoot}/bin/ima-qs.js`, ...argv],
      { env: opts.env ?? process.env, cwd: opts.cwd ?? repoRoot, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code, stdout: String(stdout), stderr: String(stderr), json: () => JSON.parse(String(stdout)) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** No stack trace may reach a user: no "    at " frames, no "Error:" class dumps. */
export function expectNoStack(text: string): void {
  if (/\n\s+at .+\(.+:\d+:\d+\)/.test(text) || /^\s+at /m.test(text)) {
    throw new Error(`output contains a stack trace:\n${text}`);
  }
}
