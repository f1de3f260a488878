/**
 * Key custody end to end against moto_server with the real SDK v3 clients, through the in-process
 * CLI (`run(argv, deps)` with the env in deps): upload → re-upload (unchanged) → conflict
 * (refused, exit 5) → rotate (stages move) → status → fetch (byte-for-byte) → the service loader
 * and the published public-keys document.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { equalBytes } from '../../../src/crypto/bytes.js';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { KEY_FILES, type ServiceKeys, fingerprints, publicKeysOf } from '../../../src/keys/key-dir.js';
import { verifyPublicKeysDocument } from '../../../src/protocol/keys-document.js';
import { SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { forgetServiceKeys, loadAuditKeyFromSecrets, loadServiceKeysFromSecrets } from '../../../src/aws/service-keys.js';
import { AUDIT_KEY_FILES, loadAuditPublicKey } from '../../../src/keys/audit-key.js';
import { runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { ALIAS, createKmsKey, makeKeyDir, sandbox } from './fixture.js';

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

const cli = (argv: string[]) => runCli(argv, { env });
/** these key folders have no audit key (written with the key-dir API): its secret is neither written nor compared */
const notAudit = (s: { role: string }) => s.role !== 'audit';

function sameKeys(a: ServiceKeys, b: ServiceKeys): boolean {
  return equalBytes(a.mlkem.seed!, b.mlkem.seed!) && equalBytes(a.mldsa.seed!, b.mldsa.seed!) && equalBytes(a.ecdh.scalar, b.ecdh.scalar);
}

