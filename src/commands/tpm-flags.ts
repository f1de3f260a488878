/**
 * The flags every `tpm` command shares (--pcr, --bank, --tcti, --simulated, --timeout) and the
 * bank they open; also the small renderers the tpm commands share.
 */
import type { Command } from 'commander';
import type { CliDeps } from '../context.js';
import { InputError, UsageError } from '../errors.js';
import type { BankDescription, PcrBank } from '../tpm/pcr-bank.js';
import { type Bank, checkPcrIndex, parseBankList, toHex } from '../tpm/pcr-math.js';
import { SimulatedBank } from '../tpm/simulated-bank.js';
import { DEFAULT_TIMEOUT_MS, Tpm2ToolsBank } from '../tpm/tpm2-tools.js';

export interface BankFlags {
  pcr: string;
  bank?: string;
  tcti?: string;
  simulated?: string;
  timeout?: string;
  akHandle?: string;
  json?: boolean;
}

/** --pcr, --bank, --tcti, --simulated, --timeout: the flags every tpm command shares. */
export function bankOptions(cmd: Command, defaultBanks: string): Command {
  return cmd
    .option('--pcr <index>', 'PCR index 0-23', '11')
    .option('--bank <list>', `PCR banks, comma-separated: sha256, sha384 (default ${defaultBanks})`)
    .option('--tcti <tcti>', 'tpm2-tools TCTI (default: $TPM2TOOLS_TCTI, else device:/dev/tpmrm0)')
    .option('--simulated <statefile>', 'use a SIMULATED software PCR bank kept in this file instead of a TPM')
    .option('--timeout <seconds>', `per tpm2-tools call (default ${DEFAULT_TIMEOUT_MS / 1000})`);
}

export function open(o: BankFlags, deps: CliDeps, defaultBanks: string): { bank: PcrBank; pcr: number; banks: Bank[]; timeoutMs: number } {
  if (!/^\d{1,3}$/.test(o.pcr)) throw new InputError('BAD_PCR_INDEX', `--pcr ${o.pcr} is not a pcr index (0 to 23)`);
  const pcr = checkPcrIndex(Number(o.pcr), '--pcr');
  const banks = parseBankList(o.bank ?? defaultBanks);
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (o.timeout !== undefined) {
    const s = Number(o.timeout);
    if (!/^\d+(\.\d+)?$/.test(o.timeout) || !(s > 0) || s > 600) {
      throw new InputError('BAD_TIMEOUT', `--timeout ${o.timeout} is not a number of seconds between 0 and 600`);
    }
    timeoutMs = Math.round(s * 1000);
  }
  if (o.simulated && o.tcti) throw new UsageError('USAGE', '--simulated and --tcti exclude each other');
  const bank: PcrBank = o.simulated
    ? new SimulatedBank(resolvePath(deps, o.simulated))
    : new Tpm2ToolsBank({ tcti: o.tcti, env: deps.env, timeoutMs, akHandle: o.akHandle });
  return { bank, pcr, banks, timeoutMs };
}

export function resolvePath(deps: CliDeps, p: string): string {
  return p.startsWith('/') ? p : `${deps.cwd.replace(/\/$/, '')}/${p}`;
}

export function hexAll(v: Partial<Record<Bank, Uint8Array>>): Partial<Record<Bank, string>> {
  const out: Partial<Record<Bank, string>> = {};
  for (const [b, x] of Object.entries(v)) if (x) out[b as Bank] = toHex(x);
  return out;
}

/** "SIMULATED pcr bank (pcrs.json): not a tpm" or "tpm2-tools, tcti …". */
export function backendLine(d: BankDescription): string {
  return d.simulated
    ? `SIMULATED pcr bank (${d.stateFile}): not a tpm, anchors nothing`
    : `tpm via tpm2-tools, tcti ${d.tcti}`;
}
