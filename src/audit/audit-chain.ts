/**
 * Appending to an audit chain and anchoring it in a PCR (SPEC §8.7), with group commit:
 *
 *   1. build the cores (seq, prev link), sign them (audit context), seal the payloads;
 *   2. append each record with a conditional write (no fork) — the record is "unanchored";
 *   3. read the PCR (`before`), extend it ONCE with the batch digest of every unanchored entry
 *      (SPEC §6.3: B = H("ima-qs/v1/pcr-batch" ‖ 0x00 ‖ u32be(n) ‖ d_1 … d_n));
 *   4. set each entry's anchor {pcr, bank, before, after, batch}.
 *
 * Only after step 4 may a decision be released (the worker enforces it). Log-first, then extend:
 * if the TPM is unreachable, the entries stay unanchored and the next commit's single extend
 * covers them too, so the PCR still equals the replay of exactly the stored entries. If the
 * outcome of an extend is unknown (a timeout, a crash before step 4), the next commit reads the
 * PCR and recognises whether that extend happened (value = H(before ‖ B) for a prefix of the
 * unanchored entries) before it extends again — an entry is never extended twice.
 * An entry a worker signed but never anchored (it died for good) shows as "unanchored" in
 * `audit verify`; it is signed, so it cannot be a forgery.
 */
import { fromHex, toBase64, toHex } from '../crypto/bytes.js';
import { sealBytes } from '../crypto/envelope.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import { InputError, RemoteError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { Signer } from '../crypto/signer.js';
import { pcrBatchDigest, pcrExtend, type AnchorBank } from '../protocol/anchor-math.js';
import type { PcrBank } from '../tpm/pcr-bank.js';
import { CORE_VERSION, GENESIS_PREV, canonicalCore, checkChainId, parseCore, toRecord, type AuditAnchor, type AuditEntryCore, type AuditRecord, type CanonicalCore } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';

export interface AuditChainOptions {
  chain: string;
  store: AuditStore;
  pcrBank: PcrBank;
  pcr: number;
  bank?: AnchorBank;
  signer: Signer;
  signerFingerprint: string;
  /** composite KEM public key (1281 bytes) the payloads are sealed to, and its fingerprint */
  recipient: Uint8Array;
  recipientFingerprint: string;
  clock: Clock;
}

export interface AuditItem {
  request_digest: string;
  decision_digest: string;
  /** sealed into the payload (the decision, with its route: nothing of it is in the core) */
  plaintext: Uint8Array;
}

export interface Anchored {
  record: AuditRecord;
  anchor: AuditAnchor;
  /** digests of every entry of the batch, in order (for the response, SPEC §8.5) */
  batchDigests: string[];
}

const TAIL_SCAN = 200;

