/** `ima-qs encrypt | decrypt | sign | verify`, in-process through run(argv, deps) with byte sinks. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { byteDeps, tempDir, tempFilesIn } from './helpers/bytes-io.js';

const CHUNK = 65536;
let dir: string;
let keys: string;
let other: string;

beforeAll(async () => {
  dir = tempDir();
  keys = join(dir, 'keys');
  other = join(dir, 'other');
  expect((await runCli(['keys', 'generate', '--out', keys])).code).toBe(0);
  expect((await runCli(['keys', 'generate', '--out', other])).code).toBe(0);
});

describe('encrypt → decrypt through files', () => {
  it.each([
    [0, false],
    [1, false],
    [1024, true],
    [CHUNK - 1, false],
    [CHUNK, true],
    [CHUNK + 1, false],
    [CHUNK + 1, true],
  ])('%i bytes, armored=%s', async (n, armor) => {
    const pt = randomBytes(n);
    const name = `pt-${n}-${armor}`;
    writeFileSync(join(dir, name), pt);
    const enc = await runCli(['encrypt', '--to', keys, '-o', `${name}.ima`, name, '--json', ...(armor ? ['--armor'] : [])], { cwd: dir });
    expect(enc.code).toBe(0);
    const e = enc.json();
    expect(e).toMatchObject({ ok: true, plaintextBytes: n, armor });
    expect(e.recipient).toMatch(/^[0-9a-f]{64}$/);
    const head = readFileSync(join(dir, `${name}.ima`)).subarray(0, 11).toString('latin1');
    if (armor) expect(head).toBe('-----BEGIN ');
    else expect(head.slice(0, 8)).toBe('IMA-QS\x01\x01');
    const dec = await runCli(['decrypt', '--identity', keys, '-o', `${name}.out`, `${name}.ima`, '--json'], { cwd: dir });
    expect(dec.code).toBe(0);
    expect(dec.json()).toMatchObject({ ok: true, plaintextBytes: n, armored: armor, recipient: e.recipient });
    expect(readFileSync(join(dir, `${name}.out`)).equals(pt)).toBe(true);
    expect(statSync(join(dir, `${name}.out`)).mode & 0o777).toBe(0o600);
  });

  it('stdin → stdout in both directions (and people text goes to stderr)', async () => {
    const pt = randomBytes(3 * CHUNK + 17);
    const a = byteDeps(dir, pt);
    const enc = await runCli(['encrypt', '--to', keys, '--armor'], a.deps);
    expect(enc.code).toBe(0);
    expect(enc.stdout).toBe('');
    expect(enc.stderr).toContain('recipient');
    const b = byteDeps(dir, a.out.bytes());
    const dec = await runCli(['decrypt', '--identity', keys, '-'], b.deps);
    expect(dec.code).toBe(0);
    expect(b.out.bytes().equals(pt)).toBe(true);
  });

  it('encrypts to a composite public key file too', async () => {
    // the composite public key PEM: written with the library, as a sender would receive it
    const { encodePublicKeyPem } = await import('../../src/crypto/key-codec.js');
    const show = (await runCli(['keys', 'show', keys, '--json'])).json();
    const mlkem = readPemKey(join(keys, 'ml_kem_768_public.key'), 1184);
    const ecdh = readPemKey(join(keys, 'ecdh_p384_public.key'), 97);
    writeFileSync(join(dir, 'recipient.pub'), encodePublicKeyPem('MLKEM768-P384', Buffer.concat([mlkem, ecdh])));
    writeFileSync(join(dir, 'c.txt'), 'composite\n');
    const enc = await runCli(['encrypt', '--to', 'recipient.pub', '-o', 'c.ima', 'c.txt', '--json'], { cwd: dir });
    expect(enc.code).toBe(0);
    expect(enc.json().recipient).toBe(show.keys.find((k: { algorithm: string }) => k.algorithm === 'MLKEM768-P384').fingerprint);
    expect((await runCli(['decrypt', '--identity', keys, '-o', 'c.out', 'c.ima'], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, 'c.out'), 'utf8')).toBe('composite\n');
  });
});

/** the raw key bytes at the end of an SPKI (the BIT STRING content is the last `n` bytes) */
function readPemKey(path: string, n: number): Buffer {
  const b64 = readFileSync(path, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const der = Buffer.from(b64, 'base64');
  return der.subarray(der.length - n);
}

describe('decrypt says no and leaves nothing behind', () => {
  const make = async (n: number) => {
    const name = `no-${n}-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, name), randomBytes(n));
    expect((await runCli(['encrypt', '--to', keys, '-o', `${name}.ima`, name], { cwd: dir })).code).toBe(0);
    return { name, env: readFileSync(join(dir, `${name}.ima`)) };
  };

  it('a modified chunk: exit 1 DECRYPT_FAILED, no output file, no temp file', async () => {
    const { name, env } = await make(2 * CHUNK + 5);
    env[env.length - 3] ^= 1;
    writeFileSync(join(dir, `${name}.bad`), env);
    const r = await runCli(['decrypt', '--identity', keys, '-o', `${name}.out`, `${name}.bad`, '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('DECRYPT_FAILED');
    expect(existsSync(join(dir, `${name}.out`))).toBe(false);
    expect(tempFilesIn(dir)).toEqual([]);
    expectNoStack(r.stderr);
  });

  it('the wrong identity: exit 1 WRONG_RECIPIENT naming both fingerprints', async () => {
    const { name } = await make(10);
    const r = await runCli(['decrypt', '--identity', other, '-o', `${name}.out`, `${name}.ima`], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/encrypted to key [0-9a-f]{64}, not to [0-9a-f]{64}/);
    expect(existsSync(join(dir, `${name}.out`))).toBe(false);
  });

  it('truncated at a chunk boundary to stdout: the authenticated prefix is written, then exit 1', async () => {
    const { env } = await make(2 * CHUNK + 5);
    const cut = env.subarray(0, 1225 + 2 * (CHUNK + 16));
    const io = byteDeps(dir, cut);
    const r = await runCli(['decrypt', '--identity', keys], io.deps);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('truncated');
    expect(r.stderr).toMatch(/65536 bytes of authenticated plaintext were already written to stdout/);
    expect(io.out.bytes().length).toBe(CHUNK); // chunk 0 only: chunk 1 did not authenticate as final
  });

  it('an existing output is refused without --force, replaced with it', async () => {
    const { name } = await make(100);
    writeFileSync(join(dir, `${name}.out`), 'keep me');
    const r = await runCli(['decrypt', '--identity', keys, '-o', `${name}.out`, `${name}.ima`, '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.json().error.code).toBe('FILE_EXISTS');
    expect(readFileSync(join(dir, `${name}.out`), 'utf8')).toBe('keep me');
    expect((await runCli(['decrypt', '--identity', keys, '-o', `${name}.out`, `${name}.ima`, '--force'], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, name)).equals(readFileSync(join(dir, `${name}.out`)))).toBe(true);
  });
});

describe('sign → verify', () => {
  const signed = async () => {
    const name = `doc-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, name), randomBytes(CHUNK * 2 + 3));
    const s = await runCli(['sign', '--key', keys, name, '--json'], { cwd: dir });
    expect(s.code).toBe(0);
    expect(s.json()).toMatchObject({ ok: true, signature: `${name}.sig`, size: CHUNK * 2 + 3 });
    return name;
  };
  const verify = (name: string, key = keys, sig = `${name}.sig`) =>
    runCli(['verify', name, '--signature', sig, '--key', key, '--json'], { cwd: dir });

  it('a good signature: four checks ok, exit 0', async () => {
    const name = await signed();
    const r = await verify(name);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc.verified).toBe(true);
    expect(doc.checks.map((c: { check: string; ok: boolean }) => [c.check, c.ok])).toEqual([
      ['format', true],
      ['signer', true],
      ['digest', true],
      ['signature', true],
    ]);
    const human = await runCli(['verify', name, '--signature', `${name}.sig`, '--key', join(keys, 'ml_dsa_87_public.key')], { cwd: dir });
    expect(human.code).toBe(0);
    expect(human.stdout.match(/\bok\b/g)).toHaveLength(4);
  });

  it('a modified file: exit 1 DIGEST_MISMATCH', async () => {
    const name = await signed();
    const b = readFileSync(join(dir, name));
    b[5] ^= 1;
    writeFileSync(join(dir, name), b);
    const r = await verify(name);
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({ ok: false, error: { code: 'DIGEST_MISMATCH' }, failed: { check: 'digest' } });
  });

  it("another key: exit 1 SIGNER_MISMATCH (and the signature check fails too)", async () => {
    const name = await signed();
    const r = await verify(name, other);
    expect(r.code).toBe(1);
    const doc = r.json();
    expect(doc.error.code).toBe('SIGNER_MISMATCH');
    expect(doc.checks.find((c: { check: string }) => c.check === 'signature').ok).toBe(false);
  });

  it('a signature file re-labelled with another context: exit 1 SIGNATURE_CONTEXT_MISMATCH', async () => {
    const name = await signed();
    const sf = JSON.parse(readFileSync(join(dir, `${name}.sig`), 'utf8'));
    sf.context = 'ima-qs/v1/vote';
    writeFileSync(join(dir, `${name}.sig`), JSON.stringify(sf));
    const r = await verify(name);
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('SIGNATURE_CONTEXT_MISMATCH');
  });

  it('a flipped signature byte: exit 1 BAD_SIGNATURE', async () => {
    const name = await signed();
    const sf = JSON.parse(readFileSync(join(dir, `${name}.sig`), 'utf8'));
    const sig = Buffer.from(sf.signature, 'base64');
    sig[100] ^= 1;
    sf.signature = sig.toString('base64');
    writeFileSync(join(dir, `${name}.sig`), JSON.stringify(sf));
    const r = await verify(name);
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('BAD_SIGNATURE');
  });

  it('sign refuses to overwrite a signature without --force', async () => {
    const name = await signed();
    const r = await runCli(['sign', '--key', keys, name, '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.json().error.code).toBe('FILE_EXISTS');
  });
});
