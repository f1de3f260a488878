// The properties issue 8 asks of infra/, as one pure function over the parsed model:
// checkInfra(model) -> findings (empty = every property holds). The mutation test runs this same
// function on altered copies of infra/ to prove each check can fail.
import {
  block,
  blocks,
  dataOf,
  policyDocumentName,
  resolvedNames,
  resolveString,
  resourcesOf,
  statementsOf,
  stringLeaves,
  stringList,
  type Block,
  type InfraModel,
  type TfBlock,
} from './infra-model.js';
import { checkAccess } from './infra-checks-access.js';
import { checkOperations } from './infra-checks-ops.js';

export type { Finding } from './infra-checks-access.js';
import type { Finding } from './infra-checks-access.js';

const at = (r: TfBlock) => `${r.file}: ${r.kind === 'data' ? 'data.' : ''}${r.type}.${r.name}`;
const refsKmsKey = (v: unknown) => typeof v === 'string' && /^\$\{aws_kms_key\.[A-Za-z0-9_]+(\[0\])?\.(arn|key_id|id)\}$/.test(v);

/** The seed's resources (and the issue's additions), by the names the CLI uses. */
export const EXPECTED = {
  kmsAlias: 'alias/ima-quantum',
  secrets: ['ima/quantum/keyset', 'ima/quantum/public-keys'],
  tables: ['ima-tpm-audit-log', 'ima-quantum-decisions', 'ima-quantum-requests'],
  queues: ['ima-quantum-requests', 'ima-quantum-requests-dlq'],
  logGroups: ['/aws/lambda/ima-quantum-proxy', '/ecs/ima-quantum-worker'],
  roles: ['ima-quantum-proxy', 'ima-quantum-worker-task', 'ima-quantum-worker-execution'],
};

function inventory(m: InfraModel, f: Finding[]): void {
  const want = (check: string, type: string, names: string[], attr = 'name') => {
    const have = new Set(resourcesOf(m, type).flatMap((r) => resolvedNames(m, r, attr)));
    for (const n of names) if (!have.has(n)) f.push({ check, where: type, message: `missing ${type} named ${n}` });
  };
  if (resourcesOf(m, 'aws_kms_key').length === 0) f.push({ check: 'inventory', where: 'aws_kms_key', message: 'no KMS key' });
  want('inventory', 'aws_kms_alias', [EXPECTED.kmsAlias]);
  want('inventory', 'aws_secretsmanager_secret', EXPECTED.secrets);
  want('inventory', 'aws_dynamodb_table', EXPECTED.tables);
  want('inventory', 'aws_sqs_queue', EXPECTED.queues);
  want('inventory', 'aws_cloudwatch_log_group', EXPECTED.logGroups);
  want('inventory', 'aws_iam_role', EXPECTED.roles);
  for (const t of ['aws_lambda_function', 'aws_apigatewayv2_api', 'aws_ecs_cluster', 'aws_ecs_task_definition', 'aws_ecs_service']) {
    if (resourcesOf(m, t).length === 0) f.push({ check: 'inventory', where: t, message: `no ${t}` });
  }
}

function gating(m: InfraModel, f: Finding[]): void {
  for (const r of m.resources) {
    const g = String(r.body.count ?? r.body.for_each ?? '');
    if (!/local\.(count|enabled)|var\.quantum_safe_enabled/.test(g)) {
      f.push({ check: 'gating', where: at(r), message: 'not gated by quantum_safe_enabled (count/for_each)' });
    }
  }
}

function kms(m: InfraModel, f: Finding[]): void {
  for (const k of resourcesOf(m, 'aws_kms_key')) {
    if (k.body.enable_key_rotation !== true) f.push({ check: 'kms.rotation', where: at(k), message: 'enable_key_rotation is not true' });
    if (k.body.deletion_window_in_days === undefined) f.push({ check: 'kms.deletion-window', where: at(k), message: 'no deletion_window_in_days' });
    if (!policyDocumentName(k.body.policy)) f.push({ check: 'kms.policy', where: at(k), message: 'key policy is not an aws_iam_policy_document' });
  }
}

