/**
 * One PCR, many writers (SPEC §8.7): the read → extend → record sequence of a group commit must not
 * interleave with another writer's, or a recorded `before`/`after` would be false. Two locks, used
 * together by the worker:
 *
 *   ThreadLock  the pipelines of one process (worker threads): a word in a SharedArrayBuffer,
 *               taken with Atomics.compareExchange and waited on with Atomics.waitAsync (no spin,
 *               no event-loop block). The word holds the holder's id, so the process can release
 *               the lock of a pipeline thread that died holding it (`releaseIfHeldBy`).
 *   FileLock    the tasks of one host (several containers on one NitroTPM host): flock(2) on a
 *               file in a host-shared folder (PCR_LOCK_FILE), held by a `flock` child process
 *               (util-linux) for exactly the critical section. The kernel drops the lock when
 *               that child ends — also when this process dies — so a crash never leaves it held.
 *
 * Node has no flock() of its own; the child is started with execFile-style arguments (no shell)
 * and acknowledges the lock by echoing one byte through `cat`.
 */
import { spawn } from 'node:child_process';
import { RemoteError } from '../errors.js';

/** Atomics.waitAsync (ES2024; Node ≥ 16), not in this project's TypeScript lib */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

export interface PcrLock {
  /** Runs `fn` holding the lock; the lock is let go when `fn` settles. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/** The lock word: 0 free, else the holder's id (1..). */
export class ThreadLock implements PcrLock {
  private readonly word: Int32Array;

  /** `shared`: from `ThreadLock.buffer()`, handed to every thread; `id`: this holder's id, ≥ 1 */
  constructor(
    shared: SharedArrayBuffer,
    private readonly id: number,
  ) {
    if (!Number.isInteger(id) || id < 1) throw new RangeError('ThreadLock id must be a whole number ≥ 1');
    this.word = new Int32Array(shared, 0, 1);
  }

  static buffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  /** Frees the lock if `id` holds it (its thread ended while holding it). */
  static releaseIfHeldBy(shared: SharedArrayBuffer, id: number): boolean {
    const word = new Int32Array(shared, 0, 1);
    if (Atomics.compareExchange(word, 0, id, 0) !== id) return false;
    Atomics.notify(word, 0);
    return true;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const held = Atomics.compareExchange(this.word, 0, 0, this.id);
      if (held === 0) break;
      const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.word, 0, held, 1000);
      if (w.async) await w.value;
    }
    try {
      return await fn();
    } finally {
      Atomics.store(this.word, 0, 0);
      Atomics.notify(this.word, 0);
    }
  }
}

/** flock(2) on `path` through util-linux `flock`, for `waitMs` at most (then TPM_LOCK_TIMEOUT). */
export class FileLock implements PcrLock {
  constructor(
    private readonly path: string,
    private readonly waitMs = 30_000,
    private readonly flockPath = 'flock',
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private acquire(): Promise<() => void> {
    return new Promise((resolve, reject) => {
      // flock -x -w S FILE cat: cat starts only once the lock is held, and echoes our byte back
      const child = spawn(this.flockPath, ['-x', '-w', String(Math.max(1, Math.ceil(this.waitMs / 1000))), this.path, 'cat'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let done = false;
      let stderr = '';
      const fail = (code: string, message: string, cause?: unknown) => {
        if (done) return;
        done = true;
        child.kill('SIGKILL');
        reject(new RemoteError(code, message, { cause }));
      };
      const timer = setTimeout(() => fail('TPM_LOCK_TIMEOUT', `the pcr lock ${this.path} was not free within ${this.waitMs} ms`), this.waitMs + 2000);
      child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-300)));
      child.stdout.once('data', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(() => {
          child.stdin.end(); // cat ends, flock lets go of the lock
        });
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(err.code === 'ENOENT' ? 'TPM_LOCK_UNAVAILABLE' : 'TPM_LOCK_FAILED', err.code === 'ENOENT' ? 'the flock tool (util-linux) is not installed: PCR_LOCK_FILE needs it' : `the pcr lock ${this.path} failed`, err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        // flock -w exits 1 when the wait ran out; other codes: the file could not be opened
        fail(code === 1 ? 'TPM_LOCK_TIMEOUT' : 'TPM_LOCK_FAILED', code === 1 ? `the pcr lock ${this.path} was not free within ${this.waitMs} ms` : `the pcr lock ${this.path} could not be taken: ${stderr.trim().split('\n').pop() ?? ''}`);
      });
      child.stdin.write('\n');
    });
  }
}

/** Both locks in order (the cheap in-process one first, so threads do not queue child processes). */
export function bothLocks(first: PcrLock, second: PcrLock): PcrLock {
  return { run: (fn) => first.run(() => second.run(fn)) };
}
