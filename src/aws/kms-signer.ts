/**
 * The online decisions signer held in AWS KMS (SPEC §7.5, §8.8 `SIGNER=kms:<key arn>`): an
 * ML-DSA-87 key (KeySpec ML_DSA_87, KeyUsage SIGN_VERIFY) whose private half never leaves the HSM.
 *
 * KMS signs ML-DSA with SigningAlgorithm ML_DSA_SHAKE_256 in two message modes: RAW (KMS builds
 * M' itself, with an EMPTY context) and EXTERNAL_MU (the caller sends the 64-byte μ). Our
 * signatures carry a context per purpose (SPEC §3.1), so the worker computes
 * μ = SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ |ctx| ‖ ctx ‖ M, 64) itself (crypto/mldsa-mu.ts, FIPS 204
 * §6.2) and sends that. The result is an ordinary ML-DSA-87 signature with the context: every
 * verifier (OpenSSL 3.5, noble) accepts it as it accepts the Secrets Manager signer's.
 *
 * `KmsSigningKey` is the adapter (only the KMS calls made: CreateKey, CreateAlias, GetPublicKey,
 * Sign); `KmsSigner` is the `Signer` the pipeline and the audit chain use unchanged. Each
 * signature is verified locally before it is returned: a wrong answer never leaves the worker.
 */
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { decodeKeyDer, fingerprint } from '../crypto/key-codec.js';
import { externalMu } from '../crypto/mldsa-mu.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { contextFor, MLDSA87_SIZES } from '../crypto/signature.js';
import { signedBytes, type SignRequest, type Signer } from '../crypto/signer.js';
import { InputError, RemoteError } from '../errors.js';
import { type AwsOptions, type Env, awsClientConfig } from './config.js';
import { awsCall } from './errors.js';

export const KMS_MLDSA = { keySpec: 'ML_DSA_87', keyUsage: 'SIGN_VERIFY', algorithm: 'ML_DSA_SHAKE_256' } as const;

export interface KmsPublicKey {
  keyId: string;
  /** the raw 2592-byte ML-DSA-87 public key (from the SPKI KMS returns) */
  publicKey: Uint8Array;
  spki: Uint8Array;
  keySpec?: string;
  keyUsage?: string;
  signingAlgorithms: string[];
}

/** The KMS calls of the online signer (and of `keys signer create`). */
export class KmsSigningKey {
  constructor(private readonly client: KMSClient) {}

  static fromOptions(opts: AwsOptions, env: Env): KmsSigningKey {
    return new KmsSigningKey(new KMSClient(awsClientConfig('KMS', opts, env)));
  }

