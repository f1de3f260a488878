/** Byte-level stdin/stdout for in-process runs of the file commands (no process.* touched). */
import { Readable, Writable } from 'node:stream';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliDeps } from '../../../src/context.js';

export interface ByteSink {
  stream: Writable;
  bytes(): Buffer;
}

export function byteSink(): ByteSink {
  const parts: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      parts.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, bytes: () => Buffer.concat(parts) };
}

/** deps for runCli: stdin yields `input` in 64 KiB pieces; binary stdout collected. */
export function byteDeps(cwd: string, input?: Uint8Array): { deps: Partial<CliDeps>; out: ByteSink } {
  const out = byteSink();
  const pieces: Buffer[] = [];
  if (input) for (let i = 0; i < input.length; i += 65536) pieces.push(Buffer.from(input.subarray(i, i + 65536)));
  return { deps: { cwd, stdin: Readable.from(pieces), stdoutBytes: out.stream }, out };
}

export function tempDir(prefix = 'ima-qs-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Files whose name ends in .tmp: a failed command must leave none. */
export function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.tmp'));
}
