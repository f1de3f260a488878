/**
 * Streaming file edges for the file commands (encrypt, decrypt, sign, verify): inputs read in
 * 64 KiB pieces (a path or '-' for stdin), and outputs that are either stdout or a temp file next
 * to the target that becomes the target only on commit (SPEC §4.6). Constant memory throughout.
 */
import { constants } from 'node:fs';
import { chmod, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CliDeps } from '../context.js';
import { InputError, UsageError } from '../errors.js';
import { exists, fsError, linkNoClobber } from './files.js';

const PIECE = 64 * 1024;

export interface Input {
  /** for messages: the path as given, or 'stdin' */
  name: string;
  /** size in bytes when known (a regular file) */
  size?: number;
  source: AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

/** Opens `path` (relative to deps.cwd) or stdin for '-' / undefined. Errors surface here, not mid-stream. */
export async function openInput(path: string | undefined, deps: CliDeps): Promise<Input> {
  if (path === undefined || path === '-') {
    return { name: 'stdin', source: bytesOf(deps.stdin), close: async () => {} };
  }
  const full = resolve(deps.cwd, path);
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(full, 'r');
  } catch (err) {
    throw fsError(err, path, 'read');
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = st.size;
  } catch (err) {
    await fh.close().catch(() => {});
    throw fsError(err, path, 'read');
  }
  return { name: path, size, source: readPieces(fh, path), close: () => fh.close().catch(() => {}) };
}

async function* readPieces(fh: FileHandle, path: string): AsyncGenerator<Uint8Array> {
  for (;;) {
    // a fresh buffer per piece: consumers may hold a piece while the next one is read
    const buf = Buffer.allocUnsafe(PIECE);
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, 0, PIECE, null));
    } catch (err) {
      throw fsError(err, path, 'read');
    }
    if (n === 0) return;
    yield buf.subarray(0, n);
  }
}

async function* bytesOf(stream: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const piece of stream) {
    if (typeof piece === 'string') yield Buffer.from(piece, 'utf8');
    else yield piece as Uint8Array;
  }
}

export interface Output {
  /** the path as given, or 'stdout' */
  name: string;
  toStdout: boolean;
  write(bytes: Uint8Array): Promise<void>;
  /** makes the output final: renames the temp file onto the target */
  commit(): Promise<void>;
  /** removes the temp file (no-op for stdout); safe to call after commit */
  abort(): Promise<void>;
}

export interface OutputOptions {
  force?: boolean;
  /** file mode of the output (0o600 for plaintext) */
  mode: number;
}

/**
 * An output at `path`, or stdout for '-' / undefined. An existing target is refused up front
 * without `force`, and again when committing (no-clobber link), so a racing writer is not lost.
 */
export async function openOutput(path: string | undefined, deps: CliDeps, opts: OutputOptions): Promise<Output> {
  if (path === undefined || path === '-') return stdoutOutput(deps);
  const target = resolve(deps.cwd, path);
  if (!opts.force && (await exists(target))) {
    throw new InputError('FILE_EXISTS', `${path} already exists`, { hint: 'choose another path, or pass --force to overwrite it' });
  }
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, opts.mode);
  } catch (err) {
    throw fsError(err, path, 'write');
  }
  let done = false;
  const abort = async () => {
    if (done) return;
    done = true;
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
  };
  return {
    name: path,
    toStdout: false,
    async write(bytes) {
      try {
        await fh!.write(bytes);
      } catch (err) {
        await abort();
        throw fsError(err, path, 'write');
      }
    },
    async commit() {
      try {
        await fh!.sync();
        await fh!.close();
        fh = undefined;
        await chmod(tmp, opts.mode); // the umask may have narrowed it
        if (opts.force) await rename(tmp, target);
        else await linkNoClobber(tmp, target);
        done = true;
      } catch (err) {
        await abort();
        throw err instanceof InputError ? err : fsError(err, path, 'write');
      }
    },
    abort,
  };
}

function stdoutOutput(deps: CliDeps): Output {
  const out = deps.stdoutBytes;
  if (!out) throw new UsageError('NO_STDOUT', 'this program has no byte stdout here; pass -o FILE');
  const closed = (cause: unknown) =>
    new InputError('OUTPUT_CLOSED', 'stdout was closed before all output was written', {
      hint: 'the reading program exited early (e.g. head); the output is incomplete',
      cause,
    });
  return {
    name: 'stdout',
    toStdout: true,
    async write(bytes) {
      // a closed pipe (EPIPE) surfaces as an 'error' event: listen only while writing
      const emitter = out as NodeJS.WritableStream & NodeJS.EventEmitter;
      let failed: unknown;
      const onError = (e: unknown) => (failed = e);
      emitter.on('error', onError);
      try {
        if (!out.write(bytes)) await once(emitter, 'drain');
      } catch (err) {
        throw closed(err);
      } finally {
        emitter.off('error', onError);
      }
      if (failed) throw closed(failed);
    },
    async commit() {},
    async abort() {},
  };
}

/** Writes every piece of `source` to `out`; on any error the output is aborted and the error rethrown. */
export async function pump(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, out: Output): Promise<number> {
  let n = 0;
  try {
    for await (const piece of source) {
      await out.write(piece);
      n += piece.length;
    }
    await out.commit();
    return n;
  } catch (err) {
    await out.abort();
    throw err;
  }
}
