/**
 * Every key use checks its pair (SPEC §2.4, issues 18 and 20): a folder (or a NAME_private.key /
 * NAME_public.key pair) that mixes two generations is refused with KEY_PAIR_MISMATCH (exit 3) by
 * every command that loads keys from it — sign, verify --key, decrypt, encrypt --to, keys show,
 * verify response.json --key, keys upload, local up and the worker's KEYS_DIR — while the matching
 * folder works for the same command line.
 */
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodePrivateKeyPem, encodePublicKeyPem } from '../../src/crypto/key-codec.js';
import { defaultProvider } from '../../src/crypto/providers.js';
import { KEY_FILES, generateServiceKeys, publicKeysOf, recipientPrivateKey, recipientPublicKey, writeKeyDir } from '../../src/keys/key-dir.js';
import { workerFromEnv } from '../../src/service/wiring.js';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { tempDir } from './helpers/bytes-io.js';
import { writeCertifiedKeyDir } from '../helpers/keyset.js';

const p = defaultProvider();
let dir: string;

/** Folder `name`: the keys of A with the public file `slot` taken from B. */
function mixed(name: string, a: string, b: string, file: string): string {
  const d = join(dir, name);
  cpSync(a, d, { recursive: true });
  copyFileSync(join(b, file), join(d, file));
  return name;
}

beforeAll(async () => {
  dir = tempDir('ima-qs-pairs-');
  const a = generateServiceKeys(p);
  const b = generateServiceKeys(p);
  // a certified folder (keyset.json, the root's public key): what upload and the worker load
  await writeCertifiedKeyDir(p, join(dir, 'a'), join(dir, 'a_root'), { keys: a });
  await writeKeyDir(join(dir, 'b'), b);
  mixed('mix-dsa', join(dir, 'a'), join(dir, 'b'), KEY_FILES.mldsaPublic);
  mixed('mix-kem', join(dir, 'a'), join(dir, 'b'), KEY_FILES.mlkemPublic);
  mixed('mix-ecdh', join(dir, 'a'), join(dir, 'b'), KEY_FILES.ecdhPublic);
  // composite key files named as a pair: recipient_private.key of A beside recipient_public.key of B
  for (const [sub, pub] of [['comp-ok', a], ['comp-mix', b]] as const) {
    mkdirSync(join(dir, sub));
    writeFileSync(join(dir, sub, 'recipient_private.key'), encodePrivateKeyPem(recipientPrivateKey(a)), { mode: 0o600 });
    writeFileSync(join(dir, sub, 'recipient_public.key'), encodePublicKeyPem('MLKEM768-P384', recipientPublicKey(publicKeysOf(pub))));
  }
  writeFileSync(join(dir, 'plain.txt'), 'the plaintext\n');
  writeFileSync(join(dir, 'doc.json'), '{}\n');
  const run = (argv: string[]) => runCli([...argv, '--json'], { cwd: dir });
  expect((await run(['encrypt', '--to', 'a', '-o', 'good.ima', 'plain.txt'])).code).toBe(0);
  expect((await run(['sign', '--key', 'a', '-o', 'good.sig', 'plain.txt'])).code).toBe(0);
});

// [what, argv with KEYS in place of the key argument, the mixed key argument, the matching one]
const rows: [string, string[], string, string][] = [
  ['sign --key DIR', ['sign', '--key', 'KEYS', '-o', 'OUT', 'plain.txt'], 'mix-dsa', 'a'],
  ['sign --key FILE (its partner public file is of another pair)', ['sign', '--key', 'KEYS', '-o', 'OUT', 'plain.txt'], 'mix-dsa/ml_dsa_87_private.key', 'a/ml_dsa_87_private.key'],
  ['verify --key DIR', ['verify', 'plain.txt', '--signature', 'good.sig', '--key', 'KEYS'], 'mix-dsa', 'a'],
  ['decrypt --identity DIR (ML-KEM pair)', ['decrypt', '--identity', 'KEYS', '-o', 'OUT', 'good.ima'], 'mix-kem', 'a'],
  ['decrypt --identity DIR (P-384 pair)', ['decrypt', '--identity', 'KEYS', '-o', 'OUT', 'good.ima'], 'mix-ecdh', 'a'],
  ['decrypt --identity composite private key file', ['decrypt', '--identity', 'KEYS', '-o', 'OUT', 'good.ima'], 'comp-mix/recipient_private.key', 'comp-ok/recipient_private.key'],
  ['encrypt --to DIR (ML-KEM pair)', ['encrypt', '--to', 'KEYS', '-o', 'OUT', 'plain.txt'], 'mix-kem', 'a'],
  ['encrypt --to DIR (P-384 pair)', ['encrypt', '--to', 'KEYS', '-o', 'OUT', 'plain.txt'], 'mix-ecdh', 'a'],
  ['encrypt --to composite public key file', ['encrypt', '--to', 'KEYS', '-o', 'OUT', 'plain.txt'], 'comp-mix/recipient_public.key', 'comp-ok/recipient_public.key'],
  ['keys show DIR', ['keys', 'show', 'KEYS'], 'mix-kem', 'a'],
  ['keys show FILE', ['keys', 'show', 'KEYS'], 'mix-dsa/ml_dsa_87_public.key', 'a/ml_dsa_87_public.key'],
];

