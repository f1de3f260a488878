/**
 * PcrAnchor: what the worker uses to anchor events in a PCR (SPEC §6.3).
 *
 * Ordering rule: EXTEND, THEN LOG. The PCR is the anchor and cannot be rolled back, so an event is
 * only logged once the TPM has it; if the append then fails, the PCR holds an extend the log lacks.
 * That is reported at once (TPM_LOG_DIVERGED, exit 4) and stays detectable: the anchor marks itself
 * diverged, the next writer re-reads the PCR and logs an `open` record whose value differs from the
 * replayed one, and `ima-qs tpm replay` names that record (or, with no later writer, reports that
 * the TPM differs after the last logged event). The other order (log first) would leave logged
 * events the PCR never saw, indistinguishable from a forged log line.
 *
 * Group commit: `extendBatch` extends ONCE with the batch digest
 *   B_b = H_b("ima-qs/v1/pcr-batch" ‖ 0x00 ‖ u32be(n) ‖ d_1,b ‖ … ‖ d_n,b)
 * while each entry gets its own log line with batch {id, index, size}; replay recomputes B_b.
 */
import { InputError, RemoteError } from '../errors.js';
import { EVENT_TYPE_RE, type EventLog, type LogTail, type NewRecord } from './event-log.js';
import type { PcrBank } from './pcr-bank.js';
import { type Bank, checkDigest, checkPcrIndex, extendPcr, hash, toHex } from './pcr-math.js';

export const BATCH_LABEL = new TextEncoder().encode('ima-qs/v1/pcr-batch\0');
export const MAX_BATCH = 65_536;

/** An event to anchor: its data (hashed per bank) or its digests per bank given directly. */
export type AnchorEvent = { type: string; data: Uint8Array } | { type: string; digests: Partial<Record<Bank, Uint8Array>> };

export interface AnchorResult {
  pcr: number;
  /** the PCR value after the extend, per bank, as the log records it */
  after: Record<Bank, Uint8Array>;
  /** the digest that was extended, per bank (the event digest, or the batch digest) */
  extended: Record<Bank, Uint8Array>;
  batch: { id: number; size: number } | null;
  /** log seq of each event, in order */
  positions: { seq: number; index: number }[];
  simulated: boolean;
}

/** The batch digest of SPEC §6.3 for one bank. */
export function batchDigest(bank: Bank, entryDigests: Uint8Array[]): Uint8Array {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, entryDigests.length, false);
  return hash(bank, BATCH_LABEL, n, ...entryDigests);
}

/** The per-bank digests of an event (validated). */
export function eventDigests(ev: AnchorEvent, banks: readonly Bank[]): Record<Bank, Uint8Array> {
  if (typeof ev.type !== 'string' || !EVENT_TYPE_RE.test(ev.type)) {
    throw new InputError('BAD_EVENT_TYPE', `event type "${String(ev.type).slice(0, 80)}" is not 1-64 characters of A-Z a-z 0-9 . _ : / -`);
  }
  const out = {} as Record<Bank, Uint8Array>;
  for (const b of banks) {
    if ('data' in ev) out[b] = hash(b, ev.data);
    else {
      const d = ev.digests[b];
      if (!d) throw new InputError('MISSING_DIGEST', `event ${ev.type} has no ${b} digest`, { hint: 'give one digest per bank' });
      out[b] = checkDigest(b, d, `the ${b} digest of event ${ev.type}`);
    }
  }
  return out;
}

export interface AnchorOptions {
  pcr: number;
  banks: readonly Bank[];
  now?: () => Date;
}

