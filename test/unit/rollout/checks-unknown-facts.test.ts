/**
 * A rollout check must not pass when the fact it judges is absent: a KMS key whose manager or key
 * spec is unknown, a Lambda whose state is unknown, a requests table whose TTL is on an attribute
 * the service never writes. The checks are pure over the RolloutProbe port; the moto-backed
 * integration tests (test/integration/rollout) cover the AWS adapter. Here the probe answers only
 * the one call each check makes.
 */
import { describe, expect, it } from 'vitest';
import { checkKmsKey, checkLambda, checkTables, type CheckContext } from '../../../src/rollout/checks.js';
import type { KmsKeyFacts, LambdaFacts, RolloutProbe, TableFacts } from '../../../src/rollout/probe.js';
import { defaultResources } from '../../../src/rollout/resources.js';

const res = defaultResources();
const ARN = 'arn:aws:kms:us-east-1:123456789012:key/1';
function ctx(probe: Partial<RolloutProbe>): CheckContext {
  return { probe: probe as RolloutProbe, res, verifiers: {}, now: new Date(), httpTimeoutMs: 1000, logWindowHours: 1, logEventCap: 10, sampleSize: 1 };
}
const key = (over: Partial<KmsKeyFacts>): KmsKeyFacts => ({ keyId: '1', arn: ARN, state: 'Enabled', manager: 'CUSTOMER', keySpec: 'SYMMETRIC_DEFAULT', rotation: true, ...over });

describe('rollout checks fail on unknown facts', () => {
  it('kms key: a good key passes; an unknown manager or key spec fails', async () => {
    expect((await checkKmsKey(ctx({ kmsKey: async () => key({}) }))).status).toBe('pass');
    expect((await checkKmsKey(ctx({ kmsKey: async () => key({ manager: '' }) }))).status).toBe('fail');
    expect((await checkKmsKey(ctx({ kmsKey: async () => key({ keySpec: '' }) }))).status).toBe('fail');
    expect((await checkKmsKey(ctx({ kmsKey: async () => key({ manager: 'AWS' }) }))).status).toBe('fail');
  });

  it('lambda: an unknown state fails', async () => {
    const f: LambdaFacts = { name: res.lambdaFunction, state: 'Active', lastUpdateStatus: 'Successful', runtime: 'nodejs22.x', versions: ['1'], alias: { name: res.lambdaAlias, version: '1' } };
    expect((await checkLambda(ctx({ lambda: async () => f }))).status).toBe('pass');
    expect((await checkLambda(ctx({ lambda: async () => ({ ...f, state: undefined }) }))).status).toBe('fail');
  });

  it('tables: TTL enabled on an attribute the service does not write fails', async () => {
    const t = (name: string, over: Partial<TableFacts> = {}): TableFacts => ({
      name, status: 'ACTIVE', pitr: true, sseStatus: 'ENABLED', sseType: 'KMS', sseKmsKeyArn: ARN, ttlStatus: 'ENABLED', ttlAttribute: 'ttl', ...over,
    });
    const probe = (over: Partial<TableFacts>) => ({ kmsKey: async () => key({}), table: async (name: string) => t(name, name === res.tableRequests ? over : {}) });
    expect((await checkTables(ctx(probe({})))).status).toBe('pass');
    const other = await checkTables(ctx(probe({ ttlAttribute: 'expires_at' })));
    expect(other.status).toBe('fail');
    expect(other.detail).toContain('expires_at');
    expect((await checkTables(ctx(probe({ ttlStatus: 'DISABLED' })))).status).toBe('fail');
  });
});
