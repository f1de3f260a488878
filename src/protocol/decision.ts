/**
 * The decision document and the response the client receives (SPEC §8.4, §8.5).
 *
 *   vote      {v, request_digest, council, model, persona, vote, confidence, rationale}
 *             signed with context "ima-qs/v1/vote" over its RFC 8785 bytes
 *   decision  {v, request_digest, request_id, route, council, model, issued_at,
 *              votes_digest, tally, outcome, signer}
 *             signed with context "ima-qs/v1/decision"; votes_digest binds the signed votes
 *   response  {v, decision, signature, votes:[{body, signature}], signer:{alg, public_key,
 *              fingerprint}, audit:{…anchor…}}
 *
 * The response is sealed (SPEC §4) to the client's ephemeral reply key and stored; the client
 * opens it and verifies with `verifyResponse` (response-verify.ts) against its pinned fingerprint.
 */
import { canonicalBytes } from '../crypto/canonical-json.js';
import { toBase64, toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Route } from './request.js';
import { outcome, tally, type Outcome, type Tally } from './council/aggregate.js';
import type { CouncilId, PersonaVote } from './council/types.js';
import type { Signer } from '../crypto/signer.js';

export interface VoteBody extends PersonaVote {
  v: 1;
  request_digest: string;
  council: CouncilId;
  /** the PersonaModel that produced it ("rules/v1" for decisions before rules/v2, "http") */
  model: string;
}

export interface SignedVote {
  body: VoteBody;
  /** base64 ML-DSA-87 signature, context ima-qs/v1/vote */
  signature: string;
}

export interface DecisionBody {
  v: 1;
  request_digest: string;
  request_id: string;
  route: Route;
  council: CouncilId;
  model: string;
  /** RFC 3339 UTC, when the worker decided */
  issued_at: string;
  /** hex SHA3-256 of the canonical JSON of the `votes` array (signed votes, persona order) */
  votes_digest: string;
  tally: Tally;
  outcome: Outcome;
  /** fingerprint of the signing ML-DSA-87 key (SPEC §1: SHA3-256 of its SPKI DER) */
  signer: string;
}

export interface SignedDecision {
  decision: DecisionBody;
  /** base64 ML-DSA-87 signature, context ima-qs/v1/decision */
  signature: string;
  votes: SignedVote[];
}

/** Where the decision sits in the audit chain and the PCR (SPEC §8.5, §9 audit entry). */
export interface AuditAnchorRef {
  chain: string;
  seq: number;
  /** hex SHA3-256 of the audit entry's canonical core */
  entry_digest: string;
  /** hex SHA3-256 of canonical {decision, signature}: what the audit entry records */
  decision_digest: string;
  pcr: {
    index: number;
    bank: 'sha256' | 'sha384';
    /** hex PCR value before and after the group-commit extend */
    before: string;
    after: string;
    /** true when the bank is the labelled simulated one, not a TPM */
    simulated: boolean;
  };
  /** the group commit: after = H(before ‖ batchDigest(entry_digests)) (SPEC §6.3) */
  batch: { id: number; size: number; index: number; entry_digests: string[] };
}

export interface DecisionResponse extends SignedDecision {
  v: 1;
  signer: { alg: 'ML-DSA-87'; public_key: string; fingerprint: string };
  audit: AuditAnchorRef;
}

export function votesDigest(p: Pick<CryptoProvider, 'sha3_256'>, votes: readonly SignedVote[]): string {
  return toHex(p.sha3_256(canonicalBytes(votes)));
}

export function decisionDigest(p: Pick<CryptoProvider, 'sha3_256'>, d: Pick<SignedDecision, 'decision' | 'signature'>): string {
  return toHex(p.sha3_256(canonicalBytes({ decision: d.decision, signature: d.signature })));
}

export interface DecideInput {
  request_digest: string;
  request_id: string;
  route: Route;
  council: CouncilId;
  model: string;
  votes: PersonaVote[];
  issuedAt: string;
  signerFingerprint: string;
}

/**
 * Signs every vote, then the decision over the tally and the votes' digest. The signer may run
 * the 21 vote signatures in parallel; the decision signature needs votes_digest, so it comes last.
 */
export async function signDecision(p: CryptoProvider, signer: Signer, input: DecideInput): Promise<SignedDecision> {
  const bodies: VoteBody[] = input.votes.map((v) => ({
    v: 1,
    request_digest: input.request_digest,
    council: input.council,
    model: input.model,
    persona: v.persona,
    vote: v.vote,
    confidence: v.confidence,
    rationale: v.rationale,
  }));
  const sigs = await signer.signAll(bodies.map((value) => ({ purpose: 'vote' as const, value })));
  const votes = bodies.map((body, i) => ({ body, signature: toBase64(sigs[i]) }));
  const t = tally(input.votes);
  const decision: DecisionBody = {
    v: 1,
    request_digest: input.request_digest,
    request_id: input.request_id,
    route: input.route,
    council: input.council,
    model: input.model,
    issued_at: input.issuedAt,
    votes_digest: votesDigest(p, votes),
    tally: t,
    outcome: outcome(t),
    signer: input.signerFingerprint,
  };
  const [sig] = await signer.signAll([{ purpose: 'decision', value: decision }]);
  return { decision, signature: toBase64(sig), votes };
}

export function buildResponse(signed: SignedDecision, signerPublicKey: Uint8Array, audit: AuditAnchorRef): DecisionResponse {
  return {
    v: 1,
    decision: signed.decision,
    signature: signed.signature,
    votes: signed.votes,
    signer: { alg: 'ML-DSA-87', public_key: toBase64(signerPublicKey), fingerprint: signed.decision.signer },
    audit,
  };
}

