/**
 * The service configuration (SPEC §8.8): every environment variable the Lambda proxy and the
 * Fargate worker read, parsed and checked in one place, at start, before any AWS client is made.
 * Configuration fails closed: a value of the wrong type, range or unit ("300s" where seconds are
 * a whole number, "sha265" for a bank) is `CONFIG_INVALID` (exit 2) naming every bad variable
 * (`details.variables`), never a silent default. An empty value counts as unset (Terraform writes
 * "" for a variable that does not apply). Values are echoed in messages only for numbers and
 * choices, cut short; URLs and names of secrets are not echoed.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import type { Env } from '../aws/config.js';
import { DEFAULT_PREFIX, PUBLIC_KEYS_SUFFIX, secretName } from '../aws/secret-format.js';
import { PreconditionError, UsageError } from '../errors.js';
import { DEFAULT_TABLES } from '../protocol/records.js';
import { DEFAULT_HEALTH_MAX_AGE_SECONDS, DEFAULT_HEARTBEAT_FILE } from './worker/heartbeat.js';

export type PcrAnchorConfig = { kind: 'tpm'; tcti?: string } | { kind: 'simulated'; stateFile: string };

/**
 * Who holds the decisions signer's private key (SPEC §8.8 SIGNER): the key set itself (Secrets
 * Manager, or KEYS_DIR), or an ML-DSA-87 key in AWS KMS that never leaves the HSM.
 */
export type SignerConfig = { kind: 'keyset' } | { kind: 'kms'; keyArn: string };

export interface ProxyConfig {
  queueUrl: string;
  tables: { requests: string; decisions: string };
  publicKeysSecret: string;
}

export interface WorkerConfig {
  queueUrl: string;
  tables: { requests: string; decisions: string; audit: string };
  keys: { dir: string } | { prefix: string };
  signer: SignerConfig;
  anchor: PcrAnchorConfig;
  pcrIndex: number;
  pcrBank: 'sha256' | 'sha384';
  /** undefined: the ECS task id (ECS_CONTAINER_METADATA_URI_V4), else the host name */
  auditChainId?: string;
  /** ECS's task metadata endpoint (set by the ECS agent): where the task id comes from */
  ecsMetadataUri?: string;
  /** SPEC §8.11: where registrations and checkpoints go (undefined: nowhere, logged at start) */
  checkpoints?: { location: string; everyEntries: number; everySeconds: number };
  /** undefined: the built-in rules model */
  personaModel?: { url: string; tokenSecret?: string };
  /** pipelines (threads) per process, each with its own audit chain <AUDIT_CHAIN_ID>/<i> */
  pipelines: number;
  /** a council's time budget per request (ms) */
  councilBudgetMs: number;
  /** host-wide PCR lock file (several tasks on one TPM host); undefined: the process-wide lock only */
  pcrLockFile?: string;
  /** undefined: the service's own composite key */
  auditRecipient?: string;
  visibilitySeconds: number;
  waitSeconds: number;
  maxSkewSeconds: number;
  stopGraceSeconds: number;
  heartbeatFile: string;
  healthMaxAgeSeconds: number;
}

/** SPEC §8.8 defaults and ranges (seconds unless named otherwise). */
export const CONFIG_LIMITS = {
  VISIBILITY_SECONDS: { min: 1, max: 43_200, dflt: 60 }, // SQS: 0..12 h; 0 would renew in a spin
  WAIT_SECONDS: { min: 0, max: 20, dflt: 20 }, // SQS long polling
  MAX_SKEW_SECONDS: { min: 1, max: 3600, dflt: 300 }, // must stay far below the replay-guard TTL (24 h)
  STOP_GRACE_SECONDS: { min: 0, max: 3600, dflt: 20 },
  HEALTH_MAX_AGE_SECONDS: { min: 10, max: 86_400, dflt: DEFAULT_HEALTH_MAX_AGE_SECONDS }, // heartbeat every 5 s
  PCR_INDEX: { min: 0, max: 23, dflt: 11 },
  WORKER_PIPELINES: { min: 1, max: 256 },
  COUNCIL_BUDGET_MS: { min: 10, max: 600_000, dflt: 10_000 },
  AUDIT_CHECKPOINT_ENTRIES: { min: 1, max: 65_536, dflt: 1000 },
  AUDIT_CHECKPOINT_SECONDS: { min: 1, max: 86_400, dflt: 60 },
  AWS_MAX_ATTEMPTS: { min: 1, max: 20 },
} as const;

