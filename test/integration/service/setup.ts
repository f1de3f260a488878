/**
 * The AWS side of the service tests on moto_server: the three tables (with TTL), the request
 * queue with a dead-letter queue (RedrivePolicy), a KMS key, and the key secrets + the signed
 * public-keys document in Secrets Manager, in the formats of the key-custody code (with
 * `auditKey`, the audit key's secret too: SPEC 7.1).
 */
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '../../../src/aws/config.js';
import { createPublicKeysDocument } from '../../../src/protocol/keys-document.js';
import { AUDIT_KEY_SECRET, encodeKeySecret, KEY_SECRETS, PUBLIC_KEYS_SUFFIX, secretName, secretTags } from '../../../src/aws/secret-format.js';
import { SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { encodePrivateKeyPem, fingerprint } from '../../../src/crypto/key-codec.js';
import type { MlDsaPrivateKey } from '../../../src/crypto/provider.js';
import type { ServiceKeys } from '../../../src/keys/key-dir.js';
import { fingerprints, publicKeysOf } from '../../../src/keys/key-dir.js';
import { p } from '../../unit/service/fixtures.js';

export const PREFIX = 'ima/test';

export async function createAwsResources(env: Record<string, string>, keys: ServiceKeys, opts: { visibility: number; maxReceiveCount: number; auditKey?: MlDsaPrivateKey }) {
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
  const fp = fingerprints(publicKeysOf(keys));
  for (const spec of KEY_SECRETS) {
    const value = encodeKeySecret({ algorithm: spec.algorithm, fingerprint: fp[spec.role], pem: encodePrivateKeyPem(keys[spec.role]), created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
    await store.create(secretName(PREFIX, spec.suffix), { value, kmsKeyId: kmsKey, tags: secretTags(spec.algorithm, fp[spec.role]) });
  }
  if (opts.auditKey) {
    // SPEC 7.1: the fourth key secret, read by the worker's checkpoint writer only
    const afp = fingerprint('ML-DSA-87', opts.auditKey.publicKey);
    const value = encodeKeySecret({ algorithm: 'ML-DSA-87', fingerprint: afp, pem: encodePrivateKeyPem(opts.auditKey), created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
    await store.create(secretName(PREFIX, AUDIT_KEY_SECRET.suffix), { value, kmsKeyId: kmsKey, tags: secretTags('ML-DSA-87', afp) });
  }
  const doc = createPublicKeysDocument(p, { mlkem: keys.mlkem.publicKey, ecdh: keys.ecdh.publicKey, signingKey: keys.mldsa, now: new Date() });
  await store.create(secretName(PREFIX, PUBLIC_KEYS_SUFFIX), { value: JSON.stringify(doc), kmsKeyId: kmsKey, tags: {} });
  return { queueUrl: q.QueueUrl!, dlqUrl: dlq.QueueUrl!, sqs, dynamo };
}

/** Messages in a queue without receiving them (a receive would change what it counts). */
export async function queueCounts(sqs: SQSClient, url: string): Promise<{ visible: number; inFlight: number }> {
  const a = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
  ).Attributes!;
  return { visible: Number(a.ApproximateNumberOfMessages), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible) };
}
