/**
 * The AWS side of the service tests on moto_server: the three tables (with TTL), the request
 * queue with a dead-letter queue (RedrivePolicy), a KMS key, and the key-set secret (generation
 * of the service fixture, AWSCURRENT, with its audit key) + the public-keys document in Secrets
 * Manager, in the formats of the key-custody code.
 */
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '../../../src/aws/config.js';
import { createPublicKeysDocument, publicKeysDocumentText } from '../../../src/protocol/keys-document.js';
import { PUBLIC_KEYS_SUFFIX, secretName } from '../../../src/aws/secret-format.js';
import { SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { encodeKeySetSecret, keysetSecretName, keysetVersionId } from '../../../src/aws/keyset-secret.js';
import type { ServiceKeys } from '../../../src/keys/key-dir.js';
import type { MlDsaPrivateKey } from '../../../src/crypto/provider.js';
import type { SignedKeySet } from '../../../src/protocol/keyset.js';
import { p } from '../../unit/service/fixtures.js';

export const PREFIX = 'ima/test';

export async function createAwsResources(
  env: Record<string, string>,
  ks: { keys: ServiceKeys; audit: MlDsaPrivateKey; root: Uint8Array; keyset: SignedKeySet },
  opts: { visibility: number; maxReceiveCount: number },
) {
  const dynamo = new DynamoDBClient(awsClientConfig('DYNAMODB', {}, env));
  for (const [name, sort] of [['ima-quantum-requests', undefined], ['ima-quantum-decisions', undefined], ['ima-tpm-audit-log', 'seq']] as const) {
    const pk = sort ? 'chain' : 'id';
    await dynamo.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }, ...(sort ? [{ AttributeName: sort, AttributeType: 'N' as const }] : [])],
        KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }, ...(sort ? [{ AttributeName: sort, KeyType: 'RANGE' as const }] : [])],
      }),
    );
    if (!sort) await dynamo.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }));
  }
  const sqs = new SQSClient(awsClientConfig('SQS', {}, env));
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'ima-quantum-requests-dlq' }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: 'ima-quantum-requests',
      Attributes: {
        VisibilityTimeout: String(opts.visibility),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount }),
      },
    }),
  );
  const kms = new KMSClient(awsClientConfig('KMS', {}, env));
  const kmsKey = (await kms.send(new CreateKeyCommand({ Description: 'ima-qs test' }))).KeyMetadata!.KeyId!;
  const store = new SecretsManagerStore(new SecretsManagerClient(awsClientConfig('SECRETS_MANAGER', {}, env)));
  const value = encodeKeySetSecret({ root: ks.root, keyset: ks.keyset, keys: { mlkem: ks.keys.mlkem, ecdh: ks.keys.ecdh, mldsa: ks.keys.mldsa, audit: ks.audit }, created: new Date() });
  await store.create(keysetSecretName(PREFIX), { value, kmsKeyId: kmsKey, tags: { project: 'ima-qs' }, versionId: keysetVersionId(p, ks.keyset) });
  const doc = publicKeysDocumentText(createPublicKeysDocument({ root: ks.root, current: ks.keyset }));
  await store.create(secretName(PREFIX, PUBLIC_KEYS_SUFFIX), { value: doc, kmsKeyId: kmsKey, tags: {} });
  return { queueUrl: q.QueueUrl!, dlqUrl: dlq.QueueUrl!, sqs, dynamo };
}

/** Messages in a queue without receiving them (a receive would change what it counts). */
export async function queueCounts(sqs: SQSClient, url: string): Promise<{ visible: number; inFlight: number }> {
  const a = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
  ).Attributes!;
  return { visible: Number(a.ApproximateNumberOfMessages), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible) };
}
