// Who may do what (issue 17, issue 12 item 10), as checks over the parsed model: the proxy API's
// caller authentication, throttling and CORS, the proxy's reserved concurrency, the Lambda
// permission's source, the KMS key policy's grants and decrypters, the audit table's append-only
// writes, the private-key secrets' resource policy, the operators' and the break-glass role's
// policies. Run by checkInfra (infra-checks.ts); infra-mutation.test.ts proves each can fail.
import { block, blocks, dataOf, dynamicBlocks, policyDocumentName, resourcesOf, statementsOf, stringList, type Block, type InfraModel, type TfBlock } from './infra-model.js';

export interface Finding {
  check: string;
  where: string;
  message: string;
}

const at = (r: TfBlock) => `${r.file}: ${r.kind === 'data' ? 'data.' : ''}${r.type}.${r.name}`;
const docOf = (m: InfraModel, name: string | undefined) => dataOf(m, 'aws_iam_policy_document').find((d) => d.name === name);
const conditionsOf = (s: Block) => blocks(s, 'condition');
const hasCondition = (s: Block, test: string, variable: string, values?: (v: string[]) => boolean) =>
  conditionsOf(s).some((c) => c.test === test && c.variable === variable && (!values || values(stringList(c.values))));
/** A var's default, when the expression is exactly `${var.X}`. */
function varDefault(m: InfraModel, expr: unknown): unknown {
  const v = typeof expr === 'string' ? /^\$\{var\.([A-Za-z0-9_]+)\}$/.exec(expr) : null;
  return v ? m.variables[v[1]]?.default : expr;
}
/** A local list (e.g. `${local.audit_entry_attributes}` → its strings), else undefined. */
function localList(m: InfraModel, expr: unknown): string[] | undefined {
  const v = typeof expr === 'string' ? /^\$\{local\.([A-Za-z0-9_]+)\}$/.exec(expr) : null;
  const l = v ? m.locals[v[1]] : expr;
  return Array.isArray(l) ? l.map(String) : undefined;
}

