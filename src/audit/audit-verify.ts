/**
 * Verification of an audit chain (SPEC §8.7; issue 7 §4): every entry, every link, every
 * signature, every group-commit anchor. Pure (bytes and records in, a verdict out) and streaming:
 * `ChainVerifier.push` takes the records of one chain in ascending seq order, a page at a time, so
 * a long chain never has to sit in memory; it stops at the first bad entry and names it.
 *
 * Chains written since response format v2 hold v3 entries (unsigned one by one) covered by signed
 * batch statements (SPEC §8.10.4, audit-batch.ts): the runner pushes a chain's statements
 * (`pushBatch`) before the entries they cover. Older chains hold v1/v2 entries, each signed and
 * anchored by its own `anchor` attribute; both kinds verify, also mixed in one chain.
 *
 * Kinds of problem, checked in this order for each stored position `seq`:
 *   missing       a sequence number is absent (a deleted entry), or, against the PCR, the chain
 *                 ends before the PCR does (a truncated tail; reported at last seq + 1)
 *   altered       the core is not canonical JSON, its digest does not match, its sealed payload is
 *                 not the one its digest names, the signature does not verify, or (v3) the entries
 *                 of a batch do not give its signed root or the statement does not verify
 *   unsigned      no ML-DSA-87 signature at all (absent, not base64, not 4627 bytes)
 *   inserted      signed by a key that is not trusted, an entry of another chain, or an entry the
 *                 chain links around (its successor's `prev` is its predecessor's digest)
 *   reordered     a genuine entry stored at another position than the one it was signed for, or
 *                 whose `prev` is not the digest of the entry stored before it
 *   unsupported   the core's format version `v` is not one this code reads (SPEC §8.7: 1 and 2)
 *                 — written by a newer ima-qs, or altered; nothing after it is trusted
 *   unanchored    no PCR anchor: the group commit that covers it did not happen (yet)
 *   unanchored-superseded  an unanchored tail whose every request was decided again from another
 *                 chain, where its entry verified (SPEC §8.7: the audit claim of a dead worker was
 *                 taken over; these entries' decisions were never released). Still not authenticated.
 *   pcr-mismatch  an anchor that does not replay: after ≠ H(before ‖ batch digest) (SPEC §6.3),
 *                 a malformed or inconsistent batch, or the PCR changed between two batches by
 *                 extends no verified chain or event log explains
 * With a checkpoint store (SPEC §8.11, checkpoint-verify.ts), also:
 *   unregistered  a chain with entries (or checkpoints) but no registration
 *   checkpoint    a checkpoint or registration that is malformed, not signed by a trusted audit
 *                 key, deleted, or missing between two others
 *   forked        two different versions of one checkpoint, checkpoints that do not link, or a
 *                 checkpoint that covers fewer entries than the one before
 * and `missing` / `altered` / `inserted` for a chain that contradicts its checkpoints.
 */