function dynamodb(m: InfraModel, f: Finding[]): void {
  for (const t of resourcesOf(m, 'aws_dynamodb_table')) {
    if (t.body.billing_mode !== 'PAY_PER_REQUEST') f.push({ check: 'dynamodb.billing', where: at(t), message: 'billing_mode is not PAY_PER_REQUEST' });
    if (block(t.body, 'point_in_time_recovery')?.enabled !== true) f.push({ check: 'dynamodb.pitr', where: at(t), message: 'point_in_time_recovery not enabled' });
    const sse = block(t.body, 'server_side_encryption');
    if (sse?.enabled !== true || !refsKmsKey(sse.kms_key_arn)) f.push({ check: 'dynamodb.sse', where: at(t), message: 'server_side_encryption is not on with the module KMS key' });
    if (!/environment\s*==\s*"prod"/.test(String(t.body.deletion_protection_enabled ?? ''))) {
      f.push({ check: 'dynamodb.deletion-protection', where: at(t), message: 'deletion_protection_enabled is not tied to environment == "prod"' });
    }
  }
  // SPEC §8.2 (src/protocol/records.ts): the service writes its expiry in the attribute `ttl`
  const requests = resourcesOf(m, 'aws_dynamodb_table').find((t) => resolvedNames(m, t).includes('ima-quantum-requests'));
  const ttl = block(requests?.body, 'ttl');
  if (!requests || ttl?.enabled !== true || ttl.attribute_name !== 'ttl') {
    f.push({ check: 'dynamodb.ttl', where: 'ima-quantum-requests', message: 'requests table has no enabled TTL on ttl (the attribute the service writes)' });
  }
  const decisions = resourcesOf(m, 'aws_dynamodb_table').find((t) => resolvedNames(m, t).includes('ima-quantum-decisions'));
  // `dynamic "ttl" { content { … } }` parses as {dynamic: {ttl: [{content: [{…}]}]}}
  const dynamicTtl = (decisions?.body.dynamic as Block | undefined)?.ttl as Block[] | undefined;
  const decisionsTtl = block(decisions?.body, 'ttl') ?? block(dynamicTtl?.[0], 'content');
  if (decisionsTtl && decisionsTtl.attribute_name !== 'ttl') {
    f.push({ check: 'dynamodb.ttl', where: 'ima-quantum-decisions', message: `decisions TTL is on ${String(decisionsTtl.attribute_name)}, not ttl (the attribute the worker writes)` });
  }
  const keys: Record<string, [string, string, string?, string?]> = {
    'ima-tpm-audit-log': ['chain', 'S', 'seq', 'N'],
    'ima-quantum-decisions': ['id', 'S'],
    'ima-quantum-requests': ['id', 'S'],
  };
  for (const [name, [hash, hashType, range, rangeType]] of Object.entries(keys)) {
    const t = resourcesOf(m, 'aws_dynamodb_table').find((x) => resolvedNames(m, x).includes(name));
    if (!t) continue; // reported by inventory
    const attrs = new Map(blocks(t.body, 'attribute').map((a) => [a.name, a.type]));
    const ok = t.body.hash_key === hash && attrs.get(hash) === hashType && (range === undefined || (t.body.range_key === range && attrs.get(range) === rangeType));
    if (!ok) f.push({ check: 'dynamodb.schema', where: at(t), message: `key schema is not ${hash} ${hashType}${range ? ` / ${range} ${rangeType}` : ''}` });
  }
}