function api(m: InfraModel, f: Finding[]): void {
  for (const u of resourcesOf(m, 'aws_lambda_function_url')) {
    f.push({ check: 'api.auth', where: at(u), message: 'a function URL: callers must come through the authenticated API (api.tf)' });
  }
  const apis = resourcesOf(m, 'aws_apigatewayv2_api');
  if (apis.length === 0) f.push({ check: 'api.auth', where: 'api.tf', message: 'no aws_apigatewayv2_api in front of the proxy' });
  const authorizers = new Map(resourcesOf(m, 'aws_apigatewayv2_authorizer').map((a) => [a.name, a]));
  const routes = resourcesOf(m, 'aws_apigatewayv2_route');
  if (routes.length === 0) f.push({ check: 'api.auth', where: 'api.tf', message: 'no routes' });
  // the browser page's static files (SPEC 10) are the only routes without the authorizer: GET of
  // exactly these paths, from the page_routes local, never an /api/ route
  const pageKeys = new Set(['GET /', 'GET /index.html', 'GET /app.js', 'GET /app.css']);
  const page = m.locals.page_routes as Record<string, unknown> | undefined;
  for (const r of routes) {
    if (r.body.authorization_type === 'NONE') {
      const keys = String(r.body.for_each ?? '').includes('local.page_routes') ? Object.values(page ?? {}).map(String) : [String(r.body.route_key)];
      const bad = keys.filter((k) => !pageKeys.has(k));
      if (bad.length || keys.length === 0) f.push({ check: 'api.auth', where: at(r), message: `route(s) without the JWT authorizer that are not the page's static files: ${bad.join(', ') || '(none named)'}` });
      continue;
    }
    const ref = /^\$\{aws_apigatewayv2_authorizer\.([A-Za-z0-9_]+)\[0\]\.id\}$/.exec(String(r.body.authorizer_id ?? ''));
    const a = ref ? authorizers.get(ref[1]) : undefined;
    const jwt = block(a?.body, 'jwt_configuration');
    const ok =
      r.body.authorization_type === 'JWT' &&
      a?.body.authorizer_type === 'JWT' &&
      JSON.stringify(a.body.identity_sources) === '["$request.header.Authorization"]' &&
      /^\$\{var\.[a-z_]+\}$/.test(String(jwt?.issuer ?? '')) &&
      /^\$\{var\.[a-z_]+\}$/.test(String(jwt?.audience ?? ''));
    if (!ok) f.push({ check: 'api.auth', where: at(r), message: 'route is not behind the JWT authorizer (issuer and audience from variables, token from Authorization)' });
  }
  for (const a of authorizers.values()) {
    const iss = block(a.body, 'jwt_configuration')?.issuer;
    const v = /^\$\{var\.([a-z_]+)\}$/.exec(String(iss ?? ''));
    if (v && m.variables[v[1]]?.default !== null) f.push({ check: 'api.auth', where: at(a), message: `${v[1]} has a default: the issuer must be chosen` });
    const conds = blocks(block(a.body, 'lifecycle'), 'precondition').map((p) => String(p.condition));
    if (!conds.some((c) => /api_jwt_issuer != null/.test(c) && /length\(var\.api_jwt_audiences\) > 0/.test(c))) {
      f.push({ check: 'api.auth', where: at(a), message: 'no precondition requiring an issuer and an audience' });
    }
  }
  // throttling: a positive rate and burst on every route (the stage's default route settings)
  const stages = resourcesOf(m, 'aws_apigatewayv2_stage');
  if (stages.length === 0) f.push({ check: 'api.throttling', where: 'api.tf', message: 'no stage' });
  for (const s of stages) {
    const d = block(s.body, 'default_route_settings');
    for (const k of ['throttling_rate_limit', 'throttling_burst_limit']) {
      const v = varDefault(m, d?.[k]);
      if (typeof v !== 'number' || v <= 0) f.push({ check: 'api.throttling', where: at(s), message: `default_route_settings.${k} is not a positive number` });
    }
    if (s.body.name !== '$default') f.push({ check: 'api.throttling', where: at(s), message: 'not the $default stage (a named stage prefixes rawPath; the proxy routes on /api/…)' });
  }
  // CORS: origins from a variable whose default is empty; the Authorization header allowed
  for (const a of apis) {
    for (const c of dynamicBlocks(a.body, 'cors_configuration').flatMap((d) => blocks(d, 'content')).concat(blocks(a.body, 'cors_configuration'))) {
      const origins = /^\$\{var\.([a-z_]+)\}$/.exec(String(c.allow_origins ?? ''));
      const dflt = origins ? m.variables[origins[1]]?.default : c.allow_origins;
      if (!origins || !Array.isArray(dflt) || dflt.length > 0) f.push({ check: 'api.cors', where: at(a), message: 'CORS origins are not a variable with an empty default' });
      if (!stringList(c.allow_headers).map((h) => h.toLowerCase()).includes('authorization')) f.push({ check: 'api.cors', where: at(a), message: 'CORS does not allow the Authorization header' });
      if (c.allow_credentials === true) f.push({ check: 'api.cors', where: at(a), message: 'CORS allows credentials (cookies); the token travels in Authorization' });
    }
  }
}

function lambdaAccess(m: InfraModel, f: Finding[]): void {
  for (const fn of resourcesOf(m, 'aws_lambda_function')) {
    const v = varDefault(m, fn.body.reserved_concurrent_executions);
    if (typeof v !== 'number' || v < 1) f.push({ check: 'lambda.reserved-concurrency', where: at(fn), message: 'no reserved concurrency of at least 1' });
  }
  for (const p of resourcesOf(m, 'aws_lambda_permission')) {
    const ok =
      p.body.action === 'lambda:InvokeFunction' &&
      p.body.principal === 'apigateway.amazonaws.com' &&
      /^\$\{aws_apigatewayv2_api\.[a-z_]+\[0\]\.execution_arn\}\/(\*\/\*\/api\/\*|\*\/GET\/\$\{each\.key\})$/.test(String(p.body.source_arn ?? '')) &&
      p.body.function_url_auth_type === undefined;
    if (!ok) f.push({ check: 'lambda.permission-scoped', where: at(p), message: 'a Lambda permission other than InvokeFunction by API Gateway from this API (source_arn = its execution ARN)' });
  }
  if (resourcesOf(m, 'aws_lambda_permission').length === 0) f.push({ check: 'lambda.permission-scoped', where: 'api.tf', message: 'no permission for the API to invoke the proxy' });
}

