/**
 * No key material in any output: everything keys upload / status / rotate / fetch print (human
 * and --json, stdout and stderr, success and refusal) is scanned for the private PEM bodies and
 * the seeds / scalars in hex and base64 at every byte alignment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../../../src/crypto/bytes.js';
import { KEY_FILES, type ServiceKeys } from '../../../src/keys/key-dir.js';
import { runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { ALIAS, createKmsKey, makeKeyDir, sandbox } from './fixture.js';

let moto: Moto;
let box: ReturnType<typeof sandbox>;

beforeAll(async () => {
  moto = await startMoto();
  box = sandbox();
});
afterAll(async () => {
  await moto?.stop();
  box?.cleanup();
});

/** Substrings that would reveal a secret byte string however it is embedded in hex or base64. */
function needles(secret: Uint8Array): string[] {
  const out: string[] = [];
  const hex = toHex(secret);
  out.push(hex.slice(8, 40), hex.slice(8, 40).toUpperCase());
  for (let k = 0; k < 3; k++) {
    // base64 of the bytes from offset k: its middle does not depend on what surrounds them
    const b64 = toBase64(secret.slice(k));
    const mid = b64.slice(4, 28);
    out.push(mid, mid.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

function pemBodyLines(dir: string): string[] {
  return [KEY_FILES.mlkemPrivate, KEY_FILES.mldsaPrivate, KEY_FILES.ecdhPrivate].flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .map((l) => l.slice(0, 40)),
  );
}

function secretsOf(keys: ServiceKeys): Uint8Array[] {
  return [keys.mlkem.seed!, keys.mldsa.seed!, keys.ecdh.scalar];
}

describe('key custody output never contains key material', () => {
  it('scans upload, status, rotate and fetch output (human and --json)', async () => {
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'leak-a');
    const b = await makeKeyDir(box.root, 'leak-b', a);
    const stranger = await makeKeyDir(box.root, 'leak-stranger');
    const env = { ...box.baseEnv, ...moto.env };
    const runs: [string[], number][] = [
      [['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--dry-run'], 0],
      [['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes'], 0],
      [['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'], 0],
      [['keys', 'upload', '--keys', stranger.dir, '--kms-key', ALIAS, '--yes'], 5],
      [['keys', 'upload', '--keys', b.dir, '--kms-key', ALIAS, '--yes', '--json'], 5],
      [['keys', 'status', '--keys', a.dir], 0],
      [['keys', 'status', '--keys', a.dir, '--json'], 0],
      [['keys', 'rotate', '--keys', b.dir, '--kms-key', ALIAS, '--yes'], 0],
      [['keys', 'rotate', '--keys', b.dir, '--kms-key', ALIAS, '--yes', '--immediately', '--json'], 0],
      [['keys', 'rotate', '--keys', b.dir, '--kms-key', ALIAS, '--yes', '--immediately'], 0],
      [['keys', 'status', '--keys', b.dir, '--json'], 0],
      [['keys', 'fetch', '--out', join(box.root, 'leak-out1')], 0],
      [['keys', 'fetch', '--out', join(box.root, 'leak-out2'), '--json'], 0],
      [['keys', 'fetch', '--out', join(box.root, 'leak-out2'), '--json'], 3],
    ];
    let all = '';
    for (const [argv, code] of runs) {
      const r = await runCli(argv, { env });
      expect(r.code, `${argv.join(' ')}\n${r.stderr}`).toBe(code);
      all += r.stdout + r.stderr;
    }
    expect(all.length).toBeGreaterThan(5000); // the scan covers real output
    expect(all).not.toContain('PRIVATE KEY');
    const lines = [...pemBodyLines(a.dir), ...pemBodyLines(b.dir)];
    expect(lines.length).toBeGreaterThan(6);
    for (const l of lines) expect(all.includes(l), 'a private PEM line appears in the output').toBe(false);
    for (const s of [...secretsOf(a.keys), ...secretsOf(b.keys)]) {
      for (const n of needles(s)) expect(all.includes(n), 'seed/scalar bytes appear in the output').toBe(false);
    }
    // the scan can find what it looks for: each seed's needles are found in its own PEM file's body,
    // and the (public) fingerprints are in the output
    const body = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => !l.startsWith('-----')).join('');
    const files = [KEY_FILES.mlkemPrivate, KEY_FILES.mldsaPrivate, KEY_FILES.ecdhPrivate];
    secretsOf(a.keys).forEach((s, i) => expect(needles(s).some((n) => body(a.dir, files[i]).includes(n))).toBe(true));
    expect(all).toContain(b.pin);
    expect(all).toContain(JSON.parse((await runCli(['keys', 'status', '--json'], { env })).stdout).keyset.generations[0].versionId);
  });
});
