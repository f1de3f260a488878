/**
 * The service configuration fails closed (SPEC §8.8, issue 12 item 7): every variable is checked
 * at start for type, range and unit; a bad one is CONFIG_INVALID (exit 2) naming it — and the
 * check runs before any AWS call: the AWS endpoint here is a loopback listener that counts
 * connections, and no refused start ever reaches it (a valid start does, which shows the
 * listener would see one).
 */
import { availableParallelism } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ImaError } from '../../../src/errors.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { CONFIG_LIMITS, proxyConfig, workerConfig } from '../../../src/service/config.js';
import { proxyFromEnv, workerFromEnv } from '../../../src/service/wiring.js';
import { event, memoryLogger, p, tempDir } from './fixtures.js';

const root = tempDir('ima-config-');
const keysDir = join(root, 'keys');
let listener: Server;
let connections = 0;
let endpoint = '';

beforeAll(async () => {
  await writeCertifiedKeyDir(p, keysDir, join(root, 'keys_root'));
  // an "AWS endpoint" that counts connections and hangs up at once
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((ok) => listener.listen(0, '127.0.0.1', () => ok()));
  endpoint = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((ok) => listener.close(() => ok()));
});

const aws = () => ({ AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_MAX_ATTEMPTS: '1', AWS_EC2_METADATA_DISABLED: 'true' });
const workerEnv = (over: Record<string, string | undefined> = {}) => ({
  ...aws(),
  QUEUE_URL: `${endpoint}/000000000000/ima-quantum-requests`,
  IMA_QS_PCR_ANCHOR: `simulated:${join(root, 'pcr.json')}`,
  KEYS_DIR: keysDir,
  AUDIT_CHAIN_ID: 'worker-config-test',
  ...over,
});
const proxyEnv = (over: Record<string, string | undefined> = {}) => ({ ...aws(), QUEUE_URL: `${endpoint}/000000000000/ima-quantum-requests`, ...over });

function refused(fn: () => unknown): ImaError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImaError);
    return e as ImaError;
  }
  throw new Error('expected a refusal');
}

// [variable, bad value]: each must be refused as CONFIG_INVALID naming the variable
const WORKER_BAD: [string, string][] = [
  ['QUEUE_URL', 'not a url'],
  ['QUEUE_URL', 'ftp://sqs.example.com/1/q'],
  ['QUEUE_URL', 'https://user:pw@sqs.eu-central-1.amazonaws.com/1/q'],
  ['REQUESTS_TABLE', 'ab'],
  ['REQUESTS_TABLE', 'bad name!'],
  ['DECISIONS_TABLE', 'x'],
  ['AUDIT_TABLE', 'audit table'],
  ['KEYS_SECRET_PREFIX', '/ima/quantum'],
  ['KEYS_SECRET_PREFIX', 'ima//quantum'],
  ['KEYS_DIR', 'keys\u0001dir'],
  ['IMA_QS_PCR_ANCHOR', 'simulated'],
  ['IMA_QS_PCR_ANCHOR', 'simulated:'],
  ['IMA_QS_PCR_ANCHOR', 'simulated:relative.json'],
  ['IMA_QS_PCR_ANCHOR', 'TPM'],
  ['TPM2TOOLS_TCTI', 'dev ice:/dev/tpmrm0'],
  ['TPM2TOOLS_TCTI', 'device:/dev/tpm\n0'],
  ['PCR_INDEX', '24'],
  ['PCR_INDEX', '-1'],
  ['PCR_INDEX', '11.0'],
  ['PCR_INDEX', '1e1'],
  ['PCR_BANK', 'sha265'],
  ['PCR_BANK', 'SHA256'],
  ['PCR_BANK', 'sha1'],
  ['AUDIT_CHAIN_ID', 'a b'],
  ['AUDIT_CHAIN_ID', 'x'.repeat(129)],
  ['PERSONA_MODEL_URL', 'http://models.example.com/v1'],
  ['PERSONA_MODEL_URL', 'file:///etc/passwd'],
  ['PERSONA_MODEL_URL', 'not a url'],
  ['WORKER_PIPELINES', '0'],
  ['WORKER_PIPELINES', '257'],
  ['WORKER_PIPELINES', 'four'],
  ['COUNCIL_BUDGET_MS', '9'],
  ['COUNCIL_BUDGET_MS', '600001'],
  ['COUNCIL_BUDGET_MS', '10s'],
  ['PCR_LOCK_FILE', 'relative/pcr.lock'],
  ['PCR_LOCK_FILE', '/run/pcr\u0001.lock'],
  ['AUDIT_RECIPIENT', 'auditor\u0000keys'],
  ['VISIBILITY_SECONDS', '0'],
  ['VISIBILITY_SECONDS', '60s'],
  ['VISIBILITY_SECONDS', '43201'],
  ['VISIBILITY_SECONDS', '1.5'],
  ['WAIT_SECONDS', '21'],
  ['WAIT_SECONDS', '-1'],
  ['WAIT_SECONDS', '20s'],
  ['MAX_SKEW_SECONDS', '300s'],
  ['MAX_SKEW_SECONDS', '0'],
  ['MAX_SKEW_SECONDS', '3601'],
  ['MAX_SKEW_SECONDS', 'NaN'],
  ['MAX_SKEW_SECONDS', ' 300'],
  ['MAX_SKEW_SECONDS', '3e2'],
  ['MAX_SKEW_SECONDS', '0x12c'],
  ['STOP_GRACE_SECONDS', '3601'],
  ['STOP_GRACE_SECONDS', '20s'],
  ['HEARTBEAT_FILE', 'relative/heartbeat'],
  ['HEALTH_MAX_AGE_SECONDS', '5'],
  ['HEALTH_MAX_AGE_SECONDS', 'x'],
  ['AWS_REGION', 'EU-CENTRAL-1'],
  ['AWS_MAX_ATTEMPTS', '0'],
  ['AWS_MAX_ATTEMPTS', 'four'],
  ['AWS_RETRY_MODE', 'fast'],
  ['AWS_ENDPOINT_URL', 'not a url'],
  ['AWS_ENDPOINT_URL_SQS', 'ftp://127.0.0.1:9'],
];

