/**
 * `ima-qs tpm doctor`: can this host anchor decisions in a TPM PCR? One row per check, each
 * pass / warn / fail with a hint. Only a fail row makes the command fail (exit 4).
 * Facts behind the checks: DESIGN.md "Facts that change the design" (Fargate has no TPM; PCR 11
 * is measured into by systemd-stub / UKIs and systemd-pcrphase).
 */
import { ImaError } from '../errors.js';
import type { SimulatedBank } from './simulated-bank.js';
import { anchorLabel } from '../protocol/anchor-label.js';
import type { Tpm2ToolsBank } from './tpm2-tools.js';
import { runTool } from './tool-runner.js';
import { toHex } from './pcr-math.js';

export type Status = 'pass' | 'warn' | 'fail';
export interface DoctorRow {
  check: string;
  status: Status;
  detail: string;
  hint?: string;
}

export interface DoctorProbe {
  exists(path: string): Promise<boolean>;
}

export interface DoctorInput {
  bank: Tpm2ToolsBank | SimulatedBank;
  env: Record<string, string | undefined>;
  pcr: number;
  timeoutMs: number;
  probe: DoctorProbe;
}

/** The tools ima-qs runs (tpm2_checkquote only for interop checks by people). */
export const TOOLS = [
  'tpm2_pcrread', 'tpm2_pcrextend', 'tpm2_getcap', 'tpm2_quote', 'tpm2_createek', 'tpm2_createak',
  'tpm2_evictcontrol', 'tpm2_readpublic', 'tpm2_flushcontext',
];

export async function runDoctor(input: DoctorInput): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  const simulated = input.bank.describe().simulated;
  rows.push(await toolsRow(input, simulated));
  rows.push(platformRow(input.env));
  if (simulated) {
    rows.push({
      check: 'tpm',
      status: 'warn',
      detail: `SIMULATED pcr bank in ${input.bank.describe().stateFile}: an audit chain anchored here is a ${anchorLabel({ simulated: true })}`,
      hint: 'a simulated bank is for machines without a tpm; it proves nothing to a verifier',
    });
    return rows;
  }
  const tools = input.bank as Tpm2ToolsBank;
  let caps: string | undefined;
  try {
    caps = (await tools.tool('tpm2_getcap', ['pcrs'])).stdout;
    rows.push({ check: 'tpm reachable', status: 'pass', detail: `tcti ${tools.tcti}` });
  } catch (err) {
    const e = err as ImaError;
    rows.push({ check: 'tpm reachable', status: 'fail', detail: `tcti ${tools.tcti}: ${e.code ?? 'error'}: ${e.message}`, hint: e.hint });
  }
  if (caps !== undefined) rows.push(banksRow(caps, input.pcr));
  rows.push(await pcr11Row(input, caps !== undefined));
  return rows;
}

async function toolsRow(input: DoctorInput, simulated: boolean): Promise<DoctorRow> {
  const results = await Promise.all(
    TOOLS.map((t) =>
      runTool(t, ['--version'], { tcti: 'none', env: input.env, timeoutMs: input.timeoutMs }).then(
        (o) => ({ t, version: /version="([^"]+)"/.exec(o.stdout)?.[1] ?? '?' }),
        () => ({ t, version: undefined }),
      ),
    ),
  );
  const missing = results.filter((r) => !r.version).map((r) => r.t);
  const versions = [...new Set(results.filter((r) => r.version).map((r) => r.version))];
  if (missing.length === 0) return { check: 'tpm2-tools', status: 'pass', detail: `installed, version ${versions.join(', ')}` };
  return {
    check: 'tpm2-tools',
    status: simulated ? 'warn' : 'fail',
    detail: `missing: ${missing.join(', ')}`,
    hint: 'install tpm2-tools (Debian/Ubuntu: apt-get install tpm2-tools)',
  };
}

