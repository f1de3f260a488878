/**
 * Failure paths of key custody against moto_server: each a clear error with a stable code and a
 * non-zero exit, and nothing written — or, when a write fails midway, an error that says exactly
 * what was and was not written.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DisableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { fingerprints, loadPrivateKeys, publicKeysOf } from '../../../src/keys/key-dir.js';
import { uploadKeys } from '../../../src/aws/custody-upload.js';
import { KmsKeyService } from '../../../src/aws/key-service.js';
import { type SecretStore, SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { readKeySecret } from '../../../src/aws/service-keys.js';
import { KEY_SECRETS } from '../../../src/aws/secret-format.js';
import { expectNoStack, runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { ALIAS, createKmsKey, kmsClient, makeKeyDir, sandbox, smClient } from './fixture.js';

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
  return r.json().secrets.map((s: any) => s.exists);
}

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
    expect(await statusExists()).toEqual([false, false, false, false, false]); // the three keys, the document, the audit key

    const k2 = await createKmsKey(moto, 'alias/doomed');
    await kmsClient(moto).send(new ScheduleKeyDeletionCommand({ KeyId: k2.keyId, PendingWindowInDays: 7 }));
    const r2 = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', 'alias/doomed', '--yes', '--json'], { env });
    expect(r2.code).toBe(4);
    expect(r2.json().error.code).toBe('KMS_KEY_PENDING_DELETION');
    expect(await statusExists()).toEqual([false, false, false, false, false]); // the three keys, the document, the audit key

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
    expect(await statusExists()).toEqual([false, false, false, false, false]); // the three keys, the document, the audit key
  });

  it('a secret deleted between plan and apply: CUSTODY_INCOMPLETE naming what was and was not written; readers unaffected', async () => {
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'race-a');
    const b = await makeKeyDir(box.root, 'race-b');
    expect((await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes'], { env })).code).toBe(0);

    const p = defaultProvider();
    const inner = SecretsManagerStore.fromOptions({}, env);
    const sm = smClient(moto);
    let armed = true;
    // deletes the ECDH secret right after the plan, when the first write is about to happen
    const racing: SecretStore = Object.create(inner, {
      putVersion: {
        value: async (name: string, value: string, stages?: string[]) => {
          if (armed) {
            armed = false;
            await sm.send(new DeleteSecretCommand({ SecretId: 'ima/quantum/ecdh-p384-private', ForceDeleteWithoutRecovery: true }));
          }
          return inner.putVersion(name, value, stages);
        },
      },
    });
    const err = await uploadKeys(
      { store: racing, kms: KmsKeyService.fromOptions({}, env), p, now: () => new Date() },
      { keys: await loadPrivateKeys(p, b.dir), prefix: 'ima/quantum', kmsKeyRef: ALIAS, allowRotate: true, dryRun: false, confirm: async () => true },
    ).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'CUSTODY_INCOMPLETE', exitCode: 4 });
    expect(err.message).toContain('ima/quantum/ecdh-p384-private');
    expect(err.message).toMatch(/deleted after the plan/);
    expect(err.details).toMatchObject({
      failed: 'ima/quantum/ecdh-p384-private',
      causeCode: 'AWS_NOT_FOUND',
      written: [],
      staged: ['ima/quantum/ml-kem-768-private', 'ima/quantum/ml-dsa-87-private'],
      notWritten: ['ima/quantum/ecdh-p384-private', 'ima/quantum/public-keys'],
    });
    // staged versions are not current: readers still get the old keys
    const fpA = fingerprints(publicKeysOf(a.keys));
    const current = await readKeySecret(p, inner, 'ima/quantum', KEY_SECRETS[0]);
    expect(current.fingerprint).toBe(fpA.mlkem);
    const st = (await runCli(['keys', 'status', '--keys', a.dir, '--json'], { env })).json().secrets;
    expect(st.map((s: any) => s.exists)).toEqual([true, true, false, true, false]); // the folder has no audit key: none uploaded
    expect(st[0].note).toMatch(/staged/);
    expect(st[0].matchesLocal).toBe(true);
  });

  it('a secret deleted during promotion: the error lists which secrets became current and which did not', async () => {
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'race2-a');
    const b = await makeKeyDir(box.root, 'race2-b');
    expect((await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes'], { env })).code).toBe(0);
    const p = defaultProvider();
    const inner = SecretsManagerStore.fromOptions({}, env);
    const sm = smClient(moto);
    const racing: SecretStore = Object.create(inner, {
      moveStage: {
        value: async (name: string, stage: string, to: string, from?: string) => {
          if (name.endsWith('ecdh-p384-private')) await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
          return inner.moveStage(name, stage, to, from);
        },
      },
    });
    const err = await uploadKeys(
      { store: racing, kms: KmsKeyService.fromOptions({}, env), p, now: () => new Date() },
      { keys: await loadPrivateKeys(p, b.dir), prefix: 'ima/quantum', kmsKeyRef: ALIAS, allowRotate: true, dryRun: false, confirm: async () => true },
    ).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'CUSTODY_INCOMPLETE', exitCode: 4 });
    expect(err.details).toMatchObject({
      failed: 'ima/quantum/ecdh-p384-private',
      written: ['ima/quantum/ml-kem-768-private', 'ima/quantum/ml-dsa-87-private'],
      staged: ['ima/quantum/ecdh-p384-private', 'ima/quantum/public-keys'],
      notWritten: [],
    });
    expect(err.message).toMatch(/written: ima\/quantum\/ml-kem-768-private, ima\/quantum\/ml-dsa-87-private/);
    // running rotate again completes what is left (the deleted secret is created anew)
    const again = await runCli(['keys', 'rotate', '--keys', b.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().plan.map((i: any) => i.action)).toEqual(['unchanged', 'unchanged', 'create', 'update']);
    expect(again.json().readBack.every((x: any) => x.ok)).toBe(true);
  });
});
