/**
 * src/io/files.ts readInputFile (issue 20): every small input is read with a bound, whatever
 * stat() says — regular files, character devices, FIFOs (silent, slow, endless, no writer) and
 * stdin — and a read that makes no progress ends with INPUT_TIMEOUT instead of hanging.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readInputFile } from '../../../src/io/files.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'ima-qs-bounded-'));
const errorOf = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function fifo(dir: string, name = 'f'): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** A writer process on the FIFO: `script` runs in sh with the FIFO open as stdout. */
function writer(path: string, script: string): ChildProcess {
  const c = spawn('sh', ['-c', `exec >"$1"; ${script}`, 'sh', path], { stdio: 'ignore' });
  children.push(c);
  return c;
}

describe('readInputFile', () => {
  it('reads a regular file of exactly the limit, refuses one byte more with the caller’s code', async () => {
    const d = fresh();
    writeFileSync(join(d, 'ok'), Buffer.alloc(100, 1));
    writeFileSync(join(d, 'big'), Buffer.alloc(101, 1));
    expect((await readInputFile(join(d, 'ok'), 100, 'thing')).length).toBe(100);
    expect(await errorOf(readInputFile(join(d, 'big'), 100, 'thing', { tooLargeCode: 'BAD_THING' }))).toMatchObject({ code: 'BAD_THING', exitCode: 3 });
    expect(await errorOf(readInputFile(join(d, 'big'), 100, 'thing'))).toMatchObject({ code: 'INPUT_TOO_LARGE' });
  });

  it('names a missing file and a folder', async () => {
    const d = fresh();
    mkdirSync(join(d, 'dir'));
    expect(await errorOf(readInputFile(join(d, 'nope'), 10))).toMatchObject({ code: 'FILE_NOT_FOUND' });
    expect(await errorOf(readInputFile(join(d, 'dir'), 10))).toMatchObject({ code: 'IS_A_DIRECTORY' });
  });

  it.each(['/dev/zero', '/dev/urandom'])('%s (stat says 0 bytes) is refused after limit + 1 bytes', async (dev) => {
    expect(await errorOf(readInputFile(dev, 4096, 'key file', { tooLargeCode: 'KEY_MALFORMED' }))).toMatchObject({ code: 'KEY_MALFORMED' });
  });

  it('/dev/null is an empty input', async () => {
    expect((await readInputFile('/dev/null', 10)).length).toBe(0);
  });

  it('a FIFO that a writer fills and closes is read whole, even when it arrives in slow pieces', async () => {
    const d = fresh();
    const path = fifo(d);
    writer(path, 'printf abc; sleep 0.3; printf def; sleep 0.3; printf ghi');
    expect((await readInputFile(path, 100, 'thing', { idleMs: 2000 })).toString()).toBe('abcdefghi');
  });

  it('a FIFO whose writer never writes ends with INPUT_TIMEOUT', async () => {
    const d = fresh();
    const path = fifo(d);
    writer(path, 'sleep 30');
    expect(await errorOf(readInputFile(path, 100, 'thing', { idleMs: 300 }))).toMatchObject({ code: 'INPUT_TIMEOUT', exitCode: 3 });
  });

  it('a FIFO nobody opens for writing ends with INPUT_TIMEOUT (opening it does not block)', async () => {
    const d = fresh();
    expect(await errorOf(readInputFile(fifo(d), 100, 'thing', { idleMs: 300 }))).toMatchObject({ code: 'INPUT_TIMEOUT' });
  });

  it('a FIFO that writes forever is refused after the limit', async () => {
    const d = fresh();
    const path = fifo(d);
    writer(path, 'yes');
    expect(await errorOf(readInputFile(path, 10_000, 'thing', { tooLargeCode: 'BAD_THING' }))).toMatchObject({ code: 'BAD_THING' });
  });

  it("reads '-' from the given stdin, bounded and with the idle timeout", async () => {
    expect((await readInputFile('-', 10, 'thing', { stdin: Readable.from([Buffer.from('abc'), Buffer.from('de')]) })).toString()).toBe('abcde');
    const endless = new Readable({ read() { this.push(Buffer.alloc(1000, 0x41)); } });
    expect(await errorOf(readInputFile('-', 5000, 'thing', { stdin: endless, tooLargeCode: 'BAD_THING' }))).toMatchObject({ code: 'BAD_THING' });
    const silent = new PassThrough();
    expect(await errorOf(readInputFile('-', 10, 'thing', { stdin: silent, idleMs: 200 }))).toMatchObject({ code: 'INPUT_TIMEOUT' });
    expect(silent.destroyed).toBe(true);
  });
});
