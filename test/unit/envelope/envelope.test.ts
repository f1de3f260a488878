/**
 * SPEC §4: header codec, key schedule, one-shot and streaming round trips on both providers (and
 * across them), and a table of tampered envelopes that every decoder path must reject with the
 * same error code.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import {
  CHUNK_SIZE,
  HEADER_SIZE,
  SEALED_CHUNK_SIZE,
  chunkNonce,
  decodeHeader,
  encodeHeader,
  openBytes,
  recipientFingerprint,
  sealBytes,
  sealedSize,
} from '../../../src/crypto/envelope.js';
import { armorEncode } from '../../../src/crypto/armor.js';
import { decryptAnyStream, decryptStream, encryptStream } from '../../../src/crypto/envelope-stream.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { ImaError } from '../../../src/errors.js';
import { collect, errorOf, pieces } from './helpers.js';

const noble = getProvider('noble');
const node = getProvider('node');
const providers = [noble, node];

describe('header codec (SPEC §4.1)', () => {
  it('encodes magic, version, suite, fingerprint and KEM ciphertext at fixed offsets', () => {
    const fp = randomBytes(32);
    const ct = randomBytes(1185);
    const h = encodeHeader(fp, ct);
    expect(h.length).toBe(HEADER_SIZE);
    expect(Buffer.from(h.subarray(0, 8)).toString('hex')).toBe('494d412d51530101');
    const d = decodeHeader(h);
    expect(d.version).toBe(1);
    expect(d.suite).toBe(1);
    expect(Buffer.from(d.fingerprint).equals(fp)).toBe(true);
    expect(Buffer.from(d.kemCipherText).equals(ct)).toBe(true);
  });

  it.each([
    ['wrong magic', (h: Uint8Array) => (h[0] = 0x4a), 'NOT_AN_ENVELOPE'],
    ['version 2', (h: Uint8Array) => (h[6] = 2), 'UNSUPPORTED_VERSION'],
    ['version 0', (h: Uint8Array) => (h[6] = 0), 'UNSUPPORTED_VERSION'],
    ['suite 2', (h: Uint8Array) => (h[7] = 2), 'UNSUPPORTED_SUITE'],
  ])('rejects %s', (_name, mutate, code) => {
    const h = encodeHeader(new Uint8Array(32), new Uint8Array(1185));
    mutate(h);
    expect(errorOf(() => decodeHeader(h))).toMatchObject({ code, exitCode: 3 });
  });

  it('names a short file as truncated, and a short non-envelope as not an envelope', () => {
    const h = encodeHeader(new Uint8Array(32), new Uint8Array(1185));
    expect(errorOf(() => decodeHeader(h.subarray(0, 100)))).toMatchObject({ code: 'ENVELOPE_TRUNCATED', exitCode: 3 });
    expect(errorOf(() => decodeHeader(new TextEncoder().encode('hello')))).toMatchObject({ code: 'NOT_AN_ENVELOPE' });
    expect(errorOf(() => decodeHeader(new Uint8Array(0)))).toMatchObject({ code: 'ENVELOPE_TRUNCATED' });
  });

  it('nonce = 88-bit big-endian counter ‖ final flag', () => {
    expect(Buffer.from(chunkNonce(0, true)).toString('hex')).toBe('000000000000000000000001');
    expect(Buffer.from(chunkNonce(1, false)).toString('hex')).toBe('000000000000000000000100');
    expect(Buffer.from(chunkNonce(2 ** 32 + 2, false)).toString('hex')).toBe('000000000000010000000200');
  });

  it('rejects a recipient key of the wrong length, naming the expected size', () => {
    const e = errorOf(() => recipientFingerprint(node, new Uint8Array(1184)));
    expect(e).toMatchObject({ code: 'BAD_KEY_LENGTH', exitCode: 3 });
    expect(e.message).toContain('1281');
  });
});

const SIZES = [0, 1, 1024, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7];

describe.each(providers.map((p) => [p.name, p] as const))('round trips on the %s provider', (_n, p) => {
  const key = compositeGenerate(p);

  it.each(SIZES)('sealBytes/openBytes of %i bytes', (n) => {
    const pt = randomBytes(n);
    const env = sealBytes(p, key.publicKey, pt);
    expect(env.length).toBe(sealedSize(n));
    expect(Buffer.from(openBytes(p, key, env)).equals(pt)).toBe(true);
  });

  it.each(SIZES)('stream of %i bytes (odd piece sizes) opens one-shot and streaming', async (n) => {
    const pt = randomBytes(n);
    const env = await collect(encryptStream(p, key.publicKey, pieces(pt, 1000)));
    expect(env.length).toBe(sealedSize(n));
    expect(Buffer.from(openBytes(p, key, env)).equals(pt)).toBe(true);
    const back = await collect(decryptStream(p, key, pieces(env, 7777)));
    expect(back.equals(pt)).toBe(true);
  });

  it.each(SIZES)('armored stream of %i bytes round trips (auto-detected)', async (n) => {
    const pt = randomBytes(n);
    const armored = await collect(armorEncode(encryptStream(p, key.publicKey, pieces(pt, 3000))));
    expect(armored.subarray(0, 11).toString('latin1')).toBe('-----BEGIN ');
    expect((await collect(decryptAnyStream(p, key, pieces(armored, 5000)))).equals(pt)).toBe(true);
  });
});

describe('differential: what one provider seals the other opens', () => {
  it.each([
    ['noble → node', noble, node],
    ['node → noble', node, noble],
  ])('%s', async (_n, a, b) => {
    const key = compositeGenerate(a);
    const pt = randomBytes(CHUNK_SIZE + 5);
    expect(Buffer.from(openBytes(b, key, sealBytes(a, key.publicKey, pt))).equals(pt)).toBe(true);
    const env = await collect(encryptStream(a, key.publicKey, pieces(pt, 4096)));
    expect((await collect(decryptStream(b, key, pieces(env, SEALED_CHUNK_SIZE)))).equals(pt)).toBe(true);
  });
});

describe('tampering (SPEC §4.5): every decoder path says no with the same code', () => {
  const p = node;
  const key = compositeGenerate(p);
  const other = compositeGenerate(p);
  const pt = randomBytes(2 * CHUNK_SIZE + 100); // three chunks: full, full, 100 bytes
  const env = sealBytes(p, key.publicKey, pt);
  const exact = sealBytes(p, key.publicKey, randomBytes(2 * CHUNK_SIZE)); // last chunk full and final
  const c0 = HEADER_SIZE;
  const c1 = HEADER_SIZE + SEALED_CHUNK_SIZE;
  const c2 = HEADER_SIZE + 2 * SEALED_CHUNK_SIZE;
  const flip = (e: Uint8Array, at: number) => {
    const t = Uint8Array.from(e);
    t[at] ^= 0x01;
    return t;
  };
  const cases: [string, Uint8Array, string, number][] = [
    ['a magic byte', flip(env, 2), 'NOT_AN_ENVELOPE', 3],
    ['the version', flip(env, 6), 'UNSUPPORTED_VERSION', 3],
    ['the suite', flip(env, 7), 'UNSUPPORTED_SUITE', 3],
    ['the fingerprint', flip(env, 20), 'WRONG_RECIPIENT', 1],
    ['the ML-KEM ciphertext', flip(env, 100), 'DECRYPT_FAILED', 1],
    ['the ephemeral P-384 point', flip(env, HEADER_SIZE - 1), 'DECRYPT_FAILED', 1],
    ['a byte of chunk 1', flip(env, c1 + 10), 'DECRYPT_FAILED', 1],
    ['the final tag', flip(env, env.length - 1), 'DECRYPT_FAILED', 1],
    ['chunks 0 and 1 swapped', concat(env.subarray(0, c0), env.subarray(c1, c2), env.subarray(c0, c1), env.subarray(c2)), 'DECRYPT_FAILED', 1],
    ['the final chunk dropped', env.subarray(0, c2), 'ENVELOPE_TRUNCATED', 1],
    ['truncated inside a chunk', env.subarray(0, c1 + 500), 'DECRYPT_FAILED', 1],
    ['truncated inside the last tag', env.subarray(0, c2 + 5), 'ENVELOPE_TRUNCATED', 3],
    ['truncated to the header', env.subarray(0, HEADER_SIZE), 'ENVELOPE_TRUNCATED', 3],
    ['truncated inside the header', env.subarray(0, 600), 'ENVELOPE_TRUNCATED', 3],
    ['one byte appended', concat(env, new Uint8Array(1)), 'DECRYPT_FAILED', 1],
    ['a chunk appended after a full final chunk', concat(exact, exact.subarray(c0, c0 + 40)), 'TRAILING_DATA', 1],
    ['the final chunk of another envelope spliced in', concat(env.subarray(0, c2), exact.subarray(exact.length - 100)), 'DECRYPT_FAILED', 1],
  ];

  it.each(cases)('%s', async (_name, bad, code, exit) => {
    const e1 = errorOf(() => openBytes(p, key, bad));
    expect(e1).toBeInstanceOf(ImaError);
    expect(e1).toMatchObject({ code, exitCode: exit });
    const e2 = await errorOfAsync(collect(decryptStream(p, key, pieces(bad, 10000))));
    expect(e2).toMatchObject({ code, exitCode: exit });
  });

  it('the untampered envelopes open (the table is about the changes, not the inputs)', () => {
    expect(Buffer.from(openBytes(p, key, env)).equals(pt)).toBe(true);
    expect(openBytes(p, key, exact).length).toBe(2 * CHUNK_SIZE);
  });

  it('a wrong key names both fingerprints', () => {
    const e = errorOf(() => openBytes(p, other, env));
    expect(e).toMatchObject({ code: 'WRONG_RECIPIENT', exitCode: 1 });
    expect(e.message).toMatch(/encrypted to key [0-9a-f]{64}, not to [0-9a-f]{64}/);
  });

  it("a header rewritten to the victim's fingerprint still fails to authenticate", () => {
    const forged = Uint8Array.from(sealBytes(p, other.publicKey, pt));
    forged.set(recipientFingerprint(p, key.publicKey), 8);
    expect(errorOf(() => openBytes(p, key, forged))).toMatchObject({ code: 'DECRYPT_FAILED', exitCode: 1 });
  });

  it('streaming releases only authenticated chunks: a bad chunk 1 yields exactly chunk 0 first', async () => {
    const got: Uint8Array[] = [];
    const e = await errorOfAsync(
      (async () => {
        for await (const c of decryptStream(p, key, pieces(flip(env, c1 + 10), 65536))) got.push(c);
      })(),
    );
    expect(e).toMatchObject({ code: 'DECRYPT_FAILED' });
    expect(got.length).toBe(1);
    expect(Buffer.from(got[0]).equals(pt.subarray(0, CHUNK_SIZE))).toBe(true);
  });

  it('decryptAnyStream reads binary envelopes (even when the first piece is 1 byte)', async () => {
    expect((await collect(decryptAnyStream(p, key, pieces(env, 1, 3)))).equals(pt)).toBe(true);
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

async function errorOfAsync(p: Promise<unknown>): Promise<ImaError & { exitCode: number }> {
  try {
    await p;
  } catch (e) {
    return e as ImaError & { exitCode: number };
  }
  throw new Error('expected a rejection');
}
