/**
 * Appending to an audit chain and anchoring it in a PCR (SPEC §8.7, §8.10.4), with group commit:
 *
 *   1. build the v3 cores (seq, prev link, the payload sealed to the auditor and its digest);
 *   2. append each record with a conditional write (no fork) — the entry is "unanchored";
 *   3. read the PCR (`before`), extend it ONCE with B = H_bank("ima-qs/v2/pcr-batch" ‖ 0x00 ‖
 *      u32be(n) ‖ entries_root), entries_root the RFC 9162 Merkle root of the n entry digests;
 *   4. sign ONE batch statement {chain, first_seq, size, entries_root, pcr:{index, bank, before,
 *      after, simulated}, time, signer} (context ima-qs/v2/batch) and store it.
 *
 * Only after step 4 may a decision be released (the worker enforces it): each response carries its
 * entry, its inclusion proof and the signed statement. Log-first, then extend: if the TPM is
 * unreachable, the entries stay unanchored and the next commit's single extend covers them too, so
 * the PCR still equals the replay of exactly the stored entries. If the outcome of an extend is
 * unknown (a timeout, a crash before step 4), the next commit reads the PCR and recognises whether
 * that extend happened (value = H(lastAfter ‖ B) for a prefix of the unanchored entries) before it
 * extends again — an entry is never extended twice. With a `pcrLock` (several writers of one PCR:
 * the pipelines of a worker, the tasks of a host) steps 3's read and extend run under the lock, and
 * an extend whose outcome is unknown is settled by reading the PCR back before the lock is let go.
 * A statement that fails to store is kept and stored by the next commit (the PCR already holds it).
 *
 * Once per request (SPEC §8.7): `commitClaimed` lets each item claim its slot per request digest
 * before anything is appended; an item whose claim is refused (another attempt holds it) is not
 * appended, so a retried or redelivered request never gets a second entry.
 */
import { parseStrictJson } from '../protocol/strict-json.js';
import { fromHex, toBase64, toHex } from '../crypto/bytes.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import { sealBytes } from '../crypto/envelope.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { Signer } from '../crypto/signer.js';
import { InputError, RemoteError } from '../errors.js';
import type { Clock } from '../ports.js';
import { pcrExtend, type AnchorBank } from '../protocol/anchor-math.js';
import type { AuditCoreV3 } from '../protocol/audit-core.js';
import { batchPcrDigest, type BatchStatement, type SignedBatch } from '../protocol/batch-statement.js';
import type { InclusionProof } from '../protocol/decision-v2.js';
import { allInclusionPaths, leafHash, rootFromLeafHashes } from '../protocol/merkle.js';
import type { PcrBank } from '../tpm/pcr-bank.js';
import type { PcrLock } from '../tpm/pcr-lock.js';
import { GENESIS_PREV, canonicalCore, checkChainId, parseCore, toRecordV3, type AuditRecord, type BatchRecord } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';

export interface AuditChainOptions {
  chain: string;
  store: AuditStore;
  pcrBank: PcrBank;
  pcr: number;
  bank?: AnchorBank;
  /** signs the batch statements (ML-DSA-87, context ima-qs/v2/batch) */
  signer: Signer;
  signerFingerprint: string;
  /** composite KEM public key (1281 bytes) the payloads are sealed to, and its fingerprint */
  recipient: Uint8Array;
  recipientFingerprint: string;
  clock: Clock;
  /**
   * Serialises read → extend → statement values with every other writer of the same PCR (the
   * other pipelines of this process, and with a lock file the other tasks on the host: SPEC §8.7),
   * so that every recorded `before`/`after` is true. Default: none (this chain is the only writer).
   */
  pcrLock?: PcrLock;
  /**
   * Told of every batch statement once it is stored, with the digest of its last entry (SPEC
   * §8.11: the checkpoint writer follows the chain this way). Must not throw.
   */
  onBatch?: (signed: SignedBatch, headDigest: string) => void;
}

export interface AuditItem {
  request_digest: string;
  decision_digest: string;
  /** sealed into the payload (the decision, with its route: nothing of it is in the core) */
  plaintext: Uint8Array;
}

/**
 * An item whose audit slot is claimed per request digest before it is appended (SPEC §8.7, "once
 * per request"): `claim(seq, moved)` is called with the seq the entry will get; false = another
 * attempt holds the slot, and the item is not appended. `moved`: an earlier item of the commit was
 * dropped and this one's seq changed (the claim, already ours, is rewritten).
 */
export interface ClaimedItem extends AuditItem {
  claim(seq: number, moved: boolean): Promise<boolean>;
}

export interface Anchored {
  record: AuditRecord;
  /** the entry's v3 core (what a v2 response carries) */
  core: AuditCoreV3;
  proof: InclusionProof;
  batch: SignedBatch;
}

const TAIL_SCAN = 200;

