/**
 * Replay of an ima-qs event log (SPEC §6.3): recompute the PCR from the first `open` record
 * through every event and batch, check each line against the chain and against the `after` value
 * it recorded, and finally against the PCR's actual value (read from the TPM, or from a verified
 * quote). Pure: the caller does the reading. The first failing check is the answer, naming the
 * record (seq, line, event type) where log and PCR part ways.
 */
import { batchDigest } from './anchor.js';
import { GENESIS_PREV, type ParsedLine, lineHash } from './event-log.js';
import { type Bank, extendPcr, isBank, toHex } from './pcr-math.js';

export type DivergenceReason =
  | 'no-open-record'
  | 'chain-broken'
  | 'seq-gap'
  | 'other-pcr'
  | 'missing-bank'
  | 'batch-malformed'
  | 'incomplete-batch'
  | 'value-mismatch'
  | 'pcr-changed-outside-log'
  | 'tpm-differs';

export interface Divergence {
  seq: number;
  line: number;
  reason: DivergenceReason;
  type?: string;
  message: string;
}

export interface ReplayResult {
  pcr?: number;
  banks: Bank[];
  events: number;
  batches: number;
  /** the value the log starts from (its first `open` record) */
  start?: Partial<Record<Bank, Uint8Array>>;
  /** the recomputed PCR value after the last record (undefined after a divergence) */
  expected?: Partial<Record<Bank, Uint8Array>>;
  firstDivergence?: Divergence;
}