/** Collects every problem, so one start names every bad variable at once. */
class Problems {
  readonly list: { variable: string; why: string }[] = [];
  add(variable: string, why: string): undefined {
    this.list.push({ variable, why });
    return undefined;
  }
  throwIfAny(who: string): void {
    if (this.list.length === 0) return;
    const names = this.list.map((p) => p.variable);
    throw new UsageError('CONFIG_INVALID', `the ${who} configuration is invalid: ${this.list.map((p) => `${p.variable} ${p.why}`).join('; ')}`, {
      hint: 'see SPEC §8.8 for every variable, its type and its range',
      details: { variables: names },
    });
  }
}

function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

const shown = (v: string) => JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v);
const hasControl = (v: string) => /[\u0000-\u001f\u007f]/.test(v);

/** A whole number in [min, max] written as plain digits: "300s", "3e2", " 300", "0x12c" are refused. */
function int(env: Env, problems: Problems, name: keyof typeof CONFIG_LIMITS, unit: string | undefined = 'seconds'): number | undefined {
  const v = value(env, name);
  const lim = CONFIG_LIMITS[name];
  if (v === undefined) return 'dflt' in lim ? lim.dflt : undefined;
  if (!/^(0|[1-9][0-9]{0,8})$/.test(v) || Number(v) < lim.min || Number(v) > lim.max) {
    return problems.add(name, `is ${shown(v)}; it must be a whole number${unit ? ` of ${unit}` : ''} from ${lim.min} to ${lim.max}`);
  }
  return Number(v);
}

function choice<T extends string>(env: Env, problems: Problems, name: string, choices: readonly T[], dflt: T): T {
  const v = value(env, name);
  if (v === undefined) return dflt;
  if (!(choices as readonly string[]).includes(v)) return problems.add(name, `is ${shown(v)}; it must be one of ${choices.join(', ')}`) ?? dflt;
  return v as T;
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table\/[A-Za-z0-9_.-]{3,255}$/;
const SECRET_ID = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function table(env: Env, problems: Problems, name: string, dflt: string): string {
  const v = value(env, name);
  if (v === undefined) return dflt;
  if (!TABLE_NAME.test(v) && !TABLE_ARN.test(v)) return problems.add(name, 'is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -) or table ARN') ?? dflt;
  return v;
}

function secretId(env: Env, problems: Problems, name: string): string | undefined {
  const v = value(env, name);
  if (v === undefined) return undefined;
  if (!SECRET_ID.test(v) && !SECRET_ARN.test(v)) return problems.add(name, 'is not a Secrets Manager secret name (A-Z a-z 0-9 / _ + = . @ -) or ARN');
  return v;
}

function path(env: Env, problems: Problems, name: string, opts: { absolute?: boolean } = {}): string | undefined {
  const v = value(env, name);
  if (v === undefined) return undefined;
  if (hasControl(v) || v.length > 4096 || (opts.absolute && !isAbsolute(v))) {
    return problems.add(name, opts.absolute ? 'is not an absolute file path' : 'is not a file path');
  }
  return v;
}

/** An http(s) URL without credentials or fragment; plain http only where `allowHttp` says. */
function url(env: Env, problems: Problems, name: string, allowHttp: (u: URL) => boolean, what: string): string | undefined {
  const v = value(env, name);
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return problems.add(name, `is not a URL (expected ${what})`);
  }
  if (u.username || u.password) return problems.add(name, 'carries credentials in the URL; they would be logged and sent in the clear');
  if (u.hash) return problems.add(name, 'has a #fragment');
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && allowHttp(u))) return problems.add(name, `must be ${what}`);
  return v;
}

/** The standard AWS variables the service relies on, checked up front (the SDK would fail later, or not at all). */
function awsVariables(env: Env, problems: Problems): void {
  const region = value(env, 'AWS_REGION');
  if (region !== undefined && !/^[a-z]{2,}(-[a-z0-9]+){1,4}$/.test(region)) problems.add('AWS_REGION', `is ${shown(region)}, which is not an AWS region name`);
  int(env, problems, 'AWS_MAX_ATTEMPTS', 'attempts');
  choice(env, problems, 'AWS_RETRY_MODE', ['standard', 'adaptive'] as const, 'standard');
  for (const name of Object.keys(env).filter((k) => k === 'AWS_ENDPOINT_URL' || k.startsWith('AWS_ENDPOINT_URL_'))) {
    url(env, problems, name, () => true, 'an http:// or https:// URL');
  }
}

/** An emulator endpoint for SQS is configured: its queue URLs may be plain http. */
const sqsEmulated = (env: Env) => value(env, 'AWS_ENDPOINT_URL_SQS') !== undefined || value(env, 'AWS_ENDPOINT_URL') !== undefined;

function queueUrl(env: Env, problems: Problems): string {
  const v = value(env, 'QUEUE_URL');
  if (v === undefined) return problems.add('QUEUE_URL', 'is not set') ?? '';
  return url(env, problems, 'QUEUE_URL', (u) => LOOPBACK.has(u.hostname) || sqsEmulated(env), 'an https:// SQS queue URL (http only on loopback or with AWS_ENDPOINT_URL[_SQS])') ?? '';
}