export class AuditChain {
  readonly chain: string;
  private readonly bank: AnchorBank;
  private opened = false;
  private head?: { seq: number; digest: string };
  /** appended, not yet anchored, in seq order */
  private unanchored: AuditRecord[] = [];
  /** the `after` of the last extend known to have happened: where a lost extend would have started */
  private lastAfter?: string;
  /** extends done whose batch statements are not stored yet (oldest first) */
  private extended: { batch: AuditRecord[]; before: string; after: string }[] = [];
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

  /** The store this chain appends to (read by the pipeline to reuse an entry, SPEC §8.7). */
  get auditStore(): AuditStore {
    return this.opts.store;
  }

  /** Entries appended but not covered by a stored batch statement (a metric: SPEC §8.8). */
  get unanchoredCount(): number {
    return this.unanchored.length + this.extended.reduce((n, x) => n + x.batch.length, 0);
  }

  /** Fingerprint of the composite key the payloads are sealed to (the audit recipient). */
  get recipientFingerprint(): string {
    return this.opts.recipientFingerprint;
  }

  /** Appends one entry per item and anchors them; resolves once every entry is anchored. Serialised. */
  async commit(items: AuditItem[]): Promise<Anchored[]> {
    return (await this.serial(() => this.commitNow(items))) as Anchored[];
  }