function kmsKeyPolicy(m: InfraModel, f: Finding[]): void {
  for (const k of resourcesOf(m, 'aws_kms_key')) {
    const d = docOf(m, policyDocumentName(k.body.policy));
    for (const s of d ? statementsOf(d) : []) {
      const actions = stringList(s.actions);
      const principals = blocks(s, 'principals');
      const aws = principals.filter((p) => p.type === 'AWS');
      if (aws.length === 0) continue;
      const root = aws.some((p) => stringList(p.identifiers).some((i) => i.endsWith(':root')));
      const operators = aws.some((p) => stringList(p.identifiers).some((i) => i.includes('var.key_operator_arns')));
      if (actions.includes('kms:CreateGrant') && !hasCondition(s, 'Bool', 'kms:GrantIsForAWSResource', (v) => JSON.stringify(v) === '["true"]')) {
        f.push({ check: 'kms.grants', where: at(d!), message: `statement ${String(s.sid)} allows CreateGrant without kms:GrantIsForAWSResource = true (a principal could grant itself Decrypt)` });
      }
      const decrypts = actions.some((a) => /^kms:(Decrypt|ReEncrypt|CreateGrant$)/.test(a));
      if ((root || operators) && actions.some((a) => /^kms:(Decrypt|ReEncrypt)/.test(a))) {
        f.push({ check: 'kms.decrypters', where: at(d!), message: `statement ${String(s.sid)} lets ${root ? 'the account root' : 'key operators'} decrypt` });
      }
      if (operators && decrypts) f.push({ check: 'kms.decrypters', where: at(d!), message: `statement ${String(s.sid)}: operators never decrypt` });
    }
  }
}

const AUDIT_TABLE = /aws_dynamodb_table\.audit_log\b/;
const WRITES = /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|PartiQL\w*|TransactWriteItems|\*)$/;

function auditAppendOnly(m: InfraModel, f: Finding[]): void {
  for (const d of dataOf(m, 'aws_iam_policy_document')) {
    for (const s of statementsOf(d)) {
      if (s.effect === 'Deny' || !stringList(s.resources).some((r) => AUDIT_TABLE.test(r))) continue;
      const sid = String(s.sid ?? '?');
      for (const a of stringList(s.actions).filter((x) => WRITES.test(x))) {
        if (a === 'dynamodb:DeleteItem') {
          if (d.name !== 'break_glass') f.push({ check: 'iam.audit-append-only', where: at(d), message: `statement ${sid}: DeleteItem on the audit table (only the break-glass role may)` });
          continue;
        }
        if (a !== 'dynamodb:PutItem') {
          // v3 entries and batch statements are written once and never changed (SPEC 8.10.4)
          f.push({ check: 'iam.audit-append-only', where: at(d), message: `statement ${sid}: ${a} on the audit table` });
          continue;
        }
        const attrs = conditionsOf(s).find((c) => c.test === 'ForAllValues:StringEquals' && c.variable === 'dynamodb:Attributes');
        const list = localList(m, attrs?.values);
        const returns = hasCondition(s, 'StringEqualsIfExists', 'dynamodb:ReturnValues', (v) => JSON.stringify(v) === '["NONE"]');
        if (!list || !returns) f.push({ check: 'iam.audit-append-only', where: at(d), message: `statement ${sid}: ${a} on the audit table without dynamodb:Attributes (ForAllValues:StringEquals) and ReturnValues NONE` });
        else if (!hasCondition(s, 'ForAllValues:StringLike', 'dynamodb:LeadingKeys', (v) => JSON.stringify(v) === '["*#batches"]') && !hasCondition(s, 'ForAllValues:StringNotLike', 'dynamodb:LeadingKeys', (v) => JSON.stringify(v) === '["*#batches"]')) {
          f.push({ check: 'iam.audit-append-only', where: at(d), message: `statement ${sid}: PutItem on the audit table not held to entries or to "#batches" partitions (dynamodb:LeadingKeys)` });
        }
      }
    }
  }
}

function proxyWrites(m: InfraModel, f: Finding[]): void {
  const d = docOf(m, 'lambda');
  for (const s of d ? statementsOf(d) : []) {
    const sid = String(s.sid ?? '?');
    const writes = stringList(s.actions).filter((a) => WRITES.test(a));
    const res = stringList(s.resources);
    if (writes.length && res.some((r) => /aws_dynamodb_table\.(decisions|audit_log)\b/.test(r))) {
      f.push({ check: 'iam.proxy-writes', where: at(d!), message: `statement ${sid}: the proxy may ${writes.join(', ')} decisions or audit entries` });
    }
    if (stringList(s.actions).some((a) => a.startsWith('dynamodb:')) && res.some((r) => /aws_dynamodb_table\.requests\b/.test(r))) {
      if (!hasCondition(s, 'ForAllValues:StringLike', 'dynamodb:LeadingKeys', (v) => JSON.stringify(v) === '["req#*"]')) {
        f.push({ check: 'iam.proxy-writes', where: at(d!), message: `statement ${sid}: the proxy is not held to its req# items (dynamodb:LeadingKeys)` });
      }
    }
  }
  const w = docOf(m, 'worker_task');
  for (const s of w ? statementsOf(w) : []) {
    // the worker's own items: request-id claims (rid#) and audit-slot claims (aud#), one prefix per statement
    const own = (v: unknown) => JSON.stringify(v) === '["rid#*"]' || JSON.stringify(v) === '["aud#*"]';
    if (stringList(s.resources).some((r) => /aws_dynamodb_table\.requests\b/.test(r)) && !hasCondition(s, 'ForAllValues:StringLike', 'dynamodb:LeadingKeys', own)) {
      f.push({ check: 'iam.proxy-writes', where: at(w!), message: `statement ${String(s.sid)}: the worker is not held to its rid# / aud# items (dynamodb:LeadingKeys)` });
    }
  }
}

