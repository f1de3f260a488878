/**
 * The worker's checkpoint configuration and chain id (SPEC §8.8, §8.11): AUDIT_CHECKPOINTS and its
 * triggers are checked like every variable, and the chain id comes from AUDIT_CHAIN_ID, else the
 * ECS task metadata endpoint (a loopback server answering as the ECS agent does), else the host
 * name — with no silent fallback when the metadata endpoint is set but does not answer.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { certifiedSigners } from '../../../src/audit/checkpoint-trust.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { workerConfig } from '../../../src/service/config.js';
import { workerFromEnv } from '../../../src/service/wiring.js';
import { auditChainId } from '../../../src/service/worker-audit.js';
import { memoryLogger, p, tempDir } from './fixtures.js';

const base = {
  AWS_REGION: 'eu-central-1',
  QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/ima-quantum-requests',
  IMA_QS_PCR_ANCHOR: 'simulated:/tmp/pcr.json',
};

describe('AUDIT_CHECKPOINTS and its triggers (SPEC §8.8)', () => {
  it('accepts s3://BUCKET[/PREFIX] or an absolute folder, with the defaults 1000 entries / 60 s', () => {
    expect(workerConfig(base).checkpoints).toBeUndefined();
    expect(workerConfig({ ...base, AUDIT_CHECKPOINTS: 's3://ima-quantum-audit-checkpoints-123456789012' }).checkpoints).toEqual({
      location: 's3://ima-quantum-audit-checkpoints-123456789012',
      everyEntries: 1000,
      everySeconds: 60,
    });
    expect(workerConfig({ ...base, AUDIT_CHECKPOINTS: 's3://bucket-1/audit/prod', AUDIT_CHECKPOINT_ENTRIES: '50', AUDIT_CHECKPOINT_SECONDS: '5' }).checkpoints).toEqual({
      location: 's3://bucket-1/audit/prod',
      everyEntries: 50,
      everySeconds: 5,
    });
    expect(workerConfig({ ...base, AUDIT_CHECKPOINTS: '/var/lib/ima/checkpoints' }).checkpoints?.location).toBe('/var/lib/ima/checkpoints');
  });

  it.each([
    ['AUDIT_CHECKPOINTS', 'relative/dir'],
    ['AUDIT_CHECKPOINTS', 's3://Bad_Bucket'],
    ['AUDIT_CHECKPOINTS', 's3://b/../x'],
    ['AUDIT_CHECKPOINTS', 'https://bucket.s3.amazonaws.com'],
    ['AUDIT_CHECKPOINT_ENTRIES', '0'],
    ['AUDIT_CHECKPOINT_ENTRIES', '65537'],
    ['AUDIT_CHECKPOINT_SECONDS', '60s'],
    ['ECS_CONTAINER_METADATA_URI_V4', 'not a url'],
  ])('%s=%s is CONFIG_INVALID naming it', (name, v) => {
    let err: unknown;
    try {
      workerConfig({ ...base, [name]: v });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 2, details: { variables: [name] } });
  });
});

describe('the audit key (SPEC §7.3, §8.11)', () => {
  it('the writer signs with the audit key the statement certifies, and stores that statement first; a KEYS_DIR whose audit private key is gone does not start (AUDIT_KEY_MISSING)', async () => {
    const root = tempDir('ima-cp-keys-');
    const dir = join(root, 'keys');
    const ks = await writeCertifiedKeyDir(p, dir, join(root, 'root'));
    // no table here: the start stops at the writer's first table read, after the store was written
    const env = { ...base, KEYS_DIR: dir, AUDIT_CHAIN_ID: 'w', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9' };
    await expect(workerFromEnv({ ...env, AUDIT_CHECKPOINTS: join(root, 'cps') }, memoryLogger())).rejects.toMatchObject({ code: 'AWS_UNREACHABLE' });
    const registration = JSON.parse(readFileSync(join(root, 'cps', 'registry', 'w%2F0.json'), 'utf8')).registration;
    expect(registration.signer).toBe(ks.keyset.statement.signers.audit.fingerprint);
    expect(registration.signer).toBe(fingerprint('ML-DSA-87', ks.audit.publicKey));
    expect(registration.worker_key).toBe(ks.keyset.statement.signers.decisions.fingerprint);
    // the statement certifying the audit key is in the store: an auditor with the pin alone trusts it
    const names = readdirSync(join(root, 'cps', 'keysets'));
    expect(names).toEqual([expect.stringMatching(/^g000000001-[0-9a-f]{48}\.json$/)]);
    const objects = names.map((n) => ({ key: `keysets/${n}`, version: 'v', deleteMarker: false, bytes: readFileSync(join(root, 'cps', 'keysets', n)) }));
    const trust = certifiedSigners(p, ks.pin, objects);
    expect([...trust.audit.keys()]).toEqual([registration.signer]);
    expect(trust.refused).toEqual([]);
    rmSync(join(dir, 'audit_ml_dsa_87_private.key'));
    await expect(workerFromEnv(env, memoryLogger())).rejects.toMatchObject({ code: 'AUDIT_KEY_MISSING' });
  });
});

describe('the chain id (SPEC §8.11)', () => {
  let server: Server;
  let uri = '';
  let answer: { status: number; body: string } = { status: 200, body: '' };
  let asked: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    uri = `http://127.0.0.1:${(server.address() as { port: number }).port}/v4/abc-123`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('AUDIT_CHAIN_ID wins; outside ECS the host name', async () => {
    expect(await auditChainId({ auditChainId: 'worker-7', ecsMetadataUri: uri }, fetch)).toEqual({ id: 'worker-7', source: 'AUDIT_CHAIN_ID' });
    expect(await auditChainId({}, fetch)).toEqual({ id: hostname(), source: 'hostname' });
  });

  it('on ECS: the task id from the TaskARN of GET ${ECS_CONTAINER_METADATA_URI_V4}/task', async () => {
    asked = [];
    answer = { status: 200, body: JSON.stringify({ Cluster: 'ima-quantum', TaskARN: 'arn:aws:ecs:eu-central-1:123456789012:task/ima-quantum/0f1e2d3c4b5a69788796a5b4c3d2e1f0', Family: 'ima-quantum-worker' }) };
    expect(await auditChainId({ ecsMetadataUri: uri }, fetch)).toEqual({ id: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', source: 'ecs-task' });
    expect(asked).toEqual(['/v4/abc-123/task']);
  });

  it.each([
    ['a 500', { status: 500, body: '{}' }],
    ['not JSON', { status: 200, body: '<html>' }],
    ['no TaskARN', { status: 200, body: '{"Cluster":"x"}' }],
    ['a TaskARN that is not a task', { status: 200, body: '{"TaskARN":"arn:aws:iam::123456789012:role/x"}' }],
    ['two TaskARN members', { status: 200, body: '{"TaskARN":"arn:aws:ecs:eu-central-1:123456789012:task/c/abc","TaskARN":"arn:aws:ecs:eu-central-1:123456789012:task/c/def"}' }],
  ])('%s: ECS_METADATA_FAILED (no silent fall back to the host name)', async (_n, a) => {
    answer = a;
    await expect(auditChainId({ ecsMetadataUri: uri }, fetch)).rejects.toMatchObject({ code: 'ECS_METADATA_FAILED' });
  });
});
