/**
 * The `Signer`: ML-DSA-87 signatures over canonical JSON with a purpose's context string
 * (SPEC §3). `InlineSigner` signs on the calling thread; `SigningPool` (worker/signing-pool.ts)
 * spreads the same calls over worker threads. Both produce signatures any verifier accepts.
 */
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { signJson, type SignaturePurpose } from '../crypto/signature.js';

export interface SignRequest {
  purpose: SignaturePurpose;
  value: unknown;
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
    return items.map((it) => signJson(this.p, this.key, it.purpose, it.value));
  }

  async close(): Promise<void> {}
}
