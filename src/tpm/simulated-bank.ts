/**
 * A software PCR bank persisted in a JSON state file (SPEC §6.4), for machines without a TPM.
 * It computes exactly what a TPM computes (pcr-math.ts) but anchors nothing: anyone who can write
 * the file can set any value. It is therefore only used when the user names a state file with
 * `--simulated STATEFILE`, and `describe().simulated` is true so every output labels it.
 * It cannot quote (there is no attestation key to sign with).
 */
import { InputError, RemoteError, UsageError } from '../errors.js';
import { readInputFile, writeFileAtomic } from '../io/files.js';
import type { BankDescription, PcrBank, QuoteResult } from './pcr-bank.js';
import { type Bank, DIGEST_SIZE, PCR_COUNT, extendPcr, isBank, toHex, zeroPcr } from './pcr-math.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export const SIMULATED_FORMAT = 'ima-qs/simulated-pcr-bank/v1';
/** 24 PCRs × 2 banks of hex: a few KiB; anything far larger is not a state file */
const MAX_STATE_BYTES = 1 << 20;

interface StateFile {
  format: typeof SIMULATED_FORMAT;
  simulated: true;
  /** bank → pcr index (decimal string) → lowercase hex; absent = all zero */
  pcrs: Partial<Record<Bank, Record<string, string>>>;
}

export class SimulatedBank implements PcrBank {
  constructor(readonly stateFile: string) {}

  describe(): BankDescription {
    return { kind: 'simulated', stateFile: this.stateFile, simulated: true };
  }

  async read(pcr: number, banks: readonly Bank[]): Promise<Record<Bank, Uint8Array>> {
    checkRange(pcr);
    const state = await this.load();
    const out = {} as Record<Bank, Uint8Array>;
    for (const b of banks) out[b] = valueOf(state, b, pcr);
    return out;
  }

  async extend(pcr: number, digests: Partial<Record<Bank, Uint8Array>>): Promise<void> {
    checkRange(pcr);
    const state = await this.load();
    // all banks are checked before any changes, like TPM2_PCR_Extend
    const next: [Bank, Uint8Array][] = [];
    for (const [b, d] of Object.entries(digests)) {
      if (!d) continue;
      if (!isBank(b)) throw new RemoteError('TPM_BAD_BANK', `the simulated bank has no ${b} bank`);
      if (d.length !== DIGEST_SIZE[b]) {
        throw new RemoteError('TPM_BAD_DIGEST_SIZE', `a ${b} digest is ${DIGEST_SIZE[b]} bytes, got ${d.length}`);
      }
      next.push([b, extendPcr(b, valueOf(state, b, pcr), d)]);
    }
    for (const [b, v] of next) (state.pcrs[b] ??= {})[String(pcr)] = toHex(v);
    await writeFileAtomic(this.stateFile, JSON.stringify(state, null, 2) + '\n', { mode: 0o644, force: true });
  }

  async quote(): Promise<QuoteResult> {
    throw new UsageError('SIMULATED_CANNOT_QUOTE', 'a simulated pcr bank cannot make a quote (it has no attestation key)', {
      hint: 'quotes need a real tpm: pass --tcti or set TPM2TOOLS_TCTI',
    });
  }

  private async load(): Promise<StateFile> {
    let text: string;
    try {
      text = (await readInputFile(this.stateFile, MAX_STATE_BYTES, 'simulated bank state file', { tooLargeCode: 'BAD_SIMULATED_STATE' })).toString('utf8');
    } catch (err) {
      if (err instanceof InputError && err.code === 'FILE_NOT_FOUND') return { format: SIMULATED_FORMAT, simulated: true, pcrs: {} };
      throw err;
    }
    let doc: unknown;
    try {
      doc = parseStrictJson(text);
    } catch {
      throw badState(this.stateFile, 'not JSON');
    }
    const s = doc as StateFile;
    if (!s || s.format !== SIMULATED_FORMAT || s.simulated !== true || typeof s.pcrs !== 'object' || !s.pcrs) {
      throw badState(this.stateFile, `not a ${SIMULATED_FORMAT} document`);
    }
    for (const [b, m] of Object.entries(s.pcrs)) {
      if (!isBank(b) || !m || typeof m !== 'object') throw badState(this.stateFile, `unknown bank ${b}`);
      for (const [k, v] of Object.entries(m)) {
        const i = Number(k);
        if (!Number.isInteger(i) || i < 0 || i >= PCR_COUNT) throw badState(this.stateFile, `pcr index ${k}`);
        if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${DIGEST_SIZE[b] * 2}}$`).test(v)) {
          throw badState(this.stateFile, `${b} pcr ${k} is not ${DIGEST_SIZE[b] * 2} lowercase hex digits`);
        }
      }
    }
    return s;
  }
}

function valueOf(state: StateFile, bank: Bank, pcr: number): Uint8Array {
  const hex = state.pcrs[bank]?.[String(pcr)];
  return hex ? new Uint8Array(Buffer.from(hex, 'hex')) : zeroPcr(bank);
}

function checkRange(pcr: number): void {
  if (!Number.isInteger(pcr) || pcr < 0 || pcr >= PCR_COUNT) {
    throw new RemoteError('TPM_PCR_OUT_OF_RANGE', `pcr index ${pcr} is out of range for the simulated bank (0 to 23)`);
  }
}

function badState(path: string, what: string): InputError {
  return new InputError('BAD_SIMULATED_STATE', `${path} is not a simulated pcr bank state file: ${what}`, {
    hint: 'give a new path to start a fresh simulated bank (all pcrs zero)',
  });
}