  /** CreateKey ML_DSA_87 / SIGN_VERIFY; the key ARN. */
  async create(opts: { description: string; tags: Record<string, string> }): Promise<string> {
    const out = await awsCall('creating an ML-DSA-87 signing key in KMS', () =>
      this.client.send(
        new CreateKeyCommand({
          KeySpec: KMS_MLDSA.keySpec,
          KeyUsage: KMS_MLDSA.keyUsage,
          Description: opts.description,
          Tags: Object.entries(opts.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        }),
      ),
    );
    const arn = out.KeyMetadata?.Arn;
    if (!arn) throw new RemoteError('AWS_ERROR', 'creating an ML-DSA-87 signing key in KMS: the answer has no key ARN');
    return arn;
  }

  async alias(name: string, keyId: string): Promise<void> {
    await awsCall(`naming KMS key ${keyId} ${name}`, () => this.client.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId })));
  }

  async publicKey(p: CryptoProvider, keyId: string): Promise<KmsPublicKey> {
    const out = await awsCall(`reading the public key of KMS key ${keyId}`, () => this.client.send(new GetPublicKeyCommand({ KeyId: keyId })));
    if (!out.PublicKey) throw new RemoteError('AWS_ERROR', `reading the public key of KMS key ${keyId}: the answer has no public key`);
    const spki = new Uint8Array(out.PublicKey);
    let publicKey: Uint8Array;
    try {
      const d = decodeKeyDer(p, spki, 'public', `the public key of KMS key ${keyId}`);
      if (d.alg !== 'ML-DSA-87') throw new InputError('KEY_WRONG_ALGORITHM', `KMS key ${keyId} is a ${d.alg} key`);
      publicKey = d.publicKey;
    } catch (err) {
      throw new RemoteError('KMS_KEY_UNSUITABLE', `KMS key ${keyId} is not an ML-DSA-87 signing key (${(err as { code?: string }).code ?? 'undecodable public key'})`, {
        hint: 'create one with ima-qs keys signer create --kms (KeySpec ML_DSA_87, KeyUsage SIGN_VERIFY)',
        cause: err,
      });
    }
    return { keyId: out.KeyId ?? keyId, publicKey, spki, keySpec: out.KeySpec, keyUsage: out.KeyUsage, signingAlgorithms: [...(out.SigningAlgorithms ?? [])] };
  }

  /** Sign of a 64-byte μ (MessageType EXTERNAL_MU, ML_DSA_SHAKE_256). */
  async signMu(keyId: string, mu: Uint8Array): Promise<Uint8Array> {
    const out = await awsCall(`signing with KMS key ${keyId}`, () =>
      this.client.send(new SignCommand({ KeyId: keyId, Message: mu, MessageType: 'EXTERNAL_MU', SigningAlgorithm: KMS_MLDSA.algorithm })),
    );
    if (!out.Signature) throw new RemoteError('AWS_ERROR', `signing with KMS key ${keyId}: the answer has no signature`);
    return new Uint8Array(out.Signature);
  }
}

/** At most this many Sign calls in flight per signer (a batch statement plus a batch of decisions). */
const DEFAULT_CONCURRENCY = 8;

export class KmsSigner implements Signer {
  readonly fingerprint: string;

  private constructor(
    private readonly p: CryptoProvider,
    private readonly kms: KmsSigningKey,
    readonly keyId: string,
    readonly publicKey: Uint8Array,
    private readonly concurrency: number,
  ) {
    this.fingerprint = fingerprint('ML-DSA-87', publicKey);
  }

  /** Reads the key's public key and checks it is an ML-DSA-87 signing key before anything is signed. */
  static async open(p: CryptoProvider, kms: KmsSigningKey, keyId: string, opts: { concurrency?: number } = {}): Promise<KmsSigner> {
    const k = await kms.publicKey(p, keyId);
    if ((k.keySpec && k.keySpec !== KMS_MLDSA.keySpec) || (k.keyUsage && k.keyUsage !== KMS_MLDSA.keyUsage) || (k.signingAlgorithms.length && !k.signingAlgorithms.includes(KMS_MLDSA.algorithm))) {
      throw new RemoteError('KMS_KEY_UNSUITABLE', `KMS key ${keyId} is ${k.keySpec ?? '?'} for ${k.keyUsage ?? '?'}; the signer needs ${KMS_MLDSA.keySpec} for ${KMS_MLDSA.keyUsage} with ${KMS_MLDSA.algorithm}`);
    }
    return new KmsSigner(p, kms, keyId, k.publicKey, opts.concurrency ?? DEFAULT_CONCURRENCY);
  }

  private async signOne(it: SignRequest): Promise<Uint8Array> {
    const message = signedBytes(it);
    const context = contextFor(it.purpose);
    const sig = await this.kms.signMu(this.keyId, externalMu(this.publicKey, context, message));
    // Postcondition: an ordinary ML-DSA-87 signature with our context, by this key
    if (sig.length !== MLDSA87_SIZES.signature || !this.p.mldsa87.verify(this.publicKey, message, sig, context)) {
      throw new RemoteError('KMS_BAD_SIGNATURE', `KMS key ${this.keyId} answered a signature that does not verify (${sig.length} bytes)`, {
        hint: 'is SIGNER the ML-DSA-87 key the key-set statement certifies?',
      });
    }
    return sig;
  }

  async signAll(items: readonly SignRequest[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array(items.length);
    let next = 0;
    const lane = async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await this.signOne(items[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, lane));
    return out;
  }

  async close(): Promise<void> {}
}
