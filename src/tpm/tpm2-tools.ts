/**
 * `PcrBank` on a real TPM 2.0 through tpm2-tools 5.x (one child process per call, ~20 ms each).
 *
 * - TCTI: `--tcti` / TPM2TOOLS_TCTI, else `device:/dev/tpmrm0` set explicitly — without a TCTI the
 *   tools would silently fall back to ANY swtpm listening on 127.0.0.1:2321.
 * - Quotes use an attestation key (RSA-2048, RSASSA/SHA-256, restricted signing) kept at a
 *   persistent handle (default 0x81010002), created under the EK when missing. Transient objects
 *   are flushed after each tool that creates them: without a resource manager (swtpm, raw device)
 *   leaked transients exhaust the TPM's object slots (TPM_RC_OBJECT_MEMORY, 0x902).
 *
 * This adapter does not re-check ranges and lengths: the TPM does, and its refusals are mapped to
 * RemoteError codes (tool-runner.ts). Callers at the boundary (commands, PcrAnchor) validate first.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, RemoteError } from '../errors.js';
import type { BankDescription, PcrBank, QuoteResult } from './pcr-bank.js';
import { type Bank, parsePcrRead, pickPcr, toHex } from './pcr-math.js';
import { type ToolOutput, runTool } from './tool-runner.js';

export const DEFAULT_TCTI = 'device:/dev/tpmrm0';
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_AK_HANDLE = '0x81010002';

export interface Tpm2ToolsOptions {
  /** explicit TCTI (--tcti); otherwise env.TPM2TOOLS_TCTI; otherwise DEFAULT_TCTI */
  tcti?: string;
  env: Record<string, string | undefined>;
  timeoutMs?: number;
  /** persistent handle of the attestation key */
  akHandle?: string;
}

export function resolveTcti(tcti: string | undefined, env: Record<string, string | undefined>): string {
  return tcti || env.TPM2TOOLS_TCTI || DEFAULT_TCTI;
}

export class Tpm2ToolsBank implements PcrBank {
  readonly tcti: string;
  private readonly env: Record<string, string | undefined>;
  private readonly timeoutMs: number;
  private readonly akHandle: string;

  constructor(opts: Tpm2ToolsOptions) {
    this.env = opts.env;
    this.tcti = resolveTcti(opts.tcti, opts.env);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.akHandle = opts.akHandle ?? DEFAULT_AK_HANDLE;
    if (!/^0x81[0-9a-fA-F]{6}$/.test(this.akHandle)) {
      throw new InputError('BAD_AK_HANDLE', `${this.akHandle} is not a persistent handle (0x81000000 to 0x81ffffff)`);
    }
  }

  describe(): BankDescription {
    return { kind: 'tpm2-tools', tcti: this.tcti, simulated: false };
  }

  /** Runs any tpm2-tools program with this bank's TCTI and timeout (doctor uses it for getcap). */
  tool(name: string, args: string[], cwd?: string): Promise<ToolOutput> {
    return runTool(name, args, { tcti: this.tcti, env: this.env, timeoutMs: this.timeoutMs, cwd });
  }

  async read(pcr: number, banks: readonly Bank[]): Promise<Record<Bank, Uint8Array>> {
    const { stdout } = await this.tool('tpm2_pcrread', [selection(pcr, banks)]);
    return pickPcr(parsePcrRead(stdout), pcr, banks);
  }

  async extend(pcr: number, digests: Partial<Record<Bank, Uint8Array>>): Promise<void> {
    const parts = Object.entries(digests)
      .filter((e): e is [Bank, Uint8Array] => e[1] !== undefined)
      .map(([bank, d]) => `${bank}=${toHex(d)}`);
    if (parts.length === 0) return;
    // one TPM2_PCR_Extend for all banks: they change together or not at all
    await this.tool('tpm2_pcrextend', [`${index(pcr)}:${parts.join(',')}`]);
  }

