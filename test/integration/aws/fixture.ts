/**
 * Shared set-up for the key-custody integration tests: a moto_server per test file, a KMS key
 * with an alias, key folders written with the key-dir API, and an env for in-process runs that
 * sees nothing of the machine's own AWS configuration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { defaultProvider } from '../../../src/crypto/providers.js';
import type { MlDsaPrivateKey } from '../../../src/crypto/provider.js';
import type { ServiceKeys } from '../../../src/keys/key-dir.js';
import type { SignedKeySet } from '../../../src/protocol/keyset.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import type { Moto } from '../../helpers/moto.js';

export const ALIAS = 'alias/ima-qs-test';

/** A temp folder removed by `cleanup()`; HOME and the AWS config files point into it (empty). */
export function sandbox() {
  const root = mkdtempSync(join(tmpdir(), 'ima-custody-'));
  const config = join(root, 'aws-config');
  const credentials = join(root, 'aws-credentials');
  writeFileSync(config, '');
  writeFileSync(credentials, '');
  return {
    root,
    /** the machine's AWS settings are invisible: empty config files, no IMDS */
    baseEnv: {
      PATH: process.env.PATH ?? '',
      HOME: root,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_EC2_METADATA_DISABLED: 'true',
    } as Record<string, string>,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface KeyDir {
  dir: string;
  keys: ServiceKeys;
  root: MlDsaPrivateKey;
  keyset: SignedKeySet;
  pin: string;
}

/**
 * A certified key folder (keys generate's layout + keyset.json): generation 1 of a new root, or
 * with `next` the following generation of that folder's root (previous_keyset.json included).
 */
export async function makeKeyDir(root: string, name: string, next?: KeyDir): Promise<KeyDir> {
  const dir = join(root, name);
  const k = await writeCertifiedKeyDir(defaultProvider(), dir, join(root, `${name}_root`), next ? { root: next.root, previous: next.keyset } : {});
  return { dir, ...k };
}

function sdkConfig(moto: Moto) {
  return { region: moto.env.AWS_REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
}

export function kmsClient(moto: Moto): KMSClient {
  return new KMSClient(sdkConfig(moto));
}

export function smClient(moto: Moto): SecretsManagerClient {
  return new SecretsManagerClient(sdkConfig(moto));
}

/** A symmetric KMS key with ALIAS pointing at it; returns its id and ARN. */
export async function createKmsKey(moto: Moto, alias = ALIAS): Promise<{ keyId: string; arn: string }> {
  const kms = kmsClient(moto);
  const k = await kms.send(new CreateKeyCommand({ Description: 'ima-qs custody test' }));
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: k.KeyMetadata!.KeyId! }));
  return { keyId: k.KeyMetadata!.KeyId!, arn: k.KeyMetadata!.Arn! };
}
