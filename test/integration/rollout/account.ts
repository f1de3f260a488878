/**
 * A healthy ima-qs account on moto_server, created the way an operator would: the KMS key and
 * alias, the keys uploaded by `ima-qs keys upload` (the real secret format, SPEC §7), tables with
 * PITR + SSE-KMS (+ TTL on requests), the queue with its DLQ, log groups with retention, the proxy
 * Lambda with two published versions behind alias `live`, and the worker ECS service running.
 * Each `break*` helper then removes one property so a test can see the matching item fail.
 */
import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import { type AttributeDefinition, CreateTableCommand, DynamoDBClient, type KeySchemaElement, PutItemCommand, UpdateContinuousBackupsCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { CreateAliasCommand as CreateKmsAlias, CreateKeyCommand, EnableKeyRotationCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateAliasCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, LambdaClient, PublishVersionCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import yazl from 'yazl';
import { toRecord, GENESIS_PREV, type AuditEntryCore } from '../../../src/audit/audit-entry.js';
import { toBase64 } from '../../../src/crypto/bytes.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { signJson } from '../../../src/crypto/signature.js';
import type { ServiceKeys } from '../../../src/keys/key-dir.js';
import { fingerprints, publicKeysOf } from '../../../src/keys/key-dir.js';
import { defaultResources } from '../../../src/rollout/resources.js';
import type { Moto } from '../../helpers/moto.js';

export const NAMES = {
  alias: 'alias/ima-quantum',
  tables: { audit: 'ima-tpm-audit-log', decisions: 'ima-quantum-decisions', requests: 'ima-quantum-requests' },
  queue: 'ima-quantum-requests',
  dlq: 'ima-quantum-requests-dlq',
  fn: 'ima-quantum-proxy',
  cluster: 'ima-quantum',
  service: 'ima-quantum-worker',
  logGroups: ['/aws/lambda/ima-quantum-proxy', '/ecs/ima-quantum-worker'],
};

export function clients(moto: Moto) {
  const cfg = {
    endpoint: moto.endpoint,
    region: moto.env.AWS_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    kms: new KMSClient(cfg),
    ddb: new DynamoDBClient(cfg),
    sqs: new SQSClient(cfg),
    logs: new CloudWatchLogsClient(cfg),
    lambda: new LambdaClient(cfg),
    ecs: new ECSClient(cfg),
    cw: new CloudWatchClient(cfg),
    scaling: new ApplicationAutoScalingClient(cfg),
  };
}

/**
 * The seven alarms of infra/alarms.tf by their default names, each on the metric it watches there
 * (moto creates them in state OK; a test moves one with SetAlarmState). `topic` = alarm_sns_topic_arn.
 */
export async function createAlarms(moto: Moto, topic?: string) {
  const { cw } = clients(moto);
  const metric: Record<string, [string, string, Record<string, string>]> = {
    'dlq-not-empty': ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: NAMES.dlq }],
    'queue-oldest-message': ['AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: NAMES.queue }],
    'unanchored-entries': ['ima-qs', 'UnanchoredEntries', { service: 'worker' }],
    'proxy-5xx': ['AWS/ApiGateway', '5xx', { ApiId: 'abc123' }],
    'proxy-errors': ['AWS/Lambda', 'Errors', { FunctionName: NAMES.fn }],
    'proxy-throttles': ['AWS/Lambda', 'Throttles', { FunctionName: NAMES.fn }],
    'worker-at-max': ['ECS/ContainerInsights', 'RunningTaskCount', { ClusterName: NAMES.cluster, ServiceName: NAMES.service }],
  };
  for (const name of defaultResources().alarms) {
    const [Namespace, MetricName, dims] = metric[name.replace(/^ima-quantum-/, '')];
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace,
        MetricName,
        Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })),
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...(topic ? { AlarmActions: [topic], OKActions: [topic] } : {}),
      }),
    );
  }
}

