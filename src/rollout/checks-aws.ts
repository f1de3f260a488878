/**
 * The AWS implementation of the `RolloutProbe` port on the SDK v3 clients. Read-only except
 * `updateAlias` and `scaleService` (rollback). Not-found answers are `undefined`; every other SDK
 * failure goes through `mapAwsError` (exit 4) naming what was being read, never a value.
 */
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeContinuousBackupsCommand, DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, QueryCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionUrlConfigCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { type AwsOptions, type AwsService, type Env, awsClientConfig } from '../aws/config.js';
import { awsCall, isNotFound, mapAwsError } from '../aws/errors.js';
import { plainAttribute } from '../aws/dynamo-table.js';
import type {
  AlarmFacts,
  CallerIdentity,
  HttpAnswer,
  KmsKeyFacts,
  LambdaFacts,
  LogScanBatch,
  QueueFacts,
  RolloutProbe,
  ScalableTargetFacts,
  SecretFacts,
  ServiceFacts,
  TableFacts,
} from './probe.js';

/** Largest HTTP body read from the proxy (the public-keys document is a few KiB). */
const MAX_HTTP_BODY = 1 << 20;

/**
 * config.ts names the services key custody uses; the SDK convention AWS_ENDPOINT_URL_<SERVICE> is
 * the same for the ones the rollout adds (LAMBDA, ECS, CLOUDWATCH_LOGS, CLOUDWATCH,
 * APPLICATION_AUTO_SCALING), so the helper applies.
 */
type RolloutService = AwsService | 'LAMBDA' | 'ECS' | 'CLOUDWATCH_LOGS' | 'CLOUDWATCH' | 'APPLICATION_AUTO_SCALING';

/** The ECS service's desired count as Application Auto Scaling names it. */
const ecsScalable = (cluster: string, service: string) => ({
  ServiceNamespace: 'ecs' as const,
  ScalableDimension: 'ecs:service:DesiredCount' as const,
  ResourceId: `service/${cluster}/${service}`,
});
const config = (svc: RolloutService, opts: AwsOptions, env: Env) => awsClientConfig(svc as AwsService, opts, env);

const notFoundNames = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NotFoundException', 'ClusterNotFoundException', 'ServiceNotFoundException']);

async function orUndefined<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isNotFound(err) || notFoundNames.has((err as { name?: string })?.name ?? '')) return undefined;
    throw mapAwsError(err, what);
  }
}

export class AwsRolloutProbe implements RolloutProbe {
  private readonly sts: STSClient;
  private readonly kms: KMSClient;
  private readonly sm: SecretsManagerClient;
  private readonly ddb: DynamoDBClient;
  private readonly sqs: SQSClient;
  private readonly logs: CloudWatchLogsClient;
  private readonly lambdaClient: LambdaClient;
  private readonly ecs: ECSClient;
  private readonly cloudwatch: CloudWatchClient;
  private readonly scaling: ApplicationAutoScalingClient;

  constructor(opts: AwsOptions, env: Env) {
    this.sts = new STSClient(config('STS', opts, env));
    this.kms = new KMSClient(config('KMS', opts, env));
    this.sm = new SecretsManagerClient(config('SECRETS_MANAGER', opts, env));
    this.ddb = new DynamoDBClient(config('DYNAMODB', opts, env));
    this.sqs = new SQSClient(config('SQS', opts, env));
    this.logs = new CloudWatchLogsClient(config('CLOUDWATCH_LOGS', opts, env));
    this.lambdaClient = new LambdaClient(config('LAMBDA', opts, env));
    this.ecs = new ECSClient(config('ECS', opts, env));
    this.cloudwatch = new CloudWatchClient(config('CLOUDWATCH', opts, env));
    this.scaling = new ApplicationAutoScalingClient(config('APPLICATION_AUTO_SCALING', opts, env));
  }

  async callerIdentity(): Promise<CallerIdentity> {
    const out = await awsCall('asking STS who the caller is', () => this.sts.send(new GetCallerIdentityCommand({})));
    return { account: out.Account ?? '', arn: out.Arn ?? '' };
  }

