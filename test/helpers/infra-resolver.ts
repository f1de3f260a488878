/**
 * Values for the expressions infra/*.tf policy documents use, for policy-render.ts: the ARNs of a
 * concrete deployment (an emulator's, or synthetic ones), the variables of a scenario, and the
 * module's own locals read from the parsed files. Understands the expression forms the policies
 * use — resource attribute references, `[for x in REF : x.arn]`, `concat(...)`, list literals,
 * `length(var.X) > 0 ? [1] : []`, string templates — and nothing else (unknown → undefined, which
 * makes the render throw).
 */
import type { InfraModel } from '../unit/infra/infra-model.js';
import { wholeExpression, type Resolved, type Resolver } from './policy-render.js';

export interface Deployment {
  region: string;
  account: string;
  partition?: string;
  /** by Terraform resource name: audit_log, decisions, requests */
  tables: Record<string, string>;
  /** requests, requests_dlq */
  queues: Record<string, string>;
  /** private-key secrets by key (keyset: the key-set secret, SPEC 7.1) */
  privateKeySecrets: Record<string, string>;
  publicKeysSecret: string;
  kmsKey: string;
  /** lambda, worker_task, worker_execution, break_glass (absent = not created) */
  roles: Record<string, string | undefined>;
  /** lambda, worker */
  logGroups: Record<string, string>;
  /** the scenario's variables (key_operator_arns, break_glass_principal_arns, …) */
  vars: Record<string, unknown>;
  /** the worker image's ECR repository ARN, when it lives in ECR */
  ecrRepository?: string;
  /** S3 buckets by Terraform resource name: checkpoints */
  buckets?: Record<string, string>;
}

