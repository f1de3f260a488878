/** Pure parts of the rollout: the checklist data, the log scanner, resource names, the state file. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_TITLES, buildChecklist } from '../../../src/rollout/checklist.js';
import { scanLogMessage } from '../../../src/rollout/log-scan.js';
import { applyResourceFlag, defaultResources, resolveResources } from '../../../src/rollout/resources.js';
import { loadState, saveState } from '../../../src/rollout/state.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ima-rollout-unit-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('checklist', () => {
  for (const caps of [{ storedSignatures: false }, { storedSignatures: true }]) {
    it(`has unique ids d<day>.<slug>, every day, a check on every auto item (${JSON.stringify(caps)})`, () => {
      const list = buildChecklist(caps);
      expect(new Set(list.map((i) => i.id)).size).toBe(list.length);
      for (const i of list) {
        expect(i.id).toMatch(new RegExp(`^d${i.day}\\.[a-z0-9-]+$`));
        expect(Boolean(i.check)).toBe(i.kind === 'auto');
        expect(i.hint.length).toBeGreaterThan(5);
      }
      expect(new Set(list.map((i) => i.day)).size).toBe(DAY_TITLES.length);
    });
  }

  it('checks the load test automatically; keeps d3.decisions-signed manual without a verifier; never mentions liboqs as a step', () => {
    const list = buildChecklist({ storedSignatures: false });
    const lt = list.find((i) => i.id === 'd4.load-test')!;
    expect(lt.kind).toBe('auto');
    expect(lt.title).toContain('p99 < 550 ms');
    expect(lt.hint).toContain('scale the worker');
    expect(list.find((i) => i.id === 'd3.decisions-signed')!.kind).toBe('manual');
    expect(list.filter((i) => /add liboqs|with liboqs\)/i.test(i.title))).toEqual([]);
  });
});

describe('log scan', () => {
  const kinds = (m: string) => scanLogMessage('g', 0, m).map((f) => f.kind);
  it.each([
    ['-----BEGIN PRIVATE KEY-----', ['pem-armor']],
    ['-----BEGIN EC PRIVATE KEY-----', ['pem-armor']],
    ['dumping private key now', ['private-key-words']],
    [`seed=${Buffer.alloc(32, 0xa7).toString('base64')}`, ['long-base64']],
    [`seed=${Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeef0', 'hex').toString('base64url')}`, ['long-base64']],
  ])('finds %s', (m, want) => expect(kinds(m)).toEqual(want));
  it.each([
    ['{"level":"info","msg":"decided","handle":"9f2c4e0b7d1a3f5e8c6b2a4d0e9f1c3b5a7d9e2f4c6b8a0d1e3f5a7c9b2d4e6f"}'],
    ['request 2b0c1a36-2d0f-4c3b-9a57-5f4d8e7c6b1a accepted'],
    ['GET /api/decisions/abc 200 12ms'],
    ['arn:aws:lambda:eu-central-1:123456789012:function:ima-quantum-proxy'],
  ])('lets %s pass', (m) => expect(kinds(m)).toEqual([]));
});

describe('resource names', () => {
  it('default to the seed names and take terraform output -json, then --config, then --resource', async () => {
    expect(defaultResources().tableDecisions).toBe('ima-quantum-decisions');
    const tf = join(dir, 'outputs.json');
    await writeFile(
      tf,
      JSON.stringify({
        region: { value: 'eu-west-1', type: 'string', sensitive: false },
        kms_alias_name: { value: 'alias/prod-quantum', type: 'string' },
        keyset_secret_name: { value: 'p/keyset' },
        table_names: { value: { audit_log: 'prod-tpm-audit-log', decisions: 'prod-quantum-decisions', requests: 'prod-quantum-requests' } },
        queue_url: { value: 'https://sqs.eu-west-1.amazonaws.com/123456789012/prod-quantum-requests' },
        dlq_arn: { value: 'arn:aws:sqs:eu-west-1:123456789012:prod-quantum-requests-dlq' },
        lambda_function_url: { value: 'https://abc.lambda-url.eu-west-1.on.aws/' },
        log_group_names: { value: { lambda: '/aws/lambda/prod-quantum-proxy', worker: '/ecs/prod-quantum-worker' } },
        ecs_cluster_name: { value: null },
        audit_anchor: { value: 'none-explicit' },
      }),
    );
    const cfg = join(dir, 'rollout.json');
    await writeFile(cfg, JSON.stringify({ 'table.audit': 'audit-override' }));
    const r = await resolveResources({ tfOutputs: tf, config: cfg, resource: ['ecs.service=svc-x'] });
    expect(r).toMatchObject({
      region: 'eu-west-1',
      kmsAlias: 'alias/prod-quantum',
      secretKeyset: 'p/keyset',
      tableDecisions: 'prod-quantum-decisions',
      tableAudit: 'audit-override',
      queue: 'prod-quantum-requests',
      dlq: 'prod-quantum-requests-dlq',
      apiUrl: 'https://abc.lambda-url.eu-west-1.on.aws',
      ecsCluster: 'ima-quantum', // null output: default kept
      ecsService: 'svc-x',
      logGroups: ['/aws/lambda/prod-quantum-proxy', '/ecs/prod-quantum-worker'],
      auditAnchor: 'none-explicit',
    });
  });

  it('refuses unknown keys, bad names and files that are not terraform outputs', async () => {
    const r = defaultResources();
    expect(() => applyResourceFlag(r, 'table.nope=x')).toThrow(expect.objectContaining({ code: 'BAD_ROLLOUT_CONFIG' }));
    expect(() => applyResourceFlag(r, 'queue=a b')).toThrow(expect.objectContaining({ code: 'BAD_ROLLOUT_CONFIG' }));
    expect(() => applyResourceFlag(r, 'noequals')).toThrow(expect.objectContaining({ code: 'BAD_ROLLOUT_CONFIG' }));
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ region: 'eu-west-1' }));
    await expect(resolveResources({ tfOutputs: bad })).rejects.toMatchObject({ code: 'BAD_TF_OUTPUTS', exitCode: 3 });
  });
});

describe('state file', () => {
  it('round-trips atomically with mode 0600 and refuses a foreign file', async () => {
    const path = join(dir, 'sub', 'rollout.json');
    expect(await loadState(path)).toEqual({ version: 1, items: {} });
    await saveState(path, { version: 1, items: { 'd1.tables': { status: 'pass', at: '2026-02-17T09:00:00.000Z', detail: 'ok' } } }, new Date(0));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const back = await loadState(path);
    expect(back.items['d1.tables'].status).toBe('pass');
    expect(JSON.parse(await readFile(path, 'utf8')).updated).toBe('1970-01-01T00:00:00.000Z');
    await writeFile(path, JSON.stringify({ version: 2, items: {} }));
    await expect(loadState(path)).rejects.toMatchObject({ code: 'BAD_ROLLOUT_STATE' });
    await writeFile(path, JSON.stringify({ version: 1, items: { 'd1.tables': { status: 'great' } } }));
    await expect(loadState(path)).rejects.toMatchObject({ code: 'BAD_ROLLOUT_STATE' });
  });
});
