// The Terraform layer, when this machine has terraform on PATH and the AWS provider in a local
// plugin directory (not promised everywhere: see shared notes, terraform-offline). In a scratch
// copy of infra/: init from the plugin dir (offline), fmt -check, validate -json, and
// terraform test (infra/tests/*.tftest.hcl, mock_provider "aws": no account, no network).
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyInfra, findAwsPluginDir, findTerraform, terraform, terraformUnavailableReason } from '../../helpers/terraform.js';

const unavailable = await terraformUnavailableReason();
if (unavailable) process.stderr.write(`infra-terraform: skipping the terraform layer: ${unavailable}\n`);

const TIMEOUT = 180_000;
/** The whole `terraform test` (two files, 23 runs): ~60 s alone here, several minutes on a busy 2-core machine. */
const FULL_TEST_TIMEOUT = 400_000;

describe.skipIf(unavailable !== undefined)(`terraform layer${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let bin: string;
  let dir: string;

  beforeAll(async () => {
    bin = (await findTerraform())!;
    const plugins = (await findAwsPluginDir())!;
    dir = await copyInfra('ima-qs-infra-tf-');
    const init = await terraform(bin, ['init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${plugins}`], dir);
    expect(init.code, init.stderr).toBe(0);
  }, TIMEOUT);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is formatted (terraform fmt -check -recursive)', async () => {
    const r = await terraform(bin, ['fmt', '-check', '-recursive', '-no-color'], dir);
    expect(r.stdout, `unformatted files: ${r.stdout}`).toBe('');
    expect(r.code).toBe(0);
  }, TIMEOUT);

  it('validates (terraform validate -json)', async () => {
    const r = await terraform(bin, ['validate', '-json', '-no-color'], dir);
    const out = JSON.parse(r.stdout) as { valid: boolean; error_count: number; warning_count: number; diagnostics: unknown[] };
    expect(out.diagnostics).toEqual([]);
    expect(out.valid).toBe(true);
    expect(out.error_count).toBe(0);
    expect(r.code).toBe(0);
  }, TIMEOUT);

  it('passes terraform test with the mocked provider (enabled, prod, EC2+TPM, autoscaling, alarms, refusals, disabled)', async () => {
    const r = await terraform(bin, ['test', '-no-color'], dir, FULL_TEST_TIMEOUT - 20_000);
    expect(r.stdout + r.stderr).toMatch(/Success! \d+ passed, 0 failed\./);
    expect(r.stdout).not.toMatch(/\.\.\. (fail|skip)/);
    expect(r.code).toBe(0);
  }, FULL_TEST_TIMEOUT);

  it('terraform test fails when key rotation is turned off (its assertions can fail)', async () => {
    const kms = join(dir, 'kms.tf');
    const original = await readFile(kms, 'utf8');
    const mutated = original.replace(/enable_key_rotation(\s*)= true/, 'enable_key_rotation$1= false');
    expect(mutated).not.toBe(original);
    await writeFile(kms, mutated);
    try {
      const r = await terraform(bin, ['test', '-no-color', '-filter=tests/quantum_safe.tftest.hcl'], dir);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/KMS key rotation must be on/);
    } finally {
      await writeFile(kms, original);
    }
  }, TIMEOUT);

  it('terraform test fails when stopTimeout no longer outlasts STOP_GRACE_SECONDS (operations.tftest.hcl can fail)', async () => {
    const ecs = join(dir, 'ecs.tf');
    const original = await readFile(ecs, 'utf8');
    const mutated = original.replace(/worker_stop_margin_seconds = 10/, 'worker_stop_margin_seconds = 0');
    expect(mutated).not.toBe(original);
    await writeFile(ecs, mutated);
    try {
      const r = await terraform(bin, ['test', '-no-color', '-filter=tests/operations.tftest.hcl'], dir);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/stopTimeout must leave the worker its STOP_GRACE_SECONDS/);
    } finally {
      await writeFile(ecs, original);
    }
  }, TIMEOUT);
});