describe('KEY_PAIR_MISMATCH for every command that loads keys', () => {
  it.each(rows.map(([what, argv, bad, good], i) => ({ what, argv, bad, good, i })))('$what', async ({ argv, bad, good, i }) => {
    const argvFor = (keys: string, tag: string) => [...argv.map((x) => (x === 'KEYS' ? keys : x === 'OUT' ? `out-${i}-${tag}` : x)), '--json'];
    const r = await runCli(argvFor(bad, 'bad'), { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.json().error.code).toBe('KEY_PAIR_MISMATCH');
    expect(r.json().error.message).toMatch(/does not match/);
    expectNoStack(r.stderr);
    const ok = await runCli(argvFor(good, 'good'), { cwd: dir });
    expect(ok.code).toBe(0);
  });

  it('verify response.json --key DIR', async () => {
    const r = await runCli(['verify', 'doc.json', '--key', 'mix-dsa', '--json'], { cwd: dir });
    expect([r.code, r.json().error.code]).toEqual([3, 'KEY_PAIR_MISMATCH']);
    const ok = await runCli(['verify', 'doc.json', '--key', 'a', '--json'], { cwd: dir });
    expect(ok.json().error.code).toBe('RESPONSE_MALFORMED'); // the key was accepted; {} is no response
  });

  it('keys upload --keys DIR refuses before any AWS call', async () => {
    const env = { ...process.env, AWS_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' };
    const r = await runCli(['keys', 'upload', '--keys', 'mix-dsa', '--kms-key', 'alias/ima-qs', '--yes', '--json'], { cwd: dir, env });
    expect([r.code, r.json().error.code]).toEqual([3, 'KEY_PAIR_MISMATCH']);
    const ok = await runCli(['keys', 'upload', '--keys', 'a', '--kms-key', 'alias/ima-qs', '--yes', '--json'], { cwd: dir, env });
    expect(ok.code).toBe(4); // the keys loaded; then AWS (nothing listens on port 9) failed
  });

  it('local up --state STATE with a mixed STATE/keys', async () => {
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    cpSync(join(dir, 'mix-ecdh'), join(state, 'keys'), { recursive: true });
    const r = await runCli(['local', 'up', '--port', '0', '--state', state, '--simulated', '--workers', '0', '--json'], {
      cwd: dir,
      stopSignal: () => new AbortController().signal,
    });
    expect([r.code, r.json().error.code]).toEqual([3, 'KEY_PAIR_MISMATCH']);
  });

  it("the worker's KEYS_DIR", async () => {
    const env = {
      QUEUE_URL: 'http://127.0.0.1:9/000000000000/ima-quantum-requests',
      IMA_QS_PCR_ANCHOR: `simulated:${join(dir, 'pcr.json')}`,
      KEYS_DIR: join(dir, 'mix-kem'),
      AWS_REGION: 'eu-central-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    };
    const log = { info() {}, warn() {}, error() {}, debug() {} } as never;
    await expect(workerFromEnv(env, log, { p, inline: true })).rejects.toMatchObject({ code: 'KEY_PAIR_MISMATCH', exitCode: 3 });
    const parts = await workerFromEnv({ ...env, KEYS_DIR: join(dir, 'a') }, log, { p, inline: true });
    expect(parts.auditRecipient.auditor).toBe(false);
    parts.ring.stop();
  });
});
