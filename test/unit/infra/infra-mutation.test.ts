// Proves the static checks can fail: each case alters one property in a scratch copy of infra/,
// re-parses it and runs the same checkInfra() as infra-static.test.ts; the named check must now
// report a finding. (A check that cannot fail would make its green result worthless.)
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyInfra } from '../../helpers/terraform.js';
import { checkInfra } from './infra-checks.js';
import { loadInfra } from './infra-model.js';

interface Mutation {
  name: string;
  file: string;
  from: string | RegExp;
  to: string;
  expect: string; // the check that must now fail
}

const MUTATIONS: Mutation[] = [
  { name: 'delete enable_key_rotation', file: 'kms.tf', from: /^\s*enable_key_rotation\s*=\s*true\n/m, to: '', expect: 'kms.rotation' },
  { name: 'key policy as inline JSON', file: 'kms.tf', from: 'policy                  = data.aws_iam_policy_document.kms_key[0].json', to: 'policy = jsonencode({ Version = "2012-10-17" })', expect: 'kms.policy' },
  { name: 'point_in_time_recovery false', file: 'dynamodb.tf', from: /point_in_time_recovery \{\n(\s*)enabled = true/, to: 'point_in_time_recovery {\n$1enabled = false', expect: 'dynamodb.pitr' },
  { name: 'a table on PROVISIONED', file: 'dynamodb.tf', from: '"PAY_PER_REQUEST"', to: '"PROVISIONED"', expect: 'dynamodb.billing' },
  { name: 'table SSE without the KMS key', file: 'dynamodb.tf', from: /^\s*kms_key_arn = aws_kms_key\.main\[0\]\.arn\n/m, to: '', expect: 'dynamodb.sse' },
  { name: 'requests TTL removed', file: 'dynamodb.tf', from: /\n  ttl \{\n    attribute_name = "ttl"\n    enabled        = true\n  \}\n/, to: '\n', expect: 'dynamodb.ttl' },
  { name: 'requests TTL on an attribute the service does not write', file: 'dynamodb.tf', from: /(\n  ttl \{\n    attribute_name = )"ttl"/, to: '$1"expires_at"', expect: 'dynamodb.ttl' },
  { name: 'decisions TTL on an attribute the worker does not write', file: 'dynamodb.tf', from: /(content \{\n\s*attribute_name = )"ttl"/, to: '$1"expires_at"', expect: 'dynamodb.ttl' },
  { name: 'requests table keyed by another attribute', file: 'dynamodb.tf', from: /(requests" \{[\s\S]*?hash_key\s*= )"id"/, to: '$1"request_digest"', expect: 'dynamodb.schema' },
  { name: 'audit table range key changed', file: 'dynamodb.tf', from: 'range_key                   = "seq"', to: 'range_key = "chain"', expect: 'dynamodb.schema' },
  { name: 'deletion protection always off', file: 'dynamodb.tf', from: 'deletion_protection_enabled = var.environment == "prod"', to: 'deletion_protection_enabled = false', expect: 'dynamodb.deletion-protection' },
  { name: '"s3:*" added to a policy', file: 'iam.tf', from: 'actions   = ["sqs:SendMessage"]', to: 'actions   = ["sqs:SendMessage", "s3:*"]', expect: 'iam.no-wildcard-actions' },
  { name: 'a prefix wildcard action', file: 'iam.tf', from: '"dynamodb:Query"', to: '"dynamodb:*Item"', expect: 'iam.no-wildcard-actions' },
  {
    name: 'inline JSON policy with Action "*"',
    file: 'iam.tf',
    from: /$/,
    to: '\nresource "aws_iam_role_policy" "sneaky" {\n  count  = local.count\n  role   = aws_iam_role.lambda[0].id\n  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })\n}\n',
    expect: 'iam.no-wildcard-actions',
  },
  { name: 'AWS-managed policy attached', file: 'iam.tf', from: /$/, to: '\nresource "aws_iam_role_policy_attachment" "admin" {\n  count      = local.count\n  role       = aws_iam_role.lambda[0].name\n  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n', expect: 'iam.documents-only' },
  { name: 'Resource "*" on the queue statement', file: 'iam.tf', from: 'resources = [aws_sqs_queue.requests[0].arn]', to: 'resources = ["*"]', expect: 'iam.scoped-resources' },
  { name: 'a wildcard table ARN', file: 'iam.tf', from: 'resources = [aws_dynamodb_table.audit_log[0].arn]', to: 'resources = ["arn:aws:dynamodb:*:*:table/*"]', expect: 'iam.scoped-resources' },
  { name: 'statement without resources', file: 'iam.tf', from: /\n\s*resources = \[aws_secretsmanager_secret\.public_keys\[0\]\.arn\]/, to: '', expect: 'iam.scoped-resources' },
  { name: 'the proxy can read a private key', file: 'iam.tf', from: 'resources = [aws_secretsmanager_secret.public_keys[0].arn]', to: 'resources = [aws_secretsmanager_secret.public_keys[0].arn, aws_secretsmanager_secret.private_key["ml_kem_768"].arn]', expect: 'iam.lambda-no-private-keys' },
  { name: 'key use without kms:ViaService', file: 'iam.tf', from: /(sid\s+= "UseKeyThroughServices"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'iam.kms-via-service' },
  { name: 'redrive policy removed', file: 'sqs.tf', from: /\n  redrive_policy = jsonencode\(\{[\s\S]*?\}\)\n/, to: '\n', expect: 'sqs.redrive' },
  { name: 'maxReceiveCount 50', file: 'sqs.tf', from: /maxReceiveCount(\s*)= 5/, to: 'maxReceiveCount$1= 50', expect: 'sqs.redrive' },
  { name: 'DLQ unencrypted', file: 'sqs.tf', from: /(requests_dlq" \{[\s\S]*?)\n\s*kms_master_key_id\s*= aws_kms_key\.main\[0\]\.arn/, to: '$1', expect: 'sqs.sse' },
  { name: 'short polling', file: 'sqs.tf', from: /receive_wait_time_seconds(\s*)= 20/, to: 'receive_wait_time_seconds$1= 0', expect: 'sqs.long-polling' },
  { name: 'retention removed', file: 'logs.tf', from: /^\s*retention_in_days = var\.log_retention_days\n/m, to: '', expect: 'logs.retention' },
  { name: 'log group unencrypted', file: 'logs.tf', from: /^\s*kms_key_id\s*= aws_kms_key\.main\[0\]\.arn\n/m, to: '', expect: 'logs.kms' },
  { name: 'old Lambda runtime', file: 'lambda.tf', from: '"nodejs22.x"', to: '"nodejs18.x"', expect: 'lambda.runtime' },
  { name: 'x86 Lambda', file: 'lambda.tf', from: '["arm64"]', to: '["x86_64"]', expect: 'lambda.arm64' },
  { name: 'no published versions', file: 'lambda.tf', from: /^\s*publish\s*= true\n/m, to: '', expect: 'lambda.versions' },
  { name: 'alias on $LATEST', file: 'lambda.tf', from: 'function_version = aws_lambda_function.proxy[0].version', to: 'function_version = "$LATEST"', expect: 'lambda.alias' },
  { name: 'API permission on the unqualified function', file: 'api.tf', from: /\n\s*qualifier\s*= aws_lambda_alias\.live\[0\]\.name\n/, to: '\n', expect: 'lambda.alias' },
  { name: 'output lambda_alias_name removed', file: 'outputs.tf', from: /output "lambda_alias_name" \{[\s\S]*?\n\}\n/, to: '', expect: 'lambda.alias' },
  { name: 'writable root file system', file: 'ecs.tf', from: 'readonlyRootFilesystem = true', to: 'readonlyRootFilesystem = false', expect: 'ecs.hardening' },
  { name: 'root user', file: 'variables.tf', from: 'default     = "1000:1000"', to: 'default     = "0:0"', expect: 'ecs.hardening' },
  { name: 'silent audit anchor default', file: 'variables.tf', from: /(variable "audit_anchor" \{[\s\S]*?default\s*=\s*)null/, to: '$1"none-explicit"', expect: 'tpm.explicit' },
  { name: 'FARGATE + tpm precondition removed', file: 'ecs.tf', from: /precondition \{\n\s*condition\s*= !\(var\.worker_launch_type == "FARGATE"[\s\S]*?\n    \}\n/, to: '', expect: 'tpm.explicit' },
  { name: 'a resource not gated', file: 'ecs.tf', from: /(resource "aws_ecs_cluster" "main" \{\n)\s*count = local\.count\n/, to: '$1', expect: 'gating' },
  { name: 'audit table renamed', file: 'locals.tf', from: '-tpm-audit-log"', to: '-audit"', expect: 'inventory' },
  { name: 'the key-set secret dropped', file: 'locals.tf', from: /^\s*keyset\s*= "\$\{var\.secret_prefix\}\/keyset"\n/m, to: '', expect: 'inventory' },
  // who may call the proxy (issue 12 item 10)
  {
    name: 'a public function URL back',
    file: 'api.tf',
    from: /$/,
    to: '\nresource "aws_lambda_function_url" "open" {\n  count              = local.count\n  function_name      = aws_lambda_function.proxy[0].function_name\n  qualifier          = aws_lambda_alias.live[0].name\n  authorization_type = "NONE"\n}\n',
    expect: 'api.auth',
  },
  { name: 'routes without authorization', file: 'api.tf', from: 'authorization_type   = "JWT"', to: 'authorization_type   = "NONE"', expect: 'api.auth' },
  { name: 'an /api route among the public page routes', file: 'api.tf', from: '"app.css"    = "GET /app.css"', to: '"app.css"    = "GET /api/keys"', expect: 'api.auth' },
  { name: 'the page permission for any method and path', file: 'api.tf', from: 'execution_arn}/*/GET/${each.key}"', to: 'execution_arn}/*/*/*"', expect: 'lambda.permission-scoped' },
  { name: 'a Lambda (REQUEST) authorizer instead of JWT', file: 'api.tf', from: 'authorizer_type  = "JWT"', to: 'authorizer_type  = "REQUEST"', expect: 'api.auth' },
  { name: 'the issuer/audience precondition removed', file: 'api.tf', from: /\n  lifecycle \{\n    precondition \{[\s\S]*?\n    \}\n  \}\n/, to: '\n', expect: 'api.auth' },
  { name: 'a default JWT issuer', file: 'variables.tf', from: /(variable "api_jwt_issuer" \{[\s\S]*?default\s*=\s*)null/, to: '$1"https://example.com"', expect: 'api.auth' },
  { name: 'no throttling', file: 'api.tf', from: /\n  default_route_settings \{[\s\S]*?\n  \}\n/, to: '\n', expect: 'api.throttling' },
  { name: 'a zero rate limit', file: 'variables.tf', from: /(variable "api_throttle_rate_limit" \{[\s\S]*?default\s*=\s*)200/, to: '$10', expect: 'api.throttling' },
  { name: 'CORS for every origin by default', file: 'variables.tf', from: /(variable "api_cors_allowed_origins" \{[\s\S]*?default\s*=\s*)\[\]/, to: '$1["*"]', expect: 'api.cors' },
  { name: 'CORS without the Authorization header', file: 'api.tf', from: 'allow_headers     = ["authorization", "content-type"]', to: 'allow_headers     = ["content-type"]', expect: 'api.cors' },
  { name: 'no reserved concurrency', file: 'lambda.tf', from: /^\s*reserved_concurrent_executions = var\.lambda_reserved_concurrency\n/m, to: '', expect: 'lambda.reserved-concurrency' },
  { name: 'InvokeFunction for principal "*"', file: 'api.tf', from: 'principal     = "apigateway.amazonaws.com"', to: 'principal     = "*"', expect: 'lambda.permission-scoped' },
  { name: 'InvokeFunction without the source condition', file: 'api.tf', from: /^\s*source_arn\s*= .*\n/m, to: '', expect: 'lambda.permission-scoped' },
  // the KMS key policy
  { name: 'CreateGrant without kms:GrantIsForAWSResource', file: 'kms.tf', from: /(sid\s+= "AccountCreatesGrantsForAwsServicesOnly"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'kms.grants' },
  { name: 'CreateGrant back among the administrator actions', file: 'kms.tf', from: '      "kms:CreateAlias",\n', to: '      "kms:CreateAlias",\n      "kms:CreateGrant",\n', expect: 'kms.grants' },
  { name: 'the account root may decrypt', file: 'kms.tf', from: '      "kms:CreateAlias",\n', to: '      "kms:CreateAlias",\n      "kms:Decrypt",\n', expect: 'kms.decrypters' },
  { name: 'key operators may decrypt', file: 'kms.tf', from: 'actions   = ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]', to: 'actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]', expect: 'kms.decrypters' },
  // the audit table, the proxy's writes
  { name: 'the worker may delete audit entries', file: 'iam.tf', from: 'actions   = ["dynamodb:GetItem", "dynamodb:Query"]', to: 'actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query"]', expect: 'iam.audit-append-only' },
  { name: 'audit PutItem without dynamodb:Attributes', file: 'iam.tf', from: /(sid\s+= "AppendAuditEntries"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'iam.audit-append-only' },
  { name: 'the worker may update audit items', file: 'iam.tf', from: 'sid       = "PutBatchStatements"\n    effect    = "Allow"\n    actions   = ["dynamodb:PutItem"]', to: 'sid       = "PutBatchStatements"\n    effect    = "Allow"\n    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]', expect: 'iam.audit-append-only' },
  { name: 'batch statements may be written over entries', file: 'iam.tf', from: 'variable = "dynamodb:LeadingKeys"\n      values   = ["*#batches"]', to: 'variable = "dynamodb:Region"\n      values   = ["*#batches"]', expect: 'iam.audit-append-only' },
  { name: 'batch statements may return the old item', file: 'iam.tf', from: /(sid\s+= "PutBatchStatements"[\s\S]*?)values   = \["NONE"\]/, to: '$1values   = ["NONE", "ALL_OLD"]', expect: 'iam.audit-append-only' },
  { name: 'the proxy may write a decision', file: 'iam.tf', from: /(sid\s+= "ReadDecisions"\n\s*effect\s*= "Allow"\n\s*actions\s*= )\["dynamodb:GetItem"\]/, to: '$1["dynamodb:GetItem", "dynamodb:PutItem"]', expect: 'iam.proxy-writes' },
  { name: 'the proxy not held to req# items', file: 'iam.tf', from: /(sid\s+= "ReplayGuardItems"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'iam.proxy-writes' },
  { name: 'the worker not held to rid# items', file: 'iam.tf', from: /(sid\s+= "ClaimRequestIds"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'iam.proxy-writes' },
  { name: 'the worker not held to aud# items', file: 'iam.tf', from: /(sid\s+= "ClaimAuditSlots"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'iam.proxy-writes' },
  { name: 'the worker may delete any requests item', file: 'iam.tf', from: 'values   = ["aud#*"]', to: 'values   = ["*"]', expect: 'iam.proxy-writes' },
  // custody: secrets' resource policy, operators, break-glass
  { name: 'the private-key secret policy removed', file: 'secrets.tf', from: /\nresource "aws_secretsmanager_secret_policy" "private_key" \{[\s\S]*?\n\}\n/, to: '\n', expect: 'secrets.resource-policy' },
  { name: 'the secret policy without its aws:PrincipalArn condition', file: 'secrets.tf', from: /(sid\s+= "OnlyTheWorkerAndBreakGlassRead"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'secrets.resource-policy' },
  { name: 'the proxy among the private-key readers', file: 'locals.tf', from: '    [for r in aws_iam_role.worker_task : r.arn],\n', to: '    [for r in aws_iam_role.worker_task : r.arn],\n    [for r in aws_iam_role.lambda : r.arn],\n', expect: 'secrets.resource-policy' },
  { name: 'operators may read the private keys', file: 'custody.tf', from: '      "secretsmanager:DescribeSecret",\n', to: '      "secretsmanager:DescribeSecret",\n      "secretsmanager:GetSecretValue",\n', expect: 'custody.operators' },
  { name: 'operators may decrypt (their IAM policy)', file: 'custody.tf', from: 'actions   = ["kms:GenerateDataKey"]', to: 'actions   = ["kms:Decrypt", "kms:GenerateDataKey"]', expect: 'custody.operators' },
  { name: 'break-glass without MFA', file: 'custody.tf', from: /(sid\s+= "NamedPrincipalsWithMfa"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1', expect: 'custody.break-glass' },
  // the worker's autoscaling and stop (issue 13 item 3)
  { name: 'scaling on a fixed minimum', file: 'autoscaling.tf', from: 'min_capacity       = var.worker_min_tasks', to: 'min_capacity       = 1', expect: 'autoscaling.target' },
  { name: 'scaling another service', file: 'autoscaling.tf', from: '${aws_ecs_service.worker[0].name}"', to: 'other"', expect: 'autoscaling.target' },
  { name: 'tracking the queue depth, not per task', file: 'autoscaling.tf', from: 'expression  = "visible / running"', to: 'expression  = "visible"', expect: 'autoscaling.policy' },
  { name: 'backlog of the DLQ', file: 'autoscaling.tf', from: /(metric_name = "ApproximateNumberOfMessagesVisible"\n\s*dimensions \{\n\s*name  = "QueueName"\n\s*value = )aws_sqs_queue\.requests\[0\]\.name/, to: '$1aws_sqs_queue.requests_dlq[0].name', expect: 'autoscaling.policy' },
  { name: 'divided by CPU instead of running tasks', file: 'autoscaling.tf', from: /namespace   = "ECS\/ContainerInsights"\n(\s*)metric_name = "RunningTaskCount"/, to: 'namespace   = "AWS/ECS"\n$1metric_name = "CPUUtilization"', expect: 'autoscaling.policy' },
  { name: 'scale-in disabled', file: 'autoscaling.tf', from: 'disable_scale_in   = false', to: 'disable_scale_in   = true', expect: 'autoscaling.policy' },
  { name: 'a fixed target', file: 'autoscaling.tf', from: 'target_value       = var.backlog_per_task_target', to: 'target_value       = 10', expect: 'autoscaling.policy' },
  { name: 'Container Insights off', file: 'ecs.tf', from: /\n  setting \{\n    name  = "containerInsights"\n    value = "enabled"\n  \}\n/, to: '\n', expect: 'autoscaling.container-insights' },
  { name: 'apply resets the desired count', file: 'ecs.tf', from: /\n    ignore_changes = \[desired_count\]\n/, to: '\n', expect: 'autoscaling.desired-count' },
  { name: 'stopTimeout fixed at 30 s', file: 'ecs.tf', from: 'stopTimeout            = local.worker_stop_timeout', to: 'stopTimeout            = 30', expect: 'ecs.stop-timeout' },
  { name: 'no margin after the grace', file: 'ecs.tf', from: 'worker_stop_margin_seconds = 10', to: 'worker_stop_margin_seconds = 0', expect: 'ecs.stop-timeout' },
  { name: 'STOP_GRACE_SECONDS not passed to the worker', file: 'ecs.tf', from: /\n\s*STOP_GRACE_SECONDS = tostring\(var\.worker_stop_grace_seconds\)\n/, to: '\n', expect: 'ecs.stop-timeout' },
  { name: "grace allowed beyond Fargate's 120 s", file: 'variables.tf', from: 'var.worker_stop_grace_seconds <= 110', to: 'var.worker_stop_grace_seconds <= 120', expect: 'ecs.stop-timeout' },
  // the alarms (issue 13 item 4)
  { name: 'the DLQ alarm on the request queue', file: 'alarms.tf', from: 'dimensions          = { QueueName = aws_sqs_queue.requests_dlq[0].name }', to: 'dimensions          = { QueueName = aws_sqs_queue.requests[0].name }', expect: 'alarms.inventory' },
  { name: 'the throttles alarm removed', file: 'alarms.tf', from: /\nresource "aws_cloudwatch_metric_alarm" "proxy_throttles" \{[\s\S]*?\n\}\n/, to: '\n', expect: 'alarms.inventory' },
  { name: 'a home-made namespace', file: 'alarms.tf', from: 'namespace           = "ima-qs"', to: 'namespace           = "ImaQs/Custom"', expect: 'alarms.inventory' },
  { name: 'a metric the service does not emit', file: 'alarms.tf', from: 'metric_name         = "UnanchoredEntries"', to: 'metric_name         = "Unanchored"', expect: 'alarms.inventory' },
  { name: 'at-max fixed at 4 tasks', file: 'alarms.tf', from: 'threshold           = max(var.worker_max_tasks, 1)', to: 'threshold           = 4', expect: 'alarms.inventory' },
  { name: 'an alarm that notifies nobody', file: 'alarms.tf', from: /(resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" \{[\s\S]*?)alarm_actions      = local\.alarm_actions/, to: '$1alarm_actions      = []', expect: 'alarms.actions' },
  { name: 'a default SNS topic', file: 'variables.tf', from: /(variable "alarm_sns_topic_arn" \{[\s\S]*?default\s*=\s*)null/, to: '$1"arn:aws:sns:eu-west-1:123456789012:x"', expect: 'alarms.actions' },
  { name: 'missing data left to the default', file: 'alarms.tf', from: /(resource "aws_cloudwatch_metric_alarm" "queue_oldest_message" \{[\s\S]*?)\n\s*treat_missing_data = "notBreaching"/, to: '$1', expect: 'alarms.missing-data' },
  // the checkpoint bucket (SPEC 8.11, issue 14)
  { name: 'checkpoint bucket without Object Lock', file: 'checkpoints.tf', from: 'object_lock_enabled = true', to: 'object_lock_enabled = false', expect: 'checkpoints.object-lock' },
  { name: 'checkpoint retention in governance mode', file: 'checkpoints.tf', from: 'mode = "COMPLIANCE"', to: 'mode = "GOVERNANCE"', expect: 'checkpoints.object-lock' },
  { name: 'checkpoint retention a fixed number', file: 'checkpoints.tf', from: 'days = var.checkpoint_retention_days', to: 'days = 1', expect: 'checkpoints.object-lock' },
  { name: 'checkpoint bucket versioning suspended', file: 'checkpoints.tf', from: 'status = "Enabled"', to: 'status = "Suspended"', expect: 'checkpoints.versioning' },
  { name: 'checkpoint bucket on S3-managed keys', file: 'checkpoints.tf', from: 'sse_algorithm     = "aws:kms"', to: 'sse_algorithm     = "AES256"', expect: 'checkpoints.sse' },
  { name: 'checkpoint bucket public policies allowed', file: 'checkpoints.tf', from: 'block_public_policy     = true', to: 'block_public_policy     = false', expect: 'checkpoints.public' },
  { name: 'the bucket policy lets versions be deleted', file: 'checkpoints.tf', from: '      "s3:DeleteObjectVersion",\n', to: '', expect: 'checkpoints.policy' },
  { name: 'the bucket policy lets governance be bypassed', file: 'checkpoints.tf', from: '      "s3:BypassGovernanceRetention",\n', to: '', expect: 'checkpoints.policy' },
  { name: 'the bucket policy excepts everyone', file: 'checkpoints.tf', from: /(sid\s+= "NoDeletesNoLockChangesButBreakGlass"[\s\S]*?)condition \{[\s\S]*?\n    \}\n/, to: '$1condition {\n      test     = "ArnNotEquals"\n      variable = "aws:PrincipalArn"\n      values   = [aws_iam_role.worker_task[0].arn]\n    }\n', expect: 'checkpoints.policy' },
  { name: 'the bucket policy removed', file: 'checkpoints.tf', from: /\nresource "aws_s3_bucket_policy" "checkpoints" \{[\s\S]*?\n\}\n/, to: '\n', expect: 'checkpoints.policy' },
  { name: 'the worker may delete checkpoints', file: 'iam.tf', from: 'actions   = ["s3:GetObject", "s3:PutObject"]', to: 'actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]', expect: 'checkpoints.no-delete' },
  { name: 'the worker may write anywhere in the bucket', file: 'iam.tf', from: 'resources = ["${aws_s3_bucket.checkpoints[0].arn}/checkpoints/*", "${aws_s3_bucket.checkpoints[0].arn}/registry/*", "${aws_s3_bucket.checkpoints[0].arn}/keysets/*"]', to: 'resources = ["${aws_s3_bucket.checkpoints[0].arn}/*"]', expect: 'checkpoints.worker' },
  { name: 'provider constraint excludes 5.100.0', file: 'versions.tf', from: '">= 5.60, < 6.0"', to: '">= 6.0"', expect: 'versions' },
];

let dir: string;
let pristine: Map<string, string>;

beforeAll(async () => {
  dir = await copyInfra('ima-qs-infra-mutation-');
  pristine = new Map();
  for (const f of new Set(MUTATIONS.map((m) => m.file))) pristine.set(f, await readFile(join(dir, f), 'utf8'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('each check fails when its property is removed (mutated copy of infra/)', () => {
  it('the unmutated copy passes every check', async () => {
    expect(checkInfra(await loadInfra(dir))).toEqual([]);
  });

  it.each(MUTATIONS)('$name -> $expect fails', async (m) => {
    const original = pristine.get(m.file)!;
    const mutated = original.replace(m.from, m.to);
    expect(mutated, 'the mutation must change the file').not.toBe(original);
    await writeFile(join(dir, m.file), mutated);
    try {
      const failed = checkInfra(await loadInfra(dir)).map((f) => f.check);
      expect(failed).toContain(m.expect);
    } finally {
      await writeFile(join(dir, m.file), original);
    }
  });
});
