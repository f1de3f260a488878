import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { awsClientConfig, profileRegion, resolveRegion } from '../../../src/aws/config.js';

const dir = mkdtempSync(join(tmpdir(), 'ima-awscfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cfg = join(dir, 'config');
writeFileSync(
  cfg,
  `# comment
[default]
region = eu-west-1
[profile ops]
output = json
region=us-east-2 ; trailing comment
[profile  spaced]
region = ap-south-1
[sso-session x]
region = ca-central-1
`,
);
const empty = join(dir, 'empty');
writeFileSync(empty, '');

describe('region resolution', () => {
  it('takes --region, then AWS_REGION, then the profile region from the config file', () => {
    expect(resolveRegion({ region: 'eu-central-1' }, { AWS_REGION: 'us-west-2', AWS_CONFIG_FILE: cfg })).toBe('eu-central-1');
    expect(resolveRegion({}, { AWS_REGION: 'us-west-2', AWS_CONFIG_FILE: cfg })).toBe('us-west-2');
    expect(resolveRegion({}, { AWS_CONFIG_FILE: cfg })).toBe('eu-west-1');
    expect(resolveRegion({ profile: 'ops' }, { AWS_CONFIG_FILE: cfg })).toBe('us-east-2');
    expect(resolveRegion({}, { AWS_PROFILE: 'spaced', AWS_CONFIG_FILE: cfg })).toBe('ap-south-1');
    // AWS_DEFAULT_REGION does not count for the JS SDK v3, so not here either
    expect(() => resolveRegion({}, { AWS_DEFAULT_REGION: 'eu-west-1', AWS_CONFIG_FILE: empty })).toThrow(
      expect.objectContaining({ code: 'AWS_NO_REGION', exitCode: 4 }),
    );
    expect(() => resolveRegion({ profile: 'x' }, { AWS_CONFIG_FILE: cfg })).toThrow(expect.objectContaining({ code: 'AWS_NO_REGION' }));
    // HOME/.aws/config is the default location; a missing file is simply no region
    expect(() => resolveRegion({}, { HOME: dir })).toThrow(expect.objectContaining({ code: 'AWS_NO_REGION' }));
  });

  it('rejects what is not a region name (input error, exit 3)', () => {
    for (const r of ['EU-CENTRAL-1', 'eu central 1', 'eu-central-1; rm', 'x']) {
      expect(() => resolveRegion({ region: r }, {})).toThrow(expect.objectContaining({ code: 'AWS_BAD_REGION', exitCode: 3 }));
    }
  });

  it('reads only the region of the named profile', () => {
    expect(profileRegion(cfg, 'default')).toBe('eu-west-1');
    expect(profileRegion(cfg, 'x')).toBeUndefined();
    expect(profileRegion(join(dir, 'missing'), 'default')).toBeUndefined();
  });
});

describe('client config', () => {
  const base = { AWS_REGION: 'eu-central-1', AWS_CONFIG_FILE: empty };

  it('passes the injected environment the SDK cannot see: endpoints with the SDK precedence, static keys', () => {
    const env = { ...base, AWS_ENDPOINT_URL: 'http://127.0.0.1:1000', AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:2000', AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'S', AWS_SESSION_TOKEN: 'T' };
    expect(awsClientConfig('KMS', {}, env).endpoint).toBe('http://127.0.0.1:2000');
    const sm = awsClientConfig('SECRETS_MANAGER', {}, env);
    expect(sm.endpoint).toBe('http://127.0.0.1:1000');
    expect(sm.credentials).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'S', sessionToken: 'T' });
    expect(sm.region).toBe('eu-central-1');
    expect(awsClientConfig('KMS', { endpointUrl: 'https://kms.example' }, env).endpoint).toBe('https://kms.example');
    expect(awsClientConfig('KMS', {}, { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }).endpoint).toBeUndefined();
  });

  it('a named profile wins over static keys in the environment (as in the SDK chain)', () => {
    const env = { ...base, AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'S' };
    const c = awsClientConfig('KMS', { profile: 'ops' }, env);
    expect(c.profile).toBe('ops');
    expect(c.credentials).toBeUndefined();
    expect(awsClientConfig('KMS', {}, { ...env, AWS_PROFILE: 'ops' }).credentials).toBeUndefined();
  });

  it('retries with the standard strategy; AWS_MAX_ATTEMPTS sets the attempts', () => {
    expect(awsClientConfig('KMS', {}, base)).toMatchObject({ maxAttempts: 4, retryMode: 'standard' });
    expect(awsClientConfig('KMS', {}, { ...base, AWS_MAX_ATTEMPTS: '1' }).maxAttempts).toBe(1);
    expect(awsClientConfig('KMS', {}, { ...base, AWS_MAX_ATTEMPTS: 'lots' }).maxAttempts).toBe(4);
    expect(awsClientConfig('KMS', {}, { ...base, AWS_RETRY_MODE: 'adaptive' }).retryMode).toBe('adaptive');
  });

  it('leaves endpoints and credentials to the SDK when the environment is the process environment', () => {
    const saved = { ...process.env };
    try {
      process.env.AWS_REGION = 'eu-central-1';
      process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:1000';
      process.env.AWS_ACCESS_KEY_ID = 'AKID';
      process.env.AWS_SECRET_ACCESS_KEY = 'S';
      const c = awsClientConfig('KMS', {}, process.env);
      expect(c.endpoint).toBeUndefined();
      expect(c.credentials).toBeUndefined();
      expect(c.region).toBe('eu-central-1');
    } finally {
      for (const k of ['AWS_REGION', 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('rejects an endpoint that is not an http(s) URL (input error)', () => {
    expect(() => awsClientConfig('KMS', { endpointUrl: 'localhost:4566' }, base)).toThrow(expect.objectContaining({ code: 'AWS_BAD_ENDPOINT', exitCode: 3 }));
    expect(() => awsClientConfig('KMS', {}, { ...base, AWS_ENDPOINT_URL: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'AWS_BAD_ENDPOINT' }));
  });
});
