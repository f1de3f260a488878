// Whether this Node has native ML-KEM-768 / ML-DSA-87 (OpenSSL ≥ 3.5), as the node provider's own
// load-time feature test decided. With IMA_QS_EXPECT_NATIVE_PQ=1 (the Node 24 run of npm test)
// its absence is a failure, not a skip.
import { it, expect } from 'vitest';
import { nativeMlDsa, nativeMlKem } from '../../src/crypto/provider-node.js';

export const nativePq = nativeMlKem && nativeMlDsa;
export const expectNative = process.env.IMA_QS_EXPECT_NATIVE_PQ === '1';
export const skipReason = `node ${process.version} (OpenSSL ${process.versions.openssl}) has no native ML-KEM/ML-DSA`;

export function nativePresenceTest(): void {
  it.runIf(expectNative)('native ML-KEM-768 and ML-DSA-87 are present (IMA_QS_EXPECT_NATIVE_PQ=1)', () => {
    expect({ nativeMlKem, nativeMlDsa, node: process.version }).toEqual({ nativeMlKem: true, nativeMlDsa: true, node: process.version });
  });
  it.runIf(!nativePq && !expectNative)(`native PQ interop skipped: ${skipReason}`, () => {
    expect(nativePq).toBe(false);
  });
}