export function replayLog(lines: ParsedLine[]): ReplayResult {
  const res: ReplayResult = { banks: [], events: 0, batches: 0 };
  const fail = (l: ParsedLine, reason: DivergenceReason, message: string): ReplayResult => {
    res.firstDivergence = {
      seq: l.record.seq,
      line: l.line,
      reason,
      ...(l.record.kind === 'event' ? { type: l.record.type } : {}),
      message,
    };
    res.expected = undefined;
    return res;
  };
  let cur: Partial<Record<Bank, Uint8Array>> | undefined;
  let prevHash = GENESIS_PREV;
  let prevSeq = -1;
  let pending: { first: ParsedLine; id: number; size: number; lines: ParsedLine[]; banks: Bank[] } | undefined;

  for (const l of lines) {
    const r = l.record;
    if (r.prev !== prevHash) {
      return fail(l, 'chain-broken', `line ${l.line} does not follow line ${l.line - 1}: a record before it was modified, removed or inserted`);
    }
    if (r.seq !== prevSeq + 1) return fail(l, 'seq-gap', `seq ${r.seq} follows seq ${prevSeq}`);
    prevHash = lineHash(l.raw);
    prevSeq = r.seq;

    if (!cur) {
      if (r.kind !== 'open') return fail(l, 'no-open-record', 'the log does not start with an open record');
      res.pcr = r.pcr;
      cur = {};
      res.start = {};
    }
    if (r.pcr !== res.pcr) return fail(l, 'other-pcr', `record for pcr ${r.pcr} in a log of pcr ${res.pcr}`);
    if (pending && (r.kind !== 'event' || r.batch?.id !== pending.id)) {
      return fail(pending.first, 'incomplete-batch', `batch ${pending.id} has ${pending.lines.length} of ${pending.size} entries`);
    }
    if (r.kind === 'open') {
      // banks are tracked independently: a bank's start value is the first open record naming it
      const seen = decode(r.values);
      const differs = res.banks.find((b) => seen[b] && toHex(seen[b]) !== toHex(cur![b]!));
      if (differs) {
        return fail(l, 'pcr-changed-outside-log', `the ${differs} pcr held a value the log does not explain when this writer started (an extend outside the log, a failed append, or a reboot)`);
      }
      for (const b of Object.keys(seen) as Bank[]) {
        if (!res.banks.includes(b)) {
          res.banks.push(b);
          cur[b] = seen[b];
          res.start![b] = seen[b];
        }
      }
      continue;
    }
    const evBanks = Object.keys(r.digests) as Bank[];
    const sameBanks = evBanks.length === Object.keys(r.after).length && evBanks.every((b) => r.after[b] !== undefined);
    const untracked = evBanks.find((b) => !res.banks.includes(b));
    if (!sameBanks || untracked) {
      return fail(l, 'missing-bank', untracked ? `event extends ${untracked}, for which no open record gave a start value` : 'event digests and values name different banks');
    }
    res.events += 1;

    if (r.batch === null) {
      for (const b of evBanks) cur[b] = extendPcr(b, cur[b]!, hex(r.digests[b]!));
      const bad = evBanks.find((b) => r.after[b] !== toHex(cur![b]!));
      if (bad) return fail(l, 'value-mismatch', `replaying this event gives a ${bad} value other than the one it recorded`);
      continue;
    }
    const b = r.batch;
    if (!pending) {
      if (b.index !== 0 || b.id !== r.seq) return fail(l, 'batch-malformed', `batch ${b.id} does not start at its index 0 with id = seq`);
      pending = { first: l, id: b.id, size: b.size, lines: [], banks: evBanks };
    }
    if (evBanks.length !== pending.banks.length || !pending.banks.every((x) => evBanks.includes(x))) {
      return fail(l, 'batch-malformed', `entry ${b.index} of batch ${pending.id} names other banks than the batch`);
    }
    if (b.index !== pending.lines.length || b.size !== pending.size) {
      return fail(l, 'batch-malformed', `entry ${b.index}/${b.size} out of place in batch ${pending.id}`);
    }
    pending.lines.push(l);
    if (pending.lines.length < pending.size) continue;

    // the batch is complete: one extend with its batch digest (SPEC §6.3)
    for (const bank of pending.banks) {
      const ds = pending.lines.map((x) => hex((x.record as { digests: Record<string, string> }).digests[bank]));
      cur[bank] = extendPcr(bank, cur[bank]!, batchDigest(bank, ds));
    }
    res.batches += 1;
    for (const x of pending.lines) {
      const after = (x.record as { after: Record<string, string> }).after;
      const bad = pending.banks.find((bank) => after[bank] !== toHex(cur![bank]!));
      if (bad) return fail(x, 'value-mismatch', `replaying batch ${pending.id} gives a ${bad} value other than the one this entry recorded`);
    }
    pending = undefined;
  }
  if (pending) return fail(pending.first, 'incomplete-batch', `batch ${pending.id} has ${pending.lines.length} of ${pending.size} entries`);
  res.expected = cur;
  return res;
}

/**
 * Compares a clean replay with the PCR's actual value. A difference means extends the log does
 * not have after its last record (a failed append, a truncated log, or someone else extending).
 */
export function compareWithActual(res: ReplayResult, actual: Partial<Record<Bank, Uint8Array>>, lines: ParsedLine[]): ReplayResult {
  if (res.firstDivergence || !res.expected) return res;
  const bad = res.banks.find((b) => actual[b] && toHex(actual[b]!) !== toHex(res.expected![b]!));
  if (!bad) return res;
  const last = lines[lines.length - 1];
  return {
    ...res,
    firstDivergence: {
      seq: last?.record.seq ?? -1,
      line: last?.line ?? 0,
      reason: 'tpm-differs',
      ...(last?.record.kind === 'event' ? { type: last.record.type } : {}),
      message: `the ${bad} pcr differs from the log after its last record: extends missing from the log (failed append, truncated log) or made outside ima-qs`,
    },
  };
}

function decode(v: Partial<Record<string, string>>): Partial<Record<Bank, Uint8Array>> {
  const out: Partial<Record<Bank, Uint8Array>> = {};
  for (const [b, h] of Object.entries(v)) if (isBank(b) && h) out[b] = hex(h);
  return out;
}

function hex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}
