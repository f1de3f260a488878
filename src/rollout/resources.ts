/**
 * The names of the AWS resources the rollout checks, and where they come from.
 *
 * Precedence (later wins): built-in defaults (the seed's names, as infra/locals.tf derives them from
 * name_prefix "ima" and secret_prefix "ima/quantum") < `--tf-outputs FILE` (`terraform output -json`
 * of infra/, the names the operator actually deployed) < `--config FILE` (a flat JSON object with
 * the keys of RESOURCE_KEYS) < `--resource KEY=VALUE` flags.
 */
import { InputError } from '../errors.js';
import { readInputFile } from '../io/files.js';

export interface Resources {
  region?: string;
  kmsAlias: string;
  /** the key-set secret: one version per generation (SPEC §7.1) */
  secretKeyset: string;
  secretPublicKeys: string;
  tableAudit: string;
  tableDecisions: string;
  tableRequests: string;
  queue: string;
  dlq: string;
  lambdaFunction: string;
  /** the alias the function URL serves and rollback moves (infra: see rollback.ts) */
  lambdaAlias: string;
  /** base URL of the proxy (function URL); looked up from Lambda when absent */
  apiUrl?: string;
  ecsCluster: string;
  ecsService: string;
  logGroups: string[];
  /** the CloudWatch alarms d5.alarms-ok reads (infra/alarms.tf) */
  alarms: string[];
  /** "tpm" | "none-explicit" as chosen in Terraform, when known */
  auditAnchor?: string;
  /** FARGATE | EC2, when known */
  workerLaunchType?: string;
}

/** The keys accepted in --config files and by --resource KEY=VALUE, with what they name. */
export const RESOURCE_KEYS: Record<string, { field: keyof Resources; what: string }> = {
  region: { field: 'region', what: 'AWS region of the stack' },
  'kms.alias': { field: 'kmsAlias', what: 'KMS key alias (alias/NAME), key id or ARN' },
  'secret.keyset': { field: 'secretKeyset', what: 'key-set secret (one version per generation)' },
  'secret.public-keys': { field: 'secretPublicKeys', what: 'public-keys document secret' },
  'table.audit': { field: 'tableAudit', what: 'audit log table' },
  'table.decisions': { field: 'tableDecisions', what: 'decisions table' },
  'table.requests': { field: 'tableRequests', what: 'requests (replay guard) table' },
  queue: { field: 'queue', what: 'request queue name' },
  dlq: { field: 'dlq', what: 'dead-letter queue name' },
  'lambda.function': { field: 'lambdaFunction', what: 'proxy Lambda function' },
  'lambda.alias': { field: 'lambdaAlias', what: 'proxy Lambda alias' },
  'api.url': { field: 'apiUrl', what: 'proxy base URL (terraform output api_endpoint)' },
  'ecs.cluster': { field: 'ecsCluster', what: 'worker ECS cluster' },
  'ecs.service': { field: 'ecsService', what: 'worker ECS service' },
  'log.groups': { field: 'logGroups', what: 'CloudWatch log groups, comma-separated' },
  'alarm.names': { field: 'alarms', what: 'CloudWatch alarms, comma-separated' },
};

/** What infra/alarms.tf watches, as the suffixes of its alarm names (<name_prefix>-quantum-<suffix>). */
export const ALARM_SUFFIXES = ['dlq-not-empty', 'queue-oldest-message', 'unanchored-entries', 'proxy-5xx', 'proxy-errors', 'proxy-throttles', 'worker-at-max'] as const;

