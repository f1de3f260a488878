import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGetcapPcrs, runDoctor } from '../../../src/tpm/doctor.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { runCli } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ima-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noFiles = { exists: async () => false };

describe('tpm doctor rows', () => {
  it('parses tpm2_getcap pcrs', () => {
    const caps = 'selected-pcrs:\n  - sha1: [ 0, 1, 2 ]\n  - sha256: [ 0, 11, 23 ]\n  - sha384: [ ]\n';
    expect(parseGetcapPcrs(caps)).toEqual({ sha1: [0, 1, 2], sha256: [0, 11, 23], sha384: [] });
  });

  it('AWS Fargate is a fail row', async () => {
    const rows = await runDoctor({
      bank: new SimulatedBank(join(dir, 's.json')),
      env: { PATH: process.env.PATH, AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE', ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/x' },
      pcr: 11,
      timeoutMs: 5000,
      probe: noFiles,
    });
    expect(rows.find((r) => r.check === 'platform')).toMatchObject({ status: 'fail' });
    expect(rows.find((r) => r.check === 'tpm')).toMatchObject({ status: 'warn' });
  });

  it('an ECS task of unknown launch type warns; EC2 passes', async () => {
    const base = { bank: new SimulatedBank(join(dir, 's.json')), pcr: 11, timeoutMs: 5000, probe: noFiles };
    const unknown = await runDoctor({ ...base, env: { PATH: process.env.PATH, ECS_CONTAINER_METADATA_URI_V4: 'http://x' } });
    expect(unknown.find((r) => r.check === 'platform')?.status).toBe('warn');
    const ec2 = await runDoctor({ ...base, env: { PATH: process.env.PATH, AWS_EXECUTION_ENV: 'AWS_ECS_EC2' } });
    expect(ec2.find((r) => r.check === 'platform')?.status).toBe('pass');
  });

  it('missing tools are a warn row with --simulated', async () => {
    const rows = await runDoctor({ bank: new SimulatedBank(join(dir, 's.json')), env: { PATH: dir }, pcr: 11, timeoutMs: 5000, probe: noFiles });
    expect(rows.find((r) => r.check === 'tpm2-tools')).toMatchObject({ status: 'warn' });
  });

  it('the command exits 4 only when a row fails (Fargate), and labels the simulated bank', async () => {
    const fargate = await runCli(['tpm', 'doctor', '--simulated', join(dir, 's.json'), '--json'], {
      env: { PATH: process.env.PATH, AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE' },
    });
    expect(fargate.code).toBe(4);
    const doc = fargate.json();
    expect(doc).toMatchObject({ ok: false, error: { code: 'TPM_DOCTOR_FAILED' }, simulated: true });
    const plain = await runCli(['tpm', 'doctor', '--simulated', join(dir, 's.json')], { env: { PATH: process.env.PATH } });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/SIMULATED/);
  });
  it('an unreachable tpm: exit 4, and pcr 11 is not claimed to be all-zero (it was not read)', async () => {
    const r = await runCli(['tpm', 'doctor', '--tcti', `swtpm:path=${join(dir, 'no-such.sock')}`, '--timeout', '5', '--json'], {
      env: { PATH: process.env.PATH },
    });
    expect(r.code).toBe(4);
    const rows = r.json().rows as { check: string; status: string; detail: string }[];
    expect(rows.find((x) => x.check === 'tpm reachable')).toMatchObject({ status: 'fail' });
    const pcr = rows.find((x) => x.check === 'pcr 11 and systemd');
    expect(pcr).toMatchObject({ status: 'warn' });
    expect(pcr!.detail).toContain('not read');
    expect(pcr!.detail).not.toContain('all-zero');
  });
});
