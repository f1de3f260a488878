// Least privilege derived from the code (issue 17 §1): the AWS calls each component's code can
// make, read from the source, compared with its role's policy in infra/ — nothing missing,
// nothing extra, on the named resources.
//
//   1. the adapters (src/aws): which SDK command each port method sends (DynamoTable.put →
//      PutItem, SqsQueue.send → SendMessage, SecretsManagerStore.get → GetSecretValue, …);
//   2. the components: which port methods their code calls on which resource (the proxy handler's
//      deps.requests.put, the worker pipeline's d.decisions.put, the audit chain through
//      TableAuditStore, the key ring's store calls, the KMS signer's calls, keys upload's store calls);
//   3. what AWS needs beyond the calls themselves (SSE-KMS on the queue, secrets and tables: the
//      caller's kms:Decrypt / kms:GenerateDataKey through the service; the Lambda runtime's logs);
//   4. the policy: the role's aws_iam_policy_document rendered with synthetic ARNs.
// A call added to the code without its permission, or a permission no call needs, fails here.
// Conditions are not compared here: test/integration/iam checks the code's real requests
// against them, infra-mutation.test.ts that each is present.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';
import { infraResolver, syntheticDeployment } from '../../helpers/infra-resolver.js';
import { renderPolicy } from '../../helpers/policy-render.js';
import { INFRA_DIR } from '../../helpers/terraform.js';
import { dataOf, loadInfra, type InfraModel } from './infra-model.js';

const src = (f: string) => readFile(join(repoRoot, f), 'utf8');

/** The body of `class NAME` (up to the next top-level `}`). */
function classBody(text: string, name: string): string {
  const start = text.indexOf(`export class ${name}`);
  if (start < 0) throw new Error(`class ${name} not found`);
  const end = text.indexOf('\n}\n', start);
  return text.slice(start, end < 0 ? undefined : end);
}

/** method name → the first captures of `re` inside that method (methods at two-space indentation). */
function perMethod(body: string, re: RegExp): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const line of body.split('\n')) {
    const m = /^ {2}(?:async |private |static )*([a-zA-Z]\w*)\(/.exec(line);
    if (m) current = m[1];
    for (const x of line.matchAll(re)) if (current) out.set(current, [...(out.get(current) ?? []), x[1]]);
  }
  return out;
}

