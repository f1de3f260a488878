/**
 * The `SecretStore` port (only the calls key custody makes) and its AWS Secrets Manager adapter.
 *
 * Version stages follow Secrets Manager's rotation model: AWSCURRENT is what readers get,
 * AWSPENDING is a staged new version, AWSPREVIOUS is kept automatically when AWSCURRENT moves.
 * Every failure is mapped by `mapAwsError` (exit 4) and names the secret, never its value.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type AwsOptions, type Env, awsClientConfig } from './config.js';
import { awsCall, isNotFound, mapAwsError } from './errors.js';

export const STAGE_CURRENT = 'AWSCURRENT';
export const STAGE_PENDING = 'AWSPENDING';
export const STAGE_PREVIOUS = 'AWSPREVIOUS';

export interface SecretVersion {
  versionId: string;
  stages: string[];
}

export interface SecretDescription {
  name: string;
  arn: string;
  kmsKeyId?: string;
  lastChanged?: Date;
  created?: Date;
  /** set when the secret is scheduled for deletion (it still exists, but cannot be used) */
  deletionDate?: Date;
  versions: SecretVersion[];
  tags: Record<string, string>;
}

export interface SecretValue {
  name: string;
  versionId: string;
  stages: string[];
  value: string;
}

export interface SecretStore {
  /** creates a secret whose first version is AWSCURRENT (its id `versionId` when given) */
  create(name: string, init: { value: string; kmsKeyId: string; tags: Record<string, string>; description?: string; versionId?: string }): Promise<{ arn: string; versionId: string }>;
  /** adds a version with the given stages (AWSCURRENT when none are given), its id `versionId` when given */
  putVersion(name: string, value: string, stages?: string[], versionId?: string): Promise<{ versionId: string }>;
  /** moves `stage` to `toVersionId` (from `fromVersionId`, which must hold it) */
  moveStage(name: string, stage: string, toVersionId: string, fromVersionId?: string): Promise<void>;
  /** removes `stage` from `versionId` */
  removeStage(name: string, stage: string, versionId: string): Promise<void>;
  /** the value of one version, by stage (default AWSCURRENT) */
  get(name: string, stage?: string): Promise<SecretValue>;
  /** the value of one version, by its id */
  getVersion(name: string, versionId: string): Promise<SecretValue>;
  /** undefined when the secret does not exist */
  describe(name: string): Promise<SecretDescription | undefined>;
  /** secrets whose name starts with `prefix` */
  list(prefix: string): Promise<SecretDescription[]>;
  tag(name: string, tags: Record<string, string>): Promise<void>;
  /** the KMS key used for versions created from now on */
  setKmsKey(name: string, kmsKeyId: string): Promise<void>;
}

const toTags = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

function fromTags(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

function versionsOf(map: Record<string, string[]> | undefined): SecretVersion[] {
  return Object.entries(map ?? {}).map(([versionId, stages]) => ({ versionId, stages: [...stages] }));
}

export class SecretsManagerStore implements SecretStore {
  constructor(private readonly client: SecretsManagerClient) {}

  static fromOptions(opts: AwsOptions, env: Env): SecretsManagerStore {
    return new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', opts, env)));
  }

  async create(name: string, init: { value: string; kmsKeyId: string; tags: Record<string, string>; description?: string; versionId?: string }) {
    const out = await awsCall(`creating secret ${name}`, () =>
      this.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: init.value,
          KmsKeyId: init.kmsKeyId,
          Tags: toTags(init.tags),
          ...(init.description ? { Description: init.description } : {}),
          ...(init.versionId ? { ClientRequestToken: init.versionId } : {}),
        }),
      ),
    );
    return { arn: out.ARN ?? '', versionId: out.VersionId ?? '' };
  }

  async putVersion(name: string, value: string, stages?: string[], versionId?: string) {
    const out = await awsCall(`writing a new version of secret ${name}`, () =>
      this.client.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: value, ...(stages ? { VersionStages: stages } : {}), ...(versionId ? { ClientRequestToken: versionId } : {}) }),
      ),
    );
    return { versionId: out.VersionId ?? '' };
  }

  async moveStage(name: string, stage: string, toVersionId: string, fromVersionId?: string) {
    await awsCall(`moving ${stage} of secret ${name}`, () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: stage,
          MoveToVersionId: toVersionId,
          ...(fromVersionId ? { RemoveFromVersionId: fromVersionId } : {}),
        }),
      ),
    );
  }

  async removeStage(name: string, stage: string, versionId: string) {
    await awsCall(`removing ${stage} from secret ${name}`, () =>
      this.client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: stage, RemoveFromVersionId: versionId })),
    );
  }

  async get(name: string, stage = STAGE_CURRENT): Promise<SecretValue> {
    const out = await awsCall(`reading secret ${name} (${stage})`, () =>
      this.client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: stage })),
    );
    return { name, versionId: out.VersionId ?? '', stages: out.VersionStages ?? [], value: out.SecretString ?? '' };
  }

  async getVersion(name: string, versionId: string): Promise<SecretValue> {
    const out = await awsCall(`reading secret ${name} (version ${versionId.slice(0, 24)})`, () =>
      this.client.send(new GetSecretValueCommand({ SecretId: name, VersionId: versionId })),
    );
    return { name, versionId: out.VersionId ?? versionId, stages: out.VersionStages ?? [], value: out.SecretString ?? '' };
  }

  async describe(name: string): Promise<SecretDescription | undefined> {
    try {
      const d = await this.client.send(new DescribeSecretCommand({ SecretId: name }));
      return {
        name: d.Name ?? name,
        arn: d.ARN ?? '',
        kmsKeyId: d.KmsKeyId,
        lastChanged: d.LastChangedDate,
        created: d.CreatedDate,
        deletionDate: d.DeletedDate,
        versions: versionsOf(d.VersionIdsToStages),
        tags: fromTags(d.Tags),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw mapAwsError(err, `describing secret ${name}`);
    }
  }

  async list(prefix: string): Promise<SecretDescription[]> {
    const out: SecretDescription[] = [];
    let next: string | undefined;
    do {
      const page = await awsCall(`listing secrets under ${prefix}`, () =>
        this.client.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], NextToken: next, MaxResults: 100 })),
      );
      for (const s of page.SecretList ?? []) {
        // the name filter is a prefix match on words in AWS; keep exact prefixes only
        if (!s.Name?.startsWith(prefix)) continue;
        out.push({
          name: s.Name,
          arn: s.ARN ?? '',
          kmsKeyId: s.KmsKeyId,
          lastChanged: s.LastChangedDate,
          created: s.CreatedDate,
          deletionDate: s.DeletedDate,
          versions: versionsOf(s.SecretVersionsToStages),
          tags: fromTags(s.Tags),
        });
      }
      next = page.NextToken;
    } while (next);
    return out;
  }

  async tag(name: string, tags: Record<string, string>) {
    await awsCall(`tagging secret ${name}`, () => this.client.send(new TagResourceCommand({ SecretId: name, Tags: toTags(tags) })));
  }

  async setKmsKey(name: string, kmsKeyId: string) {
    await awsCall(`setting the KMS key of secret ${name}`, () => this.client.send(new UpdateSecretCommand({ SecretId: name, KmsKeyId: kmsKeyId })));
  }
}