function sqs(m: InfraModel, f: Finding[]): void {
  const queues = resourcesOf(m, 'aws_sqs_queue');
  for (const q of queues) {
    if (!refsKmsKey(q.body.kms_master_key_id) && q.body.sqs_managed_sse_enabled !== true) {
      f.push({ check: 'sqs.sse', where: at(q), message: 'queue is not encrypted (kms_master_key_id or sqs_managed_sse_enabled)' });
    }
  }
  const main = queues.find((q) => resolvedNames(m, q).includes('ima-quantum-requests'));
  const dlq = queues.find((q) => resolvedNames(m, q).includes('ima-quantum-requests-dlq'));
  const redrive = String(main?.body.redrive_policy ?? '');
  const maxReceive = /maxReceiveCount\s*[=:]\s*(\d+)/.exec(redrive);
  const target = dlq && new RegExp(`deadLetterTargetArn\\s*[=:]\\s*aws_sqs_queue\\.${dlq.name}(\\[0\\])?\\.arn`).test(redrive);
  if (!maxReceive || Number(maxReceive[1]) < 1 || Number(maxReceive[1]) > 10 || !target) {
    f.push({ check: 'sqs.redrive', where: 'ima-quantum-requests', message: 'no redrive_policy to the DLQ with maxReceiveCount 1..10' });
  }
  if (main && main.body.receive_wait_time_seconds !== 20) f.push({ check: 'sqs.long-polling', where: at(main), message: 'receive_wait_time_seconds is not 20' });
  if (dlq && dlq.body.message_retention_seconds !== 1209600) f.push({ check: 'sqs.dlq-retention', where: at(dlq), message: 'DLQ retention is not 14 days' });
}

function logs(m: InfraModel, f: Finding[]): void {
  for (const g of resourcesOf(m, 'aws_cloudwatch_log_group')) {
    const r = g.body.retention_in_days;
    const v = typeof r === 'string' && /^\$\{var\.([A-Za-z0-9_]+)\}$/.exec(r);
    const value = v ? m.variables[v[1]]?.default : r;
    if (typeof value !== 'number' || value <= 0) f.push({ check: 'logs.retention', where: at(g), message: 'retention_in_days missing or not a positive number' });
    if (!refsKmsKey(g.body.kms_key_id)) f.push({ check: 'logs.kms', where: at(g), message: 'log group is not encrypted with the module KMS key' });
  }
}

/** Wildcard actions: "*", "svc:*", "svc:Get*" (any "*" in an action name). */
const isWildcardAction = (a: string) => a.includes('*');