/** Port method → IAM actions, from an adapter class: `new XCommand(` inside each method. */
async function adapter(file: string, cls: string, service: string): Promise<Map<string, string[]>> {
  const cmds = perMethod(classBody(await src(file), cls), /new (\w+)Command\(/g);
  return new Map([...cmds].map(([k, v]) => [k, v.map((c) => `${service}:${c}`)]));
}

/** Distinct captures of `re` in a source text (or in the part between two markers). */
async function calls(file: string, re: RegExp, from?: string, to?: string): Promise<string[]> {
  let text = await src(file);
  if (from) text = text.slice(text.indexOf(from), to ? text.indexOf(to, text.indexOf(from) + from.length) : undefined);
  return [...new Set([...text.matchAll(re)].map((m) => m[m.length - 1]))];
}

type Pair = `${string} on ${string}`;
const pair = (action: string, resource: string): Pair => `${action} on ${resource}`;

interface Adapters {
  table: Map<string, string[]>;
  queue: Map<string, string[]>;
  secrets: Map<string, string[]>;
  kms: Map<string, string[]>;
  /** the KMS signer's adapter (src/aws/kms-signer.ts KmsSigningKey) */
  signer: Map<string, string[]>;
  /** the checkpoint store (src/aws/checkpoint-store-s3.ts): API operation → IAM action (they differ for S3) */
  checkpoints: Map<string, string[]>;
}

/** S3 API operations → the IAM action that authorises them (Amazon S3 user guide, "Actions, resources and condition keys"). */
const S3_ACTION: Record<string, string> = {
  's3:PutObject': 's3:PutObject',
  's3:GetObject': 's3:GetObject',
  's3:ListObjectsV2': 's3:ListBucket',
  's3:ListObjectVersions': 's3:ListBucketVersions',
};

function through(a: Map<string, string[]>, methods: string[], resource: string, what: string): Pair[] {
  return methods.flatMap((m) => {
    const actions = a.get(m);
    if (!actions) throw new Error(`${what}: port method ${m} has no adapter command (the extraction is stale)`);
    return actions.map((x) => pair(x, resource));
  });
}

/** SSE-KMS (SQS, Secrets Manager, DynamoDB developer guides): what a call needs of the key. */
function impliedKms(pairs: Pair[]): Pair[] {
  const out = new Set<Pair>();
  for (const p of pairs) {
    const action = p.split(' on ')[0];
    if (action === 'sqs:SendMessage') out.add(pair('kms:GenerateDataKey', 'key')).add(pair('kms:Decrypt', 'key'));
    if (action === 'sqs:ReceiveMessage' || action === 'secretsmanager:GetSecretValue') out.add(pair('kms:Decrypt', 'key'));
    if (action === 'secretsmanager:PutSecretValue') out.add(pair('kms:GenerateDataKey', 'key'));
    if (/^dynamodb:(GetItem|Query)$/.test(action)) out.add(pair('kms:Decrypt', 'key'));
    if (/^dynamodb:(PutItem|UpdateItem)$/.test(action)) out.add(pair('kms:GenerateDataKey', 'key'));
    // SSE-KMS objects: a PUT needs a data key, a GET decrypts it
    if (action === 's3:PutObject') out.add(pair('kms:GenerateDataKey', 'key'));
    if (action === 's3:GetObject' || action === 's3:GetObjectVersion') out.add(pair('kms:Decrypt', 'key'));
  }
  return [...out];
}

/** What the code of each component calls, as IAM action on logical resource. */
async function codeCalls(a: Adapters): Promise<Record<'proxy' | 'worker' | 'operator' | 'breakGlass' | 'auditor', Pair[]>> {
  const handler = 'src/service/proxy/handler.ts';
  const tableCalls = (file: string, prefix: string, port: string) => calls(file, new RegExp(`\\b${prefix}\\.${port}\\.(\\w+)\\(`, 'g'));
  const proxy = [
    ...through(a.table, await tableCalls(handler, 'deps', 'requests'), 'table:requests', 'proxy'),
    ...through(a.table, await tableCalls(handler, 'deps', 'decisions'), 'table:decisions', 'proxy'),
    ...through(a.queue, await tableCalls(handler, 'deps', 'queue'), 'queue:requests', 'proxy'),
    // the public-keys document, read by proxyFromEnv's keys() (src/service/wiring.ts)
    ...through(a.secrets, await calls('src/service/wiring.ts', /\bstore\.(\w+)\(/g, 'export function proxyFromEnv', 'export function'), 'secret:public_keys', 'proxy'),
  ];
  // the audit chain calls AuditStore methods; TableAuditStore turns each into Table calls
  const auditStore = perMethod(classBody(await src('src/audit/audit-store.ts'), 'TableAuditStore'), /\bthis\.table\.(\w+)\(/g);
  const chainCalls = await calls('src/audit/audit-chain.ts', /\bthis\.opts\.store\.(\w+)\(/g);
  const auditTable = chainCalls.flatMap((m) => {
    const t = auditStore.get(m);
    if (!t) throw new Error(`audit-chain calls store.${m}, which TableAuditStore does not implement with table calls`);
    return t;
  });
  // SPEC 8.11: the checkpoint writer's store calls (registry/… and checkpoints/… objects; listing the bucket)
  const writerCalls = await calls('src/audit/checkpoint-writer.ts', /\bthis\.o\.store\.(\w+)\(/g);
  const objectScoped = (x: Pair): Pair => (x.startsWith('s3:ListBucket') ? x.replace(' on objects', ' on bucket:checkpoints') : x.replace(' on objects', ' on bucket:checkpoints/objects')) as Pair;
  const checkpointCalls = through(a.checkpoints, writerCalls, 'objects', 'worker').map(objectScoped);
  const pipeline = 'src/service/worker/pipeline.ts';
  // the audit-slot claims (audit-claim.ts): the requests table, and the audit store read back
  const claim = 'src/service/worker/audit-claim.ts';
  const claimAudit = (await calls(claim, /\bo\.store\.(\w+)\(/g)).flatMap((m) => {
    const t = auditStore.get(m);
    if (!t) throw new Error(`audit-claim calls store.${m}, which TableAuditStore does not implement with table calls`);
    return t;
  });
  const worker = [
    ...through(a.queue, await calls('src/service/worker/consumer.ts', /\bthis\.queue\.(\w+)\(/g), 'queue:requests', 'worker'),
    ...through(a.table, await tableCalls(pipeline, 'd', 'requests'), 'table:requests', 'worker'),
    ...through(a.table, await tableCalls(claim, 'o', 'requests'), 'table:requests', 'worker'),
    ...through(a.table, [...new Set(claimAudit)], 'table:audit_log', 'worker'),
    ...through(a.table, await tableCalls(pipeline, 'd', 'decisions'), 'table:decisions', 'worker'),
    ...through(a.table, [...new Set(auditTable)], 'table:audit_log', 'worker'),
    ...checkpointCalls,
    // the key ring's source: the key-set secret's labels, then each labelled version (src/aws/keyset-secret.ts)
    ...through(a.secrets, await calls('src/aws/keyset-secret.ts', /\bstore\.(\w+)\(/g, 'export class SecretsKeySetSource'), 'secret:private_key', 'worker'),
    // SIGNER=kms:<arn>: the KMS signer's calls on its key (src/aws/kms-signer.ts KmsSigner)
    ...through(a.signer, await calls('src/aws/kms-signer.ts', /\bkms\.(\w+)\(/g, 'export class KmsSigner '), 'key:signer', 'worker'),
  ];
  // `ima-qs keys upload|rotate|status` (src/aws/custody-upload.ts → key-custody.ts, custody-apply.ts, custody-status.ts):
  // metadata and writes only — no value is ever read back
  const custodyStore = [
    ...(await calls('src/aws/custody-upload.ts', /\bstore\.(\w+)\(/g)),
    ...(await calls('src/aws/key-custody.ts', /\bstore\.(\w+)\(/g)),
    ...(await calls('src/aws/custody-apply.ts', /\bstore\.(\w+)\(/g)),
    ...(await calls('src/aws/custody-status.ts', /\bstore\.(\w+)\(/g)),
  ];
  const operator = [
    ...through(a.kms, await calls('src/aws/custody-upload.ts', /\bkms\.(\w+)\(/g), 'key', 'operator'),
    ...through(a.secrets, [...new Set(custodyStore)], 'secret:private_key', 'operator'),
    ...through(a.secrets, [...new Set(custodyStore)], 'secret:public_keys', 'operator'),
  ];
  // `ima-qs keys fetch` (src/aws/custody-fetch.ts): break-glass recovery, the key set read back
  const breakGlass = through(a.secrets, await calls('src/aws/custody-fetch.ts', /\bstore\.(\w+)\(/g), 'secret:private_key', 'break-glass');
  // `ima-qs audit verify --table … --checkpoints s3://…`: the audit store's reads (src/audit, the command's
  // chain listing) and every version of the checkpoint store (checkpoint-verify.ts)
  const auditorStore = [
    ...(await calls('src/audit/audit-verify-run.ts', /\bstore\.(\w+)\(/g)),
    ...(await calls('src/audit/checkpoint-verify.ts', /\bstore\.(batches|get|range)\(/g)),
    ...(await calls('src/commands/audit-source.ts', /\bstore\.(chains)\(/g)),
  ];
  const auditorTable = [...new Set(auditorStore)].flatMap((m) => {
    const t = auditStore.get(m);
    if (!t) throw new Error(`audit verify calls store.${m}, which TableAuditStore does not implement with table calls`);
    return t;
  });
  const auditor = [
    ...through(a.table, [...new Set(auditorTable)], 'table:audit_log', 'auditor'),
    ...through(a.checkpoints, await calls('src/audit/checkpoint-verify.ts', /\bstore\.(versions|getVersion)\(/g), 'objects', 'auditor').map(
      (x): Pair => (x.startsWith('s3:ListBucket') ? (x.replace(' on objects', ' on bucket:checkpoints') as Pair) : (x.replace(' on objects', ' on bucket:checkpoints/all') as Pair)),
    ),
  ];
  return { proxy, worker, operator, breakGlass, auditor };
}

/** A deployment whose worker signs through KMS (variable signer_kms_key_arn). */
const SIGNER_VARS = { signer_kms_key_arn: 'arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555' };

/** The policy's (action, resource) pairs, resources named back from the synthetic ARNs. */
function policyPairs(m: InfraModel, doc: string, vars: Record<string, unknown> = {}): Pair[] {
  const d = syntheticDeployment({ vars });
  const names = new Map<string, string>([
    ...Object.entries(d.tables).map(([k, v]) => [v, `table:${k}`] as [string, string]),
    ...Object.entries(d.queues).map(([k, v]) => [v, `queue:${k}`] as [string, string]),
    ...Object.values(d.privateKeySecrets).map((v) => [v, 'secret:private_key'] as [string, string]),
    [d.publicKeysSecret, 'secret:public_keys'],
    [d.kmsKey, 'key'],
    [String(d.vars.signer_kms_key_arn ?? ''), 'key:signer'],
    ...Object.entries(d.logGroups).map(([k, v]) => [`${v}:log-stream:*`, `logs:${k}`] as [string, string]),
    ...Object.entries(d.buckets ?? {}).flatMap(([k, v]) => [[v, `bucket:${k}`], [`${v}/checkpoints/*`, `bucket:${k}/objects`], [`${v}/registry/*`, `bucket:${k}/objects`], [`${v}/keysets/*`, `bucket:${k}/objects`], [`${v}/*`, `bucket:${k}/all`]] as [string, string][]),
  ]);
  const p = renderPolicy(dataOf(m, 'aws_iam_policy_document').find((x) => x.name === doc)!, infraResolver(m, d));
  const out = new Set<Pair>();
  for (const s of p.Statement) {
    if (s.Effect !== 'Allow') continue;
    for (const a of s.Action ?? []) for (const r of s.Resource ?? []) out.add(pair(a, names.get(r) ?? `UNNAMED ${r}`));
  }
  return [...out];
}

const sorted = (x: Iterable<Pair>) => [...new Set(x)].sort();
const minus = (a: Pair[], b: Pair[]) => sorted(a.filter((x) => !b.includes(x)));

let model: InfraModel;
let code: Awaited<ReturnType<typeof codeCalls>>;
let adapters: Adapters;

beforeAll(async () => {
  model = await loadInfra(INFRA_DIR);
  adapters = {
    table: await adapter('src/aws/dynamo-table.ts', 'DynamoTable', 'dynamodb'),
    queue: await adapter('src/aws/sqs-queue.ts', 'SqsQueue', 'sqs'),
    secrets: await adapter('src/aws/secret-store.ts', 'SecretsManagerStore', 'secretsmanager'),
    kms: await adapter('src/aws/key-service.ts', 'KmsKeyService', 'kms'),
    signer: await adapter('src/aws/kms-signer.ts', 'KmsSigningKey', 'kms'),
    // a GetObject with a VersionId (getVersion) is authorised by s3:GetObjectVersion
    checkpoints: new Map([...(await adapter('src/aws/checkpoint-store-s3.ts', 'S3CheckpointStore', 's3'))].map(([k, v]) => [k, v.map((x) => (k === 'getVersion' && x === 's3:GetObject' ? 's3:GetObjectVersion' : (S3_ACTION[x] ?? `UNMAPPED ${x}`)))])),
  };
  code = await codeCalls(adapters);
});

describe('the SDK commands each component sends (read from src/)', () => {
  it('reads the adapters: each port method and its command', () => {
    expect(Object.fromEntries(adapters.table)).toEqual({
      put: ['dynamodb:PutItem'], get: ['dynamodb:GetItem'], query: ['dynamodb:Query'], update: ['dynamodb:UpdateItem'], deleteIf: ['dynamodb:DeleteItem'], partitions: ['dynamodb:Scan'],
    });
    expect(Object.fromEntries(adapters.queue)).toEqual({
      send: ['sqs:SendMessage'], receive: ['sqs:ReceiveMessage'], delete: ['sqs:DeleteMessage'], changeVisibility: ['sqs:ChangeMessageVisibility'],
    });
    expect(adapters.secrets.get('get')).toEqual(['secretsmanager:GetSecretValue']);
    expect(Object.fromEntries(adapters.checkpoints)).toEqual({
      putOnce: ['s3:PutObject'], get: ['s3:GetObject'], keys: ['s3:ListBucket'], versions: ['s3:ListBucketVersions'], getVersion: ['s3:GetObjectVersion'],
    });
    expect(adapters.secrets.get('putVersion')).toEqual(['secretsmanager:PutSecretValue']);
    expect(adapters.secrets.get('getVersion')).toEqual(['secretsmanager:GetSecretValue']);
    expect(Object.fromEntries(adapters.signer)).toEqual({ create: ['kms:CreateKey'], alias: ['kms:CreateAlias'], publicKey: ['kms:GetPublicKey'], signMu: ['kms:Sign'] });
  });

  it('the proxy: replay guard (undone on a failed enqueue) and polls on requests, reads decisions, sends to the queue, reads the public keys', () => {
    expect(sorted(code.proxy)).toEqual(sorted([
      pair('dynamodb:PutItem', 'table:requests'), pair('dynamodb:GetItem', 'table:requests'), pair('dynamodb:DeleteItem', 'table:requests'), pair('dynamodb:GetItem', 'table:decisions'),
      pair('sqs:SendMessage', 'queue:requests'), pair('secretsmanager:GetSecretValue', 'secret:public_keys'),
    ]));
  });

  it('the worker: consumes the queue, claims request ids and audit slots, stores decisions, appends audit entries and batch statements, writes registrations, checkpoints and the statements certifying its audit key, reads the key set, signs through KMS', () => {
    expect(sorted(code.worker)).toEqual(sorted([
      // SPEC 8.11: write once (If-None-Match), read back the newest checkpoint of its chain on start; never a delete
      pair('s3:PutObject', 'bucket:checkpoints/objects'), pair('s3:GetObject', 'bucket:checkpoints/objects'), pair('s3:ListBucket', 'bucket:checkpoints'),
      pair('sqs:ReceiveMessage', 'queue:requests'), pair('sqs:DeleteMessage', 'queue:requests'), pair('sqs:ChangeMessageVisibility', 'queue:requests'),
      pair('dynamodb:PutItem', 'table:requests'), pair('dynamodb:GetItem', 'table:requests'), pair('dynamodb:DeleteItem', 'table:requests'),
      pair('dynamodb:PutItem', 'table:decisions'), pair('dynamodb:GetItem', 'table:decisions'),
      pair('dynamodb:Query', 'table:audit_log'), pair('dynamodb:PutItem', 'table:audit_log'), pair('dynamodb:GetItem', 'table:audit_log'),
      pair('secretsmanager:DescribeSecret', 'secret:private_key'), pair('secretsmanager:GetSecretValue', 'secret:private_key'),
      pair('kms:GetPublicKey', 'key:signer'), pair('kms:Sign', 'key:signer'),
    ]));
  });

  it('the operator (keys upload|rotate|status): no GetSecretValue anywhere; the break-glass fetch reads the key set', () => {
    expect(code.operator.filter((x) => x.startsWith('secretsmanager:GetSecretValue'))).toEqual([]);
    expect(sorted(code.breakGlass)).toEqual(sorted([pair('secretsmanager:DescribeSecret', 'secret:private_key'), pair('secretsmanager:GetSecretValue', 'secret:private_key')]));
  });
});

describe('each role allows exactly what its code sends (infra/ policy documents)', () => {
  it('the proxy role (lambda): nothing missing, nothing extra', () => {
    const need = [...code.proxy, ...impliedKms(code.proxy), pair('logs:CreateLogStream', 'logs:lambda'), pair('logs:PutLogEvents', 'logs:lambda')];
    const have = policyPairs(model, 'lambda');
    expect({ missing: minus(need, have), extra: minus(have, need) }).toEqual({ missing: [], extra: [] });
  });

  it('the worker task role (with a KMS signer): nothing missing, nothing extra', () => {
    const need = [...code.worker, ...impliedKms(code.worker)];
    const have = policyPairs(model, 'worker_task', SIGNER_VARS);
    expect({ missing: minus(need, have), extra: minus(have, need) }).toEqual({ missing: [], extra: [] });
  });

  it('the worker task role without a KMS signer has no kms:Sign at all', () => {
    const have = policyPairs(model, 'worker_task');
    expect(have.filter((x) => x.startsWith('kms:Sign') || x.startsWith('kms:GetPublicKey'))).toEqual([]);
  });

  it('the key-operator policy: nothing extra; what keys upload sends beyond it is listed with its reason', () => {
    const have = policyPairs(model, 'key_operator');
    const need = [...code.operator, ...impliedKms(code.operator)];
    expect(minus(have, need), 'permissions no operator call needs').toEqual([]);
    // Sent by the code, refused by the policy on purpose (no GetSecretValue, no kms:Decrypt any
    // more: upload, rotate and status compare version ids from DescribeSecret):
    expect(minus(need, have)).toEqual(sorted([
      // Terraform creates the two containers with the module's key: an upload to this stack never
      // creates a secret or changes its key (key-custody.ts does both for a bare account)
      pair('secretsmanager:CreateSecret', 'secret:private_key'),
      pair('secretsmanager:CreateSecret', 'secret:public_keys'),
      pair('secretsmanager:UpdateSecret', 'secret:private_key'),
      pair('secretsmanager:UpdateSecret', 'secret:public_keys'),
    ]));
  });

  it('the break-glass role: exactly what keys fetch sends on the key set (and the audit repair)', () => {
    const need = [...code.breakGlass, ...impliedKms(code.breakGlass), pair('dynamodb:DeleteItem', 'table:audit_log')];
    const have = policyPairs(model, 'break_glass', { break_glass_principal_arns: ['arn:aws:iam::123456789012:user/alice'] });
    expect({ missing: minus(need, have), extra: minus(have, need) }).toEqual({ missing: [], extra: [] });
  });

  it('the audit-reader policy: exactly what audit verify --checkpoints reads (the table, every checkpoint version)', () => {
    expect(sorted(code.auditor)).toEqual(sorted([
      pair('dynamodb:Query', 'table:audit_log'), pair('dynamodb:GetItem', 'table:audit_log'), pair('dynamodb:Scan', 'table:audit_log'),
      pair('s3:ListBucketVersions', 'bucket:checkpoints'), pair('s3:GetObjectVersion', 'bucket:checkpoints/all'),
    ]));
    const need = [...code.auditor, ...impliedKms(code.auditor)];
    const have = policyPairs(model, 'audit_reader');
    expect({ missing: minus(need, have), extra: minus(have, need) }).toEqual({ missing: [], extra: [] });
  });

  it('fails on a permission no call needs (the comparison can fail)', () => {
    const need = [...code.worker, ...impliedKms(code.worker)];
    const have = [...policyPairs(model, 'worker_task', SIGNER_VARS), pair('dynamodb:DeleteItem', 'table:audit_log')];
    expect(minus(have, need)).toEqual([pair('dynamodb:DeleteItem', 'table:audit_log')]);
    expect(minus([...need, pair('sqs:SendMessage', 'queue:requests')], policyPairs(model, 'worker_task', SIGNER_VARS))).toEqual([pair('sqs:SendMessage', 'queue:requests')]);
  });
});
