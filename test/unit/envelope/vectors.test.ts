/**
 * SPEC §4.7: every file in test/vectors/envelope is one scenario with its expected outcome. Each is
 * run one-shot (openBytes, after de-armoring) and streaming (decryptAnyStream), on both providers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dearmorBytes } from '../../../src/crypto/armor.js';
import { fromBase64 } from '../../../src/crypto/bytes.js';
import { decodeKeyPem, expectPrivate } from '../../../src/crypto/key-codec.js';
import { openBytes } from '../../../src/crypto/envelope.js';
import { decryptAnyStream } from '../../../src/crypto/envelope-stream.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { collect, pieces } from './helpers.js';

const dir = new URL('../../vectors/envelope/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

interface Vector {
  scenario: string;
  identity_test_private_key_pem: string;
  envelope_base64?: string;
  envelope_armored?: string;
  expected:
    | { outcome: 'success'; plaintext_base64?: string; plaintext_pattern?: { length: number } }
    | { outcome: 'failure'; code: string; exit_code: number };
}

function expectedPlaintext(e: Extract<Vector['expected'], { outcome: 'success' }>): Buffer {
  if (e.plaintext_base64 !== undefined) return Buffer.from(fromBase64(e.plaintext_base64));
  const n = e.plaintext_pattern!.length;
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) % 251;
  return b;
}

it('the vector set covers the required scenarios', () => {
  const names = files.map((f) => f.replace(/\.json$/, ''));
  for (const s of ['success-short', 'wrong-key', 'tampered-header', 'tampered-chunk', 'truncated', 'reordered-chunks', 'bad-armor', 'unknown-version']) {
    expect(names).toContain(s);
  }
});

describe.each(['noble', 'node'] as const)('envelope vectors on the %s provider', (providerName) => {
  const p = getProvider(providerName);
  it.each(files)('%s', async (file) => {
    const v = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Vector;
    const key = expectPrivate(decodeKeyPem(p, v.identity_test_private_key_pem, file), 'MLKEM768-P384', file);
    const raw = v.envelope_armored !== undefined ? Buffer.from(v.envelope_armored, 'latin1') : Buffer.from(fromBase64(v.envelope_base64!));

    const oneShot = async () => openBytes(p, key, v.envelope_armored !== undefined ? await dearmorBytes(v.envelope_armored) : raw);
    const streamed = () => collect(decryptAnyStream(p, key, pieces(raw, 4096)));

    if (v.expected.outcome === 'success') {
      const want = expectedPlaintext(v.expected);
      expect(Buffer.from(await oneShot()).equals(want)).toBe(true);
      expect((await streamed()).equals(want)).toBe(true);
    } else {
      const { code, exit_code } = v.expected;
      await expect(oneShot()).rejects.toMatchObject({ code, exitCode: exit_code });
      await expect(streamed()).rejects.toMatchObject({ code, exitCode: exit_code });
    }
  });
});
