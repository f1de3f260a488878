/**
 * The PCR lock (SPEC §8.7 "one PCR, many writers"): critical sections never overlap — between the
 * pipelines of a process (ThreadLock, shared memory) and between processes (FileLock: flock(2) held
 * by a `flock` child) — and a holder that dies does not leave the lock taken.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileLock, ThreadLock, bothLocks, type PcrLock } from '../../../src/tpm/pcr-lock.js';

/** Runs `n` sections per lock concurrently; returns the enter/leave events in order. */
async function contend(locks: PcrLock[], n: number): Promise<string[]> {
  const events: string[] = [];
  await Promise.all(
    locks.flatMap((lock, l) =>
      Array.from({ length: n }, (_, i) =>
        lock.run(async () => {
          events.push(`in ${l}.${i}`);
          await new Promise((r) => setTimeout(r, 5));
          events.push(`out ${l}.${i}`);
        }),
      ),
    ),
  );
  return events;
}

function neverOverlap(events: string[]): void {
  for (let i = 0; i < events.length; i += 2) {
    expect(events[i].startsWith('in ')).toBe(true);
    expect(events[i + 1]).toBe(events[i].replace('in ', 'out '));
  }
}

describe('ThreadLock', () => {
  it('serialises the holders sharing one word; the word is free afterwards', async () => {
    const shared = ThreadLock.buffer();
    const events = await contend([new ThreadLock(shared, 1), new ThreadLock(shared, 2), new ThreadLock(shared, 3)], 4);
    expect(events).toHaveLength(24);
    neverOverlap(events);
    expect(new Int32Array(shared)[0]).toBe(0);
  });

  it('a section that throws lets go of the lock', async () => {
    const lock = new ThreadLock(ThreadLock.buffer(), 1);
    await expect(lock.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await lock.run(async () => 'next')).toBe('next');
  });

  it('the lock of a holder that died is released for the others (only by its id)', async () => {
    const shared = ThreadLock.buffer();
    new Int32Array(shared)[0] = 7; // pipeline 7 ended while holding it
    const waiting = new ThreadLock(shared, 1).run(async () => 'got it');
    expect(ThreadLock.releaseIfHeldBy(shared, 3)).toBe(false);
    expect(ThreadLock.releaseIfHeldBy(shared, 7)).toBe(true);
    expect(await waiting).toBe('got it');
  });
});

describe('FileLock (flock on a host-shared file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ima-lock-'));

  it('two holders of the same file (two flock processes) never overlap', async () => {
    const path = join(dir, 'pcr.lock');
    const events = await contend([new FileLock(path), new FileLock(path)], 3);
    expect(events).toHaveLength(12);
    neverOverlap(events);
  });

  it('with the thread lock in front, as the worker uses them', async () => {
    const shared = ThreadLock.buffer();
    const path = join(dir, 'both.lock');
    const events = await contend([bothLocks(new ThreadLock(shared, 1), new FileLock(path)), bothLocks(new ThreadLock(shared, 2), new FileLock(path))], 3);
    neverOverlap(events);
  });

  it('a lock held elsewhere past the wait is TPM_LOCK_TIMEOUT; a missing flock tool is TPM_LOCK_UNAVAILABLE', async () => {
    const path = join(dir, 'busy.lock');
    let release!: () => void;
    const held = new FileLock(path).run(() => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 200));
    await expect(new FileLock(path, 1000).run(async () => 'never')).rejects.toMatchObject({ code: 'TPM_LOCK_TIMEOUT', errorClass: 'remote' });
    release();
    await held;
    await expect(new FileLock(path, 1000, join(dir, 'no-such-flock')).run(async () => 'never')).rejects.toMatchObject({ code: 'TPM_LOCK_UNAVAILABLE' });
  });
});
