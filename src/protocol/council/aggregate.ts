/**
 * The aggregation rule (SPEC §8.3), pure so that a verifier recomputes it from the signed votes:
 *
 *   cast     = approve + reject                      (abstentions do not count)
 *   quorum   = cast ≥ 14                             (two thirds of 21 personas take a side)
 *   approve  iff quorum and 3·approve ≥ 2·cast       (a two-thirds supermajority of cast votes)
 *   reject   iff quorum and not approve
 *   inconclusive iff no quorum
 */
import type { PersonaVote } from './types.js';

export const QUORUM = 14;
/** supermajority as a fraction num/den of cast votes */
export const SUPERMAJORITY = { num: 2, den: 3 } as const;

export type Outcome = 'approve' | 'reject' | 'inconclusive';

export interface Tally {
  approve: number;
  reject: number;
  abstain: number;
  cast: number;
  quorum: number;
  /** the approvals needed: ⌈2·cast/3⌉ */
  needed: number;
}

export function tally(votes: readonly Pick<PersonaVote, 'vote'>[]): Tally {
  const t = { approve: 0, reject: 0, abstain: 0 };
  for (const v of votes) t[v.vote]++;
  const cast = t.approve + t.reject;
  return { ...t, cast, quorum: QUORUM, needed: Math.ceil((SUPERMAJORITY.num * cast) / SUPERMAJORITY.den) };
}

export function outcome(t: Tally): Outcome {
  if (t.cast < t.quorum) return 'inconclusive';
  return SUPERMAJORITY.den * t.approve >= SUPERMAJORITY.num * t.cast ? 'approve' : 'reject';
}