export function defaultResources(namePrefix = 'ima', secretPrefix = 'ima/quantum'): Resources {
  return {
    kmsAlias: `alias/${namePrefix}-quantum`,
    secretKeyset: `${secretPrefix}/keyset`,
    secretPublicKeys: `${secretPrefix}/public-keys`,
    tableAudit: `${namePrefix}-tpm-audit-log`,
    tableDecisions: `${namePrefix}-quantum-decisions`,
    tableRequests: `${namePrefix}-quantum-requests`,
    queue: `${namePrefix}-quantum-requests`,
    dlq: `${namePrefix}-quantum-requests-dlq`,
    lambdaFunction: `${namePrefix}-quantum-proxy`,
    lambdaAlias: 'live',
    ecsCluster: `${namePrefix}-quantum`,
    ecsService: `${namePrefix}-quantum-worker`,
    logGroups: [`/aws/lambda/${namePrefix}-quantum-proxy`, `/ecs/${namePrefix}-quantum-worker`],
    alarms: ALARM_SUFFIXES.map((s) => `${namePrefix}-quantum-${s}`),
  };
}

const MAX_CONFIG_BYTES = 1 << 20;
/** AWS resource names and ARNs: printable ASCII without spaces or quotes, bounded. */
const NAME_RE = /^[A-Za-z0-9_+=.@:/,-]{1,2048}$/;

function checkName(value: unknown, what: string, source: string): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    throw new InputError('BAD_ROLLOUT_CONFIG', `${source}: ${what} is not a resource name`, {
      hint: 'expected an AWS resource name or ARN (letters, digits and _ + = . @ : / , -)',
    });
  }
  return value;
}

