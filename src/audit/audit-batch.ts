/**
 * The batch-statement side of `audit verify` (SPEC §8.10.4): a v3 chain is anchored by signed
 * statements, one per group commit, each covering `size` consecutive entries by the Merkle root of
 * their digests. `BatchCheck` collects the entries of one statement and, once the last arrives,
 * checks everything the statement claims: its signature under a trusted key, its chain, the root
 * recomputed from the stored entries, and its PCR arithmetic. Pure.
 */
import { parseStrictJson } from '../protocol/strict-json.js';
import { fromBase64, fromHex, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { statementAddsUp, statementProblem, type BatchStatement } from '../protocol/batch-statement.js';
import { leafHash, rootFromLeafHashes } from '../protocol/merkle.js';
import type { BatchRecord } from './audit-entry.js';

/**
 * The keys batch statements may be signed by, fingerprint → public key. `validity`, when a key is
 * trusted only because the pinned root certified it (SPEC §7.3, §8.11): the spans of the
 * statements that certify it; a batch statement whose `time` lies outside all of them is refused.
 * A key given explicitly (`--key`) has no span.
 */
export type TrustedSigners = ReadonlyMap<string, Uint8Array> & {
  readonly validity?: ReadonlyMap<string, readonly { notBefore: number; notAfter: number; generation: number }[]>;
};

export type StatementVerdict =
  | { ok: true; statement: BatchStatement }
  | { ok: false; kind: 'altered' | 'inserted' | 'pcr-mismatch'; detail: string; statement?: BatchStatement };

/** Parses and checks a stored statement on its own (shape, chain, signature, PCR arithmetic). */
export function checkStatement(p: CryptoProvider, rec: BatchRecord, chain: string, trusted: TrustedSigners): StatementVerdict {
  let st: unknown;
  try {
    st = parseStrictJson(rec.statement);
  } catch {
    return { ok: false, kind: 'altered', detail: `the batch statement at ${rec.first_seq} is not JSON` };
  }
  const shape = statementProblem(st);
  if (shape) return { ok: false, kind: 'altered', detail: `the batch statement at ${rec.first_seq} is malformed: ${shape}` };
  const s = st as BatchStatement;
  if (s.first_seq !== rec.first_seq) return { ok: false, kind: 'altered', detail: `the batch statement stored at ${rec.first_seq} says first_seq ${s.first_seq}` };
  if (s.chain !== chain) return { ok: false, kind: 'inserted', detail: `the batch statement at ${rec.first_seq} belongs to chain ${s.chain}: it was copied into this chain`, statement: s };
  const key = trusted.get(s.signer);
  if (!key) return { ok: false, kind: 'inserted', detail: `the batch statement at ${rec.first_seq} is signed by an untrusted key ${s.signer.slice(0, 16)}…`, statement: s };
  const spans = trusted.validity?.get(s.signer);
  const at = Date.parse(s.time);
  if (spans && !spans.some((w) => w.notBefore <= at && at <= w.notAfter)) {
    const certified = spans.map((w) => `generation ${w.generation}: ${new Date(w.notBefore).toISOString()} to ${new Date(w.notAfter).toISOString()}`).join('; ');
    return { ok: false, kind: 'inserted', detail: `the batch statement at ${rec.first_seq} is dated ${s.time}, when no statement of the pinned root certified its signer ${s.signer.slice(0, 16)}… (${certified})`, statement: s };
  }
  let sig: Uint8Array | undefined;
  try {
    sig = fromBase64(rec.signature, 'batch signature');
  } catch {
    sig = undefined;
  }
  if (!sig || !verifyJson(p, key, 'batch', s, sig)) {
    return { ok: false, kind: 'altered', detail: `the batch statement at ${rec.first_seq} (entries ${s.first_seq}-${s.first_seq + s.size - 1}) does not verify (context ima-qs/v2/batch): the statement or its signature was changed`, statement: s };
  }
  if (!statementAddsUp(s)) return { ok: false, kind: 'pcr-mismatch', detail: `batch ${s.first_seq}: after is not H(before ‖ B(size, entries_root))`, statement: s };
  return { ok: true, statement: s };
}

/** The entries of one statement as they arrive; `complete()` checks the recomputed root. */
export class BatchCheck {
  private readonly leaves: Uint8Array[] = [];

  constructor(
    private readonly p: CryptoProvider,
    readonly statement: BatchStatement,
    /** the verified range began inside this batch: its earlier digests are not at hand */
    readonly partial: boolean,
  ) {}

  get first(): number {
    return this.statement.first_seq;
  }

  get last(): number {
    return this.statement.first_seq + this.statement.size - 1;
  }

  add(digest: string): void {
    this.leaves.push(leafHash(this.p, fromHex(digest)));
  }

  /** undefined when the stored entries give the signed root (not checked for a partial batch) */
  rootProblem(): string | undefined {
    if (this.partial) return undefined;
    const root = toHex(rootFromLeafHashes(this.p, this.leaves));
    if (root === this.statement.entries_root) return undefined;
    return `the stored entries ${this.first}-${this.last} do not give the signed entries_root of their batch: an entry of the batch was changed, replaced or re-created`;
  }
}

/** The stored statements that cover `seqs` of a chain (parsed; a malformed one covers nothing). */
export async function coveringStatements(
  store: { batches(chain: string, opts?: { to?: number; descending?: boolean; limit?: number }): Promise<BatchRecord[]> },
  chain: string,
  seqs: readonly number[],
): Promise<Map<number, BatchStatement>> {
  const out = new Map<number, BatchStatement>();
  if (!seqs.length) return out;
  const max = Math.max(...seqs);
  const min = Math.min(...seqs);
  // statements end at or after min and start at or before max; each covers ≥ 1 entry
  const recs = await store.batches(chain, { to: max, descending: true, limit: max - min + 2 });
  for (const r of recs) {
    let st: BatchStatement;
    try {
      st = parseStrictJson(r.statement) as BatchStatement;
    } catch {
      continue;
    }
    if (statementProblem(st)) continue;
    for (const s of seqs) if (s >= st.first_seq && s < st.first_seq + st.size && !out.has(s)) out.set(s, st);
  }
  return out;
}

/**
 * One v3 entry's batch, checked whole (for `audit show`): the statement verifies under a trusted
 * key and the batch's stored entries give its root. 'unchecked' without trusted keys.
 */
export async function entryBatchStatus(
  p: CryptoProvider,
  store: {
    batches(chain: string, opts?: { to?: number; descending?: boolean; limit?: number }): Promise<BatchRecord[]>;
    range(chain: string, opts?: { from?: number; to?: number }): Promise<{ digest: string }[]>;
  },
  chain: string,
  seq: number,
  trusted: TrustedSigners | undefined,
): Promise<{ status: 'ok' | 'BAD' | 'unchecked' | 'none'; statement?: BatchStatement; detail: string }> {
  const recs = await store.batches(chain, { to: seq, descending: true, limit: 1 });
  const rec = recs[0];
  if (!rec) return { status: 'none', detail: 'no batch statement covers it (unanchored)' };
  let parsed: BatchStatement | undefined;
  try {
    parsed = parseStrictJson(rec.statement) as BatchStatement;
  } catch {
    parsed = undefined;
  }
  if (!parsed || statementProblem(parsed)) return { status: 'BAD', detail: `the batch statement at ${rec.first_seq} is malformed` };
  if (seq >= parsed.first_seq + parsed.size) return { status: 'none', detail: 'no batch statement covers it (unanchored)' };
  if (!trusted) return { status: 'unchecked', statement: parsed, detail: `batch ${parsed.first_seq} (${parsed.size} entries); not checked: no trusted key given` };
  const v = checkStatement(p, rec, chain, trusted);
  if (!v.ok) return { status: 'BAD', statement: parsed, detail: v.detail };
  const entries = await store.range(chain, { from: parsed.first_seq, to: parsed.first_seq + parsed.size - 1 });
  const b = new BatchCheck(p, v.statement, false);
  for (const e of entries) b.add(e.digest);
  const rootProblem = entries.length === parsed.size ? b.rootProblem() : `the batch has ${entries.length} of its ${parsed.size} entries`;
  if (rootProblem) return { status: 'BAD', statement: parsed, detail: rootProblem };
  return { status: 'ok', statement: v.statement, detail: `batch ${parsed.first_seq} (${parsed.size} entries): statement signature and root ok` };
}

/**
 * A sample of a store (the newest items of each partition, as `rollout` reads them): every
 * statement verifies under a trusted key, every legacy entry's own signature verifies, every v3
 * entry's digest is its core's and a verified statement of the sample covers it; a batch whose
 * entries are all in the sample gets its root recomputed. Returns counts and the failures.
 */
export function verifySample(
  p: CryptoProvider,
  entries: readonly { chain: string; seq: number; core: string; digest: string; signature?: string; version: number; digestOk: boolean; legacyOk?: boolean }[],
  batches: readonly BatchRecord[],
  trusted: TrustedSigners,
): { verified: number; failures: string[] } {
  const failures: string[] = [];
  let verified = 0;
  const good = new Map<string, BatchStatement[]>();
  for (const b of batches) {
    const v = checkStatement(p, b, b.chain, trusted);
    if (!v.ok) failures.push(`batch statement ${b.chain}/${b.first_seq}: ${v.kind} (${v.detail})`);
    else {
      verified++;
      good.set(b.chain, [...(good.get(b.chain) ?? []), v.statement]);
    }
  }
  for (const e of entries) {
    if (!e.digestOk) failures.push(`audit entry ${e.chain}/${e.seq}: altered (the digest is not its core's)`);
    else if (e.version !== 3) {
      if (e.legacyOk) verified++;
      else failures.push(`audit entry ${e.chain}/${e.seq}: its ML-DSA-87 signature does not verify`);
    } else if (!(good.get(e.chain) ?? []).some((s) => e.seq >= s.first_seq && e.seq < s.first_seq + s.size)) {
      // the newest entries may be waiting for their group commit; older ones must be covered
      const newest = Math.max(...entries.filter((x) => x.chain === e.chain).map((x) => x.seq));
      if (e.seq < newest) failures.push(`audit entry ${e.chain}/${e.seq}: no verified batch statement covers it`);
    } else verified++;
  }
  for (const [chain, statements] of good) {
    for (const s of statements) {
      const of = entries.filter((e) => e.chain === chain && e.seq >= s.first_seq && e.seq < s.first_seq + s.size).sort((a, b) => a.seq - b.seq);
      if (of.length !== s.size) continue; // the sample holds part of the batch: its root is not recomputed here
      const b = new BatchCheck(p, s, false);
      for (const e of of) b.add(e.digest);
      const problem = b.rootProblem();
      if (problem) failures.push(`audit chain ${chain}: ${problem}`);
    }
  }
  return { verified, failures };
}
