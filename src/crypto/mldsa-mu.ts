/**
 * ML-DSA "external μ" (FIPS 204 §6.2, Algorithm 7 lines 6–7; Algorithm 2 line 10): the 64-byte
 * message representative that ML-DSA.Sign_internal signs, computed outside the signer.
 *
 *   tr = H(pk, 64)                                 H = SHAKE256 (FIPS 202)
 *   M' = 0x00 ‖ |ctx| ‖ ctx ‖ M                    the pure ML-DSA domain separation (§5.2)
 *   μ  = H(tr ‖ M', 64)
 *
 * A signer that receives μ (AWS KMS Sign with MessageType EXTERNAL_MU, SigningAlgorithm
 * ML_DSA_SHAKE_256) produces exactly the signature ML-DSA.Sign(sk, M, ctx) would: any verifier of
 * pure ML-DSA with that context accepts it (OpenSSL 3.5, noble). KMS's RAW mode computes M' with
 * an empty context only, so our per-purpose context strings (SPEC §3.1) need μ computed here.
 * Pure (noble hashes only): runs in the worker, in tests and in a browser alike.
 */
import { shake256 } from '@noble/hashes/sha3.js';
import { InputError } from '../errors.js';
import { concatBytes } from './bytes.js';

export const MU_BYTES = 64;
const MLDSA87_PUBLIC_KEY_BYTES = 2592;

/** tr = SHAKE256(pk, 64): the public-key hash every ML-DSA signature binds (FIPS 204 §6.2). */
export function mldsaTr(publicKey: Uint8Array): Uint8Array {
  return shake256(publicKey, { dkLen: 64 });
}

/** μ for ML-DSA-87 public key `publicKey`, context `context` (≤ 255 bytes) and message `message`. */
export function externalMu(publicKey: Uint8Array, context: Uint8Array, message: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== MLDSA87_PUBLIC_KEY_BYTES) {
    throw new InputError('KEY_WRONG_SIZE', `publicKey expected Uint8Array of length ${MLDSA87_PUBLIC_KEY_BYTES}, got ${publicKey?.length ?? 'none'}`);
  }
  if (!(context instanceof Uint8Array) || context.length > 255) throw new InputError('BAD_CONTEXT', 'context expected Uint8Array of at most 255 bytes');
  if (!(message instanceof Uint8Array)) throw new InputError('BAD_MESSAGE', 'message expected Uint8Array');
  const prefix = new Uint8Array([0, context.length]);
  return shake256(concatBytes(mldsaTr(publicKey), prefix, context, message), { dkLen: MU_BYTES });
}