/** The proxy's configuration (the Lambda's environment), checked in full. */
export function proxyConfig(env: Env): ProxyConfig {
  const problems = new Problems();
  awsVariables(env, problems);
  const q = queueUrl(env, problems);
  const tables = {
    requests: table(env, problems, 'REQUESTS_TABLE', DEFAULT_TABLES.requests),
    decisions: table(env, problems, 'DECISIONS_TABLE', DEFAULT_TABLES.decisions),
  };
  const prefix = secretPrefix(env, problems);
  const publicKeysSecret = secretId(env, problems, 'PUBLIC_KEYS_SECRET') ?? secretName(prefix, PUBLIC_KEYS_SUFFIX);
  problems.throwIfAny('proxy');
  return { queueUrl: q, tables, publicKeysSecret };
}

function secretPrefix(env: Env, problems: Problems): string {
  const v = value(env, 'KEYS_SECRET_PREFIX');
  if (v === undefined) return DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*$/.test(v) || v.length > 480) {
    return problems.add('KEYS_SECRET_PREFIX', 'is not a secret name prefix (like ima/quantum: A-Z a-z 0-9 / _ + = . @ -, no leading, trailing or doubled /)') ?? DEFAULT_PREFIX;
  }
  return v;
}

/** A TCTI as tpm2-tools takes it: `name` or `name:config` (shared with `local up --tcti`). */
export function isTcti(v: string): boolean {
  return !hasControl(v) && v.length <= 1024 && /^[A-Za-z0-9_-]+(:.*)?$/.test(v);
}

function anchor(env: Env, problems: Problems): PcrAnchorConfig | undefined {
  const tcti = value(env, 'TPM2TOOLS_TCTI');
  if (tcti !== undefined && !isTcti(tcti)) problems.add('TPM2TOOLS_TCTI', 'is not a TCTI (like device:/dev/tpmrm0 or swtpm:path=/run/tpm.sock)');
  const a = value(env, 'IMA_QS_PCR_ANCHOR');
  if (a === undefined) return tcti !== undefined ? { kind: 'tpm', tcti } : undefined;
  if (a === 'tpm') return { kind: 'tpm', tcti };
  if (a.startsWith('simulated:')) {
    const stateFile = a.slice('simulated:'.length);
    if (stateFile && isAbsolute(stateFile) && !hasControl(stateFile)) return { kind: 'simulated', stateFile };
  }
  return problems.add('IMA_QS_PCR_ANCHOR', 'must be "tpm" or "simulated:" followed by an absolute path');
}

/** A KMS key ARN (not an alias: IAM grants kms:Sign on the key ARN, and an alias can be re-pointed). */
export const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** SIGNER: unset or `keyset` (the key set's own ML-DSA-87 key), or `kms:<key ARN>` (not an alias: IAM grants kms:Sign on the key ARN). */
function signer(env: Env, problems: Problems): SignerConfig {
  const v = value(env, 'SIGNER');
  if (v === undefined || v === 'keyset') return { kind: 'keyset' };
  if (v.startsWith('kms:') && KMS_KEY_ARN.test(v.slice(4))) return { kind: 'kms', keyArn: v.slice(4) };
  return problems.add('SIGNER', 'must be "keyset" or "kms:" followed by a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias)') ?? { kind: 'keyset' };
}

/** SPEC §8.11: s3://BUCKET[/PREFIX] (S3 bucket naming rules) or an absolute folder. */
function checkpointLocation(env: Env, problems: Problems): string | undefined {
  const v = value(env, 'AUDIT_CHECKPOINTS');
  if (v === undefined) return undefined;
  if (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._-]+)*\/?$/.test(v) && !v.includes('..')) return v;
  if (!v.includes('://') && isAbsolute(v) && !hasControl(v) && v.length <= 4096) return v;
  return problems.add('AUDIT_CHECKPOINTS', 'is neither s3://BUCKET[/PREFIX] nor an absolute folder');
}

