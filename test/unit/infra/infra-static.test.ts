// Static checks of infra/*.tf (always run): every property of issue 8 part 1, through the same
// checkInfra() that the mutation test proves can fail.
import { beforeAll, describe, expect, it } from 'vitest';
import { INFRA_DIR } from '../../helpers/terraform.js';
import { acceptsVersion, checkInfra, EXPECTED, type Finding } from './infra-checks.js';
import { dataOf, loadInfra, resolvedNames, resourcesOf, statementsOf, stringList, type InfraModel } from './infra-model.js';

let model: InfraModel;
let findings: Finding[];
const findingsOf = (check: string) => findings.filter((f) => f.check === check);

beforeAll(async () => {
  model = await loadInfra(INFRA_DIR);
  findings = checkInfra(model);
});

describe('infra/ parsed file by file with @cdktn/hcl2json', () => {
  it('splits the configuration by concern', () => {
    for (const f of ['versions.tf', 'variables.tf', 'outputs.tf', 'kms.tf', 'secrets.tf', 'dynamodb.tf', 'sqs.tf', 'logs.tf', 'iam.tf', 'lambda.tf', 'ecs.tf', 'autoscaling.tf', 'alarms.tf']) {
      expect(model.files).toContain(f);
    }
  });

  it('has no finding at all', () => {
    expect(findings).toEqual([]);
  });

  it.each([
    'inventory', 'gating', 'kms.rotation', 'kms.policy', 'dynamodb.billing', 'dynamodb.pitr', 'dynamodb.sse', 'dynamodb.ttl',
    'dynamodb.schema', 'dynamodb.deletion-protection', 'sqs.sse', 'sqs.redrive', 'sqs.long-polling', 'sqs.dlq-retention',
    'logs.retention', 'logs.kms', 'iam.documents-only', 'iam.no-wildcard-actions', 'iam.scoped-resources', 'iam.kms-via-service',
    'iam.lambda-no-private-keys', 'lambda.runtime', 'lambda.arm64', 'lambda.versions', 'lambda.alias', 'ecs.hardening', 'tpm.explicit', 'versions',
    'api.auth', 'api.throttling', 'api.cors', 'lambda.reserved-concurrency', 'lambda.permission-scoped', 'kms.grants', 'kms.decrypters',
    'iam.audit-append-only', 'iam.proxy-writes', 'secrets.resource-policy', 'custody.operators', 'custody.break-glass',
    'autoscaling.target', 'autoscaling.policy', 'autoscaling.container-insights', 'autoscaling.desired-count', 'ecs.stop-timeout',
    'alarms.inventory', 'alarms.actions', 'alarms.missing-data',
  ])('property %s holds', (check) => {
    expect(findingsOf(check)).toEqual([]);
  });
});

describe('the resources the seed lists, by the names the CLI uses', () => {
  it('has the 3 private-key secrets and the public-keys document under ima/quantum', () => {
    const names = resourcesOf(model, 'aws_secretsmanager_secret').flatMap((r) => resolvedNames(model, r));
    expect(names.sort()).toEqual([...EXPECTED.secrets].sort());
  });

  it('has exactly the 3 tables', () => {
    const names = resourcesOf(model, 'aws_dynamodb_table').flatMap((r) => resolvedNames(model, r));
    expect(names.sort()).toEqual([...EXPECTED.tables].sort());
  });

  it('puts no secret value in Terraform (values come from ima-qs keys upload)', () => {
    expect(resourcesOf(model, 'aws_secretsmanager_secret_version')).toEqual([]);
  });

  it('has an IAM role and policy for the Lambda and for the Fargate task', () => {
    const policies = resourcesOf(model, 'aws_iam_role_policy').map((p) => String(p.body.role));
    expect(policies.some((r) => r.includes('aws_iam_role.lambda'))).toBe(true);
    expect(policies.some((r) => r.includes('aws_iam_role.worker_task'))).toBe(true);
  });
});

describe('least privilege in detail', () => {
  const actionsOf = (doc: string) => statementsOf(dataOf(model, 'aws_iam_policy_document').find((d) => d.name === doc)!).flatMap((s) => stringList(s.actions));

  it('gives the proxy only send, put/get (and delete of its own replay guard), one secret read and key use', () => {
    expect(new Set(actionsOf('lambda'))).toEqual(new Set([
      'sqs:SendMessage', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'secretsmanager:GetSecretValue', 'kms:Decrypt', 'kms:GenerateDataKey',
      'logs:CreateLogStream', 'logs:PutLogEvents',
    ]));
  });

  it('gives the worker the queue consumer actions and the private keys', () => {
    const a = actionsOf('worker_task');
    for (const x of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'secretsmanager:GetSecretValue', 'kms:Decrypt']) {
      expect(a).toContain(x);
    }
    expect(a.some((x) => x.startsWith('dynamodb:Scan'))).toBe(false);
    // a delete only of its own stale audit-slot claims (aud#, SPEC §8.7), never of an entry or a decision
    const deletes = statementsOf(dataOf(model, 'aws_iam_policy_document').find((d) => d.name === 'worker_task')!).filter((s) => stringList(s.actions).some((x) => x.startsWith('dynamodb:Delete')));
    expect(deletes.map((s) => s.sid)).toEqual(['ClaimAuditSlots']);
    expect(stringList(deletes[0].resources)).toEqual(['${aws_dynamodb_table.requests[0].arn}']);
  });
});

describe('acceptsVersion (the provider constraint evaluator)', () => {
  it.each([
    ['>= 5.60, < 6.0', true], ['~> 5.0', true], ['~> 5.100.0', true], ['>= 6.0', false], ['~> 5.99.0', false], ['< 5.100', false], ['', false],
  ] as const)('%s accepts 5.100.0: %s', (c, ok) => {
    expect(acceptsVersion(c, [5, 100, 0])).toBe(ok);
  });
});