describe('keys upload / status / rotate / fetch on moto_server', () => {
  it('runs the whole lifecycle', async () => {
    const kms = await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'lifecycle-a');
    const b = await makeKeyDir(box.root, 'lifecycle-b');
    const fpA = fingerprints(publicKeysOf(a.keys));
    const fpB = fingerprints(publicKeysOf(b.keys));

    // dry run: a plan of four creates, nothing written
    const dry = await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(dry.json().plan.map((i: any) => i.action)).toEqual(['create', 'create', 'create', 'create']);
    expect((await cli(['keys', 'status', '--json'])).json().secrets.every((s: any) => !s.exists)).toBe(true);

    // upload: created, read back, under the resolved key ARN, tagged
    const up = await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    const upJson = up.json();
    expect(upJson.kmsKey.arn).toBe(kms.arn);
    expect(upJson.applied.map((x: any) => x.outcome)).toEqual(['created', 'created', 'created', 'created']);
    expect(upJson.readBack.every((x: any) => x.ok)).toBe(true);
    expect(upJson.fingerprints.mldsa).toBe(fpA.mldsa);

    // re-upload: unchanged, still read back
    const again = await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', kms.keyId, '--yes', '--json']);
    expect(again.code).toBe(0);
    expect(again.json().plan.map((i: any) => i.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(again.json().readBack.every((x: any) => x.ok)).toBe(true);

    // a different key set: conflict, refused with exit 5, nothing written
    const conflict = await cli(['keys', 'upload', '--keys', b.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(conflict.code).toBe(5);
    const cj = conflict.json();
    expect(cj.ok).toBe(false);
    expect(cj.error.code).toBe('KEY_CONFLICT');
    expect(cj.plan.slice(0, 3).map((i: any) => i.action)).toEqual(['conflict', 'conflict', 'conflict']);
    expect(cj.applied).toBeUndefined();
    const st0 = (await cli(['keys', 'status', '--keys', a.dir, '--json'])).json();
    expect(st0.secrets.map((s: any) => s.matchesLocal)).toEqual([true, true, true, true, undefined]); // no audit key in the folder: not compared

    // rotate: AWSPENDING → AWSCURRENT, the old version kept as AWSPREVIOUS
    const before = st0.secrets.map((s: any) => s.stages.AWSCURRENT);
    const rot = await cli(['keys', 'rotate', '--keys', b.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.json().plan.map((i: any) => i.action)).toEqual(['rotate', 'rotate', 'rotate', 'update']);
    expect(rot.json().applied.map((x: any) => x.outcome)).toEqual(['promoted', 'promoted', 'promoted', 'promoted']);

    const st = await cli(['keys', 'status', '--keys', b.dir, '--json']);
    expect(st.code).toBe(0);
    const secrets = st.json().secrets;
    for (let i = 0; i < 4; i++) {
      expect(secrets[i].stages.AWSPREVIOUS).toBe(before[i]);
      expect(secrets[i].stages.AWSCURRENT).not.toBe(before[i]);
      expect(secrets[i].stages.AWSPENDING).toBeUndefined();
      expect(secrets[i].matchesLocal).toBe(true);
    }
    expect(secrets.filter(notAudit).map((s: any) => s.fingerprint)).toEqual([fpB.mlkem, fpB.mldsa, fpB.ecdh, fpB.composite]);
    const human = await cli(['keys', 'status', '--keys', a.dir]);
    expect(human.stdout).toContain('AWSPREVIOUS');
    expect(human.stdout).toContain(before[0].slice(0, 8));
    expect(human.stdout).toMatch(/\bno\b/); // the old key folder no longer matches

    // fetch: six files, byte-for-byte the rotated key folder, private files 0600 in a 0700 folder
    const out = join(box.root, 'fetched');
    const f = await cli(['keys', 'fetch', '--out', out, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.json().files.filter((x: any) => x.identicalToSecret).length).toBe(3);
    for (const name of Object.values(KEY_FILES)) {
      expect(readFileSync(join(out, name)).equals(readFileSync(join(b.dir, name))), name).toBe(true);
    }
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(statSync(join(out, KEY_FILES.mldsaPrivate)).mode & 0o777).toBe(0o600);
    // never overwritten without --force
    const again2 = await cli(['keys', 'fetch', '--out', out, '--json']);
    expect(again2.code).toBe(3);
    expect(again2.json().error.code).toBe('FILE_EXISTS');
    expect((await cli(['keys', 'fetch', '--out', out, '--force', '--json'])).code).toBe(0);
  });

  it('loads the service keys from the secrets (cached in memory) and publishes a document that verifies against the pin', async () => {
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'service-a');
    const other = await makeKeyDir(box.root, 'service-other');
    expect((await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'])).code).toBe(0);

    const store = SecretsManagerStore.fromOptions({}, env);
    const loaded = await loadServiceKeysFromSecrets(store, { prefix: 'ima/quantum' });
    expect(sameKeys(loaded, a.keys)).toBe(true);
    expect(await loadServiceKeysFromSecrets(store, { prefix: 'ima/quantum' })).toBe(loaded); // cached
    forgetServiceKeys(store);
    const reloaded = await loadServiceKeysFromSecrets(store, { prefix: 'ima/quantum' });
    expect(reloaded).not.toBe(loaded);
    expect(sameKeys(reloaded, a.keys)).toBe(true);

    const p = defaultProvider();
    const doc = (await store.get('ima/quantum/public-keys')).value;
    const fpA = fingerprints(publicKeysOf(a.keys));
    const v = verifyPublicKeysDocument(p, doc, { pin: fpA.mldsa, now: new Date() });
    expect(v.valid).toBe(true);
    if (v.valid) {
      expect(equalBytes(v.keys.mlkem, a.keys.mlkem.publicKey)).toBe(true);
      expect(equalBytes(v.keys.ecdh, a.keys.ecdh.publicKey)).toBe(true);
      expect(v.fingerprints.composite).toBe(fpA.composite);
    }
    const wrongPin = verifyPublicKeysDocument(p, doc, { pin: fingerprints(publicKeysOf(other.keys)).mldsa, now: new Date() });
    expect(wrongPin.valid).toBe(false);
    if (!wrongPin.valid) expect(wrongPin.code).toBe('KEYS_DOC_PIN_MISMATCH');
    // an empty prefix is not found: a clear AWS_NOT_FOUND, and the failure is not cached
    await expect(loadServiceKeysFromSecrets(store, { prefix: 'nowhere' })).rejects.toMatchObject({ code: 'AWS_NOT_FOUND', exitCode: 4 });
  });

  it('asks on a terminal: the plan goes to stderr, "no" writes nothing, "yes" writes', async () => {
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'tty-a');
    const asked: string[] = [];
    const ask = (answer: boolean) => async (q: string) => {
      asked.push(q);
      return answer;
    };
    const no = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS], { env, interactive: true, confirm: ask(false) });
    expect(no.code).toBe(0);
    expect(asked).toEqual(['write 4 secret(s) under ima/quantum?']);
    expect(no.stderr).toContain('ima/quantum/ml-dsa-87-private'); // the plan, before the question
    expect(no.stdout).toContain('nothing was written');
    expect((await cli(['keys', 'status', '--json'])).json().secrets.every((s: any) => !s.exists)).toBe(true);
    const yes = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS], { env, interactive: true, confirm: ask(true) });
    expect(yes.code).toBe(0);
    expect((await cli(['keys', 'status', '--keys', a.dir, '--json'])).json().secrets.filter(notAudit).every((s: any) => s.matchesLocal)).toBe(true);
    // nothing to write: no question
    await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS], { env, interactive: true, confirm: ask(true) });
    expect(asked.length).toBe(2);
  });

  it('a rotation moves the secrets to the KMS key it names; an unchanged secret keeps its key', async () => {
    const one = await createKmsKey(moto, 'alias/one');
    const two = await createKmsKey(moto, 'alias/two');
    const a = await makeKeyDir(box.root, 'kms-a');
    const b = await makeKeyDir(box.root, 'kms-b');
    expect((await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', 'alias/one', '--yes'])).code).toBe(0);
    const same = await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', 'alias/two', '--yes']);
    expect(same.stdout).toContain('stays under its KMS key');
    expect((await cli(['keys', 'status', '--json'])).json().secrets.filter(notAudit).map((s: any) => s.kmsKeyId)).toEqual(Array(4).fill(one.arn));
    expect((await cli(['keys', 'rotate', '--keys', b.dir, '--kms-key', 'alias/two', '--yes'])).code).toBe(0);
    expect((await cli(['keys', 'status', '--json'])).json().secrets.filter(notAudit).map((s: any) => s.kmsKeyId)).toEqual(Array(4).fill(two.arn));
  });

  it('uses another prefix and a key ARN, and upload --rotate replaces like rotate does', async () => {
    const kms = await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'prefix-a');
    const b = await makeKeyDir(box.root, 'prefix-b');
    const base = ['--kms-key', kms.arn, '--prefix', 'prod/ima', '--yes', '--json'];
    expect((await cli(['keys', 'upload', '--keys', a.dir, ...base])).code).toBe(0);
    const r = await cli(['keys', 'upload', '--keys', b.dir, '--rotate', ...base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().plan[0].name).toBe('prod/ima/ml-kem-768-private');
    const st = (await cli(['keys', 'status', '--prefix', 'prod/ima', '--keys', b.dir, '--json'])).json();
    expect(st.secrets.filter(notAudit).every((s: any) => s.matchesLocal && s.stages.AWSPREVIOUS)).toBe(true);
    expect((await cli(['keys', 'status', '--json'])).json().secrets.every((s: any) => !s.exists)).toBe(true);
  });

  it('the audit key is the fifth secret: uploaded from a generated folder, matched by status, fetched byte for byte, loaded by the worker (SPEC 7.1, 8.11)', async () => {
    await createKmsKey(moto);
    const dir = join(box.root, 'with-audit');
    expect((await cli(['keys', 'generate', '--out', dir, '--json'])).code).toBe(0);
    const up = await cli(['keys', 'upload', '--keys', dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.json().plan.map((i: any) => [i.role, i.action])).toEqual([['mlkem', 'create'], ['mldsa', 'create'], ['ecdh', 'create'], ['public-keys', 'create'], ['audit', 'create']]);
    expect(up.json().readBack.every((x: any) => x.ok)).toBe(true);
    const st = (await cli(['keys', 'status', '--keys', dir, '--json'])).json();
    expect(st.secrets.map((s: any) => s.matchesLocal)).toEqual([true, true, true, true, true]);
    const auditFp = (await loadAuditPublicKey(defaultProvider(), dir)).fingerprint;
    expect(st.secrets.at(-1)).toMatchObject({ name: 'ima/quantum/audit-ml-dsa-87-private', fingerprint: auditFp });
    const out = join(box.root, 'with-audit-fetched');
    const f = await cli(['keys', 'fetch', '--out', out, '--json']);
    expect(f.code, f.stderr).toBe(0);
    for (const name of [AUDIT_KEY_FILES.private, AUDIT_KEY_FILES.public]) expect(readFileSync(join(out, name)).equals(readFileSync(join(dir, name))), name).toBe(true);
    expect(statSync(join(out, AUDIT_KEY_FILES.private)).mode & 0o777).toBe(0o600);
    const loaded = await loadAuditKeyFromSecrets(defaultProvider(), SecretsManagerStore.fromOptions({}, env), 'ima/quantum');
    expect(loaded).toMatchObject({ fingerprint: auditFp, source: 'ima/quantum/audit-ml-dsa-87-private' });
  });
});
