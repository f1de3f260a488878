/**
 * Response format v2 (SPEC §8.10): every claim a response makes is signed or recomputable, with
 * one ML-DSA-87 signature per decision (plus one per group commit for the audit anchor).
 *
 *   vote      {persona, vote, confidence, rationale}                 a leaf of the votes tree
 *   decision  {v:2, request_digest, request_id, route, council, model, payload_digest, issued_at,
 *              votes_root, tally, outcome, signer}                  context ima-qs/v2/decision
 *     payload_digest  hex SHA3-256 of canonical {name, content}: what the client sent, which it
 *                     recomputes itself (the service never returns the content)
 *     votes_root      RFC 9162 Merkle root (SHA3-256) over the canonical JSON of each vote, in
 *                     the council's persona order: one vote can be shown alone with its proof
 *     tally, outcome  aggregation rule v2 (SPEC §8.3): a confident reject of a blocking persona
 *                     vetoes; otherwise quorum and a two-thirds majority as in v1
 *   response  {v:2, decision, signature, votes, signer:{alg, public_key, fingerprint},
 *              certification:{root, keyset}, audit:{entry, proof, batch:{statement, signature}}}
 *     certification   the offline root's public key and the key-set statement it signed that
 *                     certifies `signer` (keyset.ts): the response carries its whole trust chain,
 *                     so it verifies offline with the root pin alone
 */
import { canonicalBytes } from '../crypto/canonical-json.js';
import { fromHex, toBase64, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Signer } from '../crypto/signer.js';
import type { AuditCoreV3 } from './audit-core.js';
import type { SignedBatch } from './batch-statement.js';
import type { SignedKeySet } from './keyset.js';
import { allInclusionPaths, leafHash, rootFromLeafHashes } from './merkle.js';
import type { Route } from './request.js';
import type { Outcome } from './council/aggregate.js';
import { aggregateV2, type TallyV2 } from './council/aggregate-v2.js';
import { councilFor } from './council/rosters.js';
import type { CouncilId, PersonaVote } from './council/types.js';

export type VoteLeaf = PersonaVote;

export interface DecisionBodyV2 {
  v: 2;
  request_digest: string;
  request_id: string;
  route: Route;
  council: CouncilId;
  model: string;
  payload_digest: string;
  issued_at: string;
  votes_root: string;
  /** aggregation rule v2 (SPEC §8.3): the v1 counts plus the vetoes of blocking personas */
  tally: TallyV2;
  outcome: Outcome;
  signer: string;
}

export interface SignedDecisionV2 {
  decision: DecisionBodyV2;
  /** base64 ML-DSA-87, context ima-qs/v2/decision */
  signature: string;
  votes: VoteLeaf[];
}

/** An RFC 9162 inclusion proof: leaf index, tree size, sibling hashes from the leaf up (hex). */
export interface InclusionProof {
  index: number;
  size: number;
  path: string[];
}

export interface AuditBlockV2 {
  entry: AuditCoreV3;
  proof: InclusionProof;
  batch: SignedBatch;
}

export interface SignerBlock {
  alg: 'ML-DSA-87';
  public_key: string;
  fingerprint: string;
}

/** The root key (base64) and the key-set statement that certifies the signer (SPEC §8.10). */
export interface CertificationBlock {
  root: string;
  keyset: SignedKeySet;
}

export interface DecisionResponseV2 extends SignedDecisionV2 {
  v: 2;
  signer: SignerBlock;
  certification: CertificationBlock;
  audit: AuditBlockV2;
}

type Hash = Pick<CryptoProvider, 'sha3_256'>;

/** SHA3-256 of the canonical JSON of exactly {name, content} (SPEC §8.10.2). */
export function payloadDigest(p: Hash, payload: { name: string; content: string }): string {
  return toHex(p.sha3_256(canonicalBytes({ name: payload.name, content: payload.content })));
}

/** The vote as a leaf: exactly its four members, canonical. */
export function voteLeafBytes(v: VoteLeaf): Uint8Array {
  return canonicalBytes({ persona: v.persona, vote: v.vote, confidence: v.confidence, rationale: v.rationale });
}

export function voteLeafHashes(p: Hash, votes: readonly VoteLeaf[]): Uint8Array[] {
  return votes.map((v) => leafHash(p, voteLeafBytes(v)));
}

export function votesRoot(p: Hash, votes: readonly VoteLeaf[]): string {
  return toHex(rootFromLeafHashes(p, voteLeafHashes(p, votes)));
}

/** The inclusion proof of every vote (for export: one vote shown without the other 20). */
export function voteProofs(p: Hash, votes: readonly VoteLeaf[]): InclusionProof[] {
  const paths = allInclusionPaths(p, voteLeafHashes(p, votes));
  return paths.map((path, index) => ({ index, size: votes.length, path: path.map(toHex) }));
}

/** hex SHA3-256 of canonical {decision, signature}: what the audit entry records (same rule as v1). */
export function decisionDigestV2(p: Hash, d: Pick<SignedDecisionV2, 'decision' | 'signature'>): string {
  return toHex(p.sha3_256(canonicalBytes({ decision: d.decision, signature: d.signature })));
}

export interface DecideInputV2 {
  request_digest: string;
  request_id: string;
  route: Route;
  council: CouncilId;
  model: string;
  payload_digest: string;
  votes: PersonaVote[];
  issuedAt: string;
  signerFingerprint: string;
}

/** The unsigned decision over the votes (pure: what `signDecisionV2` signs). */
export function decisionBodyV2(p: Hash, input: DecideInputV2): { decision: DecisionBodyV2; votes: VoteLeaf[] } {
  const votes = input.votes.map((v) => ({ persona: v.persona, vote: v.vote, confidence: v.confidence, rationale: v.rationale }));
  const { tally: t, outcome } = aggregateV2(councilFor(input.route), votes);
  return {
    votes,
    decision: {
      v: 2,
      request_digest: input.request_digest,
      request_id: input.request_id,
      route: input.route,
      council: input.council,
      model: input.model,
      payload_digest: input.payload_digest,
      issued_at: input.issuedAt,
      votes_root: votesRoot(p, votes),
      tally: t,
      outcome,
      signer: input.signerFingerprint,
    },
  };
}

/** One signature per decision: the votes are bound by votes_root, not signed one by one. */
export async function signDecisionV2(p: Hash, signer: Signer, input: DecideInputV2): Promise<SignedDecisionV2> {
  const { decision, votes } = decisionBodyV2(p, input);
  const [sig] = await signer.signAll([{ purpose: 'decision2', value: decision }]);
  return { decision, signature: toBase64(sig), votes };
}

export function buildResponseV2(signed: SignedDecisionV2, signerPublicKey: Uint8Array, certification: CertificationBlock, audit: AuditBlockV2): DecisionResponseV2 {
  return {
    v: 2,
    decision: signed.decision,
    signature: signed.signature,
    votes: signed.votes,
    signer: { alg: 'ML-DSA-87', public_key: toBase64(signerPublicKey), fingerprint: signed.decision.signer },
    certification,
    audit,
  };
}

/** hex path elements back to bytes (a malformed proof throws: callers treat that as a "no"). */
export function proofPath(proof: InclusionProof): Uint8Array[] {
  return proof.path.map((h) => fromHex(h, 'proof path'));
}
