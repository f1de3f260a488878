/**
 * The primitive operations ima-qs needs, behind one interface with two implementations
 * (DESIGN.md "Providers"):
 *   - `noble`  — @noble/* only: pure JS, runs everywhere including a browser (no `node:` imports);
 *   - `node`   — node:crypto: native P-384 ECDH, AES-256-GCM and SHA3 on every Node, and native
 *                ML-KEM-768 / ML-DSA-87 when the running Node has them (feature-tested, never
 *                version-sniffed); it falls back to noble for PQ where the runtime lacks them.
 * Everything above this file (composite KEM, envelope, signatures) is written once against it.
 * Differential tests check that what one provider produces the other accepts.
 *
 * Conventions (noble's): every entry point checks byte lengths first and names the argument;
 * verification returns false rather than throwing; secrets are never part of an error message.
 */

/** An ML-KEM-768 decapsulation key, prepared for repeated use (expanded / imported once). */
export interface MlKemPrivateKey {
  readonly alg: 'ML-KEM-768';
  /**
   * the 64-byte seed d‖z (FIPS 203 §7.1, seed-only private key form); absent only for a key read
   * from an expandedKey-only PKCS#8 file (SPEC §2.3), which then carries `expandedKey`
   */
  readonly seed?: Uint8Array;
  /** the 2400-byte expanded decapsulation key, present only when there is no seed */
  readonly expandedKey?: Uint8Array;
  /** encapsulation key, 1184 bytes */
  readonly publicKey: Uint8Array;
}

/** An ML-DSA-87 signing key, prepared for repeated use. */
export interface MlDsaPrivateKey {
  readonly alg: 'ML-DSA-87';
  /** the 32-byte seed ξ (FIPS 204 §5.1, seed-only private key form); absent as for ML-KEM */
  readonly seed?: Uint8Array;
  /** the 4896-byte expanded signing key, present only when there is no seed */
  readonly expandedKey?: Uint8Array;
  /** 2592 bytes */
  readonly publicKey: Uint8Array;
}

/** A P-384 ECDH private key. */
export interface P384PrivateKey {
  readonly alg: 'P-384';
  /** the private scalar, 48 bytes big-endian */
  readonly scalar: Uint8Array;
  /** uncompressed SEC1 point, 97 bytes (0x04 ‖ X ‖ Y) */
  readonly publicKey: Uint8Array;
}

export interface CryptoProvider {
  readonly name: 'noble' | 'node';
  /** true when ML-KEM and ML-DSA run natively (node:crypto with OpenSSL ≥ 3.5) */
  readonly nativePq: boolean;

  randomBytes(n: number): Uint8Array;
  sha3_256(...parts: Uint8Array[]): Uint8Array;

  mlkem768: {
    /** FIPS 203 ML-KEM.KeyGen_internal(d, z) from seed = d‖z (64 bytes); random seed when omitted */
    fromSeed(seed?: Uint8Array): MlKemPrivateKey;
    /** a key from the 2400-byte expanded dk (FIPS 203 §7.3 hash check applied); no seed */
    fromExpanded(expandedKey: Uint8Array): MlKemPrivateKey;
    /** the expanded dk for a seed (to check the PKCS#8 "both" form, RFC 9935) */
    expand(seed: Uint8Array): Uint8Array;
    encapsulate(publicKey: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
    decapsulate(key: MlKemPrivateKey, cipherText: Uint8Array): Uint8Array;
  };

  mldsa87: {
    /** FIPS 204 ML-DSA.KeyGen_internal(ξ) from a 32-byte seed; random seed when omitted */
    fromSeed(seed?: Uint8Array): MlDsaPrivateKey;
    /** a key from the 4896-byte expanded sk; no seed */
    fromExpanded(expandedKey: Uint8Array): MlDsaPrivateKey;
    /** the expanded sk for a seed (to check the PKCS#8 "both" form, RFC 9881) */
    expand(seed: Uint8Array): Uint8Array;
    /** hedged ML-DSA.Sign with a context string (≤ 255 bytes), FIPS 204 §5.2 */
    sign(key: MlDsaPrivateKey, message: Uint8Array, context: Uint8Array): Uint8Array;
    /** ML-DSA.Verify with a context; false (never a throw) for any bad signature or length */
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: Uint8Array): boolean;
  };

  p384: {
    /** a new random key, or the key for a given 48-byte scalar */
    fromScalar(scalar?: Uint8Array): P384PrivateKey;
    /** ECDH: the 48-byte X coordinate of scalar·peer; throws InputError for an invalid point */
    ecdh(key: P384PrivateKey, peerPublicKey: Uint8Array): Uint8Array;
    /**
     * A fresh ephemeral key and its ECDH with `peerPublicKey` in one step (what a KEM encapsulation
     * needs, with no private scalar ever exported); throws InputError for an invalid point.
     */
    ephemeralEcdh(peerPublicKey: Uint8Array): { publicKey: Uint8Array; sharedSecret: Uint8Array };
  };

  aes256gcm: {
    /** ciphertext ‖ 16-byte tag */
    seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
    /** plaintext, or null when authentication fails */
    open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
  };
}
