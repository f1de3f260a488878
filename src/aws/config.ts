/**
 * AWS SDK v3 client configuration from the command line (`--profile`, `--region`,
 * `--endpoint-url`) and the environment, following the SDK's own conventions (DESIGN.md
 * "Architecture"): the standard credential chain, `AWS_PROFILE`, `AWS_REGION`, and
 * `AWS_ENDPOINT_URL[_SERVICE]`.
 *
 * When the environment is the process's own, the SDK reads it itself and we only add what the
 * flags say. When an environment is injected (in-process tests, an embedding program), the SDK
 * cannot see it, so we pass the same variables explicitly with the SDK's precedence
 * (service-specific endpoint > global endpoint; static keys unless a profile is named). The rest of
 * the credential chain (SSO, web identity, containers, instance metadata) is always the SDK's.
 *
 * The region is resolved here, up front, so "no region" is a clear error before any call:
 * flag > AWS_REGION > the profile's `region` in the shared config file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, RemoteError } from '../errors.js';

export interface AwsOptions {
  profile?: string;
  region?: string;
  /** overrides every AWS_ENDPOINT_URL* for the clients made from these options */
  endpointUrl?: string;
  /** total attempts per call including retries (default: AWS_MAX_ATTEMPTS, else 4) */
  maxAttempts?: number;
}

/** The env var suffix of each service, as in AWS_ENDPOINT_URL_<SUFFIX> (AWS SDKs and tools reference). */
export type AwsService = 'SECRETS_MANAGER' | 'KMS' | 'DYNAMODB' | 'SQS' | 'STS' | 'S3';

/** The subset of SDK v3 client config we set (structurally compatible with every client). */
export interface AwsClientConfig {
  region: string;
  profile?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
  /** exponential backoff with jitter; throttling errors are retried (SDK "standard" strategy) */
  retryMode: 'standard' | 'adaptive';
  requestHandler: { connectionTimeout: number; requestTimeout: number };
}

export type Env = Record<string, string | undefined>;

const DEFAULT_MAX_ATTEMPTS = 4;

export function awsClientConfig(service: AwsService, opts: AwsOptions, env: Env): AwsClientConfig {
  const injected = env !== process.env;
  const profile = opts.profile ?? (injected ? env.AWS_PROFILE : undefined);
  const region = resolveRegion(opts, env);
  const config: AwsClientConfig = {
    region,
    maxAttempts: opts.maxAttempts ?? positiveInt(env.AWS_MAX_ATTEMPTS) ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: env.AWS_RETRY_MODE === 'adaptive' ? 'adaptive' : 'standard',
    // without a connection timeout an unroutable endpoint hangs for minutes
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  };
  if (profile) config.profile = profile;
  if (opts.endpointUrl) {
    config.endpoint = checkEndpoint(opts.endpointUrl, '--endpoint-url');
  } else if (injected && !isTrue(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)) {
    const v = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
    if (v) config.endpoint = checkEndpoint(v, env[`AWS_ENDPOINT_URL_${service}`] ? `AWS_ENDPOINT_URL_${service}` : 'AWS_ENDPOINT_URL');
  }
  if (injected && !profile && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    config.credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  return config;
}

/** flag > AWS_REGION > `region` of the profile in the shared config file; else AWS_NO_REGION. */
export function resolveRegion(opts: AwsOptions, env: Env): string {
  const fromFlag = opts.region?.trim();
  if (fromFlag) return checkRegion(fromFlag, '--region');
  if (env.AWS_REGION?.trim()) return checkRegion(env.AWS_REGION.trim(), 'AWS_REGION');
  const profile = opts.profile ?? env.AWS_PROFILE ?? 'default';
  const fromFile = profileRegion(configFilePath(env), profile);
  if (fromFile) return checkRegion(fromFile, `the region of profile ${profile}`);
  throw new RemoteError('AWS_NO_REGION', 'no AWS region is configured', {
    hint: `pass --region (e.g. --region eu-central-1), set AWS_REGION, or set region in profile ${profile} of ${configFilePath(env) ?? '~/.aws/config'}`,
  });
}

function configFilePath(env: Env): string | undefined {
  if (env.AWS_CONFIG_FILE) return env.AWS_CONFIG_FILE;
  const home = env.HOME ?? env.USERPROFILE;
  return home ? join(home, '.aws', 'config') : undefined;
}

/**
 * The `region` key of a profile in the shared config file (INI: `[default]` or `[profile NAME]`).
 * A missing or unreadable file is no region, not an error: the caller reports AWS_NO_REGION.
 */
export function profileRegion(path: string | undefined, profile: string): string | undefined {
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const wanted = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  let inSection = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const section = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (section) {
      inSection = wanted.includes(section[1].replace(/\s+/g, ' '));
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (inSection && kv && kv[1].toLowerCase() === 'region' && kv[2]) return kv[2];
  }
  return undefined;
}

function checkRegion(region: string, what: string): string {
  // AWS region names: lowercase letters, digits and dashes (us-east-1, eu-central-1, us-gov-west-1)
  if (!/^[a-z]{2,}(-[a-z0-9]+){1,4}$/.test(region)) {
    throw new InputError('AWS_BAD_REGION', `${what} is "${region.slice(0, 40)}", which is not an AWS region name`, {
      hint: 'a region looks like eu-central-1 or us-east-1',
    });
  }
  return region;
}

function checkEndpoint(url: string, what: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError('AWS_BAD_ENDPOINT', `${what} is not a URL`, { hint: 'expected e.g. http://127.0.0.1:5000' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new InputError('AWS_BAD_ENDPOINT', `${what} must be an http:// or https:// URL`);
  }
  return url;
}

function positiveInt(v: string | undefined): number | undefined {
  if (!v || !/^[1-9][0-9]{0,2}$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && v.toLowerCase() === 'true';
}
