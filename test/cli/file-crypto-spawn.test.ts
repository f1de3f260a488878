/**
 * The built binary (dist/, built by `npm test` first) on real processes and pipes: exit codes and
 * JSON of keys generate / encrypt / decrypt / sign / verify, and stdin → stdout streaming.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoStack, spawnCli } from '../helpers/cli.js';
import { tempDir } from './helpers/bytes-io.js';

describe('the built ima-qs binary (file commands)', () => {
  it('generate, encrypt (pipe), decrypt (pipe), sign, verify; a tampered file exits 1', async () => {
    const dir = tempDir();
    const run = (argv: string[], input?: Buffer) => spawnCli(argv, { cwd: dir, input });
    const gen = await run(['keys', 'generate', '--out', 'k', '--json']);
    expect(gen.code).toBe(0);
    expect(gen.json().ok).toBe(true);

    const pt = randomBytes(200_000);
    writeFileSync(join(dir, 'pt.bin'), pt);
    const enc = await run(['encrypt', '--to', 'k', '--armor', '-'], pt);
    expect(enc.code).toBe(0);
    expect(enc.stdout.startsWith('-----BEGIN IMA-QS ENCRYPTED FILE-----\n')).toBe(true);
    writeFileSync(join(dir, 'pt.asc'), enc.stdout);
    const dec = await run(['decrypt', '--identity', 'k', '-o', 'out.bin', 'pt.asc', '--json']);
    expect(dec.code).toBe(0);
    expect(dec.json()).toMatchObject({ ok: true, armored: true, plaintextBytes: 200_000 });
    expect(readFileSync(join(dir, 'out.bin')).equals(pt)).toBe(true);

    expect((await run(['sign', '--key', 'k', 'pt.bin', '--json'])).code).toBe(0);
    const ver = await run(['verify', 'pt.bin', '--signature', 'pt.bin.sig', '--key', 'k', '--json']);
    expect(ver.code).toBe(0);
    expect(ver.json().verified).toBe(true);

    // one base64 character changed in a full line near the end (inside the final chunk)
    const lines = enc.stdout.split('\n');
    const i = lines.length - 4;
    lines[i] = lines[i].slice(0, 10) + (lines[i][10] === 'A' ? 'B' : 'A') + lines[i].slice(11);
    writeFileSync(join(dir, 'bad.asc'), lines.join('\n'));
    const no = await run(['decrypt', '--identity', 'k', '-o', 'bad.out', 'bad.asc', '--json']);
    expect(no.code).toBe(1);
    expect(no.json().error.code).toBe('DECRYPT_FAILED');
    expectNoStack(no.stderr);
  });
});
