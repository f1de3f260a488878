/**
 * PCR arithmetic for verifiers that must run anywhere (the request client is bundled for
 * browsers: no `node:` imports). Same formulas as src/tpm/pcr-math.ts and src/tpm/anchor.ts
 * (a unit test checks they agree):
 *   extend:  new = H(old ‖ digest)                                  TPM 2.0 Part 1 §17.5
 *   batch:   B = H("ima-qs/v1/pcr-batch" ‖ 0x00 ‖ u32be(n) ‖ d_1 ‖ … ‖ d_n)   SPEC §6.3
 */
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../crypto/bytes.js';

export type AnchorBank = 'sha256' | 'sha384';
export const BANK_SIZE: Record<AnchorBank, number> = { sha256: 32, sha384: 48 };
const LABEL = utf8('ima-qs/v1/pcr-batch\0');

function h(bank: AnchorBank, data: Uint8Array): Uint8Array {
  return bank === 'sha256' ? sha256(data) : sha384(data);
}

export function pcrExtend(bank: AnchorBank, old: Uint8Array, digest: Uint8Array): Uint8Array {
  return h(bank, concatBytes(old, digest));
}

export function pcrBatchDigest(bank: AnchorBank, entryDigests: readonly Uint8Array[]): Uint8Array {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, entryDigests.length, false);
  return h(bank, concatBytes(LABEL, n, ...entryDigests));
}
