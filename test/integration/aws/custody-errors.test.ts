/**
 * Failure paths of key custody against moto_server: each a clear error with a stable code and a
 * non-zero exit, and nothing written — or, when a write fails midway, an error that says exactly
 * what was and was not written.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DisableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { uploadKeys } from '../../../src/aws/custody-upload.js';
import { KmsKeyService } from '../../../src/aws/key-service.js';
import { SecretsKeySetSource } from '../../../src/aws/keyset-secret.js';
import { type SecretStore, SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { KeyRing } from '../../../src/keys/key-ring.js';
import { expectNoStack, runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { ALIAS, createKmsKey, kmsClient, makeKeyDir, sandbox } from './fixture.js';

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

async function statusExists(e = env): Promise<boolean[]> {
  const r = await runCli(['keys', 'status', '--json'], { env: e });
  return [r.json().keyset.exists, r.json().document.exists];
}

/** The store with one call made to fail (AWS_NOT_FOUND, as for a secret deleted meanwhile) when `when` says so. */
function failing(inner: SecretStore, method: 'putVersion' | 'removeStage', when: (name: string) => boolean): SecretStore {
  return Object.create(inner, {
    [method]: {
      value: async (name: string, ...rest: unknown[]) => {
        if (when(name)) throw Object.assign(new Error('injected'), { code: 'AWS_NOT_FOUND' });
        return (inner[method] as (...a: unknown[]) => Promise<unknown>).call(inner, name, ...rest);
      },
    },
  });
}

