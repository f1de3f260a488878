/**
 * File-system edge used by commands: reading inputs with size limits, writing private files
 * (0600, never overwritten without an explicit flag), atomic replacement. Errors become ImaErrors
 * that say what was expected and what to do (STYLE.md §4).
 */
import { type Stats, close as fsClose, constants, fstat as fsFstat, open as fsOpen, read as fsRead } from 'node:fs';
import { chmod, link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InputError } from '../errors.js';

/** Maps a Node fs error on `path` to an InputError naming the path (no contents). */
export function fsError(err: unknown, path: string, doing: 'read' | 'write' | 'create'): InputError {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return doing === 'read'
        ? new InputError('FILE_NOT_FOUND', `${path} does not exist`, { hint: 'check the path', cause: err })
        : new InputError('DIR_NOT_FOUND', `cannot ${doing} ${path}: its folder does not exist`, {
            hint: 'create the folder first or choose another path',
            cause: err,
          });
    case 'EEXIST':
      return new InputError('FILE_EXISTS', `${path} already exists`, {
        hint: 'choose another path, or pass --force to overwrite it',
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new InputError('PERMISSION_DENIED', `cannot ${doing} ${path}: permission denied`, { cause: err });
    case 'EISDIR':
      return new InputError('IS_A_DIRECTORY', `${path} is a folder, a file was expected`, { cause: err });
    case 'ENOTDIR':
      return new InputError('NOT_A_DIRECTORY', `${path}: a part of the path is not a folder`, { cause: err });
    default:
      return new InputError('FILE_ERROR', `cannot ${doing} ${path} (${code ?? 'unknown error'})`, { cause: err });
  }
}

/**
 * How long a small input may make no progress (no byte, no end) before the read gives up: a FIFO
 * nobody writes to, a terminal, a stalled pipe. Regular files never wait. IMA_QS_INPUT_TIMEOUT_MS
 * raises it for slow producers (e.g. process substitution around a network call).
 */
export const DEFAULT_INPUT_IDLE_MS = 1000;

export interface ReadInputOptions {
  /** the error code of "larger than maxBytes" for this kind of input (default INPUT_TOO_LARGE) */
  tooLargeCode?: string;
  /** hint shown with that error */
  tooLargeHint?: string;
  /** what '-' reads (the command's stdin); without it '-' is a file named '-' */
  stdin?: NodeJS.ReadableStream;
  /** ms without progress before INPUT_TIMEOUT (default DEFAULT_INPUT_IDLE_MS, or IMA_QS_INPUT_TIMEOUT_MS) */
  idleMs?: number;
}

/**
 * THE reader of every small input (key files, signature files, responses, keys documents, quotes,
 * request files, state files). It reads at most `maxBytes` + 1 bytes whatever stat() says (a
 * FIFO or a device says 0), refuses more with the input's own error code, and works for regular
 * files, FIFOs, character devices and stdin ('-', when `stdin` is given): the file is opened
 * O_NONBLOCK, so opening a FIFO without a writer does not block, and a read that makes no progress
 * for `idleMs` ends with INPUT_TIMEOUT instead of hanging. Memory: at most `maxBytes` + one piece.
 */
export async function readInputFile(path: string, maxBytes: number, what = 'file', opts: ReadInputOptions = {}): Promise<Buffer> {
  const limits = { path, maxBytes, what, opts, idleMs: opts.idleMs ?? idleFromEnv() };
  if (path === '-' && opts.stdin) return readStream(opts.stdin, limits, 'stdin');
  let fd: number;
  try {
    fd = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw fsError(err, path, 'read');
  }
  let owned = true; // the Socket of a FIFO takes the descriptor over and closes it itself
  try {
    let st;
    try {
      st = await fstatFd(fd);
    } catch (err) {
      throw fsError(err, path, 'read');
    }
    if (st.isDirectory()) throw fsError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), path, 'read');
    if (st.isFile() && st.size > maxBytes) throw tooLarge(limits, `is ${st.size} bytes`);
    if (st.isFIFO() || st.isSocket()) {
      owned = false;
      return await readStream(new Socket({ fd, readable: true, writable: false }), limits, path);
    }
    return await readFdBounded(fd, limits, st.isFile());
  } finally {
    if (owned) await closeFd(fd).catch(() => {});
  }
}

interface Limits {
  path: string;
  maxBytes: number;
  what: string;
  opts: ReadInputOptions;
  idleMs: number;
}

function idleFromEnv(): number {
  const v = Number(process.env.IMA_QS_INPUT_TIMEOUT_MS);
  return Number.isFinite(v) && v >= 1 && v <= 3_600_000 ? v : DEFAULT_INPUT_IDLE_MS;
}

function tooLarge(l: Limits, is: string): InputError {
  return new InputError(l.opts.tooLargeCode ?? 'INPUT_TOO_LARGE', `${l.path} ${is}; a ${l.what} is at most ${l.maxBytes} bytes`, {
    ...(l.opts.tooLargeHint ? { hint: l.opts.tooLargeHint } : {}),
  });
}

