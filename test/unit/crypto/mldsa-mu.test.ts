// FIPS 204 §6.2 external μ (src/crypto/mldsa-mu.ts): computed with noble's SHAKE256, cross-checked
// against node:crypto's shake256, and signed with noble's internal (externalMu) signing it is an
// ordinary ML-DSA-87 signature under the context — the property the KMS signer relies on.
import { createHash } from 'node:crypto';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { concatBytes, toHex, utf8 } from '../../../src/crypto/bytes.js';
import { externalMu, mldsaTr } from '../../../src/crypto/mldsa-mu.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { SIGNATURE_CONTEXTS, verifyBytes, type SignaturePurpose } from '../../../src/crypto/signature.js';

const shake = (data: Uint8Array) => new Uint8Array(createHash('shake256', { outputLength: 64 }).update(data).digest());
const seed = new Uint8Array(32).fill(7);
const { publicKey, secretKey } = ml_dsa87.keygen(seed);

describe('external μ (FIPS 204 §6.2)', () => {
  it('equals SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ |ctx| ‖ ctx ‖ M, 64) computed by node:crypto', () => {
    for (const ctx of ['', 'ima-qs/v2/decision', 'x'.repeat(255)]) {
      const c = utf8(ctx);
      const m = utf8(`message under "${ctx.slice(0, 10)}"`);
      const expected = shake(concatBytes(shake(publicKey), Uint8Array.of(0, c.length), c, m));
      expect(toHex(externalMu(publicKey, c, m))).toBe(toHex(expected));
    }
    expect(toHex(mldsaTr(publicKey))).toBe(toHex(shake(publicKey)));
  });

  it('a signature over μ is an ML-DSA-87 signature with the context, for every purpose, for both providers', () => {
    const m = utf8('{"v":2}');
    for (const purpose of Object.keys(SIGNATURE_CONTEXTS) as SignaturePurpose[]) {
      const sig = ml_dsa87.internal.sign(externalMu(publicKey, utf8(SIGNATURE_CONTEXTS[purpose]), m), secretKey, { externalMu: true });
      for (const p of [getProvider('noble'), getProvider('node')]) expect(verifyBytes(p, publicKey, purpose, m, sig), `${purpose} ${p.name}`).toBe(true);
    }
  });

  it('refuses a key of the wrong size, a context over 255 bytes, a message that is not bytes', () => {
    expect(() => externalMu(publicKey.slice(1), new Uint8Array(), new Uint8Array())).toThrow(expect.objectContaining({ code: 'KEY_WRONG_SIZE' }));
    expect(() => externalMu(publicKey, new Uint8Array(256), new Uint8Array())).toThrow(expect.objectContaining({ code: 'BAD_CONTEXT' }));
    expect(() => externalMu(publicKey, new Uint8Array(), 'text' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
  });
});
