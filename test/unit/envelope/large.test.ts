/**
 * Large inputs (SPEC §4.3, §4.6): 100 MiB streamed through encrypt → (armor →) decrypt without
 * ever being held in memory, compared by SHA3-256 and length, on both providers; and the peak
 * memory of a 1 GiB encryption, measured in a child process (maxRSS) so that vitest's own memory
 * does not count.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { armorDecode, armorEncode } from '../../../src/crypto/armor.js';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { decryptStream, encryptStream } from '../../../src/crypto/envelope-stream.js';
import { getProvider } from '../../../src/crypto/providers.js';

const MiB = 1024 * 1024;

/** `n` MiB of generated data: a random block whose first 8 bytes carry the piece number. */
function generated(n: number, hash: ReturnType<typeof createHash>): AsyncIterable<Uint8Array> {
  const block = randomBytes(MiB);
  return (async function* () {
    for (let i = 0; i < n; i++) {
      const piece = Buffer.from(block);
      piece.writeBigUInt64BE(BigInt(i), 0);
      hash.update(piece);
      yield piece;
    }
  })();
}

async function digestOf(source: AsyncIterable<Uint8Array>): Promise<{ hex: string; bytes: number }> {
  const h = createHash('sha3-256');
  let bytes = 0;
  for await (const c of source) {
    h.update(c);
    bytes += c.length;
  }
  return { hex: h.digest('hex'), bytes };
}

describe('100 MiB round trips, streamed (never held in memory)', () => {
  it.each([
    ['node', false],
    ['node', true],
    ['noble', false],
  ] as const)('%s provider, armored=%s', async (name, armored) => {
    const p = getProvider(name);
    const key = compositeGenerate(p);
    const inHash = createHash('sha3-256');
    const sealed = encryptStream(p, key.publicKey, generated(100, inHash));
    const wire = armored ? armorDecode(armorEncode(sealed)) : sealed;
    const out = await digestOf(decryptStream(p, key, wire));
    expect(out.bytes).toBe(100 * MiB);
    expect(out.hex).toBe(inHash.digest('hex'));
  });
});

describe('peak memory', () => {
  it('encrypting 1 GiB grows the child process by less than 100 MiB resident (constant memory)', async () => {
    const script = fileURLToPath(new URL('./fixtures/encrypt-stream-rss.ts', import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', script, '1024'], { timeout: 180_000, cwd: fileURLToPath(new URL('../../..', import.meta.url)) }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
      );
    });
    const r = JSON.parse(stdout) as { plaintextBytes: number; envelopeBytes: number; maxRssKiB: number; baselineRssKiB: number };
    expect(r.plaintextBytes).toBe(1024 * MiB);
    expect(r.envelopeBytes).toBe(1225 + 1024 * MiB + 16 * 1024 * 16); // header + data + one tag per 64 KiB chunk
    // The baseline is the child's maxRSS after loading node, tsx, the crypto modules and a key
    // (~55 MiB bare, ~90 MiB under tsx). What the stream adds is bounded by V8's external-memory
    // GC trigger (freed 64 KiB chunk buffers are collected about every 64 MiB), not by the input.
    process.stderr.write(`1 GiB encrypt: maxRSS ${(r.maxRssKiB / 1024).toFixed(1)} MiB, baseline ${(r.baselineRssKiB / 1024).toFixed(1)} MiB\n`);
    expect(r.maxRssKiB - r.baselineRssKiB).toBeLessThan(100 * 1024);
  });
});
