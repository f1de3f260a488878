// The resource policies and trust policies moto does not evaluate (moto 5.2.1 ignores key
// policies except a Deny of DescribeKey, ignores secret resource policies, and skips every
// condition operator but StringEquals in trust policies): the KMS key policy, the private-key
// secrets' resource policy and the break-glass trust policy, rendered from infra/*.tf
// (test/helpers/policy-render.ts) and evaluated by test/helpers/policy-eval.ts against the
// principals and requests of the custody design. Each condition is then removed in a mutated copy
// of infra/ and a scenario that depended on it must flip.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyInfra, INFRA_DIR } from '../../helpers/terraform.js';
import { infraResolver, syntheticDeployment, type Deployment } from '../../helpers/infra-resolver.js';
import { evaluate, type Decision, type EvalRequest } from '../../helpers/policy-eval.js';
import { renderPolicy, type PolicyJson } from '../../helpers/policy-render.js';
import { dataOf, loadInfra, type InfraModel } from './infra-model.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ROLE = (n: string) => `arn:aws:iam::${ACCOUNT}:role/${n}`;
const PROXY = ROLE('ima-quantum-proxy');
const WORKER = ROLE('ima-quantum-worker-task');
const BREAK_GLASS = ROLE('ima-quantum-break-glass');
const OPERATOR = ROLE('key-operator');
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const via = (svc: string) => `${svc}.${REGION}.amazonaws.com`;

const deployment: Deployment = syntheticDeployment({
  region: REGION,
  account: ACCOUNT,
  roles: { lambda: PROXY, worker_task: WORKER, worker_execution: ROLE('ima-quantum-worker-execution'), break_glass: BREAK_GLASS },
  vars: { key_operator_arns: [OPERATOR], break_glass_principal_arns: [ALICE] },
});
const KEY = deployment.kmsKey;
const BUCKET = deployment.buckets!.checkpoints;
const SECRET = deployment.privateKeySecrets.keyset;

interface Scenario {
  name: string;
  doc: 'kms_key' | 'private_key_secret' | 'break_glass_assume' | 'checkpoint_bucket';
  req: EvalRequest;
  expect: Decision;
}

const kms = (who: string, action: string, context: EvalRequest['context'] = {}): EvalRequest => ({ action, resource: KEY, principal: { aws: who }, context });
const read = (who: string): EvalRequest => ({ action: 'secretsmanager:GetSecretValue', resource: SECRET, principal: { aws: who }, context: { 'aws:PrincipalArn': who } });

