/**
 * The batch statement (SPEC §8.10.4): one ML-DSA-87 signature per group commit, context
 * `ima-qs/v2/batch`, over what the commit did to the audit chain and to the PCR:
 *
 *   {v:2, chain, first_seq, size, entries_root,
 *    pcr:{index, bank, before, after, simulated}, time, signer}
 *
 *   entries_root  RFC 9162 Merkle root (SHA3-256, merkle.ts) over the entries' 32-byte digests, in seq order
 *   B             = H_bank("ima-qs/v2/pcr-batch" ‖ 0x00 ‖ u32be(size) ‖ entries_root)
 *   after         = H_bank(before ‖ B)          (one TPM2_PCR_Extend of B; SPEC §6.1)
 *
 * Everything an anchor claims is signed (`simulated` too), and `after` is recomputable from the
 * statement alone. B is |H_bank| bytes whatever the bank (sha256: 32, sha384: 48): the 32-byte
 * SHA3-256 root is hashed into it, never extended directly. Consecutive statements of a chain
 * chain by `before` = the previous `after` unless other writers of the same PCR moved it between.
 */
import { concatBytes, equalBytes, fromHex, toHex, utf8 } from '../crypto/bytes.js';
import { BANK_SIZE, pcrExtend, type AnchorBank } from './anchor-math.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { CHAIN_ID_RE } from './audit-core.js';
import { HEX64, exactProblem, isHex, isIsoTime, isNat } from './shape.js';

export const STATEMENT_KEYS = ['v', 'chain', 'first_seq', 'size', 'entries_root', 'pcr', 'time', 'signer'] as const;
export const STATEMENT_PCR_KEYS = ['index', 'bank', 'before', 'after', 'simulated'] as const;
/** SPEC §6.3: a group commit holds at most 65536 entries */
export const MAX_BATCH = 65536;

export interface BatchStatement {
  v: 2;
  chain: string;
  first_seq: number;
  size: number;
  /** hex Merkle root of the entry digests */
  entries_root: string;
  pcr: { index: number; bank: AnchorBank; before: string; after: string; simulated: boolean };
  time: string;
  /** fingerprint of the ML-DSA-87 key that signs it */
  signer: string;
}

export interface SignedBatch {
  statement: BatchStatement;
  /** base64 ML-DSA-87, context ima-qs/v2/batch */
  signature: string;
}

const LABEL = utf8('ima-qs/v2/pcr-batch\0');

/** B of SPEC §8.10.4: what one group commit extends into the PCR. */
export function batchPcrDigest(bank: AnchorBank, size: number, entriesRoot: Uint8Array): Uint8Array {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, size, false);
  const data = concatBytes(LABEL, n, entriesRoot);
  return bank === 'sha256' ? sha256(data) : sha384(data);
}

/** `after` as the statement's own values give it. */
export function statementAfter(s: Pick<BatchStatement, 'size' | 'entries_root' | 'pcr'>): string {
  return toHex(pcrExtend(s.pcr.bank, fromHex(s.pcr.before), batchPcrDigest(s.pcr.bank, s.size, fromHex(s.entries_root))));
}

/** True when after = H(before ‖ B): the PCR arithmetic of the statement adds up. */
export function statementAddsUp(s: BatchStatement): boolean {
  return equalBytes(fromHex(statementAfter(s)), fromHex(s.pcr.after));
}

export function statementProblem(x: unknown): string | undefined {
  const e = exactProblem(x, STATEMENT_KEYS, 'the batch statement');
  if (e) return e;
  const s = x as Record<string, unknown>;
  if (s.v !== 2) return 'the batch statement is not version 2';
  if (typeof s.chain !== 'string' || !CHAIN_ID_RE.test(s.chain)) return 'the batch statement chain is not a chain id';
  if (!isNat(s.first_seq)) return 'first_seq is not a whole number';
  if (!isNat(s.size, MAX_BATCH) || s.size === 0) return `size is not 1..${MAX_BATCH}`;
  if (typeof s.entries_root !== 'string' || !HEX64.test(s.entries_root)) return 'entries_root is not 64 hex digits';
  if (typeof s.signer !== 'string' || !HEX64.test(s.signer)) return 'signer is not 64 hex digits';
  if (!isIsoTime(s.time)) return 'time is not an RFC 3339 UTC time with milliseconds';
  const pe = exactProblem(s.pcr, STATEMENT_PCR_KEYS, 'the batch statement pcr');
  if (pe) return pe;
  const pcr = s.pcr as Record<string, unknown>;
  if (!isNat(pcr.index, 23)) return 'pcr.index is not 0..23';
  if (pcr.bank !== 'sha256' && pcr.bank !== 'sha384') return 'pcr.bank is not sha256 or sha384';
  const n = BANK_SIZE[pcr.bank] * 2;
  if (!isHex(pcr.before, n) || !isHex(pcr.after, n)) return `pcr.before/after are not ${n} hex digits`;
  if (typeof pcr.simulated !== 'boolean') return 'pcr.simulated is not a boolean';
  return undefined;
}

export function signedBatchProblem(x: unknown): string | undefined {
  const e = exactProblem(x, ['statement', 'signature'], 'the signed batch');
  if (e) return e;
  const b = x as Record<string, unknown>;
  if (typeof b.signature !== 'string') return 'the batch signature is not base64 text';
  return statementProblem(b.statement);
}
