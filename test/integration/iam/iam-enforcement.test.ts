/**
 * Least privilege proven by enforcement (issue 17 §2): moto_server with IAM enforcement on,
 * each role created with the policy document from infra/*.tf (rendered by
 * test/helpers/policy-render.ts with the emulator's ARNs), its credentials from STS AssumeRole;
 * the proxy's and the worker's real code (src/service/wiring.ts, as in the Lambda and the
 * container) runs under its own role, and each forbidden action is refused.
 *
 * What moto 5.2.1 enforces, measured here and in the experiments behind infra/README.md:
 *   - identity policies (inline and managed) of IAM users and assumed roles: Action matching with
 *     wildcards, explicit Deny before Allow, every service's API (DynamoDB, SQS, Secrets Manager,
 *     KMS, Lambda, Logs, ECS, API Gateway v2, STS, IAM); moto names an action after the API
 *     operation (Lambda's Invoke is "lambda:Invoke", not IAM's lambda:InvokeFunction);
 *   - Resource: by itself only for SQS, IAM and STS (everything else is matched against "*", so a
 *     table- or secret-scoped Allow would deny everything); test/helpers/moto_iam_server.py gives
 *     moto the ARN of DynamoDB, Secrets Manager and KMS requests, and moto's own matcher does the rest;
 *   - trust policies on AssumeRole: the Principal (AWS ARNs), and of the condition operators only
 *     StringEquals (any other operator, e.g. Bool on aws:MultiFactorAuthPresent, is skipped);
 *   - NOT evaluated: any Condition in an identity policy (an Allow with conditions counts as
 *     unconditional, a Deny with conditions denies unconditionally), resource-based policies
 *     (secret policies, Lambda permissions; KMS key policies only for an explicit Deny of
 *     DescribeKey to "*"), and cross-service permissions (reading a KMS-encrypted secret needs no
 *     kms:Decrypt in moto).
 * So every condition key the roles use — dynamodb:LeadingKeys, dynamodb:Attributes,
 * dynamodb:ReturnValues, kms:ViaService, kms:CallerAccount, kms:GrantIsForAWSResource,
 * aws:PrincipalArn, aws:MultiFactorAuthPresent, aws:SourceAccount — is checked otherwise: the requests the code
 * sent here (recorded on the wire by test/helpers/aws-recorder.ts) are evaluated against the
 * rendered policies, conditions included, by test/helpers/policy-eval.ts; the resource policies
 * in test/unit/infra/infra-policies.test.ts; each condition's presence by a Terraform mutation
 * test (test/unit/infra/infra-mutation.test.ts, infra-policies.test.ts).
 */
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, ScanCommand, UpdateItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_KEYS_SUFFIX, secretName } from '../../../src/aws/secret-format.js';
import { keysetSecretName } from '../../../src/aws/keyset-secret.js';
import { uploadKeys } from '../../../src/aws/custody-upload.js';
import { fetchKeys } from '../../../src/aws/custody-fetch.js';
import { custodyStatus } from '../../../src/aws/custody-status.js';
import { KmsKeyService } from '../../../src/aws/key-service.js';
import { SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { generateServiceKeys } from '../../../src/keys/key-dir.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import type { ProxyHandler } from '../../../src/service/proxy/handler.js';
import { DEFAULT_TABLES } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { proxyFromEnv, workerFromEnv } from '../../../src/service/wiring.js';
import { startRecorder, type RecordedCall, type Recorder } from '../../helpers/aws-recorder.js';
import { infraResolver, type Deployment } from '../../helpers/infra-resolver.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { evaluate, type EvalRequest } from '../../helpers/policy-eval.js';
import { renderPolicy, type PolicyJson } from '../../helpers/policy-render.js';
import { INFRA_DIR } from '../../helpers/terraform.js';
import { waitFor } from '../../helpers/wait.js';
import { dataOf, loadInfra, type InfraModel } from '../../unit/infra/infra-model.js';
import { CLEAN_CODE, event, memoryLogger, openDecision, p, serviceFixture } from '../../unit/service/fixtures.js';
import { createAwsResources, PREFIX } from '../service/setup.js';

const REGION = 'eu-central-1';
/** SPEC 8.11: the Object Lock bucket of registrations and checkpoints (infra/checkpoints.tf) */
const BUCKET = 'ima-quantum-audit-checkpoints-iam-test';
const ACCOUNT = '123456789012'; // moto's default account
const f = serviceFixture();

type Who = 'proxy' | 'worker' | 'operator' | 'breakGlass';
interface Creds {
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SESSION_TOKEN?: string;
}

let moto: Moto;
let recorder: Recorder;
let model: InfraModel;
let deployment: Deployment;
let queueUrl: string;
let stateDir: string;
/** the calls the proxy and the worker made in the end-to-end flow */
let flowCalls: RecordedCall[] = [];
const policies = {} as Record<Who, PolicyJson>;
const creds = {} as Record<Who | 'harness' | 'outsider' | 'runner', Creds>;
const secretArns = new Map<string, string>(); // name → ARN

const clientConfig = (c: Creds, endpoint = moto.endpoint) => ({
  region: REGION,
  endpoint,
  maxAttempts: 1,
  credentials: { accessKeyId: c.AWS_ACCESS_KEY_ID, secretAccessKey: c.AWS_SECRET_ACCESS_KEY, ...(c.AWS_SESSION_TOKEN ? { sessionToken: c.AWS_SESSION_TOKEN } : {}) },
});
const admin: Creds = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
const doc = (name: string) => dataOf(model, 'aws_iam_policy_document').find((d) => d.name === name)!;

/**
 * 'allowed', or the error code of the refusal. The call goes through the recorder, which keeps the
 * code from the raw answer: moto answers an IAM refusal with an XML <ErrorResponse> (HTTP 403,
 * <Code>AccessDenied</Code>) even on the JSON protocols, which the SDK cannot parse.
 */
async function attempt(fn: () => Promise<unknown>): Promise<string> {
  const before = recorder.calls.length;
  try {
    await fn();
    return 'allowed';
  } catch (err) {
    const call = recorder.calls.slice(before).at(-1);
    return call?.errorCode ?? (err as { name?: string }).name ?? String(err);
  }
}
const DENIED = /^(AccessDenied|AccessDeniedException)$/;

beforeAll(async () => {
  model = await loadInfra(INFRA_DIR);
  moto = await startMoto({ iam: true });
  recorder = await startRecorder(moto.endpoint);
  stateDir = await mkdtemp(join(tmpdir(), 'ima-qs-iam-'));

  // ---- set-up, unchecked (the first requests): the stack's resources, users and roles ----
  const res = await createAwsResources(moto.env, f, { visibility: 30, maxReceiveCount: 5 });
  const s3Admin = new S3Client({ ...clientConfig(admin), forcePathStyle: true });
  await s3Admin.send(new CreateBucketCommand({ Bucket: BUCKET, ObjectLockEnabledForBucket: true, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await s3Admin.send(new PutObjectLockConfigurationCommand({ Bucket: BUCKET, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } } } }));
  queueUrl = res.queueUrl;
  const sqsAdmin = new SQSClient(clientConfig(admin));
  const queueArn = (await sqsAdmin.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const sm = new SecretsManagerClient(clientConfig(admin));
  for (const name of [keysetSecretName(PREFIX), secretName(PREFIX, PUBLIC_KEYS_SUFFIX)]) {
    secretArns.set(name, (await sm.send(new DescribeSecretCommand({ SecretId: name }))).ARN!);
  }
  const kmsKey = (await new KMSClient(clientConfig(admin)).send(new DescribeKeyCommand({ KeyId: (await sm.send(new DescribeSecretCommand({ SecretId: secretName(PREFIX, PUBLIC_KEYS_SUFFIX) }))).KmsKeyId! }))).KeyMetadata!.Arn!;
  const iam = new IAMClient(clientConfig(admin));
  const user = async (name: string, statements: unknown[]): Promise<Creds> => {
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    return { AWS_ACCESS_KEY_ID: k.AccessKeyId!, AWS_SECRET_ACCESS_KEY: k.SecretAccessKey! };
  };
  creds.harness = await user('harness', [{ Effect: 'Allow', Action: '*', Resource: '*' }]);
  creds.runner = await user('runner', [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }]);
  creds.outsider = await user('outsider', [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }]);
  const runnerArn = `arn:aws:iam::${ACCOUNT}:user/runner`;
  const roleArn = (n: string) => `arn:aws:iam::${ACCOUNT}:role/${n}`;
  const privateKeySecrets = { keyset: secretArns.get(keysetSecretName(PREFIX))! };
  deployment = {
    region: REGION,
    account: ACCOUNT,
    tables: Object.fromEntries(Object.entries({ audit_log: DEFAULT_TABLES.audit, decisions: DEFAULT_TABLES.decisions, requests: DEFAULT_TABLES.requests }).map(([k, n]) => [k, `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${n}`])),
    queues: { requests: queueArn },
    privateKeySecrets,
    publicKeysSecret: secretArns.get(secretName(PREFIX, PUBLIC_KEYS_SUFFIX))!,
    kmsKey,
    roles: { lambda: roleArn('proxy'), worker_task: roleArn('worker'), break_glass: roleArn('break-glass') },
    logGroups: { lambda: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/ima-quantum-proxy`, worker: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/ecs/ima-quantum-worker` },
    buckets: { checkpoints: `arn:aws:s3:::${BUCKET}` },
    vars: { key_operator_arns: [roleArn('operator')], break_glass_principal_arns: [runnerArn] },
  };
  const resolve = infraResolver(model, deployment);
  // the services' trust policies name lambda.amazonaws.com / ecs-tasks.amazonaws.com, which a test
  // cannot be: those roles trust the runner user; the break-glass role keeps its own trust policy
  const runnerTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: runnerArn }, Action: 'sts:AssumeRole' }] });
  const roles: [Who, string, string, string][] = [
    ['proxy', 'proxy', 'lambda', runnerTrust],
    ['worker', 'worker', 'worker_task', runnerTrust],
    ['operator', 'operator', 'key_operator', runnerTrust],
    ['breakGlass', 'break-glass', 'break_glass', JSON.stringify(renderPolicy(doc('break_glass_assume'), resolve))],
  ];
  for (const [who, name, docName, trust] of roles) {
    policies[who] = renderPolicy(doc(docName), resolve);
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: docName, PolicyDocument: JSON.stringify(policies[who]) }));
  }

  // ---- from here every request is checked ----
  await moto.enforceIam();
  const sts = new STSClient(clientConfig(creds.runner));
  for (const [who, name] of roles) {
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: roleArn(name), RoleSessionName: `test-${name}` }))).Credentials!;
    creds[who] = { AWS_ACCESS_KEY_ID: c.AccessKeyId!, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey!, AWS_SESSION_TOKEN: c.SessionToken! };
  }
}, 120_000);

