/**
 * The Secrets Manager and KMS adapters against moto_server with real SDK v3 clients, and
 * `mapAwsError` on the errors the real SDK raises.
 */
import { DisableKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KmsKeyService, assertUsableForSecrets } from '../../../src/aws/key-service.js';
import { SecretsManagerStore, STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS } from '../../../src/aws/secret-store.js';
import { mapAwsError } from '../../../src/aws/errors.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { createKmsKey, kmsClient, sandbox } from './fixture.js';

let moto: Moto;
let box: ReturnType<typeof sandbox>;
let env: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto();
  box = sandbox();
  env = { ...box.baseEnv, ...moto.env };
});
afterAll(async () => {
  await moto?.stop();
  box?.cleanup();
});
beforeEach(async () => {
  await moto.reset();
});

describe('SecretsManagerStore', () => {
  it('creates, versions with stages, reads by stage, describes, lists by prefix and tags', async () => {
    const k = await createKmsKey(moto);
    const store = SecretsManagerStore.fromOptions({}, env);
    expect(await store.describe('t/a')).toBeUndefined();
    const c = await store.create('t/a', { value: 'v1', kmsKeyId: k.arn, tags: { project: 'ima-qs' } });
    await store.create('t/b', { value: 'b1', kmsKeyId: k.arn, tags: {} });
    await store.create('other/c', { value: 'c1', kmsKeyId: k.arn, tags: {} });
    const p = await store.putVersion('t/a', 'v2', [STAGE_PENDING]);
    expect((await store.get('t/a')).value).toBe('v1');
    expect((await store.get('t/a', STAGE_PENDING)).value).toBe('v2');
    await store.moveStage('t/a', STAGE_CURRENT, p.versionId, c.versionId);
    await store.removeStage('t/a', STAGE_PENDING, p.versionId);
    const cur = await store.get('t/a');
    expect(cur).toMatchObject({ value: 'v2', versionId: p.versionId });
    expect((await store.get('t/a', STAGE_PREVIOUS)).value).toBe('v1');
    await store.tag('t/a', { fingerprint: 'ab'.repeat(32) });
    const d = (await store.describe('t/a'))!;
    expect(d.kmsKeyId).toBe(k.arn);
    expect(d.tags).toEqual({ project: 'ima-qs', fingerprint: 'ab'.repeat(32) });
    const stagesOf = (id: string) => d.versions.find((v) => v.versionId === id)?.stages;
    expect(stagesOf(p.versionId)).toEqual([STAGE_CURRENT]);
    expect(stagesOf(c.versionId)).toEqual([STAGE_PREVIOUS]);
    expect((await store.list('t/')).map((s) => s.name).sort()).toEqual(['t/a', 't/b']);
    await expect(store.get('t/none')).rejects.toMatchObject({ code: 'AWS_NOT_FOUND', exitCode: 4 });
    await expect(store.create('t/a', { value: 'x', kmsKeyId: k.arn, tags: {} })).rejects.toMatchObject({ code: 'AWS_ERROR', exitCode: 4 });
  });
});

describe('KmsKeyService', () => {
  it('resolves a key id, key ARN, alias and alias ARN to the same key; reports state and rotation', async () => {
    const k = await createKmsKey(moto);
    const kms = KmsKeyService.fromOptions({}, env);
    const refs = [k.keyId, k.arn, 'alias/ima-qs-test', k.arn.replace(/key\/.*/, 'alias/ima-qs-test')];
    for (const ref of refs) {
      const info = await kms.describe(ref);
      expect(info.arn, ref).toBe(k.arn);
      expect(info).toMatchObject({ state: 'Enabled', enabled: true, keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' });
      assertUsableForSecrets(ref, info);
    }
    expect(await kms.rotationEnabled(k.keyId)).toBe(false);
    await kmsClient(moto).send(new DisableKeyCommand({ KeyId: k.keyId }));
    const off = await kms.describe('alias/ima-qs-test');
    expect(off.state).toBe('Disabled');
    expect(() => assertUsableForSecrets('alias/ima-qs-test', off)).toThrow(expect.objectContaining({ code: 'KMS_KEY_DISABLED' }));
    await expect(kms.describe('alias/none')).rejects.toMatchObject({ code: 'AWS_NOT_FOUND' });
  });
});

describe('mapAwsError on real SDK errors', () => {
  it('maps a bad region, an unreachable endpoint and not-found', async () => {
    const unreachable = new KMSClient({ region: 'eu-central-1', endpoint: 'http://127.0.0.1:1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const e1 = await unreachable.send(new ListKeysCommand({})).catch((e) => e);
    expect(mapAwsError(e1, 'listing keys')).toMatchObject({ code: 'AWS_UNREACHABLE', exitCode: 4 });
    const e2 = await kmsClient(moto).send(new DisableKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' })).catch((e) => e);
    const m2 = mapAwsError(e2, 'disabling a key');
    expect(m2).toMatchObject({ code: 'AWS_NOT_FOUND', exitCode: 4 });
    expect(m2.details).toMatchObject({ awsError: 'NotFoundException' });
    expect(m2.message).toMatch(/^disabling a key: not found/);
  });
});
