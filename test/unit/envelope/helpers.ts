/** Small helpers for the envelope tests: split bytes into pieces, collect a stream, catch an error. */
import type { ImaError } from '../../../src/errors.js';

/** Yields `bytes` in pieces of `size` (the first piece `first` bytes when given), as a stream would. */
export async function* pieces(bytes: Uint8Array, size: number, first?: number): AsyncGenerator<Uint8Array> {
  let off = 0;
  if (first !== undefined && bytes.length > 0) {
    yield bytes.subarray(0, first);
    off = first;
  }
  for (; off < bytes.length; off += size) yield bytes.subarray(off, Math.min(off + size, bytes.length));
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const b of source) parts.push(b);
  return Buffer.concat(parts);
}

export function errorOf(fn: () => unknown): ImaError & { exitCode: number } {
  try {
    fn();
  } catch (e) {
    return e as ImaError & { exitCode: number };
  }
  throw new Error('expected a throw');
}