afterAll(async () => {
  await recorder?.stop();
  await moto?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** The environment the Lambda / the task would get, with a role's credentials, through the recorder. */
function serviceEnv(who: Who): Record<string, string> {
  return {
    ...creds[who],
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: recorder.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1',
    QUEUE_URL: queueUrl,
    REQUESTS_TABLE: DEFAULT_TABLES.requests,
    DECISIONS_TABLE: DEFAULT_TABLES.decisions,
    AUDIT_TABLE: DEFAULT_TABLES.audit,
    PUBLIC_KEYS_SECRET: secretName(PREFIX, PUBLIC_KEYS_SUFFIX),
    KEYS_SECRET_PREFIX: PREFIX,
    IMA_QS_PCR_ANCHOR: `simulated:${join(stateDir, 'pcr.json')}`,
    AUDIT_CHAIN_ID: 'iam-test',
    WORKER_PIPELINES: '1',
    AUDIT_CHECKPOINTS: `s3://${BUCKET}`,
    AWS_ENDPOINT_URL_S3: recorder.endpoint,
    VISIBILITY_SECONDS: '30',
    WAIT_SECONDS: '1',
  };
}

/** An SDK client with a role's (or user's) credentials, through the recorder. */
const client = <T>(C: new (cfg: ReturnType<typeof clientConfig>) => T, who: keyof typeof creds) => new C(clientConfig(creds[who], recorder.endpoint));

describe('the roles from infra/ under moto IAM enforcement', () => {
  let proxy: ProxyHandler;
  let handle: string;

  it('the proxy accepts a sealed request with its own role (replay guard, queue, public keys)', async () => {
    proxy = proxyFromEnv(serviceEnv('proxy'));
    const keys = await proxy(event('GET', '/api/keys'));
    expect(keys.statusCode).toBe(200);
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'input.txt', content: CLEAN_CODE });
    const out = await proxy(event('POST', '/api/analyze', { body: r.sealed }));
    expect(out.statusCode, out.body).toBe(202);
    handle = r.handle;
    const pending = await proxyFromEnv(serviceEnv('proxy'))(event('GET', `/api/decisions/${handle}`)); // a fresh instance reads req#
    expect(pending.statusCode).toBe(202);

    // …and the worker decides it with its own role (private keys, queue, claim, audit, decision)
    const w = await workerFromEnv(serviceEnv('worker'), memoryLogger());
    w.consumer.start();
    try {
      const done = await waitFor(async () => {
        const d = await proxy(event('GET', `/api/decisions/${handle}`));
        return d.statusCode === 200 ? d : undefined;
      }, 'the decision');
      const v = verifyResponse(p, openDecision(done.body!, r.replyKey), f.pin, { requestDigest: r.handle });
      expect(v.checks.filter((c) => !c.ok)).toEqual([]);
    } finally {
      w.ring.stop();
      await w.consumer.stop();
      // SPEC 8.11: the final checkpoint, written under the worker's own role
      const final = await w.checkpoints!.stop();
      expect(final.failed).toEqual([]);
      expect(final.written).toBe(1);
      await w.close();
      // the consumer's last long poll was aborted on our side; moto still answers it
      await recorder.idle();
    }
    // nothing the two sent was refused
    flowCalls = [...recorder.calls];
    const refused = flowCalls.filter((c) => c.status >= 400).map((c) => `${c.operation} ${c.status} ${c.errorCode}`);
    expect(refused).toEqual([]);
    expect(new Set(flowCalls.map((c) => c.operation))).toEqual(
      new Set(['GetSecretValue', 'DescribeSecret', 'PutItem', 'SendMessage', 'GetItem', 'ReceiveMessage', 'Query', 'DeleteMessage', 'PutObject', 'ListObjectsV2']),
    );
  }, 120_000);

  it('every request the code sent satisfies its role policy with the conditions evaluated (LeadingKeys, Attributes, ReturnValues)', () => {
    const byKey = new Map<string, Who>([[creds.proxy.AWS_ACCESS_KEY_ID, 'proxy'], [creds.worker.AWS_ACCESS_KEY_ID, 'worker']]);
    const seen = new Set<string>();
    expect(flowCalls.length).toBeGreaterThan(0);
    for (const call of flowCalls) {
      const who = byKey.get(call.accessKeyId);
      expect(who, `a call signed by an unknown key: ${call.operation}`).toBeDefined();
      const req = toEvalRequest(call);
      expect(evaluate(policies[who!], req), `${who} ${req.action} ${JSON.stringify(req.context)}`).toBe('allow');
      seen.add(`${who} ${req.action}`);
    }
    // the conditioned statements were exercised
    for (const x of ['proxy dynamodb:PutItem', 'worker dynamodb:PutItem', 'worker s3:PutObject', 'worker s3:ListBucket']) expect(seen).toContain(x);
    // the worker's audit-slot claim (aud#<handle>) went through its own statement
    expect(flowCalls.some((c) => c.operation === 'PutItem' && JSON.stringify(c.input).includes('"aud#'))).toBe(true);
  });

  it('the proxy cannot plant a decision or a refusal, read a private key, or consume the queue', async () => {
    const ddb = client(DynamoDBClient, 'proxy');
    expect(await attempt(() => ddb.send(new PutItemCommand({ TableName: DEFAULT_TABLES.decisions, Item: { id: { S: handle }, status: { S: 'rejected' }, code: { S: 'FORGED' } } })))).toMatch(DENIED);
    expect(await attempt(() => ddb.send(new UpdateItemCommand({ TableName: DEFAULT_TABLES.decisions, Key: { id: { S: handle } }, UpdateExpression: 'SET #s = :v', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':v': { S: 'rejected' } } })))).toMatch(DENIED);
    // it may delete only its own replay guard (req#, undone on a failed enqueue, SPEC 8.2), never a worker's rid# claim
    // (moto does not evaluate LeadingKeys: the evaluator does)
    expect(evaluate(policies.proxy, { action: 'dynamodb:DeleteItem', resource: deployment.tables.requests, context: { 'dynamodb:LeadingKeys': [`rid#${handle}`] } })).toBe('implicit-deny');
    expect(evaluate(policies.proxy, { action: 'dynamodb:DeleteItem', resource: deployment.tables.requests, context: { 'dynamodb:LeadingKeys': [`req#${handle}`] } })).toBe('allow');
    expect(await attempt(() => ddb.send(new PutItemCommand({ TableName: DEFAULT_TABLES.audit, Item: { chain: { S: 'x' }, seq: { N: '0' } } })))).toMatch(DENIED);
    const sm = client(SecretsManagerClient, 'proxy');
    expect(await attempt(() => sm.send(new GetSecretValueCommand({ SecretId: keysetSecretName(PREFIX) })))).toMatch(DENIED);
    const sqs = client(SQSClient, 'proxy');
    expect(await attempt(() => sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 })))).toMatch(DENIED);
  });

  it('the worker cannot delete or scan audit entries, enqueue, or touch another table', async () => {
    const ddb = client(DynamoDBClient, 'worker');
    expect(await attempt(() => ddb.send(new DeleteItemCommand({ TableName: DEFAULT_TABLES.audit, Key: { chain: { S: 'iam-test/0' }, seq: { N: '0' } } })))).toMatch(DENIED);
    expect(await attempt(() => ddb.send(new ScanCommand({ TableName: DEFAULT_TABLES.audit })))).toMatch(DENIED);
    expect(await attempt(() => ddb.send(new DeleteItemCommand({ TableName: DEFAULT_TABLES.decisions, Key: { id: { S: handle } } })))).toMatch(DENIED);
    const sqs = client(SQSClient, 'worker');
    expect(await attempt(() => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{}' })))).toMatch(DENIED);
    // it may delete only a stale audit-slot claim of its own kind (aud#, taken over after a lease,
    // SPEC 8.7), never the proxy's replay guard or a request-id claim (the evaluator checks LeadingKeys)
    const del = (key: string) => evaluate(policies.worker, { action: 'dynamodb:DeleteItem', resource: deployment.tables.requests, context: { 'dynamodb:LeadingKeys': [key] } });
    expect(del(`aud#${handle}`)).toBe('allow');
    expect(del(`req#${handle}`)).toBe('implicit-deny');
    expect(del('rid#x')).toBe('implicit-deny');
    // the audit entry is still there (read with the harness user)
    const item = await client(DynamoDBClient, 'harness').send(new GetItemCommand({ TableName: DEFAULT_TABLES.audit, Key: { chain: { S: 'iam-test/0' }, seq: { N: '0' } } }));
    expect(item.Item?.core?.S).toBeDefined();
    const batch = await client(DynamoDBClient, 'harness').send(new GetItemCommand({ TableName: DEFAULT_TABLES.audit, Key: { chain: { S: 'iam-test/0#batches' }, seq: { N: '0' } } }));
    expect(batch.Item?.statement?.S).toBeDefined();
  });

  it('the worker writes checkpoints but cannot delete or update an audit item, nor delete or overwrite a checkpoint (role and Object Lock)', async () => {
    const ddb = client(DynamoDBClient, 'worker');
    // issue 14 item 4: PutItem only; no UpdateItem, no DeleteItem on the audit table
    expect(await attempt(() => ddb.send(new UpdateItemCommand({ TableName: DEFAULT_TABLES.audit, Key: { chain: { S: 'iam-test/0' }, seq: { N: '0' } }, UpdateExpression: 'SET #c = :v', ExpressionAttributeNames: { '#c': 'core' }, ExpressionAttributeValues: { ':v': { S: 'x' } } })))).toMatch(DENIED);
    expect(await attempt(() => ddb.send(new DeleteItemCommand({ TableName: DEFAULT_TABLES.audit, Key: { chain: { S: 'iam-test/0#batches' }, seq: { N: '0' } } })))).toMatch(DENIED);
    const harness = new S3Client({ ...clientConfig(creds.harness, recorder.endpoint), forcePathStyle: true });
    const versions = await harness.send(new ListObjectVersionsCommand({ Bucket: BUCKET }));
    const keys = (versions.Versions ?? []).map((v) => v.Key).sort();
    // the one pipeline's chain iam-test/0 (SPEC §8.11: the id URI-encoded in the key), its registration, and the root-signed statement that certifies the audit key
    expect(keys).toEqual(['checkpoints/iam-test%2F0/000000000000.json', expect.stringMatching(/^keysets\/g000000001-[0-9a-f]{48}\.json$/), 'registry/iam-test%2F0.json']);
    const s3w = new S3Client({ ...clientConfig(creds.worker, recorder.endpoint), forcePathStyle: true });
    const cp = (versions.Versions ?? []).find((v) => v.Key!.startsWith('checkpoints/'))!;
    // the role: no DeleteObject at all (with or without a version id)
    expect(await attempt(() => s3w.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: cp.Key! })))).toMatch(DENIED);
    expect(await attempt(() => s3w.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: cp.Key!, VersionId: cp.VersionId! })))).toMatch(DENIED);
    // nor a write outside registry/, checkpoints/ and keysets/
    expect(await attempt(() => s3w.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'elsewhere/x.json', Body: '{}' })))).toMatch(DENIED);
    // Object Lock (compliance): even a principal that may delete cannot remove the locked version
    expect(await attempt(() => harness.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: cp.Key!, VersionId: cp.VersionId! })))).toMatch(DENIED);
    // an overwrite by the worker's role is allowed by IAM, but only adds a version: the first stays
    expect(await attempt(() => s3w.send(new PutObjectCommand({ Bucket: BUCKET, Key: cp.Key!, Body: '{"forged":true}' })))).toBe('allowed');
    const after = await harness.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: cp.Key! }));
    expect((after.Versions ?? []).map((v) => v.VersionId)).toContain(cp.VersionId);
    expect(after.Versions).toHaveLength(2);
  });

  it('an operator rotates the key set with its own role and reads no secret back (the custody rule)', async () => {
    const sm = client(SecretsManagerClient, 'operator');
    const priv = keysetSecretName(PREFIX);
    expect(await attempt(() => sm.send(new GetSecretValueCommand({ SecretId: priv })))).toMatch(DENIED);
    expect(await attempt(() => sm.send(new GetSecretValueCommand({ SecretId: secretName(PREFIX, PUBLIC_KEYS_SUFFIX) })))).toMatch(DENIED);
    expect(await attempt(() => client(KMSClient, 'operator').send(new DescribeKeyCommand({ KeyId: deployment.kmsKey })))).toBe('allowed');
    // the real keys rotate code under the operator role: publish generation 2 (metadata + writes only)
    const g2 = join(stateDir, 'gen2');
    await writeCertifiedKeyDir(p, g2, join(stateDir, 'gen2-root-unused'), { keys: generateServiceKeys(p), root: f.rootKey, previous: f.keyset });
    const ports = { store: new SecretsManagerStore(sm), kms: new KmsKeyService(client(KMSClient, 'operator')), p, now: () => new Date() };
    const before = recorder.calls.length;
    const r = await uploadKeys(ports, { dir: g2, prefix: PREFIX, kmsKeyRef: deployment.kmsKey, mode: 'rotate', dryRun: false, confirm: async () => true });
    expect(r.plan.refused).toBeUndefined();
    expect(r.plan.phase).toBe('publish');
    expect(r.readBack?.every((b) => b.ok)).toBe(true);
    const st = await custodyStatus(p, ports.store, PREFIX);
    expect(st.keyset).toMatchObject({ current: 1, pending: 2 });
    // the operator's own calls (an earlier test's worker may still finish its aborted long poll on the wire)
    const ops = recorder.calls.slice(before).filter((c) => c.accessKeyId === creds.operator.AWS_ACCESS_KEY_ID);
    expect(ops.filter((c) => c.status >= 400).map((c) => `${c.operation} ${c.errorCode}`)).toEqual([]);
    expect(new Set(ops.map((c) => c.operation))).toEqual(new Set(['DescribeKey', 'DescribeSecret', 'PutSecretValue', 'TagResource']));
    for (const c of ops) expect(evaluate(policies.operator, toEvalRequest(c)), c.operation).toBe('allow');
    // keys fetch is break-glass: refused to the operator (moto answers the denial in XML, which the
    // SDK cannot parse: the recorder reads the error code off the wire)
    expect(await attempt(() => fetchKeys({ store: ports.store, p }, { prefix: PREFIX, out: join(stateDir, 'stolen'), force: false }))).toMatch(DENIED);
  });

  it('only the break-glass role recovers a private key or deletes an audit item, and only its named principals assume it', async () => {
    const sm = client(SecretsManagerClient, 'breakGlass');
    const recovered = await fetchKeys({ store: new SecretsManagerStore(sm), p }, { prefix: PREFIX, out: join(stateDir, 'recovered'), force: false });
    expect(recovered.generation).toBe(1);
    const ddb = client(DynamoDBClient, 'breakGlass');
    expect(await attempt(() => ddb.send(new DeleteItemCommand({ TableName: DEFAULT_TABLES.audit, Key: { chain: { S: 'no-such-chain' }, seq: { N: '0' } } })))).toBe('allowed');
    expect(await attempt(() => ddb.send(new PutItemCommand({ TableName: DEFAULT_TABLES.decisions, Item: { id: { S: 'x' } } })))).toMatch(DENIED);
    const outsider = new STSClient(clientConfig(creds.outsider, recorder.endpoint));
    expect(await attempt(() => outsider.send(new AssumeRoleCommand({ RoleArn: deployment.roles.break_glass!, RoleSessionName: 'outsider' })))).toMatch(DENIED);
  });

  it('moto does not evaluate conditions: what the evaluator refuses, moto lets through (why the evaluator is needed)', async () => {
    // the worker writing an entry with an unsigned per-entry anchor: moto allows it (no dynamodb:Attributes), the policy does not
    const planted: EvalRequest = {
      action: 'dynamodb:PutItem',
      resource: deployment.tables.audit_log,
      context: { 'dynamodb:LeadingKeys': ['iam-test'], 'dynamodb:Attributes': ['chain', 'seq', 'core', 'anchor'], 'dynamodb:ReturnValues': 'NONE' },
    };
    expect(evaluate(policies.worker, planted)).toBe('implicit-deny');
    const moved = await attempt(() =>
      client(DynamoDBClient, 'worker').send(
        new PutItemCommand({ TableName: DEFAULT_TABLES.audit, Item: { chain: { S: 'moto-canary' }, seq: { N: '0' }, core: { S: 'x' }, anchor: { S: '{}' } } }),
      ),
    );
    expect(moved).toBe('allowed');
    // the proxy writing a worker's rid# claim: the same
    const claim: EvalRequest = { action: 'dynamodb:PutItem', resource: deployment.tables.requests, context: { 'dynamodb:LeadingKeys': ['rid#x'], 'dynamodb:Attributes': ['id', 'handle'], 'dynamodb:ReturnValues': 'NONE' } };
    expect(evaluate(policies.proxy, claim)).toBe('implicit-deny');
    expect(await attempt(() => client(DynamoDBClient, 'proxy').send(new PutItemCommand({ TableName: DEFAULT_TABLES.requests, Item: { id: { S: 'rid#moto-canary' }, handle: { S: 'x' } } })))).toBe('allowed');
  });
});

