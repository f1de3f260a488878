/**
 * SPEC §4.5's order, as a streaming decoder learns things (issue 18): what an empty input, a
 * prefix of the magic, an envelope cut to its header (to this key or another) and whitespace
 * before a binary envelope are — the same for the one-shot and the streaming decoder.
 */
import { describe, expect, it } from 'vitest';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { HEADER_SIZE, openBytes, sealBytes } from '../../../src/crypto/envelope.js';
import { decryptAnyStream, decryptStream } from '../../../src/crypto/envelope-stream.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { collect, pieces } from './helpers.js';

const p = getProvider('node');
const me = compositeGenerate(p);
const other = compositeGenerate(p);
const env = sealBytes(p, me.publicKey, new TextEncoder().encode('hello'));
const big = sealBytes(p, me.publicKey, new Uint8Array(70_000)); // two chunks

async function outcome(f: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (err) {
    const e = err as { code: string; exitCode: number };
    return `${e.code}/${e.exitCode}`;
  }
}
/** The one-shot and the streaming decoder (fed in 7-byte pieces) must say the same. */
async function both(input: Uint8Array, key = me): Promise<string> {
  const one = await outcome(() => openBytes(p, key, input));
  const stream = await outcome(() => collect(decryptStream(p, key, pieces(input, 7))));
  const any = await outcome(() => collect(decryptAnyStream(p, key, pieces(input, 7))));
  expect(stream).toBe(one);
  expect(any).toBe(one);
  return one;
}
const ascii = (s: string) => new TextEncoder().encode(s);

describe('SPEC §4.5 decoding order', () => {
  it.each([
    ['an empty input', new Uint8Array(0), 'ENVELOPE_TRUNCATED/3'],
    ['a one-byte prefix of the magic', ascii('I'), 'ENVELOPE_TRUNCATED/3'],
    ['a five-byte prefix of the magic', ascii('IMA-Q'), 'ENVELOPE_TRUNCATED/3'],
    ['a prefix that already differs', ascii('IMX'), 'NOT_AN_ENVELOPE/3'],
    ['the magic and version only', env.subarray(0, 7), 'ENVELOPE_TRUNCATED/3'],
    ['a wrong version in a short input', Uint8Array.from([...env.subarray(0, 6), 9]), 'UNSUPPORTED_VERSION/3'],
    ['half a header', env.subarray(0, 700), 'ENVELOPE_TRUNCATED/3'],
    ['the header alone, to this key', env.subarray(0, HEADER_SIZE), 'ENVELOPE_TRUNCATED/3'],
    ['the header and 15 payload bytes', env.subarray(0, HEADER_SIZE + 15), 'ENVELOPE_TRUNCATED/3'],
    ['a whole envelope', env, 'ok'],
  ])('%s → %s', async (_name, input, want) => {
    expect(await both(input)).toBe(want);
  });

  it('an envelope cut to its header and sealed to another key is WRONG_RECIPIENT (the recipient is known before the payload)', async () => {
    expect(await both(env.subarray(0, HEADER_SIZE), other)).toBe('WRONG_RECIPIENT/1');
    expect(await both(env.subarray(0, 700), other)).toBe('ENVELOPE_TRUNCATED/3'); // no complete header: framing first
  });

  it('a two-chunk envelope whose last piece is under 16 bytes is ENVELOPE_TRUNCATED', async () => {
    const cut = big.subarray(0, HEADER_SIZE + 65552 + 10);
    expect(await both(cut)).toBe('ENVELOPE_TRUNCATED/3');
  });

  it('whitespace before a binary envelope is not skipped: NOT_AN_ENVELOPE', async () => {
    const spaced = Uint8Array.from([0x0a, 0x20, ...env]);
    expect(await outcome(() => collect(decryptAnyStream(p, me, pieces(spaced, 7))))).toBe('NOT_AN_ENVELOPE/3');
  });
});
