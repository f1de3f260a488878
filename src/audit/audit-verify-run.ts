/**
 * `audit verify` end to end: reads every chain a page at a time through the `AuditStore` port,
 * feeds the pure `ChainVerifier`, then settles the PCR questions that need all chains at once
 * (gaps between batches explained by other chains or the event log, and the chain's end against
 * the TPM / simulated bank / quote). Reading the evidence is the caller's (a callback), so this
 * file stays free of TPM and AWS code.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { AnchorBank } from '../protocol/anchor-math.js';
import { entryDigest, parseCore } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';
import { pages } from './audit-store.js';
import type { BatchRecord } from './audit-entry.js';
import {
  ChainVerifier,
  type ChainVerdict,
  type PcrComparison,
  type PcrEvidence,
  type PcrTransition,
  type TrustedSigners,
  compareWithPcr,
  resolveGaps,
} from './audit-verify.js';
import { checkAgainstStore, type CheckpointAssessment, type CheckpointStanding } from './checkpoint-verify.js';

export interface VerifyRunOptions {
  chains: string[];
  from?: number;
  to?: number;
  trusted: TrustedSigners;
  /** transitions from a tpm event log */
  extraTransitions?: PcrTransition[];
  /** reads the PCR values the chains end in (undefined: no evidence given) */
  evidence: (wanted: { pcr: number; bank: AnchorBank }[]) => Promise<PcrEvidence | undefined>;
  /** progress: entries done of total (total may grow chain by chain) */
  onProgress?: (done: number, total: number) => void;
  pageSize?: number;
  /** the checkpoint store, judged (SPEC §8.11); undefined: chains are not compared with checkpoints */
  checkpoints?: CheckpointAssessment;
  /** for the age of what is not yet checkpointed (default Date.now()) */
  now?: number;
}

export interface ChainResult {
  verdict: ChainVerdict;
  pcr: PcrComparison;
  /** the newest seq in the store (undefined: empty chain) */
  head?: number;
  /** with a checkpoint store: the chain's registration and where its checkpoints stand */
  checkpoints?: { registered: boolean } & CheckpointStanding;
}

export interface VerifyRunResult {
  results: ChainResult[];
  evidence?: PcrEvidence;
}

/**
 * The batch statements of a chain in first_seq order, read a page at a time as the entries need
 * them: first the one that covers `from` (it may start before it), then every later one.
 */
function batchCursor(store: AuditStore, chain: string, from: number, pageSize = 256) {
  let next = from;
  let started = false;
  let done = false;
  return {
    async upTo(seq: number): Promise<BatchRecord[]> {
      const out: BatchRecord[] = [];
      if (!started) {
        started = true;
        if (from > 0) out.push(...(await store.batches(chain, { to: from, descending: true, limit: 1 })));
        next = from + (from > 0 ? 1 : 0);
      }
      while (!done && next <= seq) {
        const page = await store.batches(chain, { from: next, to: seq, limit: pageSize });
        out.push(...page);
        if (page.length < pageSize) next = seq + 1;
        else next = page[page.length - 1].first_seq + 1;
        if (page.length === 0 && seq === Number.MAX_SAFE_INTEGER) done = true;
      }
      return out;
    },
  };
}

/** How many entries of a chain's unanchored tail are looked up in the other chains (SPEC §8.7). */
const SUPERSEDED_TAIL_MAX = 1000;
const REQUEST_DIGEST = /"request_digest":"([0-9a-f]{64})"/;
const STATEMENT_SIZE = /"size":([0-9]{1,6})[,}]/;

/**
 * The request digests of each chain's unanchored tail (entries after its last batch statement), so
 * the verification pass can notice where else they were decided (`unanchored-superseded`).
 */
async function unanchoredTails(store: AuditStore, chains: readonly string[], heads: Map<string, number | undefined>): Promise<Map<string, Map<number, string>>> {
  const out = new Map<string, Map<number, string>>();
  for (const chain of chains) {
    const head = heads.get(chain);
    if (head === undefined) continue;
    const [last] = await store.batches(chain, { descending: true, limit: 1 });
    let covered = -1;
    if (last) {
      const size = STATEMENT_SIZE.exec(last.statement);
      covered = last.first_seq + (size ? Number(size[1]) : 1) - 1;
    }
    if (head <= covered || head - covered > SUPERSEDED_TAIL_MAX) continue;
    const tail = new Map<number, string>();
    for (const rec of await store.range(chain, { from: covered + 1, to: head })) {
      const m = REQUEST_DIGEST.exec(rec.core);
      if (m) tail.set(rec.seq, m[1]);
    }
    if (tail.size) out.set(chain, tail);
  }
  return out;
}