function iam(m: InfraModel, f: Finding[]): void {
  const docs = new Map(dataOf(m, 'aws_iam_policy_document').map((d) => [d.name, d]));
  // 1. every policy attribute is an aws_iam_policy_document (no inline JSON, no managed policies)
  const policyAttrs: [string, string][] = [
    ['aws_iam_role', 'assume_role_policy'], ['aws_iam_role_policy', 'policy'], ['aws_iam_policy', 'policy'], ['aws_kms_key', 'policy'],
    ['aws_sqs_queue_policy', 'policy'], ['aws_secretsmanager_secret_policy', 'policy'], ['aws_s3_bucket_policy', 'policy'],
  ];
  for (const [type, attr] of policyAttrs) {
    for (const r of resourcesOf(m, type)) {
      const name = policyDocumentName(r.body[attr]);
      if (r.body[attr] !== undefined && (!name || !docs.has(name))) {
        f.push({ check: 'iam.documents-only', where: at(r), message: `${attr} is not a reference to an aws_iam_policy_document` });
      }
    }
  }
  for (const r of resourcesOf(m, 'aws_iam_role')) {
    if (r.body.managed_policy_arns !== undefined || block(r.body, 'inline_policy')) f.push({ check: 'iam.documents-only', where: at(r), message: 'managed_policy_arns / inline_policy on a role' });
  }
  for (const t of ['aws_iam_role_policy_attachment', 'aws_iam_policy_attachment']) {
    for (const r of resourcesOf(m, t)) f.push({ check: 'iam.documents-only', where: at(r), message: 'attached (possibly AWS-managed, wildcard) policy' });
  }
  // 2. wildcard actions, in documents and anywhere a JSON policy could hide (jsonencode strings)
  for (const d of docs.values()) {
    for (const s of statementsOf(d)) {
      if (s.not_actions !== undefined) f.push({ check: 'iam.no-wildcard-actions', where: at(d), message: `statement ${s.sid ?? '?'} uses not_actions` });
      for (const a of stringList(s.actions)) if (isWildcardAction(a)) f.push({ check: 'iam.no-wildcard-actions', where: at(d), message: `action ${a}` });
    }
  }
  for (const r of [...m.resources, ...m.data]) {
    for (const [path, s] of stringLeaves(r.body)) {
      if (/Action/.test(s) && /"(\*|[a-z0-9-]+:[A-Za-z0-9]*\*)"/.test(s)) f.push({ check: 'iam.no-wildcard-actions', where: `${at(r)} ${path}`, message: 'wildcard action in an inline policy' });
    }
  }
  // 3. resources scoped: "*" only where documented (KMS key policy: "*" = this key; ecr:GetAuthorizationToken)
  // resource policies (a key policy, a secret policy): there "*" means "this key / this secret"
  const keyPolicyDocs = new Set([
    ...resourcesOf(m, 'aws_kms_key').map((k) => policyDocumentName(k.body.policy)),
    ...resourcesOf(m, 'aws_secretsmanager_secret_policy').map((p) => policyDocumentName(p.body.policy)),
  ]);
  for (const d of docs.values()) {
    for (const s of statementsOf(d)) {
      const sid = String(s.sid ?? '?');
      const resources = stringList(s.resources);
      const actions = stringList(s.actions);
      if (s.not_resources !== undefined) f.push({ check: 'iam.scoped-resources', where: at(d), message: `statement ${sid} uses not_resources` });
      if (resources.length === 0) {
        const trust = blocks(s, 'principals').length > 0 && actions.every((a) => a === 'sts:AssumeRole');
        if (!trust) f.push({ check: 'iam.scoped-resources', where: at(d), message: `statement ${sid} has no resources (= all)` });
        continue;
      }
      for (const res of resources) {
        if (res === '*') {
          const documented = keyPolicyDocs.has(d.name) || (actions.length === 1 && actions[0] === 'ecr:GetAuthorizationToken');
          if (!documented) f.push({ check: 'iam.scoped-resources', where: at(d), message: `statement ${sid}: Resource "*"` });
        } else if (res.includes('*') && !/^\$\{aws_cloudwatch_log_group\.[a-z_]+\[0\]\.arn\}:log-stream:\*$/.test(res) && !/^\$\{aws_s3_bucket\.[a-z_]+\[0\]\.arn\}\/([a-z]+\/)?\*$/.test(res)) {
          // allowed: the log streams of the module's log groups, the objects (or one prefix) of the module's bucket
          f.push({ check: 'iam.scoped-resources', where: at(d), message: `statement ${sid}: wildcard resource ${res}` });
        }
      }
    }
  }
  // 4. KMS use by the service roles only through the named services
  for (const d of docs.values()) {
    for (const s of statementsOf(d)) {
      const kmsUse = stringList(s.actions).some((a) => /^kms:(Decrypt|Encrypt|GenerateDataKey)/.test(a));
      const servicePrincipal = blocks(s, 'principals').some((p) => p.type === 'Service');
      const root = blocks(s, 'principals').some((p) => stringList(p.identifiers).some((i) => i.endsWith(':root')));
      const via = blocks(s, 'condition').some((c) => c.variable === 'kms:ViaService');
      if (kmsUse && !servicePrincipal && !root && !via) f.push({ check: 'iam.kms-via-service', where: at(d), message: `statement ${s.sid ?? '?'} uses the key without kms:ViaService` });
    }
  }
  // 5. the proxy holds no private key
  const lambdaPolicies = resourcesOf(m, 'aws_iam_role_policy').filter((p) => /aws_iam_role\.lambda\b/.test(String(p.body.role)));
  if (lambdaPolicies.length === 0) f.push({ check: 'iam.lambda-policy', where: 'aws_iam_role_policy', message: 'no policy for the Lambda role' });
  for (const p of lambdaPolicies) {
    const d = docs.get(policyDocumentName(p.body.policy) ?? '');
    for (const s of d ? statementsOf(d) : []) {
      for (const res of stringList(s.resources)) {
        if (/aws_secretsmanager_secret\.(?!public_keys\b)/.test(res)) f.push({ check: 'iam.lambda-no-private-keys', where: at(d!), message: `proxy can read ${res}` });
      }
    }
  }
  const workerPolicies = resourcesOf(m, 'aws_iam_role_policy').filter((p) => /aws_iam_role\.worker_task\b/.test(String(p.body.role)));
  if (workerPolicies.length === 0) f.push({ check: 'iam.worker-policy', where: 'aws_iam_role_policy', message: 'no policy for the Fargate task role' });
}