  async kmsKey(ref: string): Promise<KmsKeyFacts | undefined> {
    const d = await orUndefined(`describing KMS key ${ref}`, () => this.kms.send(new DescribeKeyCommand({ KeyId: ref })));
    const m = d?.KeyMetadata;
    if (!m?.KeyId) return undefined;
    let rotation: boolean | undefined;
    try {
      rotation = (await this.kms.send(new GetKeyRotationStatusCommand({ KeyId: m.KeyId }))).KeyRotationEnabled;
    } catch (err) {
      // a disabled key or one whose type cannot rotate answers with an error, not "false"
      const name = (err as { name?: string })?.name ?? '';
      if (!/UnsupportedOperation|KMSInvalidState|Disabled/.test(name)) throw mapAwsError(err, `reading the rotation status of KMS key ${ref}`);
    }
    return {
      keyId: m.KeyId,
      arn: m.Arn ?? '',
      state: m.KeyState ?? (m.Enabled ? 'Enabled' : 'Disabled'),
      manager: m.KeyManager ?? '',
      keySpec: m.KeySpec ?? '',
      rotation,
    };
  }

  async secret(name: string): Promise<SecretFacts | undefined> {
    const d = await orUndefined(`describing secret ${name}`, () => this.sm.send(new DescribeSecretCommand({ SecretId: name })));
    if (!d) return undefined;
    const tags: Record<string, string> = {};
    for (const t of d.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
    return {
      name: d.Name ?? name,
      arn: d.ARN ?? '',
      kmsKeyId: d.KmsKeyId,
      deleted: d.DeletedDate !== undefined,
      tags,
      stages: Object.values(d.VersionIdsToStages ?? {}).flat(),
      versions: Object.entries(d.VersionIdsToStages ?? {}).map(([versionId, stages]) => ({ versionId, stages: [...stages] })),
    };
  }

  async publicSecretValue(name: string): Promise<string | undefined> {
    const out = await orUndefined(`reading public secret ${name}`, () => this.sm.send(new GetSecretValueCommand({ SecretId: name })));
    return out?.SecretString;
  }

  async table(name: string): Promise<TableFacts | undefined> {
    const d = await orUndefined(`describing table ${name}`, () => this.ddb.send(new DescribeTableCommand({ TableName: name })));
    if (!d?.Table) return undefined;
    const [backups, ttl] = await Promise.all([
      awsCall(`reading point-in-time recovery of table ${name}`, () => this.ddb.send(new DescribeContinuousBackupsCommand({ TableName: name }))),
      awsCall(`reading the TTL of table ${name}`, () => this.ddb.send(new DescribeTimeToLiveCommand({ TableName: name }))),
    ]);
    const sse = d.Table.SSEDescription;
    return {
      name,
      status: d.Table.TableStatus ?? '',
      pitr: backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus === 'ENABLED',
      sseStatus: sse?.Status,
      sseType: sse?.SSEType,
      sseKmsKeyArn: sse?.KMSMasterKeyArn,
      ttlStatus: ttl.TimeToLiveDescription?.TimeToLiveStatus,
      ttlAttribute: ttl.TimeToLiveDescription?.AttributeName,
    };
  }

  async sampleItems(name: string, limit: number): Promise<Record<string, unknown>[] | undefined> {
    const out = await orUndefined(`reading items of table ${name}`, () => this.ddb.send(new ScanCommand({ TableName: name, Limit: limit })));
    if (!out) return undefined;
    return (out.Items ?? []).map((it) => Object.fromEntries(Object.entries(it).map(([k, v]) => [k, plainAttribute(v)])));
  }

  async newestItems(name: string, key: { partition: string; sort: string }, perPartition: number, maxPartitions: number) {
    const partitions = new Map<string, AttributeValue>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await orUndefined(`listing partitions of table ${name}`, () =>
        this.ddb.send(new ScanCommand({ TableName: name, ProjectionExpression: '#p', ExpressionAttributeNames: { '#p': key.partition }, ExclusiveStartKey: start })),
      );
      if (!page) return undefined;
      for (const it of page.Items ?? []) {
        const v = it[key.partition];
        if (v) partitions.set(JSON.stringify(v), v);
      }
      start = page.LastEvaluatedKey;
    } while (start && partitions.size < maxPartitions);
    const out: Record<string, unknown>[] = [];
    for (const v of [...partitions.values()].slice(0, maxPartitions)) {
      const page = await awsCall(`reading the newest items of table ${name}`, () =>
        this.ddb.send(
          new QueryCommand({
            TableName: name,
            KeyConditionExpression: '#p = :v',
            ExpressionAttributeNames: { '#p': key.partition },
            ExpressionAttributeValues: { ':v': v },
            ScanIndexForward: false,
            Limit: perPartition,
          }),
        ),
      );
      for (const it of page.Items ?? []) out.push(Object.fromEntries(Object.entries(it).map(([k, x]) => [k, plainAttribute(x)])));
    }
    return out;
  }