export class PcrAnchor {
  private readonly pcr: number;
  private readonly banks: readonly Bank[];
  private readonly now: () => Date;
  private tail?: LogTail;
  /** the PCR value the log says it holds; undefined until (re)synchronised with the TPM */
  private current?: Record<Bank, Uint8Array>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bank: PcrBank,
    private readonly log: EventLog,
    opts: AnchorOptions,
  ) {
    this.pcr = checkPcrIndex(opts.pcr);
    if (opts.banks.length === 0) throw new InputError('BAD_BANK', 'an anchor needs at least one pcr bank');
    this.banks = [...opts.banks];
    this.now = opts.now ?? (() => new Date());
  }

  /** Extends the PCR with one event's own digest (no batch wrapping) and logs it. */
  async extendEvent(ev: AnchorEvent): Promise<AnchorResult> {
    const d = eventDigests(ev, this.banks);
    return this.serial(() => this.commit([{ type: ev.type, digests: d }], d, false));
  }

  /** Group commit: one extend with the batch digest of all entries; one log line per entry. */
  async extendBatch(entries: AnchorEvent[]): Promise<AnchorResult> {
    if (entries.length === 0 || entries.length > MAX_BATCH) {
      throw new InputError('BAD_BATCH_SIZE', `a batch has 1 to ${MAX_BATCH} entries, got ${entries.length}`);
    }
    const ds = entries.map((e) => ({ type: e.type, digests: eventDigests(e, this.banks) }));
    const extended = {} as Record<Bank, Uint8Array>;
    for (const b of this.banks) extended[b] = batchDigest(b, ds.map((x) => x.digests[b]));
    return this.serial(() => this.commit(ds, extended, true));
  }

  // one commit at a time: the log order must be the extend order
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Reads the PCR and the log tail; logs an `open` record unless the log already ends at this value. */
  private async sync(): Promise<void> {
    const tail = await this.log.tail();
    const values = await this.bank.read(this.pcr, this.banks);
    const last = tail.last;
    if (last && last.pcr !== this.pcr) {
      throw new InputError('EVENT_LOG_OTHER_PCR', `${this.log.path} records pcr ${last.pcr}, not pcr ${this.pcr}`, {
        hint: 'use one event log per pcr',
      });
    }
    const logged = last?.kind === 'event' ? last.after : last?.kind === 'open' ? last.values : undefined;
    const agrees =
      logged !== undefined && last?.pcr === this.pcr && this.banks.every((b) => logged[b] === toHex(values[b]));
    if (agrees) {
      this.tail = tail;
    } else {
      const hex: Partial<Record<Bank, string>> = {};
      for (const b of this.banks) hex[b] = toHex(values[b]);
      const open: NewRecord = { kind: 'open', time: this.now().toISOString(), pcr: this.pcr, values: hex, simulated: this.bank.describe().simulated };
      this.tail = await this.log.append(tail, [open]);
    }
    this.current = values;
  }

  private async commit(
    events: { type: string; digests: Record<Bank, Uint8Array> }[],
    extended: Record<Bank, Uint8Array>,
    batched: boolean,
  ): Promise<AnchorResult> {
    if (!this.current || !this.tail) await this.sync();
    const before = this.current!;
    const after = {} as Record<Bank, Uint8Array>;
    for (const b of this.banks) after[b] = extendPcr(b, before[b], extended[b]);

    try {
      await this.bank.extend(this.pcr, extended);
    } catch (err) {
      // after a timeout the TPM may or may not have extended: re-read before the next commit
      this.current = undefined;
      throw err;
    }

    const tail = this.tail!;
    const firstSeq = tail.seq + 1;
    const time = this.now().toISOString();
    const afterHex = hexOf(after, this.banks);
    const records: NewRecord[] = events.map((e, i) => ({
      kind: 'event',
      time,
      pcr: this.pcr,
      type: e.type,
      digests: hexOf(e.digests, this.banks),
      batch: batched ? { id: firstSeq, index: i, size: events.length } : null,
      after: afterHex,
    }));
    try {
      this.tail = await this.log.append(tail, records);
      this.current = after;
    } catch (err) {
      // extend-then-log: the PCR moved, the log did not. Force a re-sync (an `open` record) next time.
      this.current = undefined;
      this.tail = undefined;
      throw new RemoteError(
        'TPM_LOG_DIVERGED',
        `pcr ${this.pcr} was extended but the event log append failed: the pcr and ${this.log.path} now disagree`,
        {
          hint: `fix the log's file system; \`ima-qs tpm replay --event-log ${this.log.path}\` shows the divergence (the next extend logs an open record with the new value)`,
          details: { pcr: this.pcr, after: afterHex, events: events.length, batched },
          cause: err,
        },
      );
    }
    return {
      pcr: this.pcr,
      after,
      extended,
      batch: batched ? { id: firstSeq, size: events.length } : null,
      positions: events.map((_, i) => ({ seq: firstSeq + i, index: i })),
      simulated: this.bank.describe().simulated,
    };
  }
}

function hexOf(v: Record<Bank, Uint8Array>, banks: readonly Bank[]): Partial<Record<Bank, string>> {
  const out: Partial<Record<Bank, string>> = {};
  for (const b of banks) out[b] = toHex(v[b]);
  return out;
}