function lambda(m: InfraModel, f: Finding[]): void {
  for (const fn of resourcesOf(m, 'aws_lambda_function')) {
    const rt = resolveString(m, fn.body.runtime);
    if (rt !== 'nodejs22.x' && rt !== 'nodejs24.x') f.push({ check: 'lambda.runtime', where: at(fn), message: `runtime ${String(rt)} is not nodejs22.x/nodejs24.x` });
    if (JSON.stringify(fn.body.architectures) !== '["arm64"]') f.push({ check: 'lambda.arm64', where: at(fn), message: 'architectures is not ["arm64"]' });
    if (fn.body.publish !== true) f.push({ check: 'lambda.versions', where: at(fn), message: 'publish is not true: no versions to roll back to' });
  }
  // rollback (src/rollout/rollback.ts) moves an alias between published versions; the URL and its
  // permissions must be on that alias, and the rollout reads its name from the outputs
  const aliases = resourcesOf(m, 'aws_lambda_alias');
  const alias = aliases.find((a) => /aws_lambda_function\.[a-z_]+\[0\]\.version/.test(String(a.body.function_version)));
  if (!alias) f.push({ check: 'lambda.alias', where: 'lambda.tf', message: 'no aws_lambda_alias on the published version' });
  const onAlias = (v: unknown) => alias !== undefined && new RegExp(`^\\$\\{aws_lambda_alias\\.${alias.name}\\[0\\]\\.name\\}$`).test(String(v));
  for (const r of [...resourcesOf(m, 'aws_lambda_function_url'), ...resourcesOf(m, 'aws_lambda_permission')]) {
    if (!onAlias(r.body.qualifier)) f.push({ check: 'lambda.alias', where: at(r), message: 'not qualified with the alias' });
  }
  if (!alias || !String(m.outputs.lambda_alias_name?.value ?? '').includes(`aws_lambda_alias.${alias.name}`)) {
    f.push({ check: 'lambda.alias', where: 'outputs.tf', message: 'no output lambda_alias_name (read by ima-qs rollout)' });
  }
}

function ecs(m: InfraModel, f: Finding[]): void {
  for (const td of resourcesOf(m, 'aws_ecs_task_definition')) {
    const cd = String(td.body.container_definitions ?? '');
    if (!/readonlyRootFilesystem\s*=\s*true/.test(cd)) f.push({ check: 'ecs.hardening', where: at(td), message: 'root file system is not read-only' });
    const user = /\buser\s*=\s*var\.([a-z_]+)/.exec(cd);
    const def = user ? String(m.variables[user[1]]?.default ?? '') : '';
    if (!user || !/^[1-9][0-9]*:[1-9][0-9]*$/.test(def)) f.push({ check: 'ecs.hardening', where: at(td), message: 'container user is not a non-root uid:gid' });
    if (td.body.network_mode !== 'awsvpc') f.push({ check: 'ecs.hardening', where: at(td), message: 'network_mode is not awsvpc' });
  }
  // Fargate has no TPM: the choice is a variable, never a silent default, and FARGATE + tpm is refused.
  const anchor = m.variables.audit_anchor;
  if (!anchor || !('default' in anchor) || anchor.default !== null) f.push({ check: 'tpm.explicit', where: 'variables.tf', message: 'audit_anchor missing or has a default' });
  if (!m.variables.worker_launch_type) f.push({ check: 'tpm.explicit', where: 'variables.tf', message: 'no worker_launch_type variable' });
  const conds = resourcesOf(m, 'aws_ecs_service').flatMap((s) => blocks(block(s.body, 'lifecycle'), 'precondition')).map((p) => String(p.condition));
  if (!conds.some((c) => /worker_launch_type\s*==\s*"FARGATE"/.test(c) && /audit_anchor\s*==\s*"tpm"/.test(c))) {
    f.push({ check: 'tpm.explicit', where: 'aws_ecs_service', message: 'no precondition refusing FARGATE with audit_anchor = "tpm"' });
  }
}