/** The worker's Application Auto Scaling target (infra/autoscaling.tf), min-max tasks. */
export async function createScalableTarget(moto: Moto, min: number, max: number) {
  const { scaling } = clients(moto);
  await scaling.send(
    new RegisterScalableTargetCommand({
      ServiceNamespace: 'ecs',
      ScalableDimension: 'ecs:service:DesiredCount',
      ResourceId: `service/${NAMES.cluster}/${NAMES.service}`,
      MinCapacity: min,
      MaxCapacity: max,
    }),
  );
}

/** IAM has no SDK client in this project: moto's query API, as the SDK would send it. */
async function createRole(moto: Moto, name: string): Promise<string> {
  const body = new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: name,
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    }),
  });
  const res = await fetch(moto.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
    body,
  });
  const text = await res.text();
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1];
  if (!arn) throw new Error(`moto CreateRole failed: HTTP ${res.status}`);
  return arn;
}

function zipOf(source: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const z = new yazl.ZipFile();
    z.addBuffer(Buffer.from(source), 'index.mjs', { mtime: new Date(0) });
    z.end();
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (d: Buffer) => chunks.push(d)).on('end', () => resolve(Buffer.concat(chunks)));
  });
}

export async function createKmsKey(moto: Moto): Promise<string> {
  const { kms } = clients(moto);
  const k = await kms.send(new CreateKeyCommand({ Description: 'ima-quantum' }));
  const keyId = k.KeyMetadata!.KeyId!;
  await kms.send(new CreateKmsAlias({ AliasName: NAMES.alias, TargetKeyId: keyId }));
  await kms.send(new EnableKeyRotationCommand({ KeyId: keyId }));
  return k.KeyMetadata!.Arn!;
}

export async function createTable(moto: Moto, name: string, keyArn: string, opts: { pitr?: boolean; ttl?: boolean; sort?: string } = {}) {
  const { ddb } = clients(moto);
  const attrs: AttributeDefinition[] = [{ AttributeName: opts.sort ? 'chain' : 'id', AttributeType: 'S' }];
  const schema: KeySchemaElement[] = [{ AttributeName: opts.sort ? 'chain' : 'id', KeyType: 'HASH' }];
  if (opts.sort) {
    attrs.push({ AttributeName: opts.sort, AttributeType: 'N' });
    schema.push({ AttributeName: opts.sort, KeyType: 'RANGE' });
  }
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attrs,
      KeySchema: schema,
      SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    }),
  );
  if (opts.pitr !== false) {
    await ddb.send(new UpdateContinuousBackupsCommand({ TableName: name, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
  }
  if (opts.ttl) await ddb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { Enabled: true, AttributeName: 'ttl' } }));
}

export async function createQueues(moto: Moto, keyArn: string) {
  const { sqs } = clients(moto);
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: NAMES.dlq, Attributes: { KmsMasterKeyId: keyArn } }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sqs.send(
    new CreateQueueCommand({
      QueueName: NAMES.queue,
      Attributes: { KmsMasterKeyId: keyArn, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }) },
    }),
  );
  return dlq.QueueUrl!;
}

export async function createLogGroups(moto: Moto, lines: string[] = ['{"level":"info","msg":"request enqueued","handle":"9f2c4e0b7d1a3f5e8c6b2a4d0e9f1c3b5a7d9e2f4c6b8a0d1e3f5a7c9b2d4e6f"}']) {
  const { logs } = clients(moto);
  for (const g of NAMES.logGroups) {
    await logs.send(new CreateLogGroupCommand({ logGroupName: g }));
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: g, retentionInDays: 90 }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: g, logStreamName: 's1' }));
    await logs.send(new PutLogEventsCommand({ logGroupName: g, logStreamName: 's1', logEvents: lines.map((message) => ({ timestamp: Date.now(), message })) }));
  }
}

