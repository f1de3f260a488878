/**
 * The built binary (`node bin/ima-qs.js`, dist/ from `tsc -p tsconfig.build.json`) against
 * moto_server: real process, real environment, exit codes and one JSON document on stdout.
 * No credentials is tested here because only a real process environment reaches every link of
 * the SDK's credential chain.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, repoRoot, spawnCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { ALIAS, createKmsKey, makeKeyDir, sandbox } from './fixture.js';

let moto: Moto;
let box: ReturnType<typeof sandbox>;

/** Builds dist/ unless it is newer than every source file this test runs. */
function ensureBuilt(): void {
  const built = join(repoRoot, 'dist/commands/keys-custody.js');
  const sources = ['src/commands/keys-custody.ts', 'src/commands/keys.ts', 'src/aws/custody-upload.ts', 'src/aws/key-custody.ts', 'src/aws/custody-apply.ts', 'src/aws/keyset-secret.ts', 'src/keys/key-set-files.ts', 'src/aws/config.ts', 'src/aws/errors.ts'];
  const fresh = existsSync(built) && sources.every((s) => statSync(join(repoRoot, s)).mtimeMs <= statSync(built).mtimeMs);
  if (fresh) return;
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'pipe', timeout: 180_000 });
  } catch {
    // type errors elsewhere in the tree still emit JS; the checks below decide
  }
}

beforeAll(async () => {
  ensureBuilt();
  moto = await startMoto();
  box = sandbox();
}, 240_000);
afterAll(async () => {
  await moto?.stop();
  box?.cleanup();
});

describe('ima-qs keys (built binary) on moto_server', () => {
  it('upload --yes --json: exit 0 and one JSON document; again: unchanged', async () => {
    await moto.reset();
    await createKmsKey(moto);
    const a = await makeKeyDir(box.root, 'bin-a');
    const env = { ...box.baseEnv, ...moto.env };
    const r = await spawnCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    expect(j.ok).toBe(true);
    expect(j.plan.map((x: any) => x.action)).toEqual(['create', 'create']);
    expect(j.readBack.every((x: any) => x.ok)).toBe(true);
    const again = await spawnCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(again.code).toBe(0);
    expect(again.json().plan.every((x: any) => x.action === 'unchanged')).toBe(true);
  });

  it('the upload_keys_to_aws.sh that keys generate writes uploads through ima-qs keys upload', async () => {
    await moto.reset();
    await createKmsKey(moto);
    const env = { ...box.baseEnv, ...moto.env };
    const dir = join(box.root, 'generated');
    const gen = await spawnCli(['keys', 'generate', '--out', dir, '--json'], { env });
    expect(gen.code, gen.stderr).toBe(0);
    // `ima-qs` on PATH is this checkout's binary
    const bin = join(box.root, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'ima-qs'), `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, 'bin/ima-qs.js')}" "$@"\n`, { mode: 0o755 });
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('sh', [join(dir, 'upload_keys_to_aws.sh'), '--yes', '--json'], { env: { ...env, PATH: `${bin}:${env.PATH}`, KMS_KEY_ID: ALIAS }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      );
    });
    expect(out.code, out.stderr).toBe(0);
    const j = JSON.parse(out.stdout);
    expect(j.plan.map((x: any) => x.action)).toEqual(['create', 'create']);
    // the pin is the root generate wrote beside the folder (generated_root), not an online key
    expect(j.root).toBe(gen.json().root.fingerprint);
    expect(j.readBack.every((x: any) => x.ok)).toBe(true);
  });

  it('no credentials (AWS_EC2_METADATA_DISABLED=true, empty config files): AWS_NO_CREDENTIALS, exit 4', async () => {
    const a = await makeKeyDir(box.root, 'bin-nocreds');
    const env = { ...box.baseEnv, AWS_REGION: 'eu-central-1', AWS_ENDPOINT_URL: moto.endpoint };
    const r = await spawnCli(['keys', 'upload', '--keys', a.dir, '--kms-key', ALIAS, '--yes', '--json'], { env });
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe('AWS_NO_CREDENTIALS');
    expectNoStack(r.stderr);
    const human = await spawnCli(['keys', 'status'], { env });
    expect(human.code).toBe(4);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/ima-qs: error: .*no AWS credentials/);
    expect(human.stderr).toMatch(/ima-qs: hint: /);
  });

  it('no region in a real process: AWS_NO_REGION, exit 4', async () => {
    const r = await spawnCli(['keys', 'status', '--json'], { env: { ...box.baseEnv, AWS_ENDPOINT_URL: moto.endpoint } });
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe('AWS_NO_REGION');
  });
});