const PROXY_BAD: [string, string][] = [
  ['QUEUE_URL', 'not a url'],
  ['REQUESTS_TABLE', 'ab'],
  ['DECISIONS_TABLE', 'bad name!'],
  ['PUBLIC_KEYS_SECRET', 'bad name!'],
  ['PUBLIC_KEYS_SECRET', 'a'.repeat(513)],
  ['KEYS_SECRET_PREFIX', 'ima/'],
  ['AWS_REGION', 'eu central 1'],
  ['AWS_MAX_ATTEMPTS', '1.0'],
];

describe('worker configuration (SPEC §8.8)', () => {
  it.each(WORKER_BAD)('%s=%j → CONFIG_INVALID naming it, exit 2, no AWS call', async (name, bad) => {
    const before = connections;
    const e = await workerFromEnv(workerEnv({ [name]: bad }), memoryLogger()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ImaError);
    expect((e as ImaError).code).toBe('CONFIG_INVALID');
    expect((e as ImaError).exitCode).toBe(2);
    expect((e as ImaError).details).toEqual({ variables: [name] });
    expect((e as ImaError).message).toContain(name);
    expect(connections).toBe(before);
  });

  it('QUEUE_URL unset, and plain http to a non-loopback queue without an emulator endpoint', () => {
    expect(refused(() => workerConfig(workerEnv({ QUEUE_URL: undefined }))).details).toEqual({ variables: ['QUEUE_URL'] });
    const noEmu = { ...workerEnv(), AWS_ENDPOINT_URL: undefined };
    expect(refused(() => workerConfig({ ...noEmu, QUEUE_URL: 'http://sqs.eu-central-1.amazonaws.com/1/q' })).details).toEqual({ variables: ['QUEUE_URL'] });
    // https anywhere, http on loopback or with an emulator endpoint
    expect(workerConfig({ ...noEmu, QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/1/q' }).queueUrl).toMatch(/^https:/);
    expect(workerConfig({ ...noEmu, QUEUE_URL: 'http://127.0.0.1:4566/1/q' }).queueUrl).toMatch(/^http:/);
    expect(workerConfig(workerEnv({ QUEUE_URL: 'http://moto:5000/1/q' })).queueUrl).toMatch(/^http:/);
  });

  it('a token secret without a model URL is refused; with one it is kept', () => {
    expect(refused(() => workerConfig(workerEnv({ PERSONA_MODEL_TOKEN_SECRET: 'ima/model-token' }))).details).toEqual({ variables: ['PERSONA_MODEL_TOKEN_SECRET'] });
    expect(refused(() => workerConfig(workerEnv({ PERSONA_MODEL_URL: 'https://models.example.com/v1', PERSONA_MODEL_TOKEN_SECRET: 'bad name!' }))).details).toEqual({
      variables: ['PERSONA_MODEL_TOKEN_SECRET'],
    });
    const c = workerConfig(workerEnv({ PERSONA_MODEL_URL: 'https://models.example.com/v1', PERSONA_MODEL_TOKEN_SECRET: 'ima/model-token' }));
    expect(c.personaModel).toEqual({ url: 'https://models.example.com/v1', tokenSecret: 'ima/model-token' });
  });

  it('names every bad variable at once, and echoes no URL (credentials stay out of logs)', () => {
    const e = refused(() => workerConfig(workerEnv({ MAX_SKEW_SECONDS: '300s', PCR_BANK: 'sha265', PERSONA_MODEL_URL: 'https://user:hunter2@models.example.com/' })));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.details).toEqual({ variables: ['PCR_BANK', 'PERSONA_MODEL_URL', 'MAX_SKEW_SECONDS'] });
    expect(e.message).toContain('"300s"');
    expect(e.message).not.toContain('hunter2');
  });

  it('defaults when unset or empty (Terraform writes "" for what does not apply)', () => {
    for (const env of [workerEnv(), workerEnv({ TPM2TOOLS_TCTI: '', AUDIT_RECIPIENT: '', MAX_SKEW_SECONDS: '', PCR_BANK: '' })]) {
      const c = workerConfig(env);
      expect(c).toMatchObject({
        pcrIndex: 11,
        pcrBank: 'sha256',
        visibilitySeconds: CONFIG_LIMITS.VISIBILITY_SECONDS.dflt,
        waitSeconds: 20,
        maxSkewSeconds: 300,
        stopGraceSeconds: 20,
        healthMaxAgeSeconds: 120,
        heartbeatFile: '/tmp/ima-qs-worker.heartbeat',
        tables: { requests: 'ima-quantum-requests', decisions: 'ima-quantum-decisions', audit: 'ima-tpm-audit-log' },
        keys: { dir: keysDir },
      });
      expect(c.auditRecipient).toBeUndefined();
      expect(c.pipelines).toBe(availableParallelism());
      expect(c.councilBudgetMs).toBe(10_000);
      expect(c.pcrLockFile).toBeUndefined();
    }
  });

  it('reads every value it is given, at the ends of each range', () => {
    const c = workerConfig(
      workerEnv({
        KEYS_DIR: undefined,
        KEYS_SECRET_PREFIX: 'ima/prod',
        IMA_QS_PCR_ANCHOR: 'tpm',
        TPM2TOOLS_TCTI: 'device:/dev/tpmrm0',
        PCR_INDEX: '23',
        PCR_BANK: 'sha384',
        VISIBILITY_SECONDS: '43200',
        WAIT_SECONDS: '0',
        MAX_SKEW_SECONDS: '1',
        STOP_GRACE_SECONDS: '0',
        WORKER_PIPELINES: '256',
        COUNCIL_BUDGET_MS: '600000',
        PCR_LOCK_FILE: '/run/ima-qs/pcr.lock',
        HEALTH_MAX_AGE_SECONDS: '10',
        HEARTBEAT_FILE: '/var/run/hb',
        REQUESTS_TABLE: 'arn:aws:dynamodb:eu-central-1:123456789012:table/reqs',
      }),
    );
    expect(c).toMatchObject({
      keys: { prefix: 'ima/prod' },
      anchor: { kind: 'tpm', tcti: 'device:/dev/tpmrm0' },
      pcrIndex: 23,
      pcrBank: 'sha384',
      visibilitySeconds: 43200,
      waitSeconds: 0,
      maxSkewSeconds: 1,
      stopGraceSeconds: 0,
      pipelines: 256,
      councilBudgetMs: 600_000,
      pcrLockFile: '/run/ima-qs/pcr.lock',
      healthMaxAgeSeconds: 10,
      heartbeatFile: '/var/run/hb',
    });
    expect(c.tables.requests).toBe('arn:aws:dynamodb:eu-central-1:123456789012:table/reqs');
  });

  it('no anchor at all is still NO_PCR_ANCHOR (exit 5), after the variables are checked', () => {
    const env = workerEnv({ IMA_QS_PCR_ANCHOR: undefined, TPM2TOOLS_TCTI: '' });
    expect(refused(() => workerConfig(env)).code).toBe('NO_PCR_ANCHOR');
    expect(refused(() => workerConfig({ ...env, PCR_BANK: 'x' })).code).toBe('CONFIG_INVALID');
  });

  it('the maxSkew reaches the pipeline in milliseconds (not NaN)', async () => {
    const w = await workerFromEnv(workerEnv({ MAX_SKEW_SECONDS: '120' }), memoryLogger(), { inline: true });
    expect(w.deps![0].maxSkewMs).toBe(120_000);
  });

  it('a valid start that reads from Secrets Manager reaches the endpoint (the listener sees calls)', async () => {
    const before = connections;
    const e = await workerFromEnv(workerEnv({ KEYS_DIR: undefined, KEYS_SECRET_PREFIX: 'ima/test' }), memoryLogger()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((e as ImaError).errorClass).toBe('remote');
    expect(connections).toBeGreaterThan(before);
  });
});

describe('proxy configuration (SPEC §8.8)', () => {
  it.each(PROXY_BAD)('%s=%j → CONFIG_INVALID naming it, no AWS call', (name, bad) => {
    const before = connections;
    const e = refused(() => proxyFromEnv(proxyEnv({ [name]: bad })));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.exitCode).toBe(2);
    expect(e.details).toEqual({ variables: [name] });
    expect(connections).toBe(before);
  });

  it('PUBLIC_KEYS_SECRET defaults to <KEYS_SECRET_PREFIX>/public-keys', () => {
    expect(proxyConfig(proxyEnv()).publicKeysSecret).toBe('ima/quantum/public-keys');
    expect(proxyConfig(proxyEnv({ KEYS_SECRET_PREFIX: 'ima/prod' })).publicKeysSecret).toBe('ima/prod/public-keys');
    expect(proxyConfig(proxyEnv({ KEYS_SECRET_PREFIX: 'ima/prod', PUBLIC_KEYS_SECRET: 'other/doc' })).publicKeysSecret).toBe('other/doc');
  });

  it('the Lambda entry: a bad variable is logged once as CONFIG_INVALID naming it; callers get a bare 503, no AWS call', async () => {
    const saved = { ...process.env };
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      Object.assign(process.env, proxyEnv({ REQUESTS_TABLE: 'ab' }));
      vi.resetModules();
      const { handler } = await import('../../../src/service/proxy/lambda.js');
      const before = connections;
      for (let i = 0; i < 2; i++) {
        const res = await handler(event('GET', '/api/keys'));
        expect(res.statusCode).toBe(503);
        expect(JSON.parse(res.body!)).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } });
      }
      expect(connections).toBe(before);
      const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l));
      const logs = lines.filter((l) => !('_aws' in l));
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ level: 'error', code: 'CONFIG_INVALID', variables: ['REQUESTS_TABLE'] });
      // each invocation flushes its EMF metrics (SPEC §8.8): a request and a server error each time
      const emf = lines.filter((l) => '_aws' in l);
      const names = emf.flatMap((l) => l._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name));
      expect(names.filter((n) => n === 'Requests')).toHaveLength(2);
      expect(names.filter((n) => n === 'ServerErrors')).toHaveLength(2);
      for (const l of emf) expect(l).toMatchObject({ service: 'proxy', _aws: { CloudWatchMetrics: [{ Namespace: 'ima-qs' }] } });
    } finally {
      write.mockRestore();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