  /**
   * Like `commit`, but each item first claims its slot (ClaimedItem); an item whose claim is
   * refused is not appended and its place in the result is undefined. The claims run inside the
   * serialised commit, so they see this chain's head as the entries will get it.
   */
  commitClaimed(items: ClaimedItem[]): Promise<(Anchored | undefined)[]> {
    return this.serial(() => this.commitNow(items, true));
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Loads the head, the entries no batch statement covers yet, and the last anchored PCR value. */
  private async open(): Promise<void> {
    const [lastBatch] = await this.opts.store.batches(this.chain, { descending: true, limit: 1 });
    let covered = -1;
    if (lastBatch) {
      const st = parseStrictJson(lastBatch.statement) as BatchStatement;
      covered = st.first_seq + st.size - 1;
      this.lastAfter = st.pcr.after;
    }
    const tail = await this.opts.store.range(this.chain, { descending: true, limit: TAIL_SCAN });
    this.head = tail[0] ? { seq: tail[0].seq, digest: tail[0].digest } : undefined;
    const pending: AuditRecord[] = [];
    for (const rec of tail) {
      if (rec.seq <= covered) break;
      if (rec.anchor) {
        // a legacy (v1/v2) entry anchored one by one: the chain was anchored up to here
        if (covered < 0) this.lastAfter = rec.anchor.after;
        break;
      }
      pending.unshift(rec);
    }
    // entries already extended (their statements not stored yet) are not extended again
    const extended = new Set(this.extended.flatMap((x) => x.batch.map((r) => r.seq)));
    this.unanchored = pending.filter((r) => !extended.has(r.seq));
    if (this.extended.length > 0) this.lastAfter = this.extended[this.extended.length - 1].after;
    this.opened = true;
  }

  /** Claims each item's slot; returns the items that got theirs, in order. */
  private async claimSlots(items: ClaimedItem[]): Promise<ClaimedItem[]> {
    const base = this.head ? this.head.seq + 1 : 0;
    const ok = await Promise.all(items.map((it, i) => it.claim(base + i, false)));
    const kept = items.filter((_, i) => ok[i]);
    // a refused claim leaves a hole: the claims after it move down to the seq their entry gets
    await Promise.all(kept.map((it, k) => (items.indexOf(it) !== k ? it.claim(base + k, true) : true)));
    return kept;
  }

  private async commitNow(all: AuditItem[], claimed = false): Promise<(Anchored | undefined)[]> {
    if (!this.opened) await this.open();
    const items = claimed ? await this.claimSlots(all as ClaimedItem[]) : all;
    const fresh: AuditRecord[] = [];
    if (items.length > 0) {
      const time = new Date(this.opts.clock.now()).toISOString();
      let seq = this.head ? this.head.seq + 1 : 0;
      let prev = this.head ? this.head.digest : GENESIS_PREV;
      const recs: AuditRecord[] = [];
      for (const it of items) {
        const sealed = sealBytes(this.p, this.opts.recipient, it.plaintext);
        const core: AuditCoreV3 = {
          v: 3,
          chain: this.chain,
          seq,
          prev,
          time,
          request_digest: it.request_digest,
          decision_digest: it.decision_digest,
          recipient: this.opts.recipientFingerprint,
          sealed_digest: toHex(this.p.sha3_256(sealed)),
        };
        const c = canonicalCore(this.p, core);
        recs.push(toRecordV3(core, c, sealed));
        prev = c.digest;
        seq++;
      }
      for (const rec of recs) {
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
    const byItem = new Map(items.map((it, k) => [it, bySeq.get(fresh[k].seq)!]));
    return all.map((it) => byItem.get(it));
  }

  /** Anchors every unanchored entry (recognising a lost extend first); returns them anchored. */
  private async anchorPending(): Promise<Anchored[]> {
    if (this.unanchored.length > 0) {
      const lock = this.opts.pcrLock;
      // read → extend → the statement's before/after, with no other writer of this PCR in between
      if (lock) await lock.run(() => this.extendPending());
      else await this.extendPending();
    }
    // statements for every extend done, oldest first; one that fails to store stays for the next commit
    const out: Anchored[] = [];
    while (this.extended.length > 0) {
      const { batch, before, after } = this.extended[0];
      out.push(...(await this.finalize(batch, before, after)));
      this.extended.shift();
    }
    return out;
  }

  /** The PCR part of anchoring: moves the unanchored entries to `extended` with their before/after. */
  private async extendPending(): Promise<void> {
    const { pcr } = this.opts;
    const read = async () => toHex((await this.opts.pcrBank.read(pcr, [this.bank]))[this.bank]);
    const current = await read();

    // a previous extend whose outcome we did not see: did it cover a prefix of the pending entries?
    if (this.lastAfter !== undefined && current !== this.lastAfter) {
      for (let k = this.unanchored.length; k >= 1; k--) {
        const prefix = this.unanchored.slice(0, k);
        if (this.expectedAfter(this.lastAfter, prefix) === current) {
          this.extended.push({ batch: prefix, before: this.lastAfter, after: current });
          this.unanchored = this.unanchored.slice(k);
          this.lastAfter = current;
          break;
        }
      }
    }
    if (this.unanchored.length === 0) return;
    const batch = this.unanchored;
    const before = current;
    const after = this.expectedAfter(before, batch);
    try {
      await this.opts.pcrBank.extend(pcr, { [this.bank]: batchPcrDigest(this.bank, batch.length, this.root(batch)) });
    } catch (err) {
      // the outcome is unknown (e.g. a timeout): under the lock nobody else extends, so reading
      // back tells whether this extend happened
      const back = this.opts.pcrLock ? await read().catch(() => undefined) : undefined;
      if (back !== after) {
        this.lastAfter = before; // if it did happen after all, the next commit recognises it
        if (this.extended.length > 0) return; // the recognised extend still gets its statement
        throw err instanceof RemoteError ? err : new RemoteError('TPM_EXTEND_FAILED', `extending pcr ${pcr} failed`, { cause: err });
      }
    }
    this.extended.push({ batch, before, after });
    this.unanchored = [];
    this.lastAfter = after;
  }

  private root(batch: readonly AuditRecord[]): Uint8Array {
    return rootFromLeafHashes(this.p, batch.map((r) => leafHash(this.p, fromHex(r.digest))));
  }

  private expectedAfter(before: string, batch: readonly AuditRecord[]): string {
    return toHex(pcrExtend(this.bank, fromHex(before), batchPcrDigest(this.bank, batch.length, this.root(batch))));
  }

  /**
   * Stores a statement. A statement already stored at its first_seq for the same entries and the
   * same extend (a retry after a lost answer: only `time` and the hedged signature differ) is
   * adopted; any other is a conflict.
   */
  private async store(signed: SignedBatch): Promise<SignedBatch> {
    const st = signed.statement;
    const rec: BatchRecord = { chain: this.chain, first_seq: st.first_seq, statement: canonicalJson(st), signature: signed.signature };
    try {
      await this.opts.store.putBatch(rec);
      return signed;
    } catch (err) {
      if (!(err instanceof RemoteError) || err.code !== 'AUDIT_BATCH_CONFLICT') throw err;
      const [have] = await this.opts.store.batches(this.chain, { from: st.first_seq, to: st.first_seq, limit: 1 });
      const old = have ? (parseStrictJson(have.statement) as BatchStatement) : undefined;
      const same = old && old.size === st.size && old.entries_root === st.entries_root && old.pcr.before === st.pcr.before && old.pcr.after === st.pcr.after;
      if (!same) throw err;
      return { statement: old, signature: have.signature };
    }
  }

  /** Signs and stores the batch statement; returns each entry with its proof and the statement. */
  private async finalize(batch: AuditRecord[], before: string, after: string): Promise<Anchored[]> {
    const leaves = batch.map((r) => leafHash(this.p, fromHex(r.digest)));
    const statement: BatchStatement = {
      v: 2,
      chain: this.chain,
      first_seq: batch[0].seq,
      size: batch.length,
      entries_root: toHex(rootFromLeafHashes(this.p, leaves)),
      pcr: { index: this.opts.pcr, bank: this.bank, before, after, simulated: this.opts.pcrBank.describe().simulated },
      time: new Date(this.opts.clock.now()).toISOString(),
      signer: this.opts.signerFingerprint,
    };
    const [sig] = await this.opts.signer.signAll([{ purpose: 'batch', value: statement }]);
    // a statement that fails to store stays in `extended`: the next commit stores it (the PCR holds `after`)
    const signed = await this.store({ statement, signature: toBase64(sig) });
    this.opts.onBatch?.(signed, batch[batch.length - 1].digest);
    const paths = allInclusionPaths(this.p, leaves);
    return batch.map((r, index) => ({
      record: r,
      core: parseCore(r) as AuditCoreV3,
      proof: { index, size: batch.length, path: paths[index].map(toHex) },
      batch: signed,
    }));
  }
}

/** The core of a stored record (re-exported for tools). */
export { parseCore };
