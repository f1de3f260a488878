/**
 * Key custody end to end against moto_server with the real SDK v3 clients, through the in-process
 * CLI (`run(argv, deps)` with the env in deps): upload into EMPTY pre-created secrets (as the
 * Terraform leaves them) → re-upload (unchanged) → conflict (refused, exit 5) → rotate by
 * generation (publish → switch → retire, waits enforced) → status → break-glass fetch; the worker's
 * key ring over the key-set secret; and the operator path: upload, rotate and status send no
 * GetSecretValue (no kms:Decrypt needed), checked on the calls the store receives.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uploadKeys } from '../../../src/aws/custody-upload.js';
import { KmsKeyService } from '../../../src/aws/key-service.js';
import { SecretsKeySetSource } from '../../../src/aws/keyset-secret.js';
import { SecretsManagerStore, type SecretStore } from '../../../src/aws/secret-store.js';
import { custodyStatus } from '../../../src/aws/custody-status.js';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { KEY_FILES } from '../../../src/keys/key-dir.js';
import { KeyRing } from '../../../src/keys/key-ring.js';
import { KEYSET_FILES } from '../../../src/keys/key-set-files.js';
import { AUDIT_KEY_FILES } from '../../../src/keys/audit-key.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { verifyPublicKeysDocument } from '../../../src/protocol/keys-document.js';
import { runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { ALIAS, createKmsKey, makeKeyDir, sandbox, smClient } from './fixture.js';

let moto: Moto;
let box: ReturnType<typeof sandbox>;
let env: Record<string, string>;
const p = defaultProvider();

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
const status = async (extra: string[] = []) => (await cli(['keys', 'status', '--json', ...extra])).json();

/** The containers the Terraform creates: secrets with a KMS key and NO version. */
async function emptySecrets(kmsKeyId: string, prefix = 'ima/quantum') {
  for (const n of ['keyset', 'public-keys']) await smClient(moto).send(new CreateSecretCommand({ Name: `${prefix}/${n}`, KmsKeyId: kmsKeyId }));
}