  async queue(name: string): Promise<QueueFacts | undefined> {
    const u = await orUndefined(`looking up queue ${name}`, () => this.sqs.send(new GetQueueUrlCommand({ QueueName: name })));
    if (!u?.QueueUrl) return undefined;
    const url = u.QueueUrl;
    const a = (await awsCall(`reading the attributes of queue ${name}`, () =>
      this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })),
    )).Attributes ?? {};
    let redrive: { deadLetterTargetArn?: string; maxReceiveCount?: number | string } = {};
    try {
      if (a.RedrivePolicy) redrive = JSON.parse(a.RedrivePolicy);
    } catch {
      redrive = {};
    }
    return {
      name,
      url,
      arn: a.QueueArn ?? '',
      deadLetterTargetArn: redrive.deadLetterTargetArn,
      maxReceiveCount: redrive.maxReceiveCount === undefined ? undefined : Number(redrive.maxReceiveCount),
      kmsMasterKeyId: a.KmsMasterKeyId,
      sqsManagedSse: a.SqsManagedSseEnabled === 'true',
      approxMessages: Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  async logGroup(name: string) {
    const out = await awsCall(`describing log group ${name}`, () =>
      this.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, limit: 50 })),
    );
    const g = (out.logGroups ?? []).find((x) => x.logGroupName === name);
    return g ? { name, retentionDays: g.retentionInDays, kmsKeyId: g.kmsKeyId } : undefined;
  }

  async logEvents(group: string, sinceMs: number, cap: number): Promise<LogScanBatch | undefined> {
    const events: { timestamp: number; message: string }[] = [];
    let next: string | undefined;
    do {
      const page = await orUndefined(`reading events of log group ${group}`, () =>
        this.logs.send(new FilterLogEventsCommand({ logGroupName: group, startTime: sinceMs, nextToken: next, limit: Math.min(10_000, cap - events.length) })),
      );
      if (!page) return events.length ? { group, events, truncated: false } : undefined;
      for (const e of page.events ?? []) events.push({ timestamp: e.timestamp ?? 0, message: e.message ?? '' });
      next = page.nextToken;
    } while (next && events.length < cap);
    return { group, events: events.slice(0, cap), truncated: Boolean(next) };
  }

  async lambda(name: string, alias: string): Promise<LambdaFacts | undefined> {
    const f = await orUndefined(`describing Lambda function ${name}`, () => this.lambdaClient.send(new GetFunctionCommand({ FunctionName: name })));
    if (!f?.Configuration) return undefined;
    const versions: string[] = [];
    let marker: string | undefined;
    do {
      const page = await awsCall(`listing versions of Lambda function ${name}`, () =>
        this.lambdaClient.send(new ListVersionsByFunctionCommand({ FunctionName: name, Marker: marker })),
      );
      for (const v of page.Versions ?? []) if (v.Version && v.Version !== '$LATEST') versions.push(v.Version);
      marker = page.NextMarker;
    } while (marker);
    versions.sort((a, b) => Number(a) - Number(b));
    const a = await orUndefined(`reading alias ${alias} of Lambda function ${name}`, () =>
      this.lambdaClient.send(new GetAliasCommand({ FunctionName: name, Name: alias })),
    );
    const url =
      (a && (await orUndefined(`reading the function URL of ${name}:${alias}`, () =>
        this.lambdaClient.send(new GetFunctionUrlConfigCommand({ FunctionName: name, Qualifier: alias })),
      ))?.FunctionUrl) ||
      (await orUndefined(`reading the function URL of ${name}`, () => this.lambdaClient.send(new GetFunctionUrlConfigCommand({ FunctionName: name }))))
        ?.FunctionUrl;
    return {
      name,
      state: f.Configuration.State,
      lastUpdateStatus: f.Configuration.LastUpdateStatus,
      runtime: f.Configuration.Runtime,
      versions,
      alias: a?.FunctionVersion ? { name: alias, version: a.FunctionVersion } : undefined,
      url,
    };
  }

  async service(cluster: string, service: string): Promise<ServiceFacts | undefined> {
    const out = await orUndefined(`describing ECS service ${service} in cluster ${cluster}`, () =>
      this.ecs.send(new DescribeServicesCommand({ cluster, services: [service] })),
    );
    const s = out?.services?.[0];
    if (!s) return undefined;
    return {
      cluster,
      name: s.serviceName ?? service,
      status: s.status ?? '',
      desired: s.desiredCount ?? 0,
      running: s.runningCount ?? 0,
      pending: s.pendingCount ?? 0,
      launchType: s.launchType,
      taskDefinition: s.taskDefinition,
    };
  }

  async alarms(names: string[]): Promise<AlarmFacts[]> {
    const out: AlarmFacts[] = [];
    // DescribeAlarms takes at most 100 names per call
    for (let i = 0; i < names.length; i += 100) {
      let next: string | undefined;
      do {
        const page = await awsCall('reading the CloudWatch alarms', () =>
          this.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100), NextToken: next })),
        );
        for (const a of page.MetricAlarms ?? []) {
          if (!a.AlarmName) continue;
          out.push({
            name: a.AlarmName,
            state: a.StateValue ?? 'INSUFFICIENT_DATA',
            reason: a.StateReason,
            since: a.StateUpdatedTimestamp?.toISOString(),
            actionsEnabled: a.ActionsEnabled !== false,
            alarmActions: a.AlarmActions ?? [],
          });
        }
        next = page.NextToken;
      } while (next);
    }
    return out;
  }

  async scalableTarget(cluster: string, service: string): Promise<ScalableTargetFacts | undefined> {
    const id = ecsScalable(cluster, service);
    const out = await awsCall(`reading the scalable target of ECS service ${service}`, () =>
      this.scaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: id.ServiceNamespace, ResourceIds: [id.ResourceId], ScalableDimension: id.ScalableDimension })),
    );
    const t = out.ScalableTargets?.find((x) => x.ResourceId === id.ResourceId);
    return t ? { resourceId: id.ResourceId, min: t.MinCapacity ?? 0, max: t.MaxCapacity ?? 0 } : undefined;
  }

  httpGet(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return this.http(url, timeoutMs, { method: 'GET', headers: { accept: 'application/json', ...headers } });
  }

  httpPost(url: string, timeoutMs: number, body: Uint8Array, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return this.http(url, timeoutMs, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body });
  }

  private async http(url: string, timeoutMs: number, init: { method: string; headers: Record<string, string>; body?: Uint8Array }): Promise<HttpAnswer> {
    try {
      const res = await fetch(url, {
        method: init.method,
        headers: init.headers,
        ...(init.body ? { body: Buffer.from(init.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      // read at most MAX_HTTP_BODY bytes: a misbehaving endpoint cannot make us buffer more
      const chunks: Uint8Array[] = [];
      let size = 0;
      const reader = res.body?.getReader();
      while (reader && size < MAX_HTTP_BODY) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
      }
      await reader?.cancel().catch(() => {});
      return {
        status: res.status,
        contentType: res.headers.get('content-type') ?? undefined,
        body: Buffer.concat(chunks).subarray(0, MAX_HTTP_BODY).toString('utf8'),
      };
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      return { status: 0, body: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `unreachable (${e.cause?.code ?? e.name ?? 'error'})` };
    }
  }

  async updateAlias(functionName: string, alias: string, version: string): Promise<void> {
    await awsCall(`pointing alias ${alias} of ${functionName} to version ${version}`, () =>
      this.lambdaClient.send(new UpdateAliasCommand({ FunctionName: functionName, Name: alias, FunctionVersion: version })),
    );
  }

  async scaleService(cluster: string, service: string, desired: number): Promise<void> {
    await awsCall(`scaling ECS service ${service} to ${desired}`, () =>
      this.ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: desired })),
    );
  }

  async setScalingRange(cluster: string, service: string, min: number, max: number): Promise<void> {
    await awsCall(`setting the scaling range of ECS service ${service} to ${min}-${max}`, () =>
      this.scaling.send(new RegisterScalableTargetCommand({ ...ecsScalable(cluster, service), MinCapacity: min, MaxCapacity: max })),
    );
  }
}
