/**
 * Pure PCR arithmetic (TPM 2.0 Library Part 1 §17.5 "PCR Extend"): a PCR of bank H holds
 * |H| bytes, starts at zero (PCRs 0–15, 23 after reset) and is only ever changed by
 * `new = H(old ‖ digest)`, where `digest` must be exactly |H| bytes. Also: parsing of the
 * `tpm2_pcrread` text output (tpm2-tools 5.x), and validation of the values users give us.
 * No I/O here.
 */
import { createHash } from 'node:crypto';
import { InputError, RemoteError } from '../errors.js';

/** The PCR banks ima-qs extends and reads (SHA-1 is deliberately absent). */
export const BANKS = ['sha256', 'sha384'] as const;
export type Bank = (typeof BANKS)[number];

/** Digest size in bytes of each bank's hash. */
export const DIGEST_SIZE: Readonly<Record<Bank, number>> = Object.freeze({ sha256: 32, sha384: 48 });

/** PCR indices of a TPM 2.0 PC-client platform (TCG PC Client PTP: 24 PCRs). */
export const PCR_COUNT = 24;

/** One value per bank (a PCR's contents, or the digests to extend it with). */
export type BankValues = Partial<Record<Bank, Uint8Array>>;

export function isBank(name: string): name is Bank {
  return (BANKS as readonly string[]).includes(name);
}

export function hash(bank: Bank, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(bank);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function zeroPcr(bank: Bank): Uint8Array {
  return new Uint8Array(DIGEST_SIZE[bank]);
}

/** TPM2_PCR_Extend for one bank: H(old ‖ digest). Lengths are checked (a wrong one is a bug or bad input). */
export function extendPcr(bank: Bank, old: Uint8Array, digest: Uint8Array): Uint8Array {
  const n = DIGEST_SIZE[bank];
  if (old.length !== n) throw new InputError('BAD_PCR_VALUE', `a ${bank} pcr value is ${n} bytes, got ${old.length}`);
  checkDigest(bank, digest);
  return hash(bank, old, digest);
}

/** Applies several extends in order, starting from `start` (zero by default). */
export function replayDigests(bank: Bank, digests: Uint8Array[], start: Uint8Array = zeroPcr(bank)): Uint8Array {
  let v = start;
  for (const d of digests) v = extendPcr(bank, v, d);
  return v;
}

/** Checks a user-given PCR index (0..23): InputError, exit 3. */
export function checkPcrIndex(pcr: number, what = 'pcr'): number {
  if (!Number.isInteger(pcr) || pcr < 0 || pcr >= PCR_COUNT) {
    throw new InputError('BAD_PCR_INDEX', `${what} ${pcr} is out of range; a pcr index is 0 to ${PCR_COUNT - 1}`, {
      hint: 'the default is 11 (the seed’s choice); see `ima-qs tpm doctor` about pcr 11 and systemd',
    });
  }
  return pcr;
}

/** Checks a digest's length for a bank: InputError, exit 3. */
export function checkDigest(bank: Bank, digest: Uint8Array, what = 'digest'): Uint8Array {
  const n = DIGEST_SIZE[bank];
  if (digest.length !== n) {
    throw new InputError('BAD_DIGEST_LENGTH', `${what} is ${digest.length} bytes; a ${bank} digest is ${n} bytes`, {
      hint: `give ${n * 2} hex digits, or use --data FILE to have it hashed`,
    });
  }
  return digest;
}

/** Parses "sha256,sha384" into banks, rejecting unknown names and duplicates. */
export function parseBankList(spec: string): Bank[] {
  const out: Bank[] = [];
  for (const raw of spec.split(',')) {
    const name = raw.trim().toLowerCase();
    if (!isBank(name)) {
      throw new InputError('BAD_BANK', `unknown pcr bank "${raw.trim()}"; expected ${BANKS.join(' or ')}`);
    }
    if (!out.includes(name)) out.push(name);
  }
  if (out.length === 0) throw new InputError('BAD_BANK', 'no pcr bank given; expected sha256 and/or sha384');
  return out;
}

/** Hex (optionally 0x-prefixed, any case) to bytes, or an InputError naming `what`. */
export function parseHex(text: string, what: string): Uint8Array {
  const s = text.trim().replace(/^0x/i, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new InputError('BAD_HEX', `${what} is not hex: expected an even number of 0-9a-f digits`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Values read from a TPM: bank name → pcr index → value. Banks may include ones ima-qs does not extend. */
export type PcrReadout = Record<string, Record<number, Uint8Array>>;

/**
 * Parses `tpm2_pcrread` output as tpm2-tools 5.x prints it (and `tpm2_quote` under "pcrs:"):
 *
 *     "  sha256:"
 *     "    11: 0x<UPPERCASE HEX>"       (indices < 10 print as "0 : 0x…")
 *
 * Anything else is a malformed output (RemoteError TPM_BAD_OUTPUT): a value line before a bank
 * line, a non-hex value, a value whose length does not fit the bank, a repeated index.
 */
export function parsePcrRead(text: string): PcrReadout {
  const out: PcrReadout = {};
  let bank: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const b = /^\s*(sha1|sha256|sha384|sha512|sm3_256|sha3_256|sha3_384|sha3_512)\s*:\s*$/.exec(line);
    if (b) {
      bank = b[1];
      if (out[bank]) throw badOutput(`bank ${bank} listed twice`, i);
      out[bank] = {};
      continue;
    }
    const v = /^\s*(\d{1,2})\s*:\s*0x([0-9A-Fa-f]+)\s*$/.exec(line);
    if (!v) throw badOutput('unexpected line', i);
    if (!bank) throw badOutput('a pcr value before any bank name', i);
    const idx = Number(v[1]);
    if (idx >= PCR_COUNT) throw badOutput(`pcr index ${idx} out of range`, i);
    if (v[2].length % 2 !== 0) throw badOutput('odd number of hex digits', i);
    const value = new Uint8Array(Buffer.from(v[2], 'hex'));
    if (isBank(bank) && value.length !== DIGEST_SIZE[bank]) {
      throw badOutput(`a ${bank} value of ${value.length} bytes`, i);
    }
    if (out[bank][idx]) throw badOutput(`pcr ${idx} listed twice in ${bank}`, i);
    out[bank][idx] = value;
  }
  return out;
}

function badOutput(what: string, lineIndex: number): RemoteError {
  return new RemoteError('TPM_BAD_OUTPUT', `unexpected tpm2_pcrread output: ${what} (line ${lineIndex + 1})`, {
    hint: 'ima-qs parses tpm2-tools 5.x output; check `tpm2_pcrread --version`',
  });
}

/** Picks one PCR's values for `banks` out of a readout; a missing one is TPM_PCR_OUT_OF_RANGE (the TPM did not return it). */
export function pickPcr(readout: PcrReadout, pcr: number, banks: readonly Bank[]): Record<Bank, Uint8Array> {
  const out = {} as Record<Bank, Uint8Array>;
  for (const bank of banks) {
    const v = readout[bank]?.[pcr];
    if (!v) {
      throw new RemoteError('TPM_PCR_OUT_OF_RANGE', `the tpm returned no value for pcr ${pcr} in bank ${bank}`, {
        hint: 'the pcr index is out of range or the bank is not allocated on this tpm (see `ima-qs tpm doctor`)',
      });
    }
    out[bank] = v;
  }
  return out;
}