// ---- the request context of a recorded call, as IAM would see it --------------------------------

const KEY_OF: Record<string, string> = { [DEFAULT_TABLES.requests]: 'id', [DEFAULT_TABLES.decisions]: 'id', [DEFAULT_TABLES.audit]: 'chain' };
const DDB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

function toEvalRequest(call: RecordedCall): EvalRequest {
  const i = call.input as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (call.service.startsWith('DynamoDB')) {
    const table = String(i.TableName);
    const pk = KEY_OF[table];
    // the partition key: in Key / Item, or a Query's `#pk = :pk`
    const leading = i.Key?.[pk]?.S ?? i.Item?.[pk]?.S ?? (i.KeyConditionExpression ? i.ExpressionAttributeValues?.[':pk']?.S : undefined);
    const attributes = new Set<string>([...Object.keys(i.Item ?? {}), ...Object.keys(i.Key ?? {}), ...Object.values((i.ExpressionAttributeNames ?? {}) as Record<string, string>)]);
    const context: EvalRequest['context'] = { 'dynamodb:Attributes': [...attributes] };
    if (leading !== undefined) context['dynamodb:LeadingKeys'] = [String(leading)];
    // "the ReturnValues parameter always has a value (NONE unless otherwise specified)" (DynamoDB guide)
    if (DDB_WRITES.has(call.operation)) context['dynamodb:ReturnValues'] = String(i.ReturnValues ?? 'NONE');
    if (i.Select) context['dynamodb:Select'] = String(i.Select);
    return { action: `dynamodb:${call.operation}`, resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`, context };
  }
  if (call.service === 'AmazonSQS') return { action: `sqs:${call.operation}`, resource: deployment.queues.requests, context: {} };
  if (call.service === 's3') {
    // S3 API → IAM action (S3 user guide: ListObjectsV2 is s3:ListBucket, with s3:prefix)
    const bucket = `arn:aws:s3:::${String(i.Bucket)}`;
    if (call.operation === 'ListObjectsV2') return { action: 's3:ListBucket', resource: bucket, context: { 's3:prefix': String(i.prefix ?? '') } };
    if (call.operation === 'PutObject' || call.operation === 'GetObject') return { action: `s3:${call.operation}`, resource: `${bucket}/${String(i.Key)}`, context: {} };
  }
  if (call.service === 'secretsmanager') {
    const id = String(i.SecretId);
    return { action: `secretsmanager:${call.operation}`, resource: secretArns.get(id) ?? id, context: {} };
  }
  if (call.service === 'TrentService') return { action: `kms:${call.operation}`, resource: String(i.KeyId), context: {} };
  throw new Error(`no request context for ${call.service}.${call.operation}`);
}
