/** SPEC §5: detached signature files — strict parsing, the four checks, and both providers. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getProvider } from '../../../src/crypto/providers.js';
import {
  createSignatureFile,
  encodeSignatureFile,
  parseSignatureFile,
  signedBytes,
  verifySignatureFile,
  type FileStatement,
} from '../../../src/protocol/signature-file.js';
import { errorOf } from './helpers.js';

const noble = getProvider('noble');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const node = getProvider('node');

function statementOf(data: Uint8Array): FileStatement {
  return { size: data.length, sha3_512: new Uint8Array(createHash('sha3-512').update(data).digest()) };
}

describe('signature files', () => {
  const data = randomBytes(5000);
  const st = statementOf(data);
  const key = node.mldsa87.fromSeed();
  const sf = createSignatureFile(node, key, st);
  const text = encodeSignatureFile(sf);

  it.each([
    ['noble signs, node verifies', noble, node],
    ['node signs, noble verifies', node, noble],
  ])('%s', (_n, a, b) => {
    const k = a.mldsa87.fromSeed();
    const parsed = parseSignatureFile(encodeSignatureFile(createSignatureFile(a, k, st)), 'x.sig');
    const v = verifySignatureFile(b, parsed, k.publicKey, st);
    expect(v.ok).toBe(true);
    expect(v.checks.map((c) => c.check)).toEqual(['format', 'signer', 'digest', 'signature']);
  });

  it('signs the canonical JSON of everything but the signature', () => {
    expect(new TextDecoder().decode(signedBytes(sf))).toBe(
      `{"algorithm":"ML-DSA-87","context":"ima-qs/v1/file","file":{"sha3_512":"${sf.file.sha3_512}","size":5000},"format":"ima-qs/v1/signature","signer":"${sf.signer}"}`,
    );
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('each check fails on its own', () => {
    const other = node.mldsa87.fromSeed();
    expect(verifySignatureFile(node, sf, other.publicKey, st).failed?.check).toBe('signer');
    expect(verifySignatureFile(node, sf, key.publicKey, statementOf(randomBytes(5000))).failed?.check).toBe('digest');
    expect(verifySignatureFile(node, sf, key.publicKey, { ...st, size: 4999 }).failed?.check).toBe('digest');
    const relabelled = { ...sf, context: 'ima-qs/v1/decision' };
    const v = verifySignatureFile(node, relabelled, key.publicKey, st);
    expect(v.failed?.check).toBe('format');
    expect(v.checks.find((c) => c.check === 'signature')?.ok).toBe(false);
    const bumped = { ...sf, file: { ...sf.file, size: sf.file.size + 1 } };
    expect(verifySignatureFile(node, bumped, key.publicKey, { ...st, size: st.size + 1 }).failed?.check).toBe('signature');
  });

  const doc = () => JSON.parse(text);
  it.each([
    ['not JSON', () => 'nope'],
    ['an array', () => '[]'],
    ['an unknown member', () => JSON.stringify({ ...doc(), extra: 1 })],
    ['a missing member', () => JSON.stringify({ ...doc(), signer: undefined })],
    ['an unknown file member', () => JSON.stringify({ ...doc(), file: { ...doc().file, name: 'x' } })],
    ['an upper-case signer', () => JSON.stringify({ ...doc(), signer: doc().signer.toUpperCase() })],
    ['a negative size', () => JSON.stringify({ ...doc(), file: { ...doc().file, size: -1 } })],
    ['a fractional size', () => JSON.stringify({ ...doc(), file: { ...doc().file, size: 1.5 } })],
    ['a short digest', () => JSON.stringify({ ...doc(), file: { ...doc().file, sha3_512: 'ab' } })],
    ['base64 with whitespace', () => JSON.stringify({ ...doc(), signature: ' ' + doc().signature })],
    ['a 4626-byte signature', () => JSON.stringify({ ...doc(), signature: Buffer.alloc(4626).toString('base64') })],
    ['an empty context', () => JSON.stringify({ ...doc(), context: '' })],
    ['URL-safe base64', () => JSON.stringify({ ...doc(), signature: Buffer.from(sf.signature).toString('base64url') })],
    // 4627 bytes = 1542 groups + 1 byte: the last group is XY== and Y's low 4 bits must be zero
    ['non-zero base64 padding bits', () => JSON.stringify({ ...doc(), signature: doc().signature.replace(/(.)==$/, (_m: string, c: string) => B64[B64.indexOf(c) | 1] + '==') })],
  ])('rejects %s (exit 3, BAD_SIGNATURE_FILE: SPEC §5.2)', (_n, make) => {
    expect(errorOf(() => parseSignatureFile(make(), 'x.sig'))).toMatchObject({ code: 'BAD_SIGNATURE_FILE', exitCode: 3 });
  });

  it.each([
    ['format', 'ima-qs/v2/signature', 'UNSUPPORTED_SIGNATURE_FORMAT'],
    ['algorithm', 'ML-DSA-65', 'UNSUPPORTED_ALGORITHM'],
  ])('an unknown %s is named', (field, value, code) => {
    expect(errorOf(() => parseSignatureFile(JSON.stringify({ ...doc(), [field]: value }), 'x.sig'))).toMatchObject({ code, exitCode: 3 });
  });

  it('round trips through its text', () => {
    const back = parseSignatureFile(text, 'x.sig');
    expect(Buffer.from(back.signature).equals(Buffer.from(sf.signature))).toBe(true);
    expect(verifySignatureFile(node, back, key.publicKey, st).ok).toBe(true);
  });
});
