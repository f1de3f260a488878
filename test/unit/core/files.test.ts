/**
 * src/io/files.ts: a private file is never overwritten without force — not even a target that
 * appears after the up-front check, or a dangling symlink that the check (stat) cannot see. The
 * final step is a no-clobber link(2), and the temp file is removed on that failure path too.
 */
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writePrivateFile } from '../../../src/io/files.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'ima-qs-files-'));
const errorOf = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('writePrivateFile / writeFileAtomic', () => {
  it('writes 0600 and refuses an existing file without force', async () => {
    const d = fresh();
    const path = join(d, 'k.key');
    await writePrivateFile(path, 'one');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await errorOf(writePrivateFile(path, 'two'))).toMatchObject({ code: 'FILE_EXISTS', exitCode: 3 });
    expect(readFileSync(path, 'utf8')).toBe('one');
    await writePrivateFile(path, 'three', true);
    expect(readFileSync(path, 'utf8')).toBe('three');
    expect(readdirSync(d).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('does not replace a dangling symlink without force (the final step is a no-clobber link)', async () => {
    const d = fresh();
    const path = join(d, 'k.key');
    symlinkSync(join(d, 'nowhere'), path);
    expect(await errorOf(writePrivateFile(path, 'secret'))).toMatchObject({ code: 'FILE_EXISTS', exitCode: 3 });
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe(join(d, 'nowhere'));
    expect(readdirSync(d).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces only with force', async () => {
    const d = fresh();
    const path = join(d, 'report.md');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new', { mode: 0o644, force: true });
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });
});
