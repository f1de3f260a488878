/**
 * The `RolloutProbe` port: the read-only questions the rollout asks of an AWS account (and the two
 * writes rollback makes), answered by checks-aws.ts on the SDK v3 clients. A missing resource is an
 * answer (`undefined`), not an error: the check then fails with exit 5 and says what to do. Anything
 * else that goes wrong remotely (credentials, access, network) is thrown as a RemoteError (exit 4).
 */

export interface CallerIdentity {
  account: string;
  arn: string;
}

export interface KmsKeyFacts {
  keyId: string;
  arn: string;
  /** Enabled, Disabled, PendingDeletion, ... */
  state: string;
  manager: string;
  keySpec: string;
  /** undefined when KMS would not say (key type without rotation, or not permitted) */
  rotation?: boolean;
}

export interface SecretFacts {
  name: string;
  arn: string;
  kmsKeyId?: string;
  deleted: boolean;
  tags: Record<string, string>;
  /** stages present: AWSCURRENT must be among them */
  stages: string[];
  /** each version's id and stages (the key-set secret's ids name their generations) */
  versions: { versionId: string; stages: string[] }[];
}

export interface TableFacts {
  name: string;
  status: string;
  pitr: boolean;
  /** SSE: ENABLED + KMS + the key ARN, or the AWS-owned default (no SSEDescription) */
  sseStatus?: string;
  sseType?: string;
  sseKmsKeyArn?: string;
  ttlStatus?: string;
  ttlAttribute?: string;
}

export interface QueueFacts {
  name: string;
  url: string;
  arn: string;
  /** RedrivePolicy, parsed */
  deadLetterTargetArn?: string;
  maxReceiveCount?: number;
  kmsMasterKeyId?: string;
  sqsManagedSse: boolean;
  approxMessages: number;
}

export interface LambdaFacts {
  name: string;
  state?: string;
  lastUpdateStatus?: string;
  runtime?: string;
  /** published versions, ascending, without $LATEST */
  versions: string[];
  /** the alias, when it exists */
  alias?: { name: string; version: string };
  /** the function URL (of the alias when it has one, else of the function) */
  url?: string;
}

export interface ServiceFacts {
  cluster: string;
  name: string;
  status: string;
  desired: number;
  running: number;
  pending: number;
  launchType?: string;
  taskDefinition?: string;
}

/** A CloudWatch metric alarm as DescribeAlarms reports it. */
export interface AlarmFacts {
  name: string;
  /** OK | ALARM | INSUFFICIENT_DATA */
  state: string;
  reason?: string;
  /** when the state last changed, ISO 8601 */
  since?: string;
  actionsEnabled: boolean;
  /** where an ALARM transition notifies (SNS topic ARNs, …) */
  alarmActions: string[];
}

/** The worker's Application Auto Scaling target (ECS service desired count), when one exists. */
export interface ScalableTargetFacts {
  resourceId: string;
  min: number;
  max: number;
}

export interface LogScanBatch {
  group: string;
  /** events read in the window (at most the cap) */
  events: { timestamp: number; message: string }[];
  /** true when the cap stopped the read before the end of the window */
  truncated: boolean;
}

export interface HttpAnswer {
  status: number;
  contentType?: string;
  body: string;
}

export interface RolloutProbe {
  callerIdentity(): Promise<CallerIdentity>;
  kmsKey(ref: string): Promise<KmsKeyFacts | undefined>;
  secret(name: string): Promise<SecretFacts | undefined>;
  /** the AWSCURRENT SecretString of a *public* secret (the public-keys document) */
  publicSecretValue(name: string): Promise<string | undefined>;
  table(name: string): Promise<TableFacts | undefined>;
  /** up to `limit` items of a table (a bounded Scan), as plain JSON values */
  sampleItems(name: string, limit: number): Promise<Record<string, unknown>[] | undefined>;
  /**
   * The newest `perPartition` items of each partition (up to `maxPartitions`) of a table with a
   * numeric sort key: distinct partitions from a projected Scan, then a descending Query each.
   */
  newestItems(
    name: string,
    key: { partition: string; sort: string },
    perPartition: number,
    maxPartitions: number,
  ): Promise<Record<string, unknown>[] | undefined>;
  queue(name: string): Promise<QueueFacts | undefined>;
  logGroup(name: string): Promise<{ name: string; retentionDays?: number; kmsKeyId?: string } | undefined>;
  /** events of a log group since `sinceMs`, at most `cap` */
  logEvents(group: string, sinceMs: number, cap: number): Promise<LogScanBatch | undefined>;
  lambda(name: string, alias: string): Promise<LambdaFacts | undefined>;
  service(cluster: string, service: string): Promise<ServiceFacts | undefined>;
  /** the named metric alarms that exist (a name without an alarm is simply absent) */
  alarms(names: string[]): Promise<AlarmFacts[]>;
  /** the service's scalable target (Application Auto Scaling), undefined when it has none */
  scalableTarget(cluster: string, service: string): Promise<ScalableTargetFacts | undefined>;
  /** GET with a timeout; network failures are answers too (status 0 and the reason in body) */
  httpGet(url: string, timeoutMs: number, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** POST of `body` (application/octet-stream) with a timeout; failures as in httpGet */
  httpPost(url: string, timeoutMs: number, body: Uint8Array, headers?: Record<string, string>): Promise<HttpAnswer>;
  // rollback (the only writes)
  updateAlias(functionName: string, alias: string, version: string): Promise<void>;
  scaleService(cluster: string, service: string, desired: number): Promise<void>;
  /** sets the scalable target's min and max (Application Auto Scaling then keeps the count inside) */
  setScalingRange(cluster: string, service: string, min: number, max: number): Promise<void>;
}
