/**
 * Writes test/vectors/envelope/*.json: one envelope scenario per file with its expected outcome
 * (SPEC §4.7). Committed, run by hand only (never in CI): `node --import tsx scripts/gen-envelope-vectors.ts`.
 * The keys are TEST KEYS derived from public labels; their private halves are published here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { armorBytes } from '../src/crypto/armor.js';
import { toBase64, utf8 } from '../src/crypto/bytes.js';
import { compositeKeyFrom, type CompositeKemPrivateKey } from '../src/crypto/composite-kem.js';
import { CHUNK_SIZE, HEADER_SIZE, SEALED_CHUNK_SIZE, sealBytes } from '../src/crypto/envelope.js';
import { encodePrivateKeyPem, encodePublicKeyPem } from '../src/crypto/key-codec.js';
import { getProvider } from '../src/crypto/providers.js';

const p = getProvider('noble');
const outDir = new URL('../test/vectors/envelope/', import.meta.url).pathname;

/** A test key from a public label: ML-KEM seed and P-384 scalar are SHA3-256 expansions of it. */
function testKey(label: string): CompositeKemPrivateKey {
  const seed = new Uint8Array([...sha3_256(utf8(`${label}/mlkem/d`)), ...sha3_256(utf8(`${label}/mlkem/z`))]);
  const scalar = new Uint8Array([...sha3_256(utf8(`${label}/p384`)), ...sha3_256(utf8(`${label}/p384/2`)).subarray(0, 16)]);
  scalar[0] &= 0x7f; // below the P-384 group order
  return compositeKeyFrom(p.mlkem768.fromSeed(seed), p.p384.fromScalar(scalar));
}

/** Deterministic plaintext: byte i = (i * 31 + 7) mod 251. */
function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) % 251;
  return b;
}

const alice = testKey('ima-qs test key alice (TEST ONLY)');
const bob = testKey('ima-qs test key bob (TEST ONLY)');

type Expected =
  | { outcome: 'success'; plaintext_base64: string }
  | { outcome: 'success'; plaintext_pattern: { length: number; byte_i: '(i * 31 + 7) mod 251' } }
  | { outcome: 'failure'; code: string; exit_code: number };

function write(name: string, description: string, envelope: Uint8Array | string, identity: CompositeKemPrivateKey, expected: Expected): void {
  const doc = {
    scenario: name,
    description,
    spec: 'SPEC.md §4',
    suite: 'MLKEM768-P384/AES-256-GCM/64KiB (envelope version 1, suite 1)',
    WARNING: 'TEST KEYS ONLY: the private key below is public; never use it for anything else',
    identity_test_private_key_pem: encodePrivateKeyPem(identity),
    identity_public_key_pem: encodePublicKeyPem('MLKEM768-P384', identity.publicKey),
    ...(typeof envelope === 'string' ? { envelope_armored: envelope } : { envelope_base64: toBase64(envelope) }),
    expected,
  };
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(doc, null, 2) + '\n');
}

const ok = (pt: Uint8Array): Expected => ({ outcome: 'success', plaintext_base64: toBase64(pt) });
const okPattern = (n: number): Expected => ({ outcome: 'success', plaintext_pattern: { length: n, byte_i: '(i * 31 + 7) mod 251' } });
const no = (code: string, exit_code: number): Expected => ({ outcome: 'failure', code, exit_code });
const flip = (e: Uint8Array, at: number) => {
  const t = Uint8Array.from(e);
  t[at] ^= 0x01;
  return t;
};

mkdirSync(outDir, { recursive: true });
const short = utf8('hello, quantum-safe world\n');
const two = pattern(CHUNK_SIZE + 10); // chunk 0 full (non-final), chunk 1 of 10 bytes (final)
const envShort = sealBytes(p, alice.publicKey, short);
const envTwo = sealBytes(p, alice.publicKey, two);
const c1 = HEADER_SIZE + SEALED_CHUNK_SIZE;

write('success-empty', 'an empty plaintext is one empty final chunk', sealBytes(p, alice.publicKey, new Uint8Array(0)), alice, ok(new Uint8Array(0)));
write('success-short', 'a short message in one final chunk', envShort, alice, ok(short));
write('success-full-final-chunk', 'exactly 64 KiB: one full chunk that is the final one', sealBytes(p, alice.publicKey, pattern(CHUNK_SIZE)), alice, okPattern(CHUNK_SIZE));
write('success-two-chunks', 'a full non-final chunk, then a 10-byte final chunk', envTwo, alice, okPattern(two.length));
write('success-armored', 'the short message, armored', armorBytes(envShort), alice, ok(short));
write('wrong-key', "encrypted to alice, opened with bob's identity: the fingerprint does not match", envShort, bob, no('WRONG_RECIPIENT', 1));
write('tampered-header', 'one bit of the ML-KEM ciphertext in the header flipped', flip(envShort, 100), alice, no('DECRYPT_FAILED', 1));
write('tampered-chunk', 'one bit of chunk 0 flipped', flip(envTwo, HEADER_SIZE + 1000), alice, no('DECRYPT_FAILED', 1));
write('truncated', 'the final chunk removed: ends after a full non-final chunk', envTwo.subarray(0, c1), alice, no('ENVELOPE_TRUNCATED', 1));
write('truncated-header', 'cut inside the header', envShort.subarray(0, 1000), alice, no('ENVELOPE_TRUNCATED', 3));
write(
  'reordered-chunks',
  'the two chunks of a two-chunk envelope swapped',
  new Uint8Array([...envTwo.subarray(0, HEADER_SIZE), ...envTwo.subarray(c1), ...envTwo.subarray(HEADER_SIZE, c1)]),
  alice,
  no('DECRYPT_FAILED', 1),
);
write('trailing-data', 'bytes appended after the final chunk', new Uint8Array([...envShort, 0x00, 0x01]), alice, no('DECRYPT_FAILED', 1));
write('unknown-version', 'version byte 2', Uint8Array.from(envShort, (b, i) => (i === 6 ? 2 : b)), alice, no('UNSUPPORTED_VERSION', 3));
write('unknown-suite', 'suite byte 2', Uint8Array.from(envShort, (b, i) => (i === 7 ? 2 : b)), alice, no('UNSUPPORTED_SUITE', 3));
write('not-an-envelope', 'a file that does not start with the magic', utf8('PK\x03\x04 this is a zip file, not an envelope'), alice, no('NOT_AN_ENVELOPE', 3));
{
  const lines = armorBytes(envShort).split('\n');
  lines[3] = lines[3].slice(0, 60); // a short line in the middle of the body
  write('bad-armor', 'armor with a 60-column line in the middle of the body', lines.join('\n'), alice, no('BAD_ARMOR', 3));
}
process.stdout.write(`wrote ${outDir}\n`);
