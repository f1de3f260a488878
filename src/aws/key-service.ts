/**
 * The `KeyService` port (the KMS calls key custody makes) and its AWS KMS adapter.
 *
 * Secrets Manager encrypts each secret version under a symmetric KMS key (ENCRYPT_DECRYPT,
 * SYMMETRIC_DEFAULT). We resolve and check that key before anything is written, so a disabled key
 * or one pending deletion is a clear error (KMS_KEY_DISABLED / KMS_KEY_PENDING_DELETION, exit 4)
 * instead of secrets nobody can decrypt.
 */
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { InputError, RemoteError } from '../errors.js';
import { type AwsOptions, type Env, awsClientConfig } from './config.js';
import { awsCall, mapAwsError } from './errors.js';

export interface KmsKeyInfo {
  keyId: string;
  arn: string;
  /** Enabled, Disabled, PendingDeletion, PendingImport, Unavailable, ... */
  state: string;
  enabled: boolean;
  keySpec: string;
  keyUsage: string;
  manager: string;
  deletionDate?: Date;
}

export interface KeyService {
  /** accepts a key id, a key ARN, alias/NAME or an alias ARN */
  describe(keyRef: string): Promise<KmsKeyInfo>;
  /** undefined when the key type does not support automatic rotation or the caller cannot ask */
  rotationEnabled(keyId: string): Promise<boolean | undefined>;
}

/** What a --kms-key value may look like (KMS API reference, "KeyId" parameter). */
export function checkKmsKeyRef(ref: string): string {
  const v = ref.trim();
  const keyId = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
  const alias = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
  const arn = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/.+|alias\/[A-Za-z0-9/_-]{1,250})$/;
  if (keyId.test(v) || alias.test(v) || arn.test(v)) return v;
  throw new InputError('BAD_KMS_KEY', `--kms-key "${v.slice(0, 80)}" is not a KMS key id, key ARN or alias`, {
    hint: 'expected e.g. 1234abcd-12ab-34cd-56ef-1234567890ab, arn:aws:kms:REGION:ACCOUNT:key/ID or alias/ima-qs',
  });
}

/**
 * Precondition for encrypting secrets under `info`: enabled, symmetric, for encryption.
 * Throws KMS_KEY_DISABLED / KMS_KEY_PENDING_DELETION / KMS_KEY_UNSUITABLE.
 */
export function assertUsableForSecrets(ref: string, info: KmsKeyInfo): void {
  if (info.state === 'PendingDeletion' || info.state === 'PendingReplicaDeletion') {
    throw new RemoteError('KMS_KEY_PENDING_DELETION', `KMS key ${ref} is scheduled for deletion`, {
      hint: 'cancel the deletion (aws kms cancel-key-deletion --key-id KEY) or choose another --kms-key',
      details: { keyArn: info.arn, state: info.state },
    });
  }
  if (!info.enabled || info.state !== 'Enabled') {
    throw new RemoteError('KMS_KEY_DISABLED', `KMS key ${ref} is not enabled (state ${info.state})`, {
      hint: 'enable it (aws kms enable-key --key-id KEY) or choose another --kms-key',
      details: { keyArn: info.arn, state: info.state },
    });
  }
  if (info.keySpec !== 'SYMMETRIC_DEFAULT' || info.keyUsage !== 'ENCRYPT_DECRYPT') {
    throw new RemoteError('KMS_KEY_UNSUITABLE', `KMS key ${ref} is ${info.keySpec} for ${info.keyUsage}; Secrets Manager needs a symmetric encryption key`, {
      hint: 'create one with aws kms create-key (the defaults: SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)',
      details: { keyArn: info.arn },
    });
  }
}

export class KmsKeyService implements KeyService {
  constructor(private readonly client: KMSClient) {}

  static fromOptions(opts: AwsOptions, env: Env): KmsKeyService {
    return new KmsKeyService(new KMSClient(awsClientConfig('KMS', opts, env)));
  }

  async describe(keyRef: string): Promise<KmsKeyInfo> {
    const out = await awsCall(`looking up KMS key ${keyRef}`, () => this.client.send(new DescribeKeyCommand({ KeyId: keyRef })));
    const m = out.KeyMetadata;
    if (!m?.KeyId || !m.Arn) throw new RemoteError('AWS_ERROR', `looking up KMS key ${keyRef}: the answer has no key metadata`);
    return {
      keyId: m.KeyId,
      arn: m.Arn,
      state: m.KeyState ?? (m.Enabled ? 'Enabled' : 'Disabled'),
      enabled: m.Enabled === true,
      keySpec: m.KeySpec ?? m.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT',
      keyUsage: m.KeyUsage ?? 'ENCRYPT_DECRYPT',
      manager: m.KeyManager ?? 'CUSTOMER',
      deletionDate: m.DeletionDate,
    };
  }

  async rotationEnabled(keyId: string): Promise<boolean | undefined> {
    try {
      const out = await this.client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
      return out.KeyRotationEnabled;
    } catch (err) {
      // AWS-managed keys, asymmetric keys and missing kms:GetKeyRotationStatus: unknown, not fatal
      const name = (err as { name?: string })?.name;
      if (name === 'UnsupportedOperationException' || name === 'AccessDeniedException') return undefined;
      throw mapAwsError(err, `reading the rotation status of KMS key ${keyId}`);
    }
  }
}