const SCENARIOS: Scenario[] = [
  // the key policy: no principal grants itself the key; operators never decrypt
  { name: 'an account administrator creates a grant for itself', doc: 'kms_key', req: kms(ROOT, 'kms:CreateGrant', { 'kms:GrantIsForAWSResource': false }), expect: 'implicit-deny' },
  { name: 'DynamoDB creates a grant for a table (on behalf of the account)', doc: 'kms_key', req: kms(ROOT, 'kms:CreateGrant', { 'kms:GrantIsForAWSResource': true }), expect: 'allow' },
  { name: 'an account administrator decrypts', doc: 'kms_key', req: kms(ROOT, 'kms:Decrypt', {}), expect: 'implicit-deny' },
  { name: 'an account administrator rewrites the key policy (not closed here: README)', doc: 'kms_key', req: kms(ROOT, 'kms:PutKeyPolicy'), expect: 'allow' },
  { name: 'an operator decrypts through Secrets Manager', doc: 'kms_key', req: kms(OPERATOR, 'kms:Decrypt', { 'kms:ViaService': via('secretsmanager') }), expect: 'implicit-deny' },
  { name: 'an operator encrypts a new version through Secrets Manager', doc: 'kms_key', req: kms(OPERATOR, 'kms:GenerateDataKey', { 'kms:ViaService': via('secretsmanager') }), expect: 'allow' },
  { name: 'an operator uses the key through SQS', doc: 'kms_key', req: kms(OPERATOR, 'kms:GenerateDataKey', { 'kms:ViaService': via('sqs') }), expect: 'implicit-deny' },
  {
    name: 'the worker decrypts a queue message',
    doc: 'kms_key',
    req: kms(WORKER, 'kms:Decrypt', { 'kms:ViaService': via('sqs'), 'kms:CallerAccount': ACCOUNT }),
    expect: 'allow',
  },
  { name: 'the worker calls Decrypt directly', doc: 'kms_key', req: kms(WORKER, 'kms:Decrypt', { 'kms:CallerAccount': ACCOUNT }), expect: 'implicit-deny' },
  { name: 'the break-glass role decrypts through Secrets Manager', doc: 'kms_key', req: kms(BREAK_GLASS, 'kms:Decrypt', { 'kms:ViaService': via('secretsmanager') }), expect: 'allow' },
  { name: 'the break-glass role decrypts through SQS', doc: 'kms_key', req: kms(BREAK_GLASS, 'kms:Decrypt', { 'kms:ViaService': via('sqs') }), expect: 'implicit-deny' },
  {
    name: 'CloudWatch Logs encrypts the proxy log group',
    doc: 'kms_key',
    req: { action: 'kms:GenerateDataKey', resource: KEY, principal: { service: `logs.${REGION}.amazonaws.com` }, context: { 'kms:EncryptionContext:aws:logs:arn': deployment.logGroups.lambda } },
    expect: 'allow',
  },
  {
    name: 'CloudWatch Logs encrypts another log group',
    doc: 'kms_key',
    req: { action: 'kms:GenerateDataKey', resource: KEY, principal: { service: `logs.${REGION}.amazonaws.com` }, context: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:other` } },
    expect: 'implicit-deny',
  },
  // the private-key secrets' resource policy: a Deny for all but the worker and break-glass
  { name: 'the worker reads a private key', doc: 'private_key_secret', req: read(WORKER), expect: 'implicit-deny' },
  { name: 'the break-glass role reads a private key', doc: 'private_key_secret', req: read(BREAK_GLASS), expect: 'implicit-deny' },
  { name: 'the proxy reads a private key', doc: 'private_key_secret', req: read(PROXY), expect: 'explicit-deny' },
  { name: 'an operator reads a private key', doc: 'private_key_secret', req: read(OPERATOR), expect: 'explicit-deny' },
  { name: 'an administrator user reads a private key', doc: 'private_key_secret', req: read(`arn:aws:iam::${ACCOUNT}:user/admin`), expect: 'explicit-deny' },
  // break-glass: named principals, MFA
  { name: 'alice assumes break-glass with MFA', doc: 'break_glass_assume', req: { action: 'sts:AssumeRole', resource: BREAK_GLASS, principal: { aws: ALICE }, context: { 'aws:MultiFactorAuthPresent': true } }, expect: 'allow' },
  { name: 'alice assumes break-glass without MFA', doc: 'break_glass_assume', req: { action: 'sts:AssumeRole', resource: BREAK_GLASS, principal: { aws: ALICE }, context: { 'aws:MultiFactorAuthPresent': false } }, expect: 'implicit-deny' },
  { name: 'an unnamed user assumes break-glass with MFA', doc: 'break_glass_assume', req: { action: 'sts:AssumeRole', resource: BREAK_GLASS, principal: { aws: `arn:aws:iam::${ACCOUNT}:user/mallory` }, context: { 'aws:MultiFactorAuthPresent': true } }, expect: 'implicit-deny' },
  // the checkpoint bucket (SPEC 8.11): a Deny of deletes and lock changes for all but break-glass
  { name: 'the worker deletes a checkpoint version', doc: 'checkpoint_bucket', req: s3(WORKER, 's3:DeleteObjectVersion', `${BUCKET}/checkpoints/x/000000000001.json`), expect: 'explicit-deny' },
  { name: 'an administrator adds a delete marker', doc: 'checkpoint_bucket', req: s3(`arn:aws:iam::${ACCOUNT}:user/admin`, 's3:DeleteObject', `${BUCKET}/registry/x.json`), expect: 'explicit-deny' },
  { name: 'an administrator bypasses governance retention', doc: 'checkpoint_bucket', req: s3(`arn:aws:iam::${ACCOUNT}:user/admin`, 's3:BypassGovernanceRetention', `${BUCKET}/checkpoints/x/000000000001.json`), expect: 'explicit-deny' },
  { name: 'an administrator changes the object lock configuration', doc: 'checkpoint_bucket', req: s3(ROOT, 's3:PutBucketObjectLockConfiguration', BUCKET), expect: 'explicit-deny' },
  { name: 'the break-glass role deletes a version (object lock still refuses a locked one)', doc: 'checkpoint_bucket', req: s3(BREAK_GLASS, 's3:DeleteObjectVersion', `${BUCKET}/checkpoints/x/000000000001.json`), expect: 'implicit-deny' },
  { name: 'the worker writes a checkpoint over TLS', doc: 'checkpoint_bucket', req: s3(WORKER, 's3:PutObject', `${BUCKET}/checkpoints/x/000000000002.json`), expect: 'implicit-deny' },
  { name: 'the worker writes a checkpoint without TLS', doc: 'checkpoint_bucket', req: s3(WORKER, 's3:PutObject', `${BUCKET}/checkpoints/x/000000000002.json`, false), expect: 'explicit-deny' },
];

function s3(who: string, action: string, resource: string, tls = true): EvalRequest {
  return { action, resource, principal: { aws: who }, context: { 'aws:PrincipalArn': who, 'aws:SecureTransport': tls } };
}

function policies(m: InfraModel): Record<Scenario['doc'], PolicyJson> {
  const resolve = infraResolver(m, deployment);
  const doc = (name: string) => renderPolicy(dataOf(m, 'aws_iam_policy_document').find((d) => d.name === name)!, resolve);
  return { kms_key: doc('kms_key'), private_key_secret: doc('private_key_secret'), break_glass_assume: doc('break_glass_assume'), checkpoint_bucket: doc('checkpoint_bucket') };
}

const outcomes = (m: InfraModel) => {
  const p = policies(m);
  return Object.fromEntries(SCENARIOS.map((s) => [s.name, evaluate(p[s.doc], s.req)]));
};

describe('the key policy, the secrets policy and the break-glass trust (rendered from infra/, evaluated)', () => {
  let actual: Record<string, Decision>;
  beforeAll(async () => {
    actual = outcomes(await loadInfra(INFRA_DIR));
  });
  it.each(SCENARIOS)('$name → $expect', (s) => {
    expect(actual[s.name]).toBe(s.expect);
  });
});

// Removing each condition in a copy of infra/ flips the scenario that depended on it.
const MUTATIONS: { name: string; file: string; from: RegExp; flips: string; to: Decision }[] = [
  { name: 'kms:GrantIsForAWSResource removed', file: 'kms.tf', from: /(sid\s+= "AccountCreatesGrantsForAwsServicesOnly"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'an account administrator creates a grant for itself', to: 'allow' },
  { name: "operators' kms:ViaService removed", file: 'kms.tf', from: /(sid\s+= "OperatorsUploadKeysViaSecretsManager"[\s\S]*?)condition \{[\s\S]*?\n      \}\n/, flips: 'an operator uses the key through SQS', to: 'allow' },
  { name: "the service roles' kms:ViaService removed", file: 'kms.tf', from: /(sid\s+= "ServiceRolesUseKeyViaServices"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'the worker calls Decrypt directly', to: 'allow' },
  { name: "break-glass's kms:ViaService removed", file: 'kms.tf', from: /(sid\s+= "BreakGlassDecryptsViaSecretsManager"[\s\S]*?)condition \{[\s\S]*?\n      \}\n/, flips: 'the break-glass role decrypts through SQS', to: 'allow' },
  { name: 'the log-group encryption context removed', file: 'kms.tf', from: /(sid\s+= "CloudWatchLogsEncryptsTheLogGroups"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'CloudWatch Logs encrypts another log group', to: 'allow' },
  { name: "the secret policy's aws:PrincipalArn condition removed", file: 'secrets.tf', from: /(sid\s+= "OnlyTheWorkerAndBreakGlassRead"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'the worker reads a private key', to: 'explicit-deny' },
  { name: "the bucket policy's break-glass exception removed", file: 'checkpoints.tf', from: /(sid\s+= "NoDeletesNoLockChangesButBreakGlass"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'the break-glass role deletes a version (object lock still refuses a locked one)', to: 'explicit-deny' },
  { name: "the bucket policy's TLS condition removed", file: 'checkpoints.tf', from: /(sid\s+= "TlsOnly"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'the worker writes a checkpoint over TLS', to: 'explicit-deny' },
  { name: 'MFA removed from the break-glass trust', file: 'custody.tf', from: /(sid\s+= "NamedPrincipalsWithMfa"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, flips: 'alice assumes break-glass without MFA', to: 'allow' },
];

describe('each condition matters (mutated copy of infra/)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await copyInfra('ima-qs-infra-policies-');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(MUTATIONS)('$name → "$flips" becomes $to', async (mu) => {
    const path = join(dir, mu.file);
    const original = await readFile(path, 'utf8');
    const mutated = original.replace(mu.from, '$1');
    expect(mutated, 'the mutation must change the file').not.toBe(original);
    await writeFile(path, mutated);
    try {
      expect(outcomes(await loadInfra(dir))[mu.flips]).toBe(mu.to);
    } finally {
      await writeFile(path, original);
    }
  });
});
