/**
 * ML-DSA-87 signatures with one context string per purpose (SPEC §3.1): FIPS 204 §5.2 ML-DSA.Sign
 * binds the context into M' = 0 ‖ len(ctx) ‖ ctx ‖ M, so a signature made for one purpose never
 * verifies for another. Signing is hedged (fresh randomness mixed in; FIPS 204 §3.4). JSON
 * documents are signed over their RFC 8785 canonical bytes (SPEC §3.2).
 * Verification answers true/false — a malformed signature or key is simply `false`.
 */
import { InputError } from '../errors.js';
import { utf8 } from './bytes.js';
import { canonicalBytes } from './canonical-json.js';
import type { CryptoProvider, MlDsaPrivateKey } from './provider.js';

export const SIGNATURE_CONTEXTS = {
  vote: 'ima-qs/v1/vote',
  decision: 'ima-qs/v1/decision',
  keys: 'ima-qs/v1/keys',
  file: 'ima-qs/v1/file',
  audit: 'ima-qs/v1/audit',
  // response format v2 (SPEC §8.10): one signature per decision, one per group commit, one per refusal
  decision2: 'ima-qs/v2/decision',
  batch: 'ima-qs/v2/batch',
  refusal: 'ima-qs/v2/refusal',
  // the offline root's key-set statement (SPEC §7.3): the only thing the root signs
  keyset: 'ima-qs/v2/keyset',
  // SPEC §8.11: signed by the separate audit key only (never the decision key)
  checkpoint: 'ima-qs/v2/checkpoint',
  chain: 'ima-qs/v2/chain',
} as const;
export type SignaturePurpose = keyof typeof SIGNATURE_CONTEXTS;

/** FIPS 204 Table 2 */
export const MLDSA87_SIZES = { publicKey: 2592, signature: 4627, seed: 32 } as const;

const CONTEXT_BYTES: Record<SignaturePurpose, Uint8Array> = Object.fromEntries(
  Object.entries(SIGNATURE_CONTEXTS).map(([k, v]) => [k, utf8(v)]),
) as Record<SignaturePurpose, Uint8Array>;

export function isSignaturePurpose(x: unknown): x is SignaturePurpose {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(SIGNATURE_CONTEXTS, x);
}

/** The context bytes for a purpose; an unknown purpose is a programming error surfaced as InputError. */
export function contextFor(purpose: SignaturePurpose): Uint8Array {
  if (!isSignaturePurpose(purpose)) {
    throw new InputError('UNKNOWN_SIGNATURE_PURPOSE', `unknown signature purpose ${JSON.stringify(purpose)}`, {
      hint: `one of ${Object.keys(SIGNATURE_CONTEXTS).join(', ')}`,
    });
  }
  return CONTEXT_BYTES[purpose];
}

export function signBytes(p: CryptoProvider, key: MlDsaPrivateKey, purpose: SignaturePurpose, message: Uint8Array): Uint8Array {
  if (key?.alg !== 'ML-DSA-87') throw new InputError('KEY_WRONG_ALGORITHM', 'key expected an ML-DSA-87 private key');
  if (!(message instanceof Uint8Array)) throw new InputError('BAD_MESSAGE', 'message expected Uint8Array');
  return p.mldsa87.sign(key, message, contextFor(purpose));
}

export function verifyBytes(
  p: CryptoProvider,
  publicKey: Uint8Array,
  purpose: SignaturePurpose,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!isSignaturePurpose(purpose)) return false;
  return p.mldsa87.verify(publicKey, message, signature, CONTEXT_BYTES[purpose]);
}

export function signJson(p: CryptoProvider, key: MlDsaPrivateKey, purpose: SignaturePurpose, value: unknown): Uint8Array {
  return signBytes(p, key, purpose, canonicalBytes(value));
}

/** false also when `value` cannot be canonicalized (it cannot have been signed as given). */
export function verifyJson(
  p: CryptoProvider,
  publicKey: Uint8Array,
  purpose: SignaturePurpose,
  value: unknown,
  signature: Uint8Array,
): boolean {
  let bytes: Uint8Array;
  try {
    bytes = canonicalBytes(value);
  } catch {
    return false;
  }
  return verifyBytes(p, publicKey, purpose, bytes, signature);
}
