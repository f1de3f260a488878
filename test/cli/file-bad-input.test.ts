/**
 * Bad input to the file commands gets a clear error, the right exit code and no stack trace
 * (issue 2, "Bad input"). One table; each row runs in-process with --json and asserts the exit
 * code and the error code, that stderr has our error line and no stack, and that no temp file or
 * output file is left behind.
 */
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { tempDir, tempFilesIn } from './helpers/bytes-io.js';

let dir: string;

/** SPKI PEM for the ML-KEM-768 OID around a key of the wrong length */
function mlkemSpkiPem(keyLength: number): string {
  const oid = Buffer.from('300b0609608648016503040402', 'hex');
  const bits = Buffer.concat([Buffer.from([0x03, 0x82]), u16(keyLength + 1), Buffer.from([0]), Buffer.alloc(keyLength, 7)]);
  const body = Buffer.concat([oid, bits]);
  const der = Buffer.concat([Buffer.from([0x30, 0x82]), u16(body.length), body]);
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}
function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 255]);
}

beforeAll(async () => {
  dir = tempDir();
  const w = (name: string, data: string | Uint8Array) => writeFileSync(join(dir, name), data);
  expect((await runCli(['keys', 'generate', '--out', join(dir, 'keys')])).code).toBe(0);
  w('plain.txt', 'the plaintext\n');
  expect((await runCli(['encrypt', '--to', 'keys', '-o', 'good.ima', 'plain.txt'], { cwd: dir })).code).toBe(0);
  expect((await runCli(['sign', '--key', 'keys', 'plain.txt'], { cwd: dir })).code).toBe(0);
  const env = readFileSync(join(dir, 'good.ima'));
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  w('p256.pub', p256.publicKey.export({ type: 'spki', format: 'pem' }));
  w('p256.key', p256.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  w('ed25519.pub', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  w('short-mlkem.pub', mlkemSpkiPem(1183));
  w('long-mlkem.pub', mlkemSpkiPem(1185));
  w('garbage.pem', '-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n');
  w('truncated.pem', readFileSync(join(dir, 'keys', 'ml_kem_768_public.key'), 'utf8').slice(0, 300));
  w('binary.key', Buffer.from([0xff, 0xfe, 0x00, 0x01]));
  // a key folder whose ML-KEM public key has the wrong length
  mkdirSync(join(dir, 'badkeys'));
  copyFileSync(join(dir, 'keys', 'ecdh_p384_public.key'), join(dir, 'badkeys', 'ecdh_p384_public.key'));
  w('badkeys/ml_kem_768_public.key', mlkemSpkiPem(1183));
  // a key folder with public keys only
  mkdirSync(join(dir, 'pubonly'));
  for (const n of ['ml_kem_768_public.key', 'ecdh_p384_public.key', 'ml_dsa_87_public.key']) copyFileSync(join(dir, 'keys', n), join(dir, 'pubonly', n));
  w('empty.ima', new Uint8Array(0));
  w('garbage.ima', Buffer.from('this is not an envelope at all, just text\n'));
  w('header-only.ima', env.subarray(0, 1225));
  w('cut-header.ima', env.subarray(0, 700));
  w('cut-tag.ima', env.subarray(0, 1225 + 7));
  w('oversized.ima', Buffer.concat([env, Buffer.alloc(70000, 1)]));
  w('v2.ima', Uint8Array.from(env, (b, i) => (i === 6 ? 2 : b)));
  w('suite9.ima', Uint8Array.from(env, (b, i) => (i === 7 ? 9 : b)));
  w('bad-armor.ima', '-----BEGIN IMA-QS ENCRYPTED FILE-----\nSU1B$$$\n-----END IMA-QS ENCRYPTED FILE-----\n');
  w('bad.sig', '{"format":"ima-qs/v1/signature"}');
  w('notjson.sig', 'hello');
  w('existing.out', 'do not touch');
  const sig = JSON.parse(readFileSync(join(dir, 'plain.txt.sig'), 'utf8'));
  w('short.sig', JSON.stringify({ ...sig, signature: Buffer.alloc(4626).toString('base64') }));
  w('v9.sig', JSON.stringify({ ...sig, format: 'ima-qs/v9/signature' }));
});

type Row = [string, string[], number, string];

const rows: Row[] = [
  // keys of the wrong type or size
  ['a P-256 public key as --to', ['encrypt', '--to', 'p256.pub', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_ALGORITHM'],
  ['an Ed25519 key as --to', ['encrypt', '--to', 'ed25519.pub', '-o', 'o1', 'plain.txt'], 3, 'KEY_UNSUPPORTED_ALGORITHM'],
  ['an ML-DSA key as --to', ['encrypt', '--to', 'keys/ml_dsa_87_public.key', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_ALGORITHM'],
  ['an ML-KEM-only key as --to', ['encrypt', '--to', 'keys/ml_kem_768_public.key', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_ALGORITHM'],
  ['a 1183-byte ML-KEM public key', ['encrypt', '--to', 'short-mlkem.pub', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_SIZE'],
  ['a 1185-byte ML-KEM public key', ['encrypt', '--to', 'long-mlkem.pub', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_SIZE'],
  ['a key folder with a 1183-byte ML-KEM key', ['encrypt', '--to', 'badkeys', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_SIZE'],
  ['a P-256 private key as --identity', ['decrypt', '--identity', 'p256.key', '-o', 'o1', 'good.ima'], 3, 'KEY_WRONG_ALGORITHM'],
  ['an ML-DSA private key as --identity', ['decrypt', '--identity', 'keys/ml_dsa_87_private.key', '-o', 'o1', 'good.ima'], 3, 'KEY_WRONG_ALGORITHM'],
  ['an ML-KEM public key as sign --key', ['sign', '--key', 'keys/ml_kem_768_public.key', '-o', 'o1', 'plain.txt'], 3, 'KEY_WRONG_ALGORITHM'],
  // a public key where a private one is needed (and the reverse)
  ['a public-only folder as --identity', ['decrypt', '--identity', 'pubonly', '-o', 'o1', 'good.ima'], 3, 'FILE_NOT_FOUND'],
  ['a public key file as sign --key', ['sign', '--key', 'keys/ml_dsa_87_public.key', '-o', 'o1', 'plain.txt'], 3, 'KEY_NOT_PRIVATE'],
  ['a private key file as verify --key', ['verify', 'plain.txt', '--signature', 'plain.txt.sig', '--key', 'keys/ml_dsa_87_private.key'], 3, 'KEY_NOT_PUBLIC'],
  // malformed PEM
  ['a PEM with a garbage body', ['encrypt', '--to', 'garbage.pem', '-o', 'o1', 'plain.txt'], 3, 'KEY_MALFORMED'],
  ['a truncated PEM', ['encrypt', '--to', 'truncated.pem', '-o', 'o1', 'plain.txt'], 3, 'KEY_MALFORMED'],
  ['a binary file as a key', ['encrypt', '--to', 'binary.key', '-o', 'o1', 'plain.txt'], 3, 'KEY_MALFORMED'],
  ['a text file as a key', ['decrypt', '--identity', 'plain.txt', '-o', 'o1', 'good.ima'], 3, 'KEY_MALFORMED'],
  // envelopes
  ['an empty envelope', ['decrypt', '--identity', 'keys', '-o', 'o1', 'empty.ima'], 3, 'ENVELOPE_TRUNCATED'],
  ['a garbage envelope', ['decrypt', '--identity', 'keys', '-o', 'o1', 'garbage.ima'], 3, 'NOT_AN_ENVELOPE'],
  ['an envelope cut inside its header', ['decrypt', '--identity', 'keys', '-o', 'o1', 'cut-header.ima'], 3, 'ENVELOPE_TRUNCATED'],
  ['an envelope that is only a header', ['decrypt', '--identity', 'keys', '-o', 'o1', 'header-only.ima'], 3, 'ENVELOPE_TRUNCATED'],
  ['an envelope cut inside a tag', ['decrypt', '--identity', 'keys', '-o', 'o1', 'cut-tag.ima'], 3, 'ENVELOPE_TRUNCATED'],
  ['an oversized envelope (data appended)', ['decrypt', '--identity', 'keys', '-o', 'o1', 'oversized.ima'], 1, 'DECRYPT_FAILED'],
  ['an unknown version', ['decrypt', '--identity', 'keys', '-o', 'o1', 'v2.ima'], 3, 'UNSUPPORTED_VERSION'],
  ['an unknown suite', ['decrypt', '--identity', 'keys', '-o', 'o1', 'suite9.ima'], 3, 'UNSUPPORTED_SUITE'],
  ['bad armor', ['decrypt', '--identity', 'keys', '-o', 'o1', 'bad-armor.ima'], 3, 'BAD_ARMOR'],
  // signature files
  ['a signature file with missing members', ['verify', 'plain.txt', '--signature', 'bad.sig', '--key', 'keys'], 3, 'BAD_SIGNATURE_FILE'],
  ['a signature file that is not JSON', ['verify', 'plain.txt', '--signature', 'notjson.sig', '--key', 'keys'], 3, 'BAD_SIGNATURE_FILE'],
  ['a 4626-byte signature', ['verify', 'plain.txt', '--signature', 'short.sig', '--key', 'keys'], 3, 'BAD_SIGNATURE_FILE'],
  ['an unknown signature format', ['verify', 'plain.txt', '--signature', 'v9.sig', '--key', 'keys'], 3, 'UNSUPPORTED_SIGNATURE_FORMAT'],
  // missing files
  ['a missing input file', ['encrypt', '--to', 'keys', '-o', 'o1', 'nope.txt'], 3, 'FILE_NOT_FOUND'],
  ['a missing key folder', ['encrypt', '--to', 'nokeys', '-o', 'o1', 'plain.txt'], 3, 'FILE_NOT_FOUND'],
  ['a missing envelope', ['decrypt', '--identity', 'keys', '-o', 'o1', 'nope.ima'], 3, 'FILE_NOT_FOUND'],
  ['a missing signature file', ['verify', 'plain.txt', '--signature', 'nope.sig', '--key', 'keys'], 3, 'FILE_NOT_FOUND'],
  ['a missing file to verify', ['verify', 'nope.txt', '--signature', 'plain.txt.sig', '--key', 'keys'], 3, 'FILE_NOT_FOUND'],
  ['a folder as input', ['encrypt', '--to', 'keys', '-o', 'o1', 'keys'], 3, 'IS_A_DIRECTORY'],
  // outputs
  ['an output in a missing folder', ['encrypt', '--to', 'keys', '-o', 'no/such/dir/o1', 'plain.txt'], 3, 'DIR_NOT_FOUND'],
  ['an output below a file', ['decrypt', '--identity', 'keys', '-o', 'plain.txt/o1', 'good.ima'], 3, 'NOT_A_DIRECTORY'],
  ['an existing output (encrypt)', ['encrypt', '--to', 'keys', '-o', 'existing.out', 'plain.txt'], 3, 'FILE_EXISTS'],
  ['an existing output (decrypt)', ['decrypt', '--identity', 'keys', '-o', 'existing.out', 'good.ima'], 3, 'FILE_EXISTS'],
  ['an existing output (sign)', ['sign', '--key', 'keys', '-o', 'existing.out', 'plain.txt'], 3, 'FILE_EXISTS'],
  // usage
  ['--json with the output on stdout', ['encrypt', '--to', 'keys', 'plain.txt'], 2, 'JSON_NEEDS_OUTPUT'],
  ['verify without --signature', ['verify', 'plain.txt', '--key', 'keys'], 2, 'MISSING_OPTION'],
  ['encrypt without --to', ['encrypt', '-o', 'o1', 'plain.txt'], 2, 'USAGE'],
];

describe('bad input to the file commands', () => {
  it.each(rows.map(([n, a, e, c]) => [`${n} → exit ${e} ${c}`, a, e, c] as Row))('%s', async (_name, argv, exit, code) => {
    const r = await runCli([...argv, '--json'], { cwd: dir });
    expect(r.code).toBe(exit);
    expect(r.json()).toMatchObject({ ok: false, error: { code } });
    expect(r.stderr).toMatch(/^ima-qs: error: /m);
    expectNoStack(r.stderr);
    expectNoStack(r.stdout);
    expect(existsSync(join(dir, 'o1'))).toBe(false);
    expect(tempFilesIn(dir)).toEqual([]);
    expect(readFileSync(join(dir, 'existing.out'), 'utf8')).toBe('do not touch');
  });

  it('no error message carries key material (the private PEM body never appears)', async () => {
    const privBody = readFileSync(join(dir, 'keys', 'ml_kem_768_private.key'), 'utf8').split('\n')[1];
    for (const [, argv] of rows.slice(0, 17)) {
      const r = await runCli([...argv, '--json'], { cwd: dir });
      expect(r.stdout + r.stderr).not.toContain(privBody);
    }
  });
});