/**
 * SPEC 8.11 (issue 14): the checkpoint bucket keeps every version of every registration and
 * checkpoint: Object Lock on at creation, versioning, a COMPLIANCE default retention from
 * var.checkpoint_retention_days, SSE-KMS with the module's key, public access blocked, and a bucket
 * policy that denies deletes, governance bypass and lock changes to all but the break-glass role.
 */
function checkpoints(m: InfraModel, f: Finding[]): void {
  // the name ends in the account id, which only AWS knows: match the local it is built from
  const bucket = resourcesOf(m, 'aws_s3_bucket').find((b) => /audit-checkpoints|checkpoint_bucket_name/.test(String(resolveString(m, b.body.bucket))));
  const where = 'checkpoints.tf';
  if (!bucket) {
    f.push({ check: 'checkpoints.bucket', where, message: 'no checkpoint bucket (aws_s3_bucket …-audit-checkpoints-…)' });
    return;
  }
  if (bucket.body.object_lock_enabled !== true) f.push({ check: 'checkpoints.object-lock', where: at(bucket), message: 'object_lock_enabled is not true' });
  if (bucket.body.force_destroy === true) f.push({ check: 'checkpoints.object-lock', where: at(bucket), message: 'force_destroy is true' });
  const of = (type: string) => resourcesOf(m, type).find((r) => new RegExp(`aws_s3_bucket\\.${bucket.name}\\[0\\]\\.(id|bucket)`).test(String(r.body.bucket)));
  const ver = of('aws_s3_bucket_versioning');
  if (block(ver?.body, 'versioning_configuration')?.status !== 'Enabled') f.push({ check: 'checkpoints.versioning', where, message: 'versioning is not Enabled' });
  const retention = block(block(of('aws_s3_bucket_object_lock_configuration')?.body, 'rule'), 'default_retention');
  if (retention?.mode !== 'COMPLIANCE') f.push({ check: 'checkpoints.object-lock', where, message: 'default retention is not COMPLIANCE mode' });
  const days = /^\$\{var\.([a-z_]+)\}$/.exec(String(retention?.days ?? ''));
  const def = days ? m.variables[days[1]]?.default : undefined;
  if (!days || typeof def !== 'number' || def < 1) f.push({ check: 'checkpoints.object-lock', where, message: 'default retention days is not a variable with a positive default' });
  const sse = block(block(of('aws_s3_bucket_server_side_encryption_configuration')?.body, 'rule'), 'apply_server_side_encryption_by_default');
  if (sse?.sse_algorithm !== 'aws:kms' || !refsKmsKey(sse.kms_master_key_id)) f.push({ check: 'checkpoints.sse', where, message: 'not SSE-KMS with the module key' });
  const pab = of('aws_s3_bucket_public_access_block');
  if (!pab || !['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'].every((k) => pab.body[k] === true)) {
    f.push({ check: 'checkpoints.public', where, message: 'public access is not blocked' });
  }
  const policy = of('aws_s3_bucket_policy');
  const doc = dataOf(m, 'aws_iam_policy_document').find((d) => d.name === policyDocumentName(policy?.body.policy));
  const deny = doc ? statementsOf(doc).find((s) => s.effect === 'Deny' && stringList(s.actions).includes('s3:DeleteObjectVersion')) : undefined;
  const needed = ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:PutBucketObjectLockConfiguration'];
  const denied = new Set(stringList(deny?.actions));
  const everyone = blocks(deny, 'principals').some((p) => stringList(p.identifiers).includes('*'));
  const exceptBreakGlass = blocks(deny, 'condition').some((c) => c.test === 'ArnNotEquals' && c.variable === 'aws:PrincipalArn' && stringList(c.values).every((v) => /break_glass/.test(v)));
  if (!deny || !needed.every((a) => denied.has(a)) || !everyone || !exceptBreakGlass) {
    f.push({ check: 'checkpoints.policy', where, message: `the bucket policy does not deny ${needed.join(', ')} to every principal but the break-glass role` });
  }
  // the roles' identity policies: only the break-glass role may delete; the worker only puts and reads back, under its two prefixes
  for (const d of dataOf(m, 'aws_iam_policy_document')) {
    if (d.name === doc?.name || d.name === 'break_glass') continue;
    for (const st of statementsOf(d)) {
      if (st.effect === 'Deny') continue;
      for (const a of stringList(st.actions)) {
        if (/^s3:(Delete|BypassGovernance|PutObjectRetention|PutObjectLegalHold|PutBucket)/.test(a)) f.push({ check: 'checkpoints.no-delete', where: at(d), message: `statement ${String(st.sid ?? '?')} allows ${a}` });
        if (d.name === 'worker_task' && a.startsWith('s3:') && !['s3:PutObject', 's3:GetObject', 's3:ListBucket'].includes(a)) {
          f.push({ check: 'checkpoints.worker', where: at(d), message: `the worker may ${a}` });
        }
        if (d.name === 'worker_task' && a === 's3:PutObject') {
          for (const r of stringList(st.resources)) if (!/\/(checkpoints|registry|keysets)\/\*$/.test(r)) f.push({ check: 'checkpoints.worker', where: at(d), message: `the worker may put ${r}` });
        }
      }
    }
  }
}

