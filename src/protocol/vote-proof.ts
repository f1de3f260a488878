/**
 * One vote on its own (SPEC §8.10.7): a persona's vote with its RFC 9162 inclusion proof under the
 * signed decision's votes_root, so it can be shown and verified without revealing the other 20.
 *
 *   {format:"ima-qs/v2/vote", decision, signature, signer:{alg, public_key, fingerprint},
 *    certification:{root, keyset}, vote:{persona, vote, confidence, rationale}, proof:{index, size, path}}
 *
 * Checks: format · signer key (root pin → key-set statement → signer, as for a response) · decision signature (ima-qs/v2/decision) · vote in decision
 * (index = the persona's place in the council roster, size = the roster's size, the leaf's proof
 * leads to votes_root).
 */
import { fromBase64 } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { voteLeafBytes, voteProofs, type CertificationBlock, type DecisionBodyV2, type DecisionResponseV2, type InclusionProof, type SignerBlock, type VoteLeaf } from './decision-v2.js';
import { leafHash } from './merkle.js';
import { CheckRows, certificationProblem, certifiedSigner, type ResponseVerification, type TrustAnchor } from './verify-rows.js';
import { decisionV2Problem, includes, proofProblem, voteProblem } from './response-verify-v2.js';
import { exactProblem, isObj } from './shape.js';
import { councilFor } from './council/rosters.js';

export const VOTE_FORMAT = 'ima-qs/v2/vote';
const KEYS = ['format', 'decision', 'signature', 'signer', 'certification', 'vote', 'proof'] as const;

export interface VoteDocument {
  format: typeof VOTE_FORMAT;
  decision: DecisionBodyV2;
  signature: string;
  signer: SignerBlock;
  certification: CertificationBlock;
  vote: VoteLeaf;
  proof: InclusionProof;
}

export function isVoteDocument(x: unknown): boolean {
  return isObj(x) && x.format === VOTE_FORMAT;
}

/** Exports one persona's vote from a v2 response (the response should have verified first). */
export function exportVote(p: CryptoProvider, r: DecisionResponseV2, persona: string): VoteDocument | undefined {
  const i = r.votes.findIndex((v) => v.persona === persona);
  if (i < 0) return undefined;
  return { format: VOTE_FORMAT, decision: r.decision, signature: r.signature, signer: r.signer, certification: r.certification, vote: r.votes[i], proof: voteProofs(p, r.votes)[i] };
}

export function voteDocumentProblem(x: unknown): string | undefined {
  const e = exactProblem(x, KEYS, 'the vote document');
  if (e) return e;
  const o = x as Record<string, unknown>;
  if (o.format !== VOTE_FORMAT) return `format is not ${VOTE_FORMAT}`;
  const de = decisionV2Problem(o.decision);
  if (de) return de;
  if (typeof o.signature !== 'string') return 'signature is not base64 text';
  const s = o.signer;
  if (exactProblem(s, ['alg', 'public_key', 'fingerprint'], 'signer') || !isObj(s) || s.alg !== 'ML-DSA-87' || typeof s.public_key !== 'string') {
    return 'signer is not {alg: ML-DSA-87, public_key, fingerprint}';
  }
  return certificationProblem(o.certification) ?? voteProblem(o.vote, 0) ?? proofProblem(o.proof, 'proof');
}

export function verifyVoteDocument(p: CryptoProvider, doc: unknown, trust: TrustAnchor, opts: { minGeneration?: number; stillCertified?: readonly string[] } = {}): ResponseVerification {
  const rows = new CheckRows();
  const problem = voteDocumentProblem(doc);
  rows.add('format', !problem, problem ?? 'one vote of a version 2 decision, with its inclusion proof');
  if (problem) return { ok: false, version: 2, anchor: 'none', checks: rows.rows };
  const v = doc as VoteDocument;
  const signer = certifiedSigner(p, v.certification, v.signer.public_key, trust, [v.signer.fingerprint, v.decision.signer], {
    at: Date.parse(v.decision.issued_at),
    minGeneration: opts.minGeneration,
    stillCertified: opts.stillCertified,
  });
  rows.add('signer key', signer.ok, signer.detail);
  let sigOk = false;
  try {
    sigOk = signer.key !== undefined && verifyJson(p, signer.key, 'decision2', v.decision, fromBase64(v.signature, 'signature'));
  } catch {
    sigOk = false;
  }
  rows.add('decision signature', sigOk, signer.key ? 'ML-DSA-87, context ima-qs/v2/decision' : 'not checked: the signer key is not trusted');
  const council = councilFor(v.decision.route);
  const at = council.personas.findIndex((x) => x.id === v.vote.persona);
  let problemIn: string | undefined;
  if (v.decision.council !== council.id) problemIn = `council ${v.decision.council} does not serve route ${v.decision.route}`;
  else if (at < 0) problemIn = `${v.vote.persona} is not a persona of ${council.id}`;
  else if (v.proof.index !== at || v.proof.size !== council.personas.length) problemIn = `the proof is for index ${v.proof.index} of ${v.proof.size}; ${v.vote.persona} is ${at} of ${council.personas.length}`;
  else if (!includes(p, leafHash(p, voteLeafBytes(v.vote)), v.proof, v.decision.votes_root)) problemIn = 'the inclusion proof does not lead to the signed votes_root';
  rows.add('vote in decision', !problemIn, problemIn ?? `${v.vote.persona} (${v.vote.vote}, ${v.vote.confidence}‰) is leaf ${at} of the ${council.personas.length} votes under votes_root`);
  return { ok: rows.ok, version: 2, anchor: 'none', checks: rows.rows, ...(signer.generation !== undefined ? { generation: signer.generation } : {}) };
}