function platformRow(env: Record<string, string | undefined>): DoctorRow {
  if (env.AWS_EXECUTION_ENV === 'AWS_ECS_FARGATE') {
    return {
      check: 'platform',
      status: 'fail',
      detail: 'running on AWS Fargate (AWS_EXECUTION_ENV=AWS_ECS_FARGATE): Fargate tasks have no tpm',
      hint: 'NitroTPM exists for EC2 instances only: run the worker on ECS on EC2 with a NitroTPM instance, or choose another audit anchor explicitly',
    };
  }
  if (env.ECS_CONTAINER_METADATA_URI_V4 && env.AWS_EXECUTION_ENV !== 'AWS_ECS_EC2') {
    return {
      check: 'platform',
      status: 'warn',
      detail: 'running in an ECS task of unknown launch type (ECS_CONTAINER_METADATA_URI_V4 is set)',
      hint: 'on Fargate there is no tpm; on EC2 the instance needs NitroTPM and /dev/tpmrm0 mapped into the container',
    };
  }
  if (env.AWS_EXECUTION_ENV === 'AWS_ECS_EC2') {
    return { check: 'platform', status: 'pass', detail: 'ECS on EC2', hint: 'the instance needs NitroTPM enabled and /dev/tpmrm0 mapped into the container' };
  }
  return { check: 'platform', status: 'pass', detail: 'not on AWS Fargate' };
}

/** Parses `tpm2_getcap pcrs` ("  - sha256: [ 0, 1, … ]") into bank → allocated PCRs. */
export function parseGetcapPcrs(text: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const m of text.matchAll(/^\s*-\s*(\w+):\s*\[([^\]]*)\]/gm)) {
    out[m[1]] = m[2].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  }
  return out;
}

function banksRow(caps: string, pcr: number): DoctorRow {
  const banks = parseGetcapPcrs(caps);
  const has = (b: string) => banks[b]?.includes(pcr) ?? false;
  const list = Object.entries(banks).filter(([, p]) => p.length > 0).map(([b]) => b).join(', ') || 'none';
  if (!has('sha256')) {
    return { check: 'pcr banks', status: 'fail', detail: `pcr ${pcr} is not allocated in sha256 (allocated banks: ${list})`, hint: 'allocate the sha256 bank (tpm2_pcrallocate) or choose another --pcr' };
  }
  if (!has('sha384')) {
    return { check: 'pcr banks', status: 'warn', detail: `sha256 has pcr ${pcr}, sha384 does not (allocated: ${list})`, hint: 'use --bank sha256' };
  }
  return { check: 'pcr banks', status: 'pass', detail: `sha256 and sha384 have pcr ${pcr} (allocated: ${list})` };
}

async function pcr11Row(input: DoctorInput, reachable: boolean): Promise<DoctorRow> {
  const check = 'pcr 11 and systemd';
  if (input.pcr !== 11) return { check, status: 'pass', detail: `ima-qs uses pcr ${input.pcr}, not 11` };
  const efi = await input.probe.exists('/sys/firmware/efi');
  const pcrphase = (
    await Promise.all(['/usr/lib/systemd/systemd-pcrphase', '/lib/systemd/systemd-pcrphase'].map((p) => input.probe.exists(p)))
  ).some(Boolean);
  const reasons: string[] = [];
  let read = false;
  if (reachable) {
    try {
      const v = await (input.bank as Tpm2ToolsBank).read(11, ['sha256']);
      read = true;
      if (v.sha256.some((x) => x !== 0)) reasons.push(`pcr 11 is not all-zero (sha256 ${toHex(v.sha256).slice(0, 16)}…): something already measured into it`);
    } catch {
      // the reachability row already reports tpm errors
    }
  }
  if (efi && pcrphase) reasons.push('UEFI boot with systemd-pcrphase installed: systemd measures boot phases into pcr 11');
  if (reasons.length === 0 && !read) {
    // never claim the PCR is unused when it could not be read
    return {
      check,
      status: 'warn',
      detail: 'pcr 11 was not read (the tpm is not reachable); no systemd/UKI measurement setup found on this host',
      hint: 'run tpm doctor again once the tpm is reachable',
    };
  }
  if (reasons.length === 0) return { check, status: 'pass', detail: 'pcr 11 is all-zero and no systemd/UKI measurements were found' };
  return {
    check,
    status: 'warn',
    detail: reasons.join('; '),
    hint: 'systemd-stub (UKI) and systemd-pcrphase extend pcr 11; if these are not ima-qs’s own extends, choose another pcr with --pcr that nothing on this host measures into; avoid 16 and 23, which software can reset',
  };
}