/** The worker's configuration (the task's environment), checked in full; no anchor is NO_PCR_ANCHOR (exit 5). */
export function workerConfig(env: Env): WorkerConfig {
  const problems = new Problems();
  awsVariables(env, problems);
  const q = queueUrl(env, problems);
  const tables = {
    requests: table(env, problems, 'REQUESTS_TABLE', DEFAULT_TABLES.requests),
    decisions: table(env, problems, 'DECISIONS_TABLE', DEFAULT_TABLES.decisions),
    audit: table(env, problems, 'AUDIT_TABLE', DEFAULT_TABLES.audit),
  };
  const prefix = secretPrefix(env, problems);
  const dir = path(env, problems, 'KEYS_DIR');
  const signerConfig = signer(env, problems);
  const pcrAnchor = anchor(env, problems);
  const pcrIndex = int(env, problems, 'PCR_INDEX', undefined) ?? 11;
  const pcrBank = choice(env, problems, 'PCR_BANK', ['sha256', 'sha384'] as const, 'sha256');
  const chain = value(env, 'AUDIT_CHAIN_ID');
  if (chain !== undefined && !/^[A-Za-z0-9._:/-]{1,128}$/.test(chain)) problems.add('AUDIT_CHAIN_ID', 'is not 1-128 characters of A-Z a-z 0-9 . _ : / -');
  const ecsMetadataUri = url(env, problems, 'ECS_CONTAINER_METADATA_URI_V4', () => true, 'an http:// URL (the ECS agent sets it)');
  const checkpoints = checkpointLocation(env, problems);
  const everyEntries = int(env, problems, 'AUDIT_CHECKPOINT_ENTRIES', 'entries') ?? CONFIG_LIMITS.AUDIT_CHECKPOINT_ENTRIES.dflt;
  const everySeconds = int(env, problems, 'AUDIT_CHECKPOINT_SECONDS') ?? CONFIG_LIMITS.AUDIT_CHECKPOINT_SECONDS.dflt;
  const modelUrl = url(env, problems, 'PERSONA_MODEL_URL', (u) => LOOPBACK.has(u.hostname), 'an https:// URL (plain http only on loopback)');
  const tokenSecret = secretId(env, problems, 'PERSONA_MODEL_TOKEN_SECRET');
  if (tokenSecret !== undefined && value(env, 'PERSONA_MODEL_URL') === undefined) problems.add('PERSONA_MODEL_TOKEN_SECRET', 'is set without PERSONA_MODEL_URL');
  const pipelines = int(env, problems, 'WORKER_PIPELINES', 'pipelines') ?? availableParallelism();
  const councilBudgetMs = int(env, problems, 'COUNCIL_BUDGET_MS', 'milliseconds') ?? CONFIG_LIMITS.COUNCIL_BUDGET_MS.dflt;
  const pcrLockFile = path(env, problems, 'PCR_LOCK_FILE', { absolute: true });
  const auditRecipient = path(env, problems, 'AUDIT_RECIPIENT');
  const visibilitySeconds = int(env, problems, 'VISIBILITY_SECONDS') ?? CONFIG_LIMITS.VISIBILITY_SECONDS.dflt;
  const waitSeconds = int(env, problems, 'WAIT_SECONDS') ?? CONFIG_LIMITS.WAIT_SECONDS.dflt;
  const maxSkewSeconds = int(env, problems, 'MAX_SKEW_SECONDS') ?? CONFIG_LIMITS.MAX_SKEW_SECONDS.dflt;
  const stopGraceSeconds = int(env, problems, 'STOP_GRACE_SECONDS') ?? CONFIG_LIMITS.STOP_GRACE_SECONDS.dflt;
  const heartbeatFile = path(env, problems, 'HEARTBEAT_FILE', { absolute: true }) ?? DEFAULT_HEARTBEAT_FILE;
  const healthMaxAgeSeconds = int(env, problems, 'HEALTH_MAX_AGE_SECONDS') ?? CONFIG_LIMITS.HEALTH_MAX_AGE_SECONDS.dflt;
  problems.throwIfAny('worker');
  if (!pcrAnchor) {
    // DESIGN.md: Fargate has no TPM; never fall back silently
    throw new PreconditionError('NO_PCR_ANCHOR', 'no tpm is configured for the audit anchor', {
      hint: 'set TPM2TOOLS_TCTI (a TPM: ECS on EC2 with NitroTPM, or swtpm) or IMA_QS_PCR_ANCHOR=simulated:/path/state.json (a labelled simulated bank)',
    });
  }
  return {
    queueUrl: q,
    tables,
    keys: dir !== undefined ? { dir } : { prefix },
    signer: signerConfig,
    anchor: pcrAnchor,
    pcrIndex,
    pcrBank,
    auditChainId: chain,
    ...(ecsMetadataUri !== undefined ? { ecsMetadataUri } : {}),
    ...(checkpoints !== undefined ? { checkpoints: { location: checkpoints, everyEntries, everySeconds } } : {}),
    personaModel: modelUrl !== undefined ? { url: modelUrl, ...(tokenSecret !== undefined ? { tokenSecret } : {}) } : undefined,
    pipelines,
    councilBudgetMs,
    ...(pcrLockFile !== undefined ? { pcrLockFile } : {}),
    auditRecipient,
    visibilitySeconds,
    waitSeconds,
    maxSkewSeconds,
    stopGraceSeconds,
    heartbeatFile,
    healthMaxAgeSeconds,
  };
}
