/**
 * Aggregation rule v2 (decision v2, SPEC §8.3). Pure: its inputs are the council's roster (static
 * data: persona ids in order and each persona's severity class) and the votes; a verifier
 * recomputes the tally and the outcome from the signed votes alone.
 *
 *   approve, reject, abstain   the votes of each choice
 *   cast     = approve + reject
 *   vetoes   = reject votes of `blocking` personas with confidence ≥ 700 (VETO_CONFIDENCE)
 *   outcome  = reject        if vetoes ≥ 1
 *              inconclusive  else if cast < 14 (QUORUM)
 *              approve       else if 3·approve ≥ 2·cast
 *              reject        otherwise
 *
 * Why: under v1 personas that find nothing in their own domain approve and outvote the one that
 * found a real weakness (eval, shell injection, a hard-coded password…): a single finding of a
 * high-severity kind must decide on its own. The veto is confined to the personas whose domain is
 * such a kind (roster data, not a vote member, so no model can grant itself a veto) and to
 * confident rejections, so a weak signal (an MD5 checksum, a literal `os.system("clear")`) stays
 * one vote among 21. Everything else keeps v1's quorum and two-thirds supermajority.
 */
import { InputError } from '../../errors.js';
import { QUORUM, SUPERMAJORITY, type Outcome } from './aggregate.js';
import type { Council, PersonaVote } from './types.js';

export const VETO_CONFIDENCE = 700;

/** The v2 tally: integers only (canonical JSON never meets a float). */
export interface TallyV2 {
  approve: number;
  reject: number;
  abstain: number;
  cast: number;
  quorum: number;
  /** the approvals needed without a veto: ⌈2·cast/3⌉ */
  needed: number;
  vetoes: number;
  veto_confidence: number;
}

export function aggregateV2(council: Council, votes: readonly Pick<PersonaVote, 'persona' | 'vote' | 'confidence'>[]): { tally: TallyV2; outcome: Outcome } {
  const severity = new Map(council.personas.map((p) => [p.id, p.severity] as const));
  const t = { approve: 0, reject: 0, abstain: 0 };
  let vetoes = 0;
  for (const v of votes) {
    const s = severity.get(v.persona);
    /* Precondition: the votes are of this council's personas, with a valid choice and confidence */
    if (s === undefined) throw new InputError('VOTE_UNKNOWN_PERSONA', `${v.persona} is not a persona of ${council.id}`);
    if (v.vote !== 'approve' && v.vote !== 'reject' && v.vote !== 'abstain') throw new InputError('VOTE_INVALID', `vote of ${v.persona} is not approve, reject or abstain`);
    if (!Number.isInteger(v.confidence) || v.confidence < 0 || v.confidence > 1000) throw new InputError('VOTE_INVALID', `confidence of ${v.persona} is not an integer 0..1000`);
    t[v.vote]++;
    if (v.vote === 'reject' && s === 'blocking' && v.confidence >= VETO_CONFIDENCE) vetoes++;
  }
  const cast = t.approve + t.reject;
  const tally: TallyV2 = {
    ...t,
    cast,
    quorum: QUORUM,
    needed: Math.ceil((SUPERMAJORITY.num * cast) / SUPERMAJORITY.den),
    vetoes,
    veto_confidence: VETO_CONFIDENCE,
  };
  return { tally, outcome: outcomeV2(tally) };
}

/** The outcome from a v2 tally (the tally's own parameters; a verifier checks them against the rule's). */
export function outcomeV2(t: TallyV2): Outcome {
  if (t.vetoes > 0) return 'reject';
  if (t.cast < t.quorum) return 'inconclusive';
  return SUPERMAJORITY.den * t.approve >= SUPERMAJORITY.num * t.cast ? 'approve' : 'reject';
}