const generations = async () => {
  const ring = await KeyRing.open(defaultProvider(), new SecretsKeySetSource(defaultProvider(), SecretsManagerStore.fromOptions({}, env), 'ima/quantum'), { reloadMs: 0 });
  ring.stop();
  return ring.sets.map((s) => `${s.stage}:${s.generation}`);
};

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('key custody errors', () => {
  it('no region: AWS_NO_REGION, exit 4, before any call', async () => {
    const a = await makeKeyDir(box.root, 'noregion');
    const { AWS_REGION: _r, ...noRegion } = env;
    for (const argv of [
      ['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'],
      ['keys', 'status', '--json'],
      ['keys', 'fetch', '--out', `${box.root}/noregion-out`, '--json'],
    ]) {
      const r = await runCli(argv, { env: noRegion });
      expect(r.code, argv.join(' ')).toBe(4);
      expect(r.json().error.code).toBe('AWS_NO_REGION');
      expect(r.json().error.hint).toMatch(/--region/);
      expectNoStack(r.stderr);
    }
    // --region, or the region of the profile in the shared config file, is enough
    expect((await runCli(['keys', 'status', '--region', 'eu-central-1', '--json'], { env: noRegion })).code).toBe(0);
    const config = join(box.root, 'config-with-region');
    writeFileSync(config, '[default]\nregion = eu-central-1\n');
    expect((await runCli(['keys', 'status', '--json'], { env: { ...noRegion, AWS_CONFIG_FILE: config } })).code).toBe(0);
    const bad = await runCli(['keys', 'status', '--region', 'Mars 1', '--json'], { env: noRegion });
    expect(bad.code).toBe(3);
    expect(bad.json().error.code).toBe('AWS_BAD_REGION');
  });

  it('a disabled KMS key or one pending deletion: clear error, exit 4, nothing written', async () => {
    const a = await makeKeyDir(box.root, 'disabled');
    const k = await createKmsKey(moto);
    await kmsClient(moto).send(new DisableKeyCommand({ KeyId: k.keyId }));
    const r = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe('KMS_KEY_DISABLED');
    expect(await statusExists()).toEqual([false, false]);

    const k2 = await createKmsKey(moto, 'alias/doomed');
    await kmsClient(moto).send(new ScheduleKeyDeletionCommand({ KeyId: k2.keyId, PendingWindowInDays: 7 }));
    const r2 = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', 'alias/doomed', '--yes', '--json'], { env });
    expect(r2.code).toBe(4);
    expect(r2.json().error.code).toBe('KMS_KEY_PENDING_DELETION');
    expect(await statusExists()).toEqual([false, false]);

    const r3 = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', 'alias/missing', '--yes', '--json'], { env });
    expect(r3.code).toBe(4);
    expect(r3.json().error.code).toBe('AWS_NOT_FOUND');
    const r4 = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', 'not a key', '--yes', '--json'], { env });
    expect(r4.code).toBe(3);
    expect(r4.json().error.code).toBe('BAD_KMS_KEY');
  });

  it('an unreachable endpoint: AWS_UNREACHABLE, exit 4', async () => {
    const port = await closedPort();
    const r = await runCli(['keys', 'status', '--json'], { env: { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_MAX_ATTEMPTS: '2' } });
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe('AWS_UNREACHABLE');
    const r2 = await runCli(['keys', 'status', '--endpoint-url', `http://127.0.0.1:${port}`, '--json'], { env: { ...env, AWS_MAX_ATTEMPTS: '1' } });
    expect(r2.json().error.code).toBe('AWS_UNREACHABLE');
  });

  it('--json without --yes is a usage error naming --yes, and nothing is written', async () => {
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'noyes');
    const r = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--json'], { env });
    expect(r.code).toBe(2);
    expect(r.json().error.hint).toContain('--yes');
    expect(await statusExists()).toEqual([false, false]);
  });

  it('a publish that fails after staging the key set: CUSTODY_INCOMPLETE names what was done; workers hold both; running it again finishes it', async () => {
    await createKmsKey(moto);
    const g1 = await makeKeyDir(box.root, 'pub-g1');
    const g2 = await makeKeyDir(box.root, 'pub-g2', g1);
    expect((await runCli(['keys', 'upload', '--keys', g1.dir, '--kms-key', ALIAS, '--yes'], { env })).code).toBe(0);
    const p = defaultProvider();
    const store = failing(SecretsManagerStore.fromOptions({}, env), 'putVersion', (name) => name.endsWith('/public-keys'));
    const err = await uploadKeys(
      { store, kms: KmsKeyService.fromOptions({}, env), p, now: () => new Date() },
      { dir: g2.dir, prefix: 'ima/quantum', kmsKeyRef: ALIAS, mode: 'rotate', dryRun: false, confirm: async () => true },
    ).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'CUSTODY_INCOMPLETE', exitCode: 4, details: { causeCode: 'AWS_NOT_FOUND', phase: 'publish' } });
    expect(err.details.done).toEqual([expect.stringMatching(/^put ima\/quantum\/keyset .* as AWSPENDING$/), 'tag ima/quantum/keyset']);
    expect(err.details.notDone).toEqual([expect.stringMatching(/^put ima\/quantum\/public-keys/), 'tag ima/quantum/public-keys']);
    // the staged generation is not current: clients still seal to generation 1; workers hold both
    expect(await generations()).toEqual(['pending:2', 'current:1']);
    const again = await runCli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(again.code, again.stdout).toBe(0);
    expect(again.json().phase).toBe('publish');
    expect(again.json().readBack.every((x: any) => x.ok)).toBe(true);
  });

  it('a switch that fails after moving AWSCURRENT: the error says so; running it again finishes the switch', async () => {
    await createKmsKey(moto);
    const g1 = await makeKeyDir(box.root, 'sw-g1');
    const g2 = await makeKeyDir(box.root, 'sw-g2', g1);
    expect((await runCli(['keys', 'upload', '--keys', g1.dir, '--kms-key', ALIAS, '--yes'], { env })).code).toBe(0);
    expect((await runCli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes'], { env })).code).toBe(0);
    const p = defaultProvider();
    const store = failing(SecretsManagerStore.fromOptions({}, env), 'removeStage', () => true);
    const err = await uploadKeys(
      { store, kms: KmsKeyService.fromOptions({}, env), p, now: () => new Date() },
      { dir: g2.dir, prefix: 'ima/quantum', kmsKeyRef: ALIAS, mode: 'rotate', dryRun: false, immediately: true, confirm: async () => true },
    ).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'CUSTODY_INCOMPLETE', details: { phase: 'switch' } });
    expect(err.details.done).toEqual([expect.stringMatching(/^move AWSCURRENT of ima\/quantum\/keyset/)]);
    expect(err.message).toMatch(/remove AWSPENDING from ima\/quantum\/keyset .* failed/);
    // one version holds AWSCURRENT and AWSPENDING: workers still see one generation per label
    expect((await runCli(['keys', 'status', '--json'], { env })).json().keyset).toMatchObject({ current: 2, pending: 2, previous: 1 });
    const again = await runCli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(again.code, again.stdout).toBe(0);
    expect(again.json().phase).toBe('switch');
    const st = (await runCli(['keys', 'status', '--json'], { env })).json().keyset;
    expect(st).toMatchObject({ current: 2, previous: 1 });
    expect(st.pending).toBeUndefined();
  });
});