  async quote(pcr: number, banks: readonly Bank[], nonce: Uint8Array): Promise<QuoteResult> {
    const dir = await mkdtemp(join(tmpdir(), 'ima-qs-quote-'));
    try {
      const akCreated = await this.ensureAk(dir);
      const { stdout } = await this.tool(
        'tpm2_quote',
        ['-c', this.akHandle, '-l', selection(pcr, banks), '-q', toHex(nonce), '-g', 'sha256',
          '-m', 'quote.msg', '-s', 'quote.sig', '-o', 'quote.pcrs', '-f', 'plain'],
        dir,
      );
      const pcrsAt = stdout.indexOf('pcrs:');
      const end = stdout.indexOf('calcDigest:');
      if (pcrsAt < 0) throw new RemoteError('TPM_BAD_OUTPUT', 'tpm2_quote printed no pcr values');
      const values = pickPcr(parsePcrRead(stdout.slice(pcrsAt + 5, end < 0 ? undefined : end)), pcr, banks);
      const [message, signature, toolsPcrs, akPem] = await Promise.all([
        readFile(join(dir, 'quote.msg')),
        readFile(join(dir, 'quote.sig')),
        readFile(join(dir, 'quote.pcrs')),
        readFile(join(dir, 'ak.pem'), 'utf8'),
      ]);
      return {
        message: new Uint8Array(message),
        signature: new Uint8Array(signature),
        values,
        akPem,
        akHandle: this.akHandle,
        akCreated,
        toolsPcrs: new Uint8Array(toolsPcrs),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Makes sure a restricted signing key sits at the AK handle and writes its public PEM to
   * dir/ak.pem. Returns true when it had to create it (EK → AK → evictcontrol).
   */
  private async ensureAk(dir: string): Promise<boolean> {
    try {
      const { stdout } = await this.tool('tpm2_readpublic', ['-c', this.akHandle, '-f', 'pem', '-o', 'ak.pem'], dir);
      const attrs = /attributes:\s*\n\s*value:\s*(\S+)/.exec(stdout)?.[1] ?? '';
      const set = new Set(attrs.split('|'));
      if (!set.has('restricted') || !set.has('sign')) {
        throw new RemoteError('TPM_AK_UNSUITABLE', `the key at ${this.akHandle} is not a restricted signing key`, {
          hint: 'choose a free persistent handle with --ak-handle; ima-qs creates an attestation key there',
        });
      }
      return false;
    } catch (err) {
      // 0x18b: "the handle is not correct for the use" = nothing persisted at that handle
      if (!(err instanceof RemoteError) || err.code !== 'TPM_ERROR' || !/0x18B|handle is not correct/i.test(err.message)) {
        throw err;
      }
    }
    await this.tool('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub'], dir);
    await this.tool('tpm2_flushcontext', ['-t'], dir);
    await this.tool(
      'tpm2_createak',
      ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'rsa', '-g', 'sha256', '-s', 'rsassa', '-u', 'ak.pem', '-f', 'pem', '-n', 'ak.name'],
      dir,
    );
    await this.tool('tpm2_flushcontext', ['-t'], dir);
    await this.tool('tpm2_evictcontrol', ['-C', 'o', '-c', 'ak.ctx', this.akHandle], dir);
    await this.tool('tpm2_flushcontext', ['-t'], dir);
    return true;
  }
}

/** "sha256:11+sha384:11" — tpm2-tools PCR selection syntax. */
function selection(pcr: number, banks: readonly Bank[]): string {
  return banks.map((b) => `${b}:${index(pcr)}`).join('+');
}

/** Only the shape is checked here (an integer, so nothing else can enter the argument); the range is the TPM's. */
function index(pcr: number): string {
  if (!Number.isSafeInteger(pcr) || pcr < 0) {
    throw new RemoteError('TPM_PCR_OUT_OF_RANGE', `pcr index ${pcr} is not a non-negative integer`);
  }
  return String(pcr);
}
