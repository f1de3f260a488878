// The key folder of `keys generate` (SPEC §2.6) on a real temp folder: modes, refusal to
// overwrite (checked for all six files before writing any), loading with pair checks.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes } from '../../../src/crypto/bytes.js';
import { compositeDecapsulate, compositeEncapsulate } from '../../../src/crypto/composite-kem.js';
import { encodePublicKeyPem, fingerprint } from '../../../src/crypto/key-codec.js';
import {
  KEY_FILES,
  fingerprints,
  generateServiceKeys,
  loadPrivateKeys,
  loadPublicKeys,
  publicKeysOf,
  recipientPrivateKey,
  recipientPublicKey,
  requireAll,
  writeKeyDir,
} from '../../../src/keys/key-dir.js';
import { expectCodeAsync, providers } from './helpers.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ima-qs-keydir-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe.each(providers.map((p) => [p.name, p] as const))('key folder (%s)', (name, p) => {
  it('writes six PEM files: private 0600, public 0644, folder 0700', async () => {
    const dir = join(root, `${name}-modes`, 'quantum_keys');
    const written = await writeKeyDir(dir, generateServiceKeys(p));
    expect(written).toHaveLength(6);
    expect(await mode(dir)).toBe(0o700);
    for (const f of [KEY_FILES.mlkemPrivate, KEY_FILES.mldsaPrivate, KEY_FILES.ecdhPrivate]) expect(await mode(join(dir, f))).toBe(0o600);
    for (const f of [KEY_FILES.mlkemPublic, KEY_FILES.mldsaPublic, KEY_FILES.ecdhPublic]) expect(await mode(join(dir, f))).toBe(0o644);
    expect(await readFile(join(dir, KEY_FILES.mldsaPrivate), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('refuses to overwrite without force, checking all six before writing any', async () => {
    const dir = join(root, `${name}-force`);
    const first = generateServiceKeys(p);
    await writeKeyDir(dir, first);
    const before = await readFile(join(dir, KEY_FILES.mlkemPrivate));
    await expectCodeAsync(() => writeKeyDir(dir, generateServiceKeys(p)), 'FILE_EXISTS');
    expect((await readFile(join(dir, KEY_FILES.mlkemPrivate))).equals(before)).toBe(true);

    // only ONE of the six present (a public file): still nothing is written
    const partial = join(root, `${name}-partial`);
    await writeKeyDir(join(root, `${name}-src`), first);
    await mkdir(partial, { recursive: true });
    await copyFile(join(root, `${name}-src`, KEY_FILES.ecdhPublic), join(partial, KEY_FILES.ecdhPublic));
    await expectCodeAsync(() => writeKeyDir(partial, generateServiceKeys(p)), 'FILE_EXISTS');
    expect(existsSync(join(partial, KEY_FILES.mlkemPrivate))).toBe(false);
    expect(existsSync(join(partial, KEY_FILES.mldsaPublic))).toBe(false);
  });

  it('force replaces the keys', async () => {
    const dir = join(root, `${name}-force2`);
    await writeKeyDir(dir, generateServiceKeys(p));
    const second = generateServiceKeys(p);
    await writeKeyDir(dir, second, { force: true });
    const loaded = await loadPrivateKeys(p, dir);
    expect(equalBytes(loaded.mldsa.publicKey, second.mldsa.publicKey)).toBe(true);
  });

  it('loads private and public keys; the composite recipient works end to end', async () => {
    const dir = join(root, `${name}-load`);
    const keys = generateServiceKeys(p);
    await writeKeyDir(dir, keys);
    const priv = await loadPrivateKeys(p, dir);
    expect(equalBytes(priv.mlkem.publicKey, keys.mlkem.publicKey)).toBe(true);
    expect(equalBytes(priv.ecdh.scalar, keys.ecdh.scalar)).toBe(true);
    const pub = requireAll(await loadPublicKeys(p, dir), dir);
    expect(equalBytes(pub.mldsa, keys.mldsa.publicKey)).toBe(true);
    const { cipherText, sharedSecret } = compositeEncapsulate(p, recipientPublicKey(pub));
    expect(equalBytes(compositeDecapsulate(p, recipientPrivateKey(priv), cipherText), sharedSecret)).toBe(true);

    const fp = fingerprints(pub);
    expect(fp.mldsa).toBe(fingerprint('ML-DSA-87', keys.mldsa.publicKey));
    expect(fp.composite).toBe(fingerprint('MLKEM768-P384', recipientPublicKey(publicKeysOf(keys))));
    expect(new Set(Object.values(fp)).size).toBe(4);
  });

  it('a single file gives the key it holds; a composite file gives both halves; a private file is refused', async () => {
    const dir = join(root, `${name}-single`);
    const keys = generateServiceKeys(p);
    await writeKeyDir(dir, keys);
    const one = await loadPublicKeys(p, join(dir, KEY_FILES.mldsaPublic));
    expect(Object.keys(one)).toEqual(['mldsa']);
    const compPath = join(dir, 'composite.pub');
    const composite = recipientPublicKey(publicKeysOf(keys));
    await writeFile(compPath, encodePublicKeyPem('MLKEM768-P384', composite));
    const c = await loadPublicKeys(p, compPath);
    expect(equalBytes(c.composite!, composite)).toBe(true);
    expect(equalBytes(c.ecdh!, keys.ecdh.publicKey)).toBe(true);
    await expectCodeAsync(() => loadPublicKeys(p, join(dir, KEY_FILES.mlkemPrivate)), 'KEY_NOT_PUBLIC');
    await expectCodeAsync(async () => requireAll(one, 'x'), 'KEY_MISSING');
  });

  it('mismatched pairs, wrong algorithms and missing files are clear errors', async () => {
    const dir = join(root, `${name}-bad`);
    await writeKeyDir(dir, generateServiceKeys(p));
    const other = join(root, `${name}-other`);
    await writeKeyDir(other, generateServiceKeys(p));
    await copyFile(join(other, KEY_FILES.mldsaPublic), join(dir, KEY_FILES.mldsaPublic));
    await expectCodeAsync(() => loadPrivateKeys(p, dir), 'KEY_PAIR_MISMATCH');
    await copyFile(join(other, KEY_FILES.mldsaPublic), join(dir, KEY_FILES.mlkemPublic));
    await expectCodeAsync(() => loadPublicKeys(p, dir), 'KEY_WRONG_ALGORITHM');
    await rm(join(other, KEY_FILES.ecdhPrivate));
    await expectCodeAsync(() => loadPrivateKeys(p, other), 'FILE_NOT_FOUND');
    await expectCodeAsync(() => loadPrivateKeys(p, join(root, 'does-not-exist')), 'FILE_NOT_FOUND');
    await expectCodeAsync(() => loadPrivateKeys(p, join(other, KEY_FILES.mlkemPublic)), 'NOT_A_DIRECTORY');
  });
});
