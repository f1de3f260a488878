/**
 * The PCR side of `audit verify` (SPEC §6.3, §8.7): between two batches the PCR may move only by
 * extends some verified chain or the TPM event log explains (several workers on one host share its
 * PCR), and a chain's end must explain the PCR value the evidence (TPM, simulated bank or quote)
 * shows — otherwise its tail is missing. Split from audit-verify.ts, which verifies the entries.
 */
import type { AnchorBank } from '../protocol/anchor-math.js';
import type { ChainVerdict, PcrTransition } from './audit-verify.js';

/** Follows transitions from `from`; true when `to` is reachable (the PCR moved by explained extends only). */
export function reachable(transitions: readonly PcrTransition[], pcr: number, bank: AnchorBank, from: string, to: string): boolean {
  if (from === to) return true;
  const next = new Map<string, string[]>();
  for (const t of transitions) {
    if (t.pcr !== pcr || t.bank !== bank) continue;
    const l = next.get(t.from);
    if (l) l.push(t.to);
    else next.set(t.from, [t.to]);
  }
  const seen = new Set<string>([from]);
  const todo = [from];
  while (todo.length) {
    for (const v of next.get(todo.pop()!) ?? []) {
      if (v === to) return true;
      if (!seen.has(v)) {
        seen.add(v);
        todo.push(v);
      }
    }
  }
  return false;
}

/**
 * Resolves the PCR gaps between batches against every transition known (all chains verified
 * together — several workers on one host share its PCR — and the tpm event log). An unexplained
 * gap at a seq before the chain's own first problem becomes its problem.
 */
export function resolveGaps(verdict: ChainVerdict, transitions: readonly PcrTransition[]): void {
  for (const g of verdict.gaps) {
    if (verdict.problem && verdict.problem.seq <= g.seq) break;
    if (!reachable(transitions, g.pcr, g.bank, g.from, g.to)) {
      verdict.problem = {
        chain: verdict.chain,
        seq: g.seq,
        kind: 'pcr-mismatch',
        detail: `pcr ${g.pcr} (${g.bank}) changed before this batch by extends no audit entry or event log explains`,
      };
      return;
    }
  }
}

/** The PCR value the evidence (TPM, simulated bank or quote) shows. */
export interface PcrEvidence {
  source: string;
  values: { pcr: number; bank: AnchorBank; value: string }[];
}

export type PcrComparison =
  | { status: 'match'; source: string; value: string }
  | { status: 'mismatch'; source: string; value: string }
  | { status: 'not-compared'; reason: string };

/**
 * Compares the chain's end with the PCR's current value. The chain must explain the PCR: its last
 * `after`, moved on only by known transitions, must reach the value. Otherwise the tail is gone
 * (or the PCR was extended outside ima-qs): reported as `missing` at last + 1.
 */
export function compareWithPcr(
  verdict: ChainVerdict,
  evidence: PcrEvidence | undefined,
  transitions: readonly PcrTransition[],
  throughHead: boolean,
): PcrComparison {
  if (!evidence) return { status: 'not-compared', reason: 'no --tcti, --simulated or --quote given' };
  if (verdict.problem) return { status: 'not-compared', reason: 'the chain already failed' };
  if (!throughHead) return { status: 'not-compared', reason: '--to ends before the newest entry' };
  if (!verdict.pcr || verdict.last === undefined) return { status: 'not-compared', reason: 'no anchored entries' };
  const { index, bank, end } = verdict.pcr;
  const v = evidence.values.find((x) => x.pcr === index && x.bank === bank);
  if (!v) return { status: 'not-compared', reason: `${evidence.source} has no value for pcr ${index} ${bank}` };
  if (reachable(transitions, index, bank, end, v.value)) return { status: 'match', source: evidence.source, value: v.value };
  verdict.problem = {
    chain: verdict.chain,
    seq: verdict.last + 1,
    kind: 'missing',
    detail: `pcr ${index} (${bank}) from ${evidence.source} is past the chain's last anchor: entries after seq ${verdict.last} are missing (truncated tail), or the pcr was extended outside ima-qs`,
  };
  return { status: 'mismatch', source: evidence.source, value: v.value };
}
