/**
 * One view of a decision response whatever its version, for what callers show and return:
 * outcome, tally, the votes as {persona, vote, confidence, rationale}, and where the decision sits
 * in the audit chain — with `authenticated` false for a v1 anchor, which nothing signs. Data only;
 * rendering stays with the callers. Call it on a document that verified.
 */
import type { DecisionResponse } from './decision.js';
import type { DecisionResponseV2, VoteLeaf } from './decision-v2.js';

export type AnyResponse = DecisionResponse | DecisionResponseV2;

export interface ResponseView {
  version: 1 | 2;
  outcome: string;
  route: string;
  requestDigest: string;
  signer: string;
  /** v1: six counts; v2: with the vetoes of aggregation rule v2 */
  tally: DecisionResponseV2['decision']['tally'] | DecisionResponse['decision']['tally'];
  votes: VoteLeaf[];
  anchor: { chain: string; seq: number; pcr: number; bank: string; simulated: boolean; authenticated: boolean };
}

export function isV2(r: AnyResponse): r is DecisionResponseV2 {
  return r.v === 2;
}

export function responseView(r: AnyResponse): ResponseView {
  const common = { outcome: r.decision.outcome, route: r.decision.route, requestDigest: r.decision.request_digest, signer: r.signer.fingerprint, tally: r.decision.tally };
  if (isV2(r)) {
    const st = r.audit.batch.statement;
    return {
      version: 2,
      ...common,
      votes: r.votes,
      anchor: { chain: r.audit.entry.chain, seq: r.audit.entry.seq, pcr: st.pcr.index, bank: st.pcr.bank, simulated: st.pcr.simulated, authenticated: true },
    };
  }
  return {
    version: 1,
    ...common,
    votes: r.votes.map((v) => v.body),
    anchor: { chain: r.audit.chain, seq: r.audit.seq, pcr: r.audit.pcr.index, bank: r.audit.pcr.bank, simulated: r.audit.pcr.simulated, authenticated: false },
  };
}

/** The anchor in words, the same everywhere (human output, the client, the page). */
export function anchorLabel(a: ResponseView['anchor']): string {
  const where = `chain ${a.chain} #${a.seq}, pcr ${a.pcr} ${a.bank}`;
  if (!a.authenticated) return `${where}: unauthenticated (v1 response)`;
  return a.simulated ? `${where}: SIMULATED bank, signed hash chain, no hardware anchor` : `${where}: TPM (signed batch statement)`;
}
