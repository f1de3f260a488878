/**
 * File-system edge used by commands: reading inputs with size limits, writing private files
 * (0600, never overwritten without an explicit flag), atomic replacement. Errors become ImaErrors
 * that say what was expected and what to do (STYLE.md §4).
 */
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
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

/** Reads a whole file, refusing anything larger than `maxBytes` before reading it. */
export async function readInputFile(path: string, maxBytes: number, what = 'file'): Promise<Buffer> {
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = st.size;
  } catch (err) {
    throw fsError(err, path, 'read');
  }
  if (size > maxBytes) {
    throw new InputError('INPUT_TOO_LARGE', `${path} is ${size} bytes; a ${what} is at most ${maxBytes} bytes`);
  }
  try {
    return await readFile(path);
  } catch (err) {
    throw fsError(err, path, 'read');
  }
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