export class AuditChain {
  readonly chain: string;
  private readonly bank: AnchorBank;
  private opened = false;
  private head?: { seq: number; digest: string };
  /** appended, not yet anchored, in seq order */
  private unanchored: AuditRecord[] = [];
  /** the `after` of the last anchored entry: where a lost extend would have started */
  private lastAfter?: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly p: CryptoProvider,
    private readonly opts: AuditChainOptions,
  ) {
    this.chain = checkChainId(opts.chain);
    this.bank = opts.bank ?? 'sha256';
    // the core names the recipient: a fingerprint that is not the key's would mislead every reader
    if (fingerprint('MLKEM768-P384', opts.recipient) !== opts.recipientFingerprint) {
      throw new InputError('AUDIT_RECIPIENT_MISMATCH', 'the audit recipient fingerprint is not that of the audit recipient key');
    }
  }

  /** Fingerprint of the composite key the payloads are sealed to (the audit recipient). */
  get recipientFingerprint(): string {
    return this.opts.recipientFingerprint;
  }

  /** Appends one entry per item and anchors them; resolves once every entry is anchored. Serialised. */
  commit(items: AuditItem[]): Promise<Anchored[]> {
    const run = () => this.commitNow(items);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private async open(): Promise<void> {
    const tail = await this.opts.store.range(this.chain, { descending: true, limit: TAIL_SCAN });
    this.head = tail[0] ? { seq: tail[0].seq, digest: tail[0].digest } : undefined;
    const pending: AuditRecord[] = [];
    for (const rec of tail) {
      if (rec.anchor) {
        this.lastAfter = rec.anchor.after;
        break;
      }
      pending.unshift(rec);
    }
    this.unanchored = pending;
    this.opened = true;
  }

  private async commitNow(items: AuditItem[]): Promise<Anchored[]> {
    if (!this.opened) await this.open();
    const fresh: AuditRecord[] = [];
    if (items.length > 0) {
      const time = new Date(this.opts.clock.now()).toISOString();
      const cores: AuditEntryCore[] = [];
      const canon: CanonicalCore[] = []; // each core serialized once: hashed, signed and stored as these bytes
      let seq = this.head ? this.head.seq + 1 : 0;
      let prev = this.head ? this.head.digest : GENESIS_PREV;
      for (const it of items) {
        const core: AuditEntryCore = {
          v: CORE_VERSION,
          chain: this.chain,
          seq,
          prev,
          time,
          request_digest: it.request_digest,
          decision_digest: it.decision_digest,
          signer: this.opts.signerFingerprint,
          recipient: this.opts.recipientFingerprint,
          payload: toBase64(sealBytes(this.p, this.opts.recipient, it.plaintext)),
        };
        const c = canonicalCore(this.p, core);
        cores.push(core);
        canon.push(c);
        prev = c.digest;
        seq++;
      }
      const sigs = await this.opts.signer.signAll(canon.map((c) => ({ purpose: 'audit' as const, bytes: c.bytes })));
      for (let i = 0; i < cores.length; i++) {
        const rec = toRecord(this.p, cores[i], sigs[i], canon[i]);
        try {
          await this.opts.store.append(rec);
        } catch (err) {
          this.opened = false; // reload the head: we do not know what the store holds now
          throw err;
        }
        this.head = { seq: rec.seq, digest: rec.digest };
        this.unanchored.push(rec);
        fresh.push(rec);
      }
    }
    const anchored = await this.anchorPending();
    const bySeq = new Map(anchored.map((a) => [a.record.seq, a]));
    return fresh.map((r) => bySeq.get(r.seq)!);
  }

  /** Anchors every unanchored entry (recognising a lost extend first); returns them anchored. */
  private async anchorPending(): Promise<Anchored[]> {
    if (this.unanchored.length === 0) return [];
    const { pcr } = this.opts;
    const readNow = async () => toHex((await this.opts.pcrBank.read(pcr, [this.bank]))[this.bank]);
    let current = await readNow();
    const out: Anchored[] = [];

    // a previous extend whose outcome we did not see: did it cover a prefix of the pending entries?
    if (this.lastAfter !== undefined && current !== this.lastAfter) {
      for (let k = this.unanchored.length; k >= 1; k--) {
        const prefix = this.unanchored.slice(0, k);
        if (this.expectedAfter(this.lastAfter, prefix) === current) {
          out.push(...(await this.finalize(prefix, this.lastAfter, current)));
          this.unanchored = this.unanchored.slice(k);
          break;
        }
      }
    }
    if (this.unanchored.length > 0) {
      const batch = this.unanchored;
      const before = current;
      const digests = batch.map((r) => fromHex(r.digest));
      try {
        await this.opts.pcrBank.extend(pcr, { [this.bank]: pcrBatchDigest(this.bank, digests) });
      } catch (err) {
        this.lastAfter = before; // if it did happen after all, the next commit recognises it
        throw err instanceof RemoteError ? err : new RemoteError('TPM_EXTEND_FAILED', `extending pcr ${pcr} failed`, { cause: err });
      }
      current = this.expectedAfter(before, batch);
      out.push(...(await this.finalize(batch, before, current)));
      this.unanchored = [];
    }
    return out;
  }

  private expectedAfter(before: string, batch: AuditRecord[]): string {
    return toHex(pcrExtend(this.bank, fromHex(before), pcrBatchDigest(this.bank, batch.map((r) => fromHex(r.digest)))));
  }

  private async finalize(batch: AuditRecord[], before: string, after: string): Promise<Anchored[]> {
    const simulated = this.opts.pcrBank.describe().simulated;
    const batchDigests = batch.map((r) => r.digest);
    const out: Anchored[] = [];
    for (const [index, rec] of batch.entries()) {
      const anchor: AuditAnchor = { pcr: this.opts.pcr, bank: this.bank, before, after, simulated, batch: { id: batch[0].seq, size: batch.length, index } };
      try {
        await this.opts.store.setAnchor(rec.chain, rec.seq, anchor);
      } catch (err) {
        this.lastAfter = before; // the PCR holds `after`: the next commit recognises the extend and retries
        throw err;
      }
      rec.anchor = anchor;
      out.push({ record: rec, anchor, batchDigests });
    }
    this.lastAfter = after;
    return out;
  }
}

/** The core of a stored record (re-exported for tools). */
export { parseCore };