/** The proxy function with versions 1 and 2 published, alias `live` on 2, and a function URL. */
export async function createLambda(moto: Moto) {
  const { lambda } = clients(moto);
  const role = await createRole(moto, 'ima-quantum-proxy');
  await lambda.send(
    new CreateFunctionCommand({ FunctionName: NAMES.fn, Runtime: 'nodejs22.x', Role: role, Handler: 'index.handler', Code: { ZipFile: await zipOf('export const handler = async () => ({ statusCode: 200 }); // v1') } }),
  );
  await lambda.send(new PublishVersionCommand({ FunctionName: NAMES.fn }));
  await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: NAMES.fn, ZipFile: await zipOf('export const handler = async () => ({ statusCode: 200 }); // v2') }));
  await lambda.send(new PublishVersionCommand({ FunctionName: NAMES.fn }));
  await lambda.send(new CreateAliasCommand({ FunctionName: NAMES.fn, Name: 'live', FunctionVersion: '2' }));
  await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: NAMES.fn, Qualifier: 'live', AuthType: 'NONE' }));
}

/** The worker service; moto reports runningCount = desiredCount after an UpdateService. */
export async function createWorker(moto: Moto, running = true) {
  const { ecs } = clients(moto);
  await ecs.send(new CreateClusterCommand({ clusterName: NAMES.cluster }));
  await ecs.send(new RegisterTaskDefinitionCommand({ family: NAMES.service, containerDefinitions: [{ name: 'worker', image: 'ima-qs-worker:1', memory: 1024 }] }));
  await ecs.send(new CreateServiceCommand({ cluster: NAMES.cluster, serviceName: NAMES.service, taskDefinition: NAMES.service, desiredCount: 0, launchType: 'FARGATE' }));
  if (running) await ecs.send(new UpdateServiceCommand({ cluster: NAMES.cluster, service: NAMES.service, desiredCount: 2 }));
  else await ecs.send(new UpdateServiceCommand({ cluster: NAMES.cluster, service: NAMES.service, desiredCount: 0 }));
}

/** Audit entries signed as the worker signs them (SPEC §8.7); `tamper` alters one entry's core. */
export async function writeAuditEntries(moto: Moto, p: CryptoProvider, keys: ServiceKeys, n: number, tamper = false) {
  const { ddb } = clients(moto);
  const fps = fingerprints(publicKeysOf(keys));
  let prev = GENESIS_PREV;
  for (let seq = 0; seq < n; seq++) {
    const core: AuditEntryCore = {
      v: 1,
      chain: 'worker-a',
      seq,
      prev,
      time: new Date(Date.UTC(2026, 1, 17, 9, 0, seq)).toISOString(),
      route: 'analyze',
      request_digest: '11'.repeat(32),
      decision_digest: '22'.repeat(32),
      signer: fps.mldsa,
      recipient: fps.composite,
      payload: toBase64(new Uint8Array([1, 2, 3, seq])),
    };
    const rec = toRecord(p, core, signJson(p, keys.mldsa, 'audit', core));
    prev = rec.digest;
    const storedCore = tamper && seq === n - 1 ? rec.core.replace('"analyze"', '"patents"') : rec.core;
    await ddb.send(
      new PutItemCommand({
        TableName: NAMES.tables.audit,
        Item: { chain: { S: rec.chain }, seq: { N: String(rec.seq) }, core: { S: storedCore }, digest: { S: rec.digest }, signature: { S: rec.signature! } },
      }),
    );
    await ddb.send(
      new PutItemCommand({
        TableName: NAMES.tables.decisions,
        Item: { id: { S: `${seq}`.padStart(64, 'a') }, status: { S: 'decided' }, sealed: { B: new Uint8Array([9, 9, 9]) }, decided_at: { N: String(Date.now()) } },
      }),
    );
  }
}

/** Infrastructure of Day 1 (everything but the secrets). */
export async function createInfrastructure(moto: Moto): Promise<string> {
  const keyArn = await createKmsKey(moto);
  await createTable(moto, NAMES.tables.audit, keyArn, { sort: 'seq' });
  await createTable(moto, NAMES.tables.decisions, keyArn);
  await createTable(moto, NAMES.tables.requests, keyArn, { ttl: true });
  await createQueues(moto, keyArn);
  await createLogGroups(moto);
  return keyArn;
}