function checkUrl(value: string, source: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InputError('BAD_ROLLOUT_CONFIG', `${source}: api.url is not a URL`, { hint: 'expected e.g. https://abc123.execute-api.eu-central-1.amazonaws.com (terraform output api_endpoint)' });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new InputError('BAD_ROLLOUT_CONFIG', `${source}: api.url must be an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}

/** Sets one KEY=VALUE (from a config file or a flag) on `res`. */
export function setResource(res: Resources, key: string, value: unknown, source: string): void {
  const spec = RESOURCE_KEYS[key];
  if (!spec) {
    throw new InputError('BAD_ROLLOUT_CONFIG', `${source}: unknown key "${key.slice(0, 40)}"`, {
      hint: `known keys: ${Object.keys(RESOURCE_KEYS).join(', ')}`,
    });
  }
  if (spec.field === 'logGroups' || spec.field === 'alarms') {
    const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').filter(Boolean) : null;
    if (!list || list.length > 20) throw new InputError('BAD_ROLLOUT_CONFIG', `${source}: ${key} must be a list of at most 20 names`);
    res[spec.field] = list.map((g) => checkName(g, spec.field === 'alarms' ? 'an alarm name' : 'a log group', source));
  } else if (spec.field === 'apiUrl') {
    res.apiUrl = checkUrl(checkNameOrUrl(value, source), source);
  } else {
    (res as unknown as Record<string, string>)[spec.field] = checkName(value, spec.what, source);
  }
}

function checkNameOrUrl(value: unknown, source: string): string {
  if (typeof value !== 'string' || value.length > 2048) throw new InputError('BAD_ROLLOUT_CONFIG', `${source}: api.url is not a URL`);
  return value;
}

/** `--resource KEY=VALUE` */
export function applyResourceFlag(res: Resources, flag: string): void {
  const i = flag.indexOf('=');
  if (i <= 0) {
    throw new InputError('BAD_ROLLOUT_CONFIG', `--resource "${flag.slice(0, 60)}" is not KEY=VALUE`, {
      hint: 'e.g. --resource table.decisions=prod-quantum-decisions',
    });
  }
  setResource(res, flag.slice(0, i), flag.slice(i + 1), '--resource');
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = (await readInputFile(path, MAX_CONFIG_BYTES, what)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError('BAD_ROLLOUT_CONFIG', `${path} is not JSON`, { hint: `expected a ${what}` });
  }
}

/** A --config file: a flat JSON object of RESOURCE_KEYS. */
export async function applyConfigFile(res: Resources, path: string): Promise<void> {
  const doc = await readJson(path, 'rollout config (JSON object)');
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InputError('BAD_ROLLOUT_CONFIG', `${path} is not a JSON object`, { hint: `keys: ${Object.keys(RESOURCE_KEYS).join(', ')}` });
  }
  for (const [k, v] of Object.entries(doc)) setResource(res, k, v, path);
}

/**
 * `terraform output -json` of infra/outputs.tf: `{"NAME": {"value": ..., "type": ..., "sensitive": ...}}`.
 * Null outputs (quantum_safe_enabled = false) are ignored; unknown outputs are ignored.
 */
export async function applyTerraformOutputs(res: Resources, path: string): Promise<number> {
  const doc = await readJson(path, 'terraform output -json document');
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InputError('BAD_TF_OUTPUTS', `${path} is not the output of terraform output -json`, {
      hint: 'create it with: terraform -chdir=infra output -json > outputs.json',
    });
  }
  const out = doc as Record<string, unknown>;
  const value = (name: string): unknown => {
    const o = out[name];
    return o && typeof o === 'object' && 'value' in o ? (o as { value: unknown }).value : undefined;
  };
  if (!Object.values(out).every((o) => o && typeof o === 'object' && 'value' in (o as object))) {
    throw new InputError('BAD_TF_OUTPUTS', `${path} is not the output of terraform output -json`, {
      hint: 'every entry must be {"value": ...}; create it with: terraform -chdir=infra output -json > outputs.json',
    });
  }
  let applied = 0;
  const set = (key: string, v: unknown) => {
    if (v === undefined || v === null) return;
    setResource(res, key, v, path);
    applied++;
  };
  const map = (name: string): Record<string, unknown> => {
    const v = value(name);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  };
  set('region', value('region'));
  set('kms.alias', value('kms_alias_name'));
  set('secret.keyset', value('keyset_secret_name'));
  set('secret.public-keys', value('public_keys_secret_name'));
  const tables = map('table_names');
  set('table.audit', tables.audit_log);
  set('table.decisions', tables.decisions);
  set('table.requests', tables.requests);
  set('queue', queueName(value('queue_url') ?? value('queue_arn')));
  set('dlq', queueName(value('dlq_url') ?? value('dlq_arn')));
  set('lambda.function', value('lambda_function_name'));
  set('lambda.alias', value('lambda_alias_name'));
  // the proxy's HTTP API (infra/api.tf); lambda_function_url is what stacks before it output
  set('api.url', value('api_endpoint') ?? value('lambda_function_url'));
  set('ecs.cluster', value('ecs_cluster_name'));
  set('ecs.service', value('ecs_service_name'));
  const groups = Object.values(map('log_group_names')).filter((g) => typeof g === 'string');
  if (groups.length) set('log.groups', groups);
  const alarms = Object.values(map('alarm_names')).filter((a) => typeof a === 'string');
  if (alarms.length) set('alarm.names', alarms);
  const anchor = value('audit_anchor');
  if (typeof anchor === 'string') res.auditAnchor = anchor;
  const launch = value('worker_launch_type');
  if (typeof launch === 'string') res.workerLaunchType = launch;
  return applied;
}

/** The queue name from its URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) or ARN. */
function queueName(v: unknown): string | undefined {
  if (typeof v !== 'string' || !v) return undefined;
  const parts = v.split(/[/:]/);
  return parts[parts.length - 1] || undefined;
}

export interface ResourceSources {
  namePrefix?: string;
  secretPrefix?: string;
  tfOutputs?: string;
  config?: string;
  resource?: string[];
}

export async function resolveResources(src: ResourceSources): Promise<Resources> {
  const res = defaultResources(src.namePrefix ?? 'ima', src.secretPrefix ?? 'ima/quantum');
  if (src.tfOutputs) await applyTerraformOutputs(res, src.tfOutputs);
  if (src.config) await applyConfigFile(res, src.config);
  for (const f of src.resource ?? []) applyResourceFlag(res, f);
  return res;
}