describe('keys upload / rotate / status / fetch on moto_server', () => {
  it('uploads into the EMPTY secrets the Terraform creates, then rotates by generation and recovers', async () => {
    const kms = await createKmsKey(moto);
    await emptySecrets(kms.arn);
    const g1 = await makeKeyDir(box.root, 'lifecycle-g1');
    const g2 = await makeKeyDir(box.root, 'lifecycle-g2', g1);

    const st0 = await status();
    expect(st0.keyset).toMatchObject({ exists: true, generations: [] });
    expect(st0.notes.join(' ')).toMatch(/empty/);

    // dry run: fill both, nothing written
    const dry = await cli(['keys', 'upload', '--keys', g1.dir, '--kms-key', ALIAS, '--dry-run', '--json']);
    expect(dry.code, dry.stdout).toBe(0);
    expect(dry.json().plan.map((i: any) => i.action)).toEqual(['fill', 'fill']);
    expect((await status()).keyset.generations).toEqual([]);

    // the first upload into the empty secrets succeeds (was KEY_CONFLICT "already holds a different key")
    const up = await cli(['keys', 'upload', '--keys', g1.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const u = up.json();
    expect(u).toMatchObject({ generation: 1, root: g1.pin, phase: 'upload', kmsKey: { arn: kms.arn } });
    expect(u.readBack.length).toBeGreaterThan(0);
    expect(u.readBack.every((x: any) => x.ok)).toBe(true);
    const st1 = await status(['--keys', g1.dir]);
    expect(st1.keyset).toMatchObject({ current: 1, root: g1.pin });
    expect(st1.local).toMatchObject({ generation: 1, state: 'current' });
    expect(st1.document.generation).toBe(1);

    // re-upload: unchanged, nothing written
    const again = await cli(['keys', 'upload', '--keys', g1.dir, '--kms-key', kms.keyId, '--yes', '--json']);
    expect(again.code).toBe(0);
    expect(again.json().plan.map((i: any) => i.action)).toEqual(['unchanged', 'unchanged']);
    expect(again.json().applied).toEqual([]);

    // another root's generation 1: a conflict, refused with exit 5, nothing written
    const stranger = await makeKeyDir(box.root, 'stranger');
    const conflict = await cli(['keys', 'upload', '--keys', stranger.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(conflict.code).toBe(5);
    expect(conflict.json().error.code).toBe('KEY_CONFLICT');
    // the next generation by upload: a conflict that names the way (keys rotate)
    const notRotate = await cli(['keys', 'upload', '--keys', g2.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(notRotate.code).toBe(5);
    expect(notRotate.json().error.hint).toMatch(/keys rotate/);
    expect((await status()).keyset.generations.map((g: any) => g.generation)).toEqual([1]);

    // rotate, phase 1: publish (AWSPENDING; the document accepts both)
    const pub = await cli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(pub.code, pub.stdout).toBe(0);
    expect(pub.json().phase).toBe('publish');
    expect(await status()).toMatchObject({ keyset: { current: 1, pending: 2, rotation: { phase: 'publish', generation: 2 } } });
    const store = SecretsManagerStore.fromOptions({}, env);
    const docText = (await store.get('ima/quantum/public-keys')).value;
    const dv = verifyPublicKeysDocument(p, docText, { pin: g1.pin, now: new Date() });
    expect(dv.valid && [dv.keys.generation, dv.document.accepted.map((a) => a.statement.generation)]).toEqual([1, [2]]);

    // phase 2 too early: ROTATION_TOO_EARLY, exit 5, nothing moved; --immediately runs it
    const early = await cli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(early.code).toBe(5);
    expect(early.json()).toMatchObject({ ok: false, error: { code: 'ROTATION_TOO_EARLY' } });
    expect((await status()).keyset.pending).toBe(2);
    const sw = await cli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--phase', 'switch', '--immediately', '--yes', '--json']);
    expect(sw.code, sw.stdout).toBe(0);
    const st2 = await status(['--keys', g2.dir]);
    expect(st2.keyset).toMatchObject({ current: 2, previous: 1 });
    expect(st2.keyset.pending).toBeUndefined();
    expect(st2.local.state).toBe('current');

    // phase 3: retire (AWSPREVIOUS removed); afterwards nothing to do
    const ret = await cli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--immediately', '--yes', '--json']);
    expect(ret.code, ret.stdout).toBe(0);
    expect(ret.json().phase).toBe('retire');
    const st3 = await status(['--keys', g1.dir]);
    expect(st3.keyset).toMatchObject({ current: 2 });
    expect(st3.keyset.previous).toBeUndefined();
    expect(st3.local.state).toBe('retired');
    expect((await cli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes', '--json'])).json().phase).toBe('none');
    const human = await cli(['keys', 'status', '--keys', g2.dir]);
    expect(human.stdout).toMatch(/AWSCURRENT/);

    // break-glass recovery: the current generation's key folder, byte-for-byte, 0600 in 0700
    const out = join(box.root, 'fetched');
    const f = await cli(['keys', 'fetch', '--out', out, '--json']);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(f.json()).toMatchObject({ generation: 2, root: g1.pin, roles: ['mlkem', 'ecdh', 'mldsa', 'audit'] });
    for (const name of [...Object.values(KEY_FILES), ...Object.values(AUDIT_KEY_FILES), KEYSET_FILES.current]) {
      expect(readFileSync(join(out, name)).equals(readFileSync(join(g2.dir, name))), name).toBe(true);
    }
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(statSync(join(out, KEY_FILES.mldsaPrivate)).mode & 0o777).toBe(0o600);
    expect((await cli(['keys', 'fetch', '--out', out, '--json'])).json().error.code).toBe('FILE_EXISTS');
    const older = await cli(['keys', 'fetch', '--out', join(box.root, 'fetched-1'), '--generation', '1', '--json']);
    expect(older.json().generation).toBe(1);
  });

  it('the worker key ring reads every labelled generation from one snapshot of the key-set secret', async () => {
    await createKmsKey(moto);
    const g1 = await makeKeyDir(box.root, 'ring-g1');
    const g2 = await makeKeyDir(box.root, 'ring-g2', g1);
    expect((await cli(['keys', 'upload', '--keys', g1.dir, '--kms-key', ALIAS, '--yes'])).code).toBe(0);
    const store = SecretsManagerStore.fromOptions({}, env);
    const ring = await KeyRing.open(p, new SecretsKeySetSource(p, store, 'ima/quantum'), { reloadMs: 0, minReloadGapMs: 0 });
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['current:1']);
    expect((await cli(['keys', 'rotate', '--keys', g2.dir, '--kms-key', ALIAS, '--yes'])).code).toBe(0);
    // a request sealed to generation 2 makes the ring reload and find it (published, not yet current)
    expect(await ring.recipientFor(g2.keyset.statement.kem.fingerprint)).toBeDefined();
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['pending:2', 'current:1']);
    // the signer of a decision is certified by the newest generation valid then
    expect(ring.certificationFor(g2.keys.mldsa.publicKey, Date.now()).keyset.statement.generation).toBe(2);
    expect(await ring.recipientFor('ab'.repeat(32))).toBeUndefined();
    // a prefix with no key set: AWS_NOT_FOUND, exit 4
    await expect(new SecretsKeySetSource(p, store, 'nowhere').load()).rejects.toMatchObject({ code: 'AWS_NOT_FOUND', exitCode: 4 });
    ring.stop();
  });

  it('the operator path reads no secret value: upload, every rotation phase and status send no GetSecretValue', async () => {
    const kms = await createKmsKey(moto);
    await emptySecrets(kms.arn);
    const g1 = await makeKeyDir(box.root, 'op-g1');
    const g2 = await makeKeyDir(box.root, 'op-g2', g1);
    const real = SecretsManagerStore.fromOptions({}, env);
    const calls: string[] = [];
    // the store the operator has: every call recorded; a value read is refused as the policy refuses it
    const operator = new Proxy(real, {
      get(target, prop: keyof SecretStore) {
        const v = target[prop];
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          if (prop === 'get' || prop === 'getVersion') return Promise.reject(Object.assign(new Error('AccessDeniedException'), { code: 'AWS_ACCESS_DENIED' }));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as SecretStore;
    const ports = { store: operator, kms: KmsKeyService.fromOptions({}, env), p, now: () => new Date() };
    const run = (dir: string, mode: 'upload' | 'rotate') =>
      uploadKeys(ports, { dir, prefix: 'ima/quantum', kmsKeyRef: ALIAS, mode, dryRun: false, immediately: true, confirm: async () => true });
    for (const [dir, mode] of [[g1.dir, 'upload'], [g2.dir, 'rotate'], [g2.dir, 'rotate'], [g2.dir, 'rotate']] as const) {
      const r = await run(dir, mode);
      expect(r.plan.refused, JSON.stringify(r.plan.refused)).toBeUndefined();
      expect(r.readBack?.every((b) => b.ok)).toBe(true);
    }
    await custodyStatus(p, operator, 'ima/quantum');
    expect(calls.filter((c) => c === 'get' || c === 'getVersion')).toEqual([]);
    expect(new Set(calls)).toEqual(new Set(['describe', 'putVersion', 'tag', 'moveStage', 'removeStage']));
    // and the result is what the worker then loads
    const ring = await KeyRing.open(p, new SecretsKeySetSource(p, real, 'ima/quantum'), { reloadMs: 0 });
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['current:2']);
    ring.stop();
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
    expect(asked).toEqual(['write generation 1 under ima/quantum (2 step(s))?']);
    expect(no.stderr).toContain('ima/quantum/keyset'); // the plan, before the question
    expect(no.stdout).toContain('nothing was written');
    expect((await status()).keyset.exists).toBe(false);
    const yes = await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS], { env, interactive: true, confirm: ask(true) });
    expect(yes.code).toBe(0);
    expect((await status(['--keys', a.dir])).local.state).toBe('current');
    // nothing to write: no question
    await runCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS], { env, interactive: true, confirm: ask(true) });
    expect(asked.length).toBe(2);
  });

  it('uses another prefix and a key ARN; a secret under another KMS key is moved to the named one', async () => {
    const one = await createKmsKey(moto, 'alias/one');
    const two = await createKmsKey(moto, 'alias/two');
    const a = await makeKeyDir(box.root, 'prefix-a');
    const b = await makeKeyDir(box.root, 'prefix-b', a);
    const base = ['--prefix', 'prod/ima', '--yes', '--json'];
    expect((await cli(['keys', 'upload', '--keys', a.dir, '--kms-key', one.arn, ...base])).code).toBe(0);
    const r = await cli(['keys', 'upload', '--keys', b.dir, '--rotate', '--kms-key', 'alias/two', ...base]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json().plan[0]).toMatchObject({ name: 'prod/ima/keyset', action: 'publish', kmsChange: true });
    const st = await status(['--prefix', 'prod/ima', '--keys', b.dir]);
    expect(st.keyset).toMatchObject({ kmsKeyId: two.arn, pending: 2, current: 1 });
    expect((await status()).keyset.exists).toBe(false);
  });

  it('the audit key rides in the key set: certified by the statement, uploaded with its generation, fetched byte for byte, loaded by the worker (SPEC 7.1, 7.3, 8.11)', async () => {
    await createKmsKey(moto);
    const dir = join(box.root, 'with-audit');
    const gen = await cli(['keys', 'generate', '--out', dir, '--json']);
    expect(gen.code, gen.stderr).toBe(0);
    const auditFp = gen.json().auditFingerprint;
    const statement = JSON.parse(readFileSync(join(dir, KEYSET_FILES.current), 'utf8')).statement;
    expect(statement.signers.audit.fingerprint).toBe(auditFp);
    expect(statement.signers.audit.fingerprint).not.toBe(statement.signers.decisions.fingerprint);
    const up = await cli(['keys', 'upload', '--keys', dir, '--kms-key', ALIAS, '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    // two secrets, not five: the audit key is one more member of the generation's one version
    expect(up.json().plan.map((i: any) => i.action)).toEqual(['create', 'create']);
    const out = join(box.root, 'with-audit-fetched');
    const f = await cli(['keys', 'fetch', '--out', out, '--json']);
    expect(f.code, f.stderr).toBe(0);
    for (const name of [AUDIT_KEY_FILES.private, AUDIT_KEY_FILES.public]) expect(readFileSync(join(out, name)).equals(readFileSync(join(dir, name))), name).toBe(true);
    expect(statSync(join(out, AUDIT_KEY_FILES.private)).mode & 0o777).toBe(0o600);
    const ring = await KeyRing.open(p, new SecretsKeySetSource(p, SecretsManagerStore.fromOptions({}, env), 'ima/quantum'), { reloadMs: 0 });
    const held = ring.auditKeyFor(ring.sets[0].decisions, Date.now());
    expect(fingerprint('ML-DSA-87', held.key.publicKey)).toBe(auditFp);
    expect(held.generation).toBe(1);
  });
});
