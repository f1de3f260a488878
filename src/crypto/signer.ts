/**
 * The `Signer`: ML-DSA-87 signatures over canonical JSON with a purpose's context string
 * (SPEC §3). `InlineSigner` signs on the calling thread: each pipeline thread of the worker
 * (service/worker/pipelines.ts) signs inline, so no signing pool is needed.
 */
import type { CryptoProvider, MlDsaPrivateKey } from './provider.js';
import { canonicalBytes } from './canonical-json.js';
import { signBytes, type SignaturePurpose } from './signature.js';

/**
 * What to sign: a JSON value (signed over its RFC 8785 bytes), or those canonical bytes when the
 * caller already made them (the audit chain hashes the same bytes: computing them once spares
 * re-serializing a 180 KB core per use).
 */
export type SignRequest = { purpose: SignaturePurpose; value: unknown; bytes?: undefined } | { purpose: SignaturePurpose; bytes: Uint8Array; value?: undefined };

/** The bytes a request is signed over (SPEC §3.2). */
export function signedBytes(it: SignRequest): Uint8Array {
  return it.bytes ?? canonicalBytes(it.value);
}

export interface Signer {
  /** the ML-DSA-87 public key (2592 bytes) */
  readonly publicKey: Uint8Array;
  /** signs every value (in parallel where the implementation can); signatures in input order */
  signAll(items: readonly SignRequest[]): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

export class InlineSigner implements Signer {
  readonly publicKey: Uint8Array;

  constructor(
    private readonly p: CryptoProvider,
    private readonly key: MlDsaPrivateKey,
  ) {
    this.publicKey = key.publicKey;
  }

  async signAll(items: readonly SignRequest[]): Promise<Uint8Array[]> {
    return items.map((it) => signBytes(this.p, this.key, it.purpose, signedBytes(it)));
  }

  async close(): Promise<void> {}
}