import { fromBase64, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { MLDSA87_SIZES, verifyJson } from '../crypto/signature.js';
import { pcrBatchDigest, pcrExtend, type AnchorBank } from '../protocol/anchor-math.js';
export { reachable, resolveGaps, compareWithPcr, type PcrEvidence, type PcrComparison } from './audit-pcr.js';
import { BatchCheck, checkStatement, type TrustedSigners } from './audit-batch.js';
import { GENESIS_PREV, type AuditAnchor, type AuditEntryCore, type AuditRecord, type BatchRecord, type LegacyCore, entryDigest, isReadableVersion, unsupportedVersionDetail } from './audit-entry.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import { anchorShapeProblem, canonicalOrUndefined, coreShapeProblem, fromHexFast, sealedDigest, tryCore } from './audit-entry-checks.js';
export { entrySignatureStatus, readCore } from './audit-entry-checks.js';
export type { TrustedSigners };

export const PROBLEM_KINDS = ['missing', 'altered', 'unsigned', 'inserted', 'reordered', 'unsupported', 'unanchored', 'unanchored-superseded', 'pcr-mismatch', 'unregistered', 'checkpoint', 'forked'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface AuditProblem {
  chain: string;
  seq: number;
  kind: ProblemKind;
  detail: string;
}

/** A PCR value change one complete batch (or an event-log extend) explains. */
export interface PcrTransition {
  pcr: number;
  bank: AnchorBank;
  from: string;
  to: string;
}

interface Gap {
  seq: number;
  pcr: number;
  bank: AnchorBank;
  from: string;
  to: string;
}

export interface ChainVerdict {
  chain: string;
  /** entries checked and found good (before the first problem) */
  entries: number;
  first?: number;
  last?: number;
  batches: number;
  signers: string[];
  /** where the chain's anchors start and end in the PCR (of the last pcr/bank it used) */
  pcr?: { index: number; bank: AnchorBank; start: string; end: string; simulated: boolean };
  problem?: AuditProblem;
  /** PCR gaps between batches, resolved against every transition by `resolveGaps` */
  gaps: Gap[];
  transitions: PcrTransition[];
}

interface OpenBatch {
  id: number;
  size: number;
  pcr: number;
  bank: AnchorBank;
  before: string;
  after: string;
  digests: Uint8Array[];
  /** the range began inside this batch: its earlier digests are not at hand */
  partial: boolean;
}

export interface ChainVerifierOptions {
  /** the range's first seq (default 0) */
  from?: number;
  /** the digest of entry from−1 when from > 0 (undefined: the link into the range is not checked) */
  prevDigest?: string;
}

export class ChainVerifier {
  private expected: number;
  private prev: string | undefined;
  private problem?: AuditProblem;
  /** a signature failure whose kind (altered or inserted) the next record decides */
  private pendingBadSig?: { seq: number; prevBefore: string | undefined; detail: string };
  private readonly verdict: ChainVerdict;
  private batch?: OpenBatch;
  private lastAnchor?: { pcr: number; bank: AnchorBank; after: string };
  private readonly signers = new Set<string>();
  private simulated = false;
  /** v3: statements pushed and not yet reached, ascending first_seq */
  private statements: BatchRecord[] = [];
  /** v3: the statement whose entries are arriving */
  private open?: BatchCheck;

  constructor(
    private readonly p: CryptoProvider,
    readonly chain: string,
    private readonly trusted: TrustedSigners,
    opts: ChainVerifierOptions = {},
  ) {
    this.expected = opts.from ?? 0;
    this.prev = this.expected === 0 ? GENESIS_PREV : opts.prevDigest;
    this.verdict = { chain, entries: 0, batches: 0, signers: [], gaps: [], transitions: [] };
  }

  get failed(): boolean {
    return this.problem !== undefined;
  }

  /** A stored batch statement of this chain (ascending first_seq), pushed before the entries it covers. */
  pushBatch(b: BatchRecord): void {
    this.statements.push(b);
  }

  /** Checks the next record (ascending seq). Returns false once a problem is found: stop reading. */
  push(rec: AuditRecord): boolean {
    if (this.problem) return false;
    if (this.pendingBadSig) {
      const next = tryCore(rec.core);
      const bad = this.pendingBadSig;
      if (next && bad.prevBefore !== undefined && next.prev === bad.prevBefore) {
        return this.fail(bad.seq, 'inserted', 'its signature does not verify and the next entry links to the entry before it: a forged entry was inserted');
      }
      return this.fail(bad.seq, 'altered', bad.detail);
    }
    if (rec.seq > this.expected) {
      const n = rec.seq - this.expected;
      return this.fail(this.expected, 'missing', n === 1 ? `entry ${this.expected} is missing (deleted)` : `entries ${this.expected} to ${rec.seq - 1} are missing (deleted)`);
    }
    if (rec.seq < this.expected) return this.fail(rec.seq, 'reordered', `the store returned entry ${rec.seq} after entry ${this.expected - 1}`);
    const seq = rec.seq;

    const core = tryCore(rec.core);
    if (!core) return this.fail(seq, 'altered', 'the stored core is not JSON');
    if (!isReadableVersion(core.v)) return this.fail(seq, 'unsupported', unsupportedVersionDetail(core.v));
    const shape = coreShapeProblem(core);
    if (shape) return this.fail(seq, 'altered', `the core is malformed: ${shape}`);
    if (canonicalOrUndefined(core) !== rec.core) return this.fail(seq, 'altered', 'the core is not in canonical form (RFC 8785): it was edited');

    const digest = entryDigest(this.p, core);
    if (core.v === 3) {
      if (digest !== rec.digest) return this.fail(seq, 'altered', 'the core does not match its recorded digest');
      if (core.chain !== this.chain) return this.fail(seq, 'inserted', `the entry belongs to chain ${core.chain}: it was copied into this chain`);
      if (core.seq !== seq) return this.fail(seq, 'reordered', `entry written as seq ${core.seq} is stored at seq ${seq}`);
      if (this.prev !== undefined && core.prev !== this.prev) {
        return this.fail(seq, 'reordered', `its previous-entry digest is not that of entry ${seq - 1}: entries were reordered or a fork was stored`);
      }
      if (sealedDigest(this.p, rec.payload) !== core.sealed_digest) return this.fail(seq, 'altered', 'the stored sealed payload is not the one the entry names (sealed_digest)');
    } else {
      const legacy = this.checkLegacy(seq, rec, core, digest);
      if (legacy === 'pending') return true;
      if (legacy !== true) return legacy;
    }

    let anchorProblem: { seq: number; kind: ProblemKind; detail: string } | undefined;
    if (rec.anchor === undefined) anchorProblem = this.checkCovered(seq, digest);
    else if (core.v === 3) anchorProblem = { seq, kind: 'pcr-mismatch', detail: 'a version 3 entry carries a per-entry anchor: v3 entries are anchored by batch statements only' };
    else anchorProblem = this.checkAnchor(seq, rec.anchor, digest);
    if (anchorProblem) return this.fail(anchorProblem.seq, anchorProblem.kind, anchorProblem.detail);

    if (this.verdict.first === undefined) this.verdict.first = seq;
    this.verdict.last = seq;
    this.verdict.entries += 1;
    this.prev = digest;
    this.expected = seq + 1;
    return true;
  }

  /**
   * v1/v2: the per-entry signature under a trusted key, then position and link. 'pending': the
   * signature failed and the next record decides whether the entry was altered or inserted.
   */
  private checkLegacy(seq: number, rec: AuditRecord, core: LegacyCore, digest: string): true | false | 'pending' {
    let sig: Uint8Array | undefined;
    try {
      sig = rec.signature ? fromBase64(rec.signature, 'signature') : undefined;
    } catch {
      sig = undefined;
    }
    if (!sig || sig.length !== MLDSA87_SIZES.signature) {
      return this.fail(seq, 'unsigned', sig ? `the signature is ${sig.length} bytes; an ML-DSA-87 signature is ${MLDSA87_SIZES.signature}` : 'the entry has no signature');
    }
    if (digest !== rec.digest) return this.fail(seq, 'altered', 'the core does not match its recorded digest: it was changed after signing');
    if (core.chain !== this.chain) return this.fail(seq, 'inserted', `the entry belongs to chain ${core.chain}: it was copied into this chain`);
    const key = this.trusted.get(core.signer);
    if (!key) return this.fail(seq, 'inserted', `signed by an untrusted key ${core.signer.slice(0, 16)}…: not written by the service`);
    if (!verifyJson(this.p, key, 'audit', core, sig)) {
      this.pendingBadSig = { seq, prevBefore: this.prev, detail: 'the signature does not verify (context ima-qs/v1/audit): the entry or its signature was changed' };
      return 'pending';
    }
    if (core.seq !== seq) return this.fail(seq, 'reordered', `entry signed as seq ${core.seq} is stored at seq ${seq}`);
    if (this.prev !== undefined && core.prev !== this.prev) {
      return this.fail(seq, 'reordered', `its previous-entry digest is not that of entry ${seq - 1}: entries were reordered or a fork was stored`);
    }
    this.signers.add(core.signer);
    return true;
  }

  /** v3 (or a legacy entry anchored after the upgrade): the batch statement that covers `seq`. */
  private checkCovered(seq: number, digest: string): { seq: number; kind: ProblemKind; detail: string } | undefined {
    if (this.batch) return { seq: this.batch.id, kind: 'pcr-mismatch', detail: `batch ${this.batch.id} claims ${this.batch.size} entries but only ${seq - this.batch.id} carry its anchor` };
    if (!this.open) {
      // statements wholly before this entry belong before the verified range
      while (this.statements.length && this.lastSeqOf(this.statements[0]) < seq) this.statements.shift();
      const next = this.statements[0];
      if (!next || next.first_seq > seq) {
        return { seq, kind: 'unanchored', detail: 'no batch statement covers it: the group commit covering it never happened (or is happening right now); it is not authenticated' };
      }
      this.statements.shift();
      const v = checkStatement(this.p, next, this.chain, this.trusted);
      if (!v.ok) return { seq: next.first_seq, kind: v.kind, detail: v.detail };
      const st = v.statement;
      const partial = st.first_seq < seq;
      if (partial && this.verdict.entries > 0) return { seq, kind: 'pcr-mismatch', detail: `the batch statement at ${st.first_seq} overlaps entries already covered` };
      this.open = new BatchCheck(this.p, st, partial);
      this.signers.add(st.signer);
      this.simulated ||= st.pcr.simulated;
      const a = { pcr: st.pcr.index, bank: st.pcr.bank, before: st.pcr.before, after: st.pcr.after };
      if (!this.verdict.pcr || this.verdict.pcr.index !== a.pcr || this.verdict.pcr.bank !== a.bank) {
        this.verdict.pcr = { index: a.pcr, bank: a.bank, start: a.before, end: a.after, simulated: st.pcr.simulated };
      }
      if (this.lastAnchor && this.lastAnchor.pcr === a.pcr && this.lastAnchor.bank === a.bank && this.lastAnchor.after !== a.before) {
        this.verdict.gaps.push({ seq: st.first_seq, pcr: a.pcr, bank: a.bank, from: this.lastAnchor.after, to: a.before });
      }
    }
    const b = this.open;
    b.add(digest);
    if (seq < b.last) return undefined;
    this.open = undefined;
    const rootProblem = b.rootProblem();
    if (rootProblem) return { seq: b.first, kind: 'altered', detail: rootProblem };
    const st = b.statement;
    if (!b.partial) this.verdict.transitions.push({ pcr: st.pcr.index, bank: st.pcr.bank, from: st.pcr.before, to: st.pcr.after });
    this.verdict.batches += 1;
    this.lastAnchor = { pcr: st.pcr.index, bank: st.pcr.bank, after: st.pcr.after };
    return undefined;
  }

  private lastSeqOf(b: BatchRecord): number {
    try {
      const size = (parseStrictJson(b.statement) as { size?: unknown }).size;
      return b.first_seq + (Number.isSafeInteger(size) ? (size as number) : 1) - 1;
    } catch {
      return b.first_seq;
    }
  }

  /**
   * Ends the chain. `throughHead`: the range reaches the chain's newest entry, so an incomplete
   * last batch means entries are missing (a truncated tail).
   */
  finish(throughHead: boolean): ChainVerdict {
    if (this.pendingBadSig && !this.problem) {
      const bad = this.pendingBadSig;
      this.fail(bad.seq, 'altered', bad.detail);
    }
    if (!this.problem && this.batch) {
      const b = this.batch;
      const have = this.expected - b.id;
      if (throughHead) this.fail(this.expected, 'missing', `batch ${b.id} has ${have} of its ${b.size} entries: entries ${this.expected} to ${b.id + b.size - 1} are missing (truncated)`);
    }
    if (!this.problem && this.open && throughHead) {
      const b = this.open;
      this.fail(this.expected, 'missing', `the signed batch ${b.first} covers entries ${b.first} to ${b.last}, but the chain ends at ${this.expected - 1}: entries ${this.expected} to ${b.last} are missing (truncated)`);
    }
    if (!this.problem && throughHead) {
      const beyond = this.statements.find((b) => b.first_seq >= this.expected);
      if (beyond) this.fail(this.expected, 'missing', `a batch statement at ${beyond.first_seq} covers entries the chain no longer holds: entries from ${this.expected} are missing (truncated)`);
    }
    this.verdict.signers = [...this.signers].sort();
    if (this.lastAnchor && this.verdict.pcr) this.verdict.pcr.end = this.lastAnchor.after;
    if (this.verdict.pcr) this.verdict.pcr.simulated = this.simulated;
    if (this.problem) this.verdict.problem = this.problem;
    return this.verdict;
  }

  private fail(seq: number, kind: ProblemKind, detail: string): false {
    this.problem = { chain: this.chain, seq, kind, detail };
    this.pendingBadSig = undefined;
    return false;
  }

  private checkAnchor(seq: number, a: AuditAnchor | undefined, digest: string): { seq: number; kind: ProblemKind; detail: string } | undefined {
    if (a === undefined) return { seq, kind: 'unanchored', detail: 'no pcr anchor: the group commit covering it never happened (or is happening right now)' };
    const shape = anchorShapeProblem(a);
    if (shape) return { seq, kind: 'pcr-mismatch', detail: `the anchor is malformed: ${shape}` };
    const bad = (detail: string) => ({ seq, kind: 'pcr-mismatch' as const, detail });
    if (a.batch.id !== seq - a.batch.index) return bad(`the anchor puts it at index ${a.batch.index} of batch ${a.batch.id}, which does not start at seq ${seq - a.batch.index}`);
    this.simulated ||= a.simulated;

    let b = this.batch;
    if (b && a.batch.id !== b.id) {
      // the previous batch must be complete before another starts
      return { seq: b.id, kind: 'pcr-mismatch', detail: `batch ${b.id} claims ${b.size} entries but only ${seq - b.id} carry its anchor` };
    }
    if (!b) {
      const partial = a.batch.index !== 0;
      if (partial && this.verdict.entries > 0) return bad(`batch ${a.batch.id} does not start at its index 0`);
      b = { id: a.batch.id, size: a.batch.size, pcr: a.pcr, bank: a.bank, before: a.before, after: a.after, digests: [], partial };
      this.batch = b;
      if (!this.verdict.pcr) this.verdict.pcr = { index: a.pcr, bank: a.bank, start: a.before, end: a.after, simulated: a.simulated };
      if (this.lastAnchor && this.lastAnchor.pcr === a.pcr && this.lastAnchor.bank === a.bank && this.lastAnchor.after !== a.before) {
        this.verdict.gaps.push({ seq, pcr: a.pcr, bank: a.bank, from: this.lastAnchor.after, to: a.before });
      }
      if (this.lastAnchor && (this.lastAnchor.pcr !== a.pcr || this.lastAnchor.bank !== a.bank)) {
        this.verdict.pcr = { index: a.pcr, bank: a.bank, start: a.before, end: a.after, simulated: a.simulated };
      }
    } else if (a.pcr !== b.pcr || a.bank !== b.bank || a.before !== b.before || a.after !== b.after || a.batch.size !== b.size) {
      return bad(`its anchor differs from the rest of batch ${b.id}`);
    }
    b.digests.push(fromHexFast(digest));
    if (seq - b.id + 1 < b.size) return undefined;

    // the batch is complete: one extend with its batch digest (SPEC §6.3)
    this.batch = undefined;
    if (!b.partial) {
      const after = toHex(pcrExtend(b.bank, fromHexFast(b.before), pcrBatchDigest(b.bank, b.digests)));
      if (after !== b.after) {
        return { seq: b.id, kind: 'pcr-mismatch', detail: `replaying batch ${b.id} (${b.size} entries) from its before value does not give its recorded after value` };
      }
      this.verdict.transitions.push({ pcr: b.pcr, bank: b.bank, from: b.before, to: b.after });
    }
    this.verdict.batches += 1;
    this.lastAnchor = { pcr: b.pcr, bank: b.bank, after: b.after };
    return undefined;
  }
}