/** Splits "a, [b, c], f(d, e)" at top-level commas. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === '[' || ch === '(' || ch === '{')) depth++;
    if (!quoted && (ch === ']' || ch === ')' || ch === '}')) depth--;
    if (!quoted && ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function infraResolver(model: InfraModel, d: Deployment): Resolver {
  const partition = d.partition ?? 'aws';
  const instances = (type: string, name: string): { arn: string }[] => {
    const arn =
      type === 'aws_iam_role' ? d.roles[name] : type === 'aws_dynamodb_table' ? d.tables[name] : type === 'aws_sqs_queue' ? d.queues[name] : undefined;
    if (type === 'aws_secretsmanager_secret' && name === 'private_key') return Object.values(d.privateKeySecrets).map((a) => ({ arn: a }));
    return arn ? [{ arn }] : [];
  };
  const template = (s: string): Resolved | undefined => {
    let failed = false;
    const out = s.replace(/\$\{([^{}]+)\}/g, (_, e: string) => {
      const v = resolve(e, {});
      if (typeof v !== 'string') failed = true;
      return String(v);
    });
    return failed ? undefined : out;
  };
  const resolve = (expr: string, scope: Record<string, unknown>): Resolved | undefined => {
    const e = expr.trim().replace(/\s+/g, ' ');
    let m: RegExpExecArray | null;
    if ((m = /^aws_(dynamodb_table|sqs_queue|iam_role|cloudwatch_log_group|s3_bucket)\.([a-z_]+)\[0\]\.arn$/.exec(e))) {
      const v = m[1] === 'cloudwatch_log_group' ? d.logGroups[m[2]] : m[1] === 's3_bucket' ? d.buckets?.[m[2]] : instances(`aws_${m[1]}`, m[2])[0]?.arn;
      return v;
    }
    if (e === 'aws_secretsmanager_secret.public_keys[0].arn') return d.publicKeysSecret;
    if (e === 'aws_kms_key.main[0].arn') return d.kmsKey;
    // `aws_iam_role.break_glass` (a for_each over a counted resource): its instances
    if ((m = /^(aws_[a-z_]+)\.([a-z_]+)$/.exec(e))) return instances(m[1], m[2]);
    if ((m = /^\[for (\w+) in (aws_[a-z_]+)\.([a-z_]+) : \1\.arn\]$/.exec(e))) return instances(m[2], m[3]).map((i) => i.arn);
    if ((m = /^\[for (\w+) in \[(.*)\] : "(.*)"\]$/.exec(e))) {
      const [, v, list, body] = m;
      return splitArgs(list).map((x) => JSON.parse(x) as string).map((x) => template(body.split(`\${${v}}`).join(x)) as string);
    }
    if ((m = /^concat\((.*)\)$/.exec(e))) {
      const parts = splitArgs(m[1]).map((a) => resolve(a, scope));
      return parts.some((p) => !Array.isArray(p)) ? undefined : (parts as unknown[][]).flat();
    }
    if ((m = /^\[(.*)\]$/.exec(e))) {
      const parts = splitArgs(m[1]).map((a) => resolve(a, scope));
      return parts.some((p) => p === undefined) ? undefined : parts;
    }
    if (e === 'local.worker_ecr_repository_arn == null ? [] : [1]') return d.ecrRepository ? [1] : [];
    if (e === 'local.worker_ecr_repository_arn') return d.ecrRepository;
    if ((m = /^length\(var\.([a-z_]+)\) > 0 \? \[1\] : \[\]$/.exec(e))) {
      const v = d.vars[m[1]];
      return Array.isArray(v) && v.length > 0 ? [1] : [];
    }
    if ((m = /^var\.([a-z_]+) == "" \? \[\] : \[1\]$/.exec(e))) {
      const v = m[1] in d.vars ? d.vars[m[1]] : model.variables[m[1]]?.default;
      return v === '' || v === undefined ? [] : [1];
    }
    if ((m = /^var\.([a-z_]+)$/.exec(e))) return (m[1] in d.vars ? d.vars[m[1]] : model.variables[m[1]]?.default) as Resolved | undefined;
    if (e === 'local.region') return d.region;
    if (e === 'local.account_id') return d.account;
    if (e === 'local.partition') return partition;
    if ((m = /^local\.([a-z_]+)$/.exec(e))) {
      const raw = model.locals[m[1]];
      if (Array.isArray(raw)) return raw.every((x) => typeof x === 'string' && !x.includes('${')) ? raw : undefined;
      if (typeof raw !== 'string') return undefined;
      const whole = wholeExpression(raw);
      return whole !== undefined ? resolve(whole, scope) : template(raw);
    }
    if (/^-?\d+$/.test(e)) return Number(e);
    if ((m = /^"([^"]*)"$/.exec(e))) return m[1];
    return undefined;
  };
  return resolve;
}

/** ARNs in the shape AWS gives them, for a deployment named like the module's defaults. */
export function syntheticDeployment(over: Partial<Deployment> = {}): Deployment {
  const region = over.region ?? 'eu-west-1';
  const account = over.account ?? '123456789012';
  const arn = (svc: string, rest: string) => `arn:aws:${svc}:${region}:${account}:${rest}`;
  return {
    region,
    account,
    tables: { audit_log: arn('dynamodb', 'table/ima-tpm-audit-log'), decisions: arn('dynamodb', 'table/ima-quantum-decisions'), requests: arn('dynamodb', 'table/ima-quantum-requests') },
    queues: { requests: arn('sqs', 'ima-quantum-requests'), requests_dlq: arn('sqs', 'ima-quantum-requests-dlq') },
    privateKeySecrets: { keyset: arn('secretsmanager', 'secret:ima/quantum/keyset-AbCdEf') },
    publicKeysSecret: arn('secretsmanager', 'secret:ima/quantum/public-keys-StUvWx'),
    kmsKey: arn('kms', 'key/11111111-2222-3333-4444-555555555555'),
    roles: {
      lambda: `arn:aws:iam::${account}:role/ima-quantum-proxy`,
      worker_task: `arn:aws:iam::${account}:role/ima-quantum-worker-task`,
      worker_execution: `arn:aws:iam::${account}:role/ima-quantum-worker-execution`,
    },
    logGroups: { lambda: arn('logs', 'log-group:/aws/lambda/ima-quantum-proxy'), worker: arn('logs', 'log-group:/ecs/ima-quantum-worker') },
    buckets: { checkpoints: `arn:aws:s3:::ima-quantum-audit-checkpoints-${account}` },
    vars: {},
    ...over,
  };
}