function stalled(l: Limits, got: number): InputError {
  return new InputError('INPUT_TIMEOUT', `${l.path}: no data for ${l.idleMs / 1000} s after ${got} bytes (a ${l.what} was expected)`, {
    hint: 'it is a FIFO, device or pipe that stopped sending; give the file itself (IMA_QS_INPUT_TIMEOUT_MS allows slower producers)',
  });
}

const PIECE = 64 * 1024;

/** Regular files and character devices (non-blocking descriptor: EAGAIN is waited out up to idleMs). */
async function readFdBounded(fd: number, l: Limits, regular: boolean): Promise<Buffer> {
  const cap = l.maxBytes + 1;
  const pieces: Buffer[] = [];
  let total = 0;
  let lastProgress = Date.now();
  let pause = 2;
  while (total < cap) {
    const buf = Buffer.allocUnsafe(Math.min(PIECE, cap - total));
    let n: number;
    try {
      n = await readFd(fd, buf);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw fsError(err, l.path, 'read');
      if (Date.now() - lastProgress >= l.idleMs) throw stalled(l, total);
      await sleep(pause);
      pause = Math.min(pause * 2, 100);
      continue;
    }
    if (n === 0) break;
    pieces.push(n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    lastProgress = Date.now();
    pause = 2;
  }
  if (total > l.maxBytes) throw tooLarge(l, regular ? 'grew while it was read' : `is more than ${l.maxBytes} bytes`);
  return Buffer.concat(pieces, total);
}

/** FIFOs, sockets and stdin: event-driven, so nothing blocks a thread; destroyed on any failure. */
function readStream(stream: NodeJS.ReadableStream, l: Limits, name: string): Promise<Buffer> {
  return new Promise<Buffer>((resolveRead, rejectRead) => {
    const pieces: Buffer[] = [];
    let total = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(stalled(l, total)), l.idleMs);
    };
    const finish = (err?: unknown) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      if (err === undefined) {
        if (name !== 'stdin') (stream as Socket).destroy();
        resolveRead(Buffer.concat(pieces, total));
        return;
      }
      (stream as Socket).destroy?.();
      rejectRead(err);
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      total += b.length;
      if (total > l.maxBytes) return finish(tooLarge(l, `is more than ${l.maxBytes} bytes`));
      pieces.push(b);
      arm();
    };
    const onEnd = () => finish();
    const onError = (err: unknown) => finish(fsError(err, l.path, 'read'));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    arm();
    stream.resume?.();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((ok, fail) => fsOpen(path, flags, (err, fd) => (err ? fail(err) : ok(fd))));
}
function fstatFd(fd: number): Promise<Stats> {
  return new Promise((ok, fail) => fsFstat(fd, (err, st) => (err ? fail(err) : ok(st))));
}
function readFd(fd: number, buf: Buffer): Promise<number> {
  return new Promise((ok, fail) => fsRead(fd, buf, 0, buf.length, null, (err, n) => (err ? fail(err) : ok(n))));
}
function closeFd(fd: number): Promise<void> {
  return new Promise((ok, fail) => fsClose(fd, (err) => (err ? fail(err) : ok())));
}

export interface WriteOptions {
  /** file mode; private material is 0o600 */
  mode?: number;
  /** replace an existing file (atomically) instead of refusing */
  force?: boolean;
}

/**
 * Writes `data` to `path` atomically: a temp file in the same folder (created O_EXCL with `mode`),
 * fsync, then rename over the target. Without `force` an existing target is refused first — and
 * the final link is made with a no-clobber check so a racing writer is not overwritten either.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o644;
  if (!opts.force && (await exists(path))) throw fsError(Object.assign(new Error(), { code: 'EEXIST' }), path, 'create');
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (err) {
    throw fsError(err, path, 'write');
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await chmod(tmp, mode); // umask may have narrowed or the platform widened it
    if (opts.force) await rename(tmp, path);
    else await linkNoClobber(tmp, path);
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err instanceof InputError ? err : fsError(err, path, 'write');
  }
}

/**
 * Moves `tmp` onto `target` unless something (even a dangling symlink) is already there:
 * link(2) fails with EEXIST instead of replacing, so a file that appeared after the up-front check
 * is never clobbered. File systems without hard links fall back to check-then-rename (a small race).
 */
export async function linkNoClobber(tmp: string, target: string): Promise<void> {
  try {
    await link(tmp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EOPNOTSUPP') throw err;
    if (await exists(target)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    await rename(tmp, target);
    return;
  }
  await unlink(tmp);
}

/** A private file: 0600, never silently overwritten. */
export function writePrivateFile(path: string, data: Uint8Array | string, force = false): Promise<void> {
  return writeFileAtomic(path, data, { mode: 0o600, force });
}

/** Creates a folder for private material (0700); an existing folder is tightened to 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  } catch (err) {
    throw fsError(err, dir, 'create');
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