function custody(m: InfraModel, f: Finding[]): void {
  // private-key secrets: a resource policy denying GetSecretValue to all but the listed readers
  const policies = resourcesOf(m, 'aws_secretsmanager_secret_policy');
  const covered = policies.some((p) => /local\.private_key_secret_names/.test(String(p.body.for_each)) && /aws_secretsmanager_secret\.private_key\[each\.key\]\.arn/.test(String(p.body.secret_arn)));
  if (!covered) f.push({ check: 'secrets.resource-policy', where: 'secrets.tf', message: 'the private-key secrets have no resource policy' });
  for (const p of policies) {
    const d = docOf(m, policyDocumentName(p.body.policy));
    const deny = (d ? statementsOf(d) : []).find(
      (s) =>
        s.effect === 'Deny' &&
        stringList(s.actions).includes('secretsmanager:GetSecretValue') &&
        blocks(s, 'principals').some((x) => x.type === 'AWS' && stringList(x.identifiers).includes('*')) &&
        hasCondition(s, 'ArnNotEquals', 'aws:PrincipalArn', (v) => JSON.stringify(v) === '["${local.private_key_readers}"]'),
    );
    if (!deny) f.push({ check: 'secrets.resource-policy', where: at(p), message: 'no Deny of GetSecretValue for every principal but local.private_key_readers' });
  }
  const readers = String(m.locals.private_key_readers ?? '');
  if (!/aws_iam_role\.worker_task\b/.test(readers) || /aws_iam_role\.(lambda|worker_execution)\b|key_operator/.test(readers)) {
    f.push({ check: 'secrets.resource-policy', where: 'locals.tf', message: 'private_key_readers is not the worker task role (and the break-glass role) only' });
  }
  // operators write, never read a private key nor decrypt
  const op = docOf(m, 'key_operator');
  if (!op) f.push({ check: 'custody.operators', where: 'custody.tf', message: 'no key_operator policy document' });
  for (const s of op ? statementsOf(op) : []) {
    const reads = stringList(s.actions).some((a) => a === 'secretsmanager:GetSecretValue' || a === 'secretsmanager:BatchGetSecretValue');
    if (reads && stringList(s.resources).some((r) => /aws_secretsmanager_secret\.private_key\b|"\*"|^\*$/.test(r))) {
      f.push({ check: 'custody.operators', where: at(op!), message: `statement ${String(s.sid)}: operators may read a private key` });
    }
    if (stringList(s.actions).some((a) => /^kms:(Decrypt|ReEncrypt|CreateGrant)/.test(a))) f.push({ check: 'custody.operators', where: at(op!), message: `statement ${String(s.sid)}: operators may decrypt` });
  }
  // break-glass: named principals, MFA
  const bg = docOf(m, 'break_glass_assume');
  const trust = bg ? statementsOf(bg) : [];
  const mfa = trust.length > 0 && trust.every((s) => hasCondition(s, 'Bool', 'aws:MultiFactorAuthPresent', (v) => JSON.stringify(v) === '["true"]'));
  const named = trust.every((s) => blocks(s, 'principals').every((p) => p.type === 'AWS' && String(p.identifiers) === '${var.break_glass_principal_arns}'));
  if (!mfa || !named) f.push({ check: 'custody.break-glass', where: 'custody.tf', message: 'the break-glass role is not limited to break_glass_principal_arns with MFA' });
}

export function checkAccess(m: InfraModel, f: Finding[]): void {
  for (const check of [api, lambdaAccess, kmsKeyPolicy, auditAppendOnly, proxyWrites, custody]) check(m, f);
}