function versions(m: InfraModel, f: Finding[]): void {
  const tf = m.terraform[0];
  const aws = (block(tf, 'required_providers')?.aws ?? {}) as Block;
  if (!acceptsVersion(String(aws.version ?? ''), [5, 100, 0])) f.push({ check: 'versions', where: 'versions.tf', message: `aws provider constraint "${String(aws.version)}" does not accept 5.100.0` });
  if (!/>=\s*1\.(6|[7-9]|1\d)/.test(String(tf?.required_version ?? ''))) f.push({ check: 'versions', where: 'versions.tf', message: 'required_version is not >= 1.6' });
}

/** Evaluates a Terraform version constraint of comma-separated `op x.y[.z]` terms. */
export function acceptsVersion(constraint: string, v: [number, number, number]): boolean {
  const terms = constraint.split(',').map((t) => t.trim()).filter(Boolean);
  if (terms.length === 0) return false;
  const cmp = (a: number[], b: number[]) => { for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0); return 0; };
  return terms.every((t) => {
    const m = /^(>=|<=|>|<|=|!=|~>)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(t);
    if (!m) return false;
    const w = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    const c = cmp(v, w);
    switch (m[1] ?? '=') {
      case '>=': return c >= 0;
      case '>': return c > 0;
      case '<=': return c <= 0;
      case '<': return c < 0;
      case '!=': return c !== 0;
      case '~>': return c >= 0 && (m[4] !== undefined ? v[0] === w[0] && v[1] === w[1] : v[0] === w[0]);
      default: return c === 0;
    }
  });
}

export function checkInfra(m: InfraModel): Finding[] {
  const f: Finding[] = [];
  for (const check of [inventory, gating, kms, dynamodb, sqs, logs, iam, lambda, ecs, checkpoints, versions, checkAccess, checkOperations]) check(m, f);
  return f;
}