export async function verifyStore(p: CryptoProvider, store: AuditStore, o: VerifyRunOptions): Promise<VerifyRunResult> {
  const from = o.from ?? 0;
  const heads = new Map<string, number | undefined>();
  let total = 0;
  for (const chain of o.chains) {
    const [newest] = await store.range(chain, { descending: true, limit: 1 });
    heads.set(chain, newest?.seq);
    if (newest) total += Math.max(0, Math.min(o.to ?? newest.seq, newest.seq) - from + 1);
  }
  // the unanchored tails' requests, and where another chain holds a verified entry of them
  const tails = await unanchoredTails(store, o.chains, heads);
  const lookFor = new Set([...tails.values()].flatMap((t) => [...t.values()]));
  const decidedIn = new Map<string, { chain: string; seq: number }>();
  let done = 0;
  const verdicts: { verdict: ChainVerdict; throughHead: boolean; head?: number }[] = [];
  for (const chain of o.chains) {
    let prevDigest: string | undefined;
    if (from > 0) {
      const before = await store.get(chain, from - 1);
      if (before) {
        try {
          prevDigest = entryDigest(p, parseCore(before));
        } catch {
          prevDigest = undefined; // a malformed predecessor is outside the range: the link is not checked
        }
      }
    }
    const v = new ChainVerifier(p, chain, o.trusted, { from, prevDigest });
    const statements = batchCursor(store, chain, from, o.pageSize);
    outer: for await (const page of pages(store, chain, from, o.to, o.pageSize)) {
      // the statements that start within (or before) this page come before its entries
      for (const b of await statements.upTo(page[page.length - 1].seq)) v.pushBatch(b);
      for (const rec of page) {
        if (!v.push(rec)) break outer;
        done += 1;
        if (lookFor.size > 0 && !tails.get(chain)?.has(rec.seq)) {
          const m = REQUEST_DIGEST.exec(rec.core);
          if (m && lookFor.has(m[1]) && !decidedIn.has(m[1])) decidedIn.set(m[1], { chain, seq: rec.seq });
        }
      }
      o.onProgress?.(done, total);
    }
    // statements beyond the last stored entry (their entries were deleted) tell of a truncated tail
    if (!v.failed && (o.to === undefined || (heads.get(chain) ?? -1) <= o.to)) for (const b of await statements.upTo(o.to ?? Number.MAX_SAFE_INTEGER)) v.pushBatch(b);
    o.onProgress?.(done, total);
    const head = heads.get(chain);
    const throughHead = o.to === undefined || head === undefined || o.to >= head;
    verdicts.push({ verdict: v.finish(throughHead), throughHead, head });
  }

  supersede(verdicts.map((x) => x.verdict), tails, decidedIn, heads);
  const transitions = [...verdicts.flatMap((x) => x.verdict.transitions), ...(o.extraTransitions ?? [])];
  for (const x of verdicts) resolveGaps(x.verdict, transitions);
  const wanted = verdicts.filter((x) => x.verdict.pcr && !x.verdict.problem).map((x) => ({ pcr: x.verdict.pcr!.index, bank: x.verdict.pcr!.bank }));
  const evidence = await o.evidence(wanted);
  const results: ChainResult[] = verdicts.map((x) => ({
    verdict: x.verdict,
    pcr: compareWithPcr(x.verdict, evidence, transitions, x.throughHead),
    ...(x.head !== undefined ? { head: x.head } : {}),
  }));
  if (o.checkpoints) {
    for (const r of results) r.checkpoints = await againstCheckpoints(p, store, r, o.checkpoints, from === 0 && (o.to === undefined || (r.head ?? -1) <= o.to), o.now ?? Date.now());
  }
  return { results, ...(evidence ? { evidence } : {}) };
}

/**
 * An unanchored tail every entry of which was decided again in another chain that verified whole:
 * the audit claim of its (dead) worker was taken over (SPEC §8.7). Reported as its own kind.
 */
function supersede(
  verdicts: ChainVerdict[],
  tails: Map<string, Map<number, string>>,
  decidedIn: Map<string, { chain: string; seq: number }>,
  heads: Map<string, number | undefined>,
): void {
  const sound = new Set(verdicts.filter((v) => !v.problem).map((v) => v.chain));
  for (const v of verdicts) {
    const pr = v.problem;
    const tail = tails.get(v.chain);
    if (!pr || pr.kind !== 'unanchored' || !tail) continue;
    const entries = [...tail.entries()].filter(([seq]) => seq >= pr.seq);
    // every entry from the first unanchored one to the head, none without its request digest
    if (entries.length === 0 || entries.length !== (heads.get(v.chain) ?? -1) - pr.seq + 1) continue;
    const where = entries.map(([, d]) => decidedIn.get(d));
    if (where.some((w) => !w || w.chain === v.chain || !sound.has(w.chain))) continue;
    v.problem = {
      ...pr,
      kind: 'unanchored-superseded',
      detail: `no batch statement covers entries ${pr.seq} to ${entries[entries.length - 1][0]}, and each of their requests was decided again from another chain (${where
        .slice(0, 3)
        .map((w) => `${w!.chain}/${w!.seq}`)
        .join(', ')}${where.length > 3 ? ', …' : ''}): their worker stopped before anchoring them and its audit claims were taken over; these entries' decisions were never released`,
    };
  }
}

/**
 * SPEC §8.11: the chain's registration and checkpoints. The first problem by seq wins (the chain
 * verifier's on a tie: it is the more precise); checkpoints are compared only for a whole chain.
 */
async function againstCheckpoints(p: CryptoProvider, store: AuditStore, r: ChainResult, a: CheckpointAssessment, whole: boolean, now: number): Promise<{ registered: boolean } & CheckpointStanding> {
  const chain = r.verdict.chain;
  const cc = a.chains.get(chain);
  const registered = Boolean(cc?.registration);
  const found: (ChainVerdict['problem'] | undefined)[] = [r.verdict.problem, cc?.problem];
  if (!registered && !cc?.problem) found.push({ chain, seq: 0, kind: 'unregistered', detail: `chain ${chain} is not registered in ${a.label}: no registration was written for it, or it was deleted` });
  const standing: CheckpointStanding = whole ? await checkAgainstStore(p, store, chain, cc?.checkpoints ?? [], r.head, now) : {};
  found.push(standing.problem);
  const first = found.filter((x): x is NonNullable<typeof x> => x !== undefined).sort((x, y) => x.seq - y.seq)[0];
  if (first && first !== r.verdict.problem) {
    r.verdict.problem = first;
    if (r.pcr.status === 'match') r.pcr = { status: 'not-compared', reason: 'the chain already failed' };
  }
  return { registered, ...standing };
}
