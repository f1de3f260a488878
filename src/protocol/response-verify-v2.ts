/**
 * The checks of a version 2 decision response (SPEC §8.10.6). Every row is a signature or a value
 * recomputed from signed ones:
 *
 *   format              exactly the members of §8.10, types and bounds
 *   signer key          pin → root key → key-set statement (root-signed, valid at issued_at, not
 *                       a rollback) → the certified decisions signer; every signer fingerprint names it
 *   decision signature  ML-DSA-87, context ima-qs/v2/decision
 *   votes root          the Merkle root of the 21 votes (one per persona of the route's council,
 *                       in roster order) is the signed votes_root
 *   tally, aggregation rule    recounted and recomputed from the votes
 *   payload digest      = SHA3-256 of the canonical {name, content} the caller sent (when known)
 *   request digest      = the handle the caller sent (when known)
 *   audit entry         the entry's digest recomputed; it records this decision and request
 *   batch signature     the batch statement, ML-DSA-87, context ima-qs/v2/batch, same signer
 *   entry in batch      the entry digest's RFC 9162 inclusion proof against entries_root
 *   pcr anchor          after = H_bank(before ‖ B(size, entries_root)); SIMULATED or TPM
 */
import { fromBase64, fromHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { coreV3Digest, coreV3Problem } from './audit-core.js';
import { signedBatchProblem, statementAddsUp } from './batch-statement.js';
import { decisionDigestV2, proofPath, votesRoot, type DecisionResponseV2, type InclusionProof } from './decision-v2.js';
import { leafHash, MAX_PATH, verifyInclusion } from './merkle.js';
import { isRoute } from './request.js';
import { CheckRows, certificationProblem, certifiedSigner, type ResponseVerification, type TrustAnchor, type VerifyResponseOptions } from './verify-rows.js';
import { HEX64, exactProblem, isIsoTime, isNat, isObj, orUndefined } from './shape.js';
import { aggregateV2, VETO_CONFIDENCE } from './council/aggregate-v2.js';
import { councilFor } from './council/rosters.js';
import { MAX_RATIONALE_CHARS, VOTE_CHOICES } from './council/types.js';

const RESPONSE_KEYS = ['v', 'decision', 'signature', 'votes', 'signer', 'certification', 'audit'] as const;
const DECISION_KEYS = ['v', 'request_digest', 'request_id', 'route', 'council', 'model', 'payload_digest', 'issued_at', 'votes_root', 'tally', 'outcome', 'signer'] as const;
const TALLY_KEYS = ['approve', 'reject', 'abstain', 'cast', 'quorum', 'needed', 'vetoes', 'veto_confidence'] as const;
const VOTE_KEYS = ['persona', 'vote', 'confidence', 'rationale'] as const;
const SIGNER_KEYS = ['alg', 'public_key', 'fingerprint'] as const;
const AUDIT_KEYS = ['entry', 'proof', 'batch'] as const;
const PROOF_KEYS = ['index', 'size', 'path'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function voteProblem(v: unknown, i: number): string | undefined {
  const e = exactProblem(v, VOTE_KEYS, `vote ${i}`);
  if (e) return e;
  const b = v as Record<string, unknown>;
  if (typeof b.persona !== 'string' || b.persona.length > 64) return `vote ${i} persona is not an id`;
  if (!(VOTE_CHOICES as readonly unknown[]).includes(b.vote)) return `vote ${i} is not approve, reject or abstain`;
  if (!isNat(b.confidence, 1000)) return `vote ${i} confidence is not an integer 0..1000`;
  if (typeof b.rationale !== 'string' || b.rationale.length > MAX_RATIONALE_CHARS) return `vote ${i} rationale is not text of at most ${MAX_RATIONALE_CHARS} characters`;
  return undefined;
}

export function proofProblem(x: unknown, what: string): string | undefined {
  const e = exactProblem(x, PROOF_KEYS, what);
  if (e) return e;
  const pr = x as Record<string, unknown>;
  if (!isNat(pr.index) || !isNat(pr.size) || !Array.isArray(pr.path) || pr.path.length > MAX_PATH) return `${what} is not {index, size, path ≤ ${MAX_PATH}}`;
  if (!pr.path.every((h) => typeof h === 'string' && HEX64.test(h))) return `${what} path is not 64-hex-digit hashes`;
  return undefined;
}

/** The decision body's shape (shared with the vote export, vote-proof.ts). */
export function decisionV2Problem(d: unknown): string | undefined {
  const e = exactProblem(d, DECISION_KEYS, 'decision');
  if (e) return e;
  const o = d as Record<string, unknown>;
  if (o.v !== 2) return 'decision is not version 2';
  for (const k of ['request_digest', 'payload_digest', 'votes_root', 'signer']) if (typeof o[k] !== 'string' || !HEX64.test(o[k] as string)) return `decision.${k} is not 64 hex digits`;
  if (typeof o.route !== 'string' || !isRoute(o.route)) return 'decision.route is unknown';
  if (typeof o.request_id !== 'string' || !UUID.test(o.request_id)) return 'decision.request_id is not a lowercase UUID';
  if (typeof o.council !== 'string' || typeof o.model !== 'string' || o.model.length > 64) return 'decision lacks its council or model';
  if (!isIsoTime(o.issued_at)) return 'decision.issued_at is not an RFC 3339 UTC time with milliseconds';
  const te = exactProblem(o.tally, TALLY_KEYS, 'decision.tally');
  if (te || !TALLY_KEYS.every((k) => isNat((o.tally as Record<string, unknown>)[k]))) return `decision.tally is not {${TALLY_KEYS.join(', ')}} of whole numbers`;
  if (typeof o.outcome !== 'string') return 'decision lacks its outcome';
  return undefined;
}

export function responseV2Problem(r: unknown): string | undefined {
  const e = exactProblem(r, RESPONSE_KEYS, 'the response');
  if (e) return e;
  const o = r as Record<string, unknown>;
  if (o.v !== 2) return 'not a version 2 response';
  const de = decisionV2Problem(o.decision);
  if (de) return de;
  if (typeof o.signature !== 'string') return 'signature is not base64 text';
  const route = (o.decision as { route: 'analyze' | 'patents' }).route;
  const size = councilFor(route).personas.length;
  if (!Array.isArray(o.votes) || o.votes.length > size) return `votes is not an array of at most the ${size} personas of the ${route} council`;
  for (const [i, v] of o.votes.entries()) {
    const ve = voteProblem(v, i);
    if (ve) return ve;
  }
  const s = o.signer;
  if (exactProblem(s, SIGNER_KEYS, 'signer') || !isObj(s) || s.alg !== 'ML-DSA-87' || typeof s.public_key !== 'string' || typeof s.fingerprint !== 'string') {
    return 'signer is not {alg: ML-DSA-87, public_key, fingerprint}';
  }
  const ce = certificationProblem(o.certification);
  if (ce) return ce;
  const ae = exactProblem(o.audit, AUDIT_KEYS, 'audit');
  if (ae) return ae;
  const a = o.audit as Record<string, unknown>;
  return coreV3Problem(a.entry) ?? proofProblem(a.proof, 'audit.proof') ?? signedBatchProblem(a.batch);
}

/** RFC 9162 inclusion of a leaf hash under a hex root; a malformed proof is a "no". */
export function includes(p: CryptoProvider, leaf: Uint8Array, proof: InclusionProof, rootHex: string): boolean {
  const path = orUndefined(() => proofPath(proof));
  return path !== undefined && verifyInclusion(p, leaf, proof.index, proof.size, path, fromHex(rootHex));
}

export function verifyResponseV2(p: CryptoProvider, response: unknown, trust: TrustAnchor, opts: VerifyResponseOptions = {}): ResponseVerification {
  const rows = new CheckRows();
  const problem = responseV2Problem(response);
  rows.add('format', !problem, problem ?? 'a version 2 decision response');
  if (problem) return { ok: false, version: 2, anchor: 'none', checks: rows.rows };
  const r = response as DecisionResponseV2;
  const d = r.decision;
  const st = r.audit.batch.statement;

  const signer = certifiedSigner(p, r.certification, r.signer.public_key, trust, [r.signer.fingerprint, d.signer, st.signer], {
    at: Date.parse(d.issued_at),
    minGeneration: opts.minGeneration,
    stillCertified: opts.stillCertified,
  });
  rows.add('signer key', signer.ok, signer.detail);
  const key = signer.key;
  const sigOk = (purpose: 'decision2' | 'batch', value: unknown, sig: string) => {
    if (!key) return false;
    try {
      return verifyJson(p, key, purpose, value, fromBase64(sig, 'signature'));
    } catch {
      return false;
    }
  };
  rows.add('decision signature', sigOk('decision2', d, r.signature), key ? 'ML-DSA-87, context ima-qs/v2/decision' : 'not checked: the signer key is not trusted');

  // the votes: one per persona of the route's council, in roster order, under the signed root
  const council = councilFor(d.route);
  const personas = council.personas.map((x) => x.id);
  let rosterProblem: string | undefined;
  if (d.council !== council.id) rosterProblem = `council ${d.council} does not serve route ${d.route}`;
  else if (r.votes.length !== personas.length || r.votes.some((v, i) => v.persona !== personas[i])) rosterProblem = `the votes are not one per persona of ${council.id} in order`;
  const votesProblem = rosterProblem ?? (orUndefined(() => votesRoot(p, r.votes)) !== d.votes_root ? 'the Merkle root of the votes is not the signed votes_root' : undefined);
  rows.add('votes root', !votesProblem, votesProblem ?? `${r.votes.length} votes of ${council.id}, root ${d.votes_root.slice(0, 16)}… recomputed`);

  // aggregation rule v2 (SPEC §8.3) recomputed from the votes given; only over the roster's
  // personas (a vote list that is not the roster has no recount)
  const agg = rosterProblem ? undefined : orUndefined(() => aggregateV2(council, r.votes));
  if (!agg) {
    rows.add('tally', false, 'not recounted: the votes are not the council roster');
    rows.add('aggregation rule', false, 'not recomputed: the votes are not the council roster');
  } else {
    const t = agg.tally;
    const tallyOk = TALLY_KEYS.every((k) => d.tally[k] === t[k]);
    rows.add('tally', tallyOk, tallyOk ? `approve ${t.approve}, reject ${t.reject}, abstain ${t.abstain}, vetoes ${t.vetoes}` : `the votes count approve ${t.approve}, reject ${t.reject}, abstain ${t.abstain}, vetoes ${t.vetoes}; the decision says otherwise`);
    const expected = agg.outcome;
    const why = t.vetoes > 0 ? `${t.vetoes} veto(es) of blocking personas at confidence ≥ ${VETO_CONFIDENCE}` : `quorum ${t.quorum}, ${t.cast} cast, ${t.needed} approvals needed`;
    rows.add('aggregation rule', d.outcome === expected, `rule v2: ${why}: ${expected}${d.outcome === expected ? '' : ` (the decision says ${d.outcome})`}`);
  }

  if (opts.payloadDigest !== undefined) {
    const same = opts.payloadDigest.toLowerCase() === d.payload_digest;
    rows.add('payload digest', same, same ? `judged exactly the payload given (${d.payload_digest.slice(0, 16)}…)` : `the decision judged payload ${d.payload_digest.slice(0, 16)}…, not the one given (${opts.payloadDigest.slice(0, 16)}…)`);
  } else {
    rows.note('payload digest', 'not checked', `the decision binds payload ${d.payload_digest.slice(0, 16)}…; give the file (verify --file) to check it`);
  }
  if (opts.requestDigest !== undefined) {
    const same = opts.requestDigest.toLowerCase() === d.request_digest;
    rows.add('request digest', same, same ? `answers request ${d.request_digest}` : `answers request ${d.request_digest}, not ${opts.requestDigest.slice(0, 64)}`);
  }

  // the audit entry records this decision; the signed batch covers the entry; the PCR adds up
  const e = r.audit.entry;
  const entryDigest = orUndefined(() => coreV3Digest(p, e));
  let entryProblem: string | undefined;
  if (entryDigest === undefined) entryProblem = 'the entry cannot be canonicalized';
  else if (e.decision_digest !== orUndefined(() => decisionDigestV2(p, r))) entryProblem = 'the entry records another decision (decision_digest)';
  else if (e.request_digest !== d.request_digest) entryProblem = 'the entry records another request';
  rows.add('audit entry', !entryProblem, entryProblem ?? `chain ${e.chain} seq ${e.seq}, entry ${entryDigest!.slice(0, 16)}… records this decision`);

  rows.add('batch signature', sigOk('batch', st, r.audit.batch.signature), key ? `ML-DSA-87, context ima-qs/v2/batch: batch ${st.chain}/${st.first_seq}+${st.size}` : 'not checked: the signer key is not trusted');

  const pr = r.audit.proof;
  let inclusionProblem: string | undefined;
  if (e.chain !== st.chain) inclusionProblem = `the entry is in chain ${e.chain}, the batch in ${st.chain}`;
  else if (pr.size !== st.size || pr.index !== e.seq - st.first_seq) inclusionProblem = `the proof is for index ${pr.index} of ${pr.size}; seq ${e.seq} is index ${e.seq - st.first_seq} of the batch's ${st.size}`;
  else if (!entryDigest || !includes(p, leafHash(p, fromHex(entryDigest)), pr, st.entries_root)) inclusionProblem = 'the inclusion proof does not lead to the batch entries_root';
  rows.add('entry in batch', !inclusionProblem, inclusionProblem ?? `index ${pr.index} of ${pr.size}, RFC 9162 proof of ${pr.path.length} hashes`);

  const addsUp = orUndefined(() => statementAddsUp(st)) === true;
  const simulated = st.pcr.simulated;
  if (!addsUp) rows.add('pcr anchor', false, 'pcr.after is not H(before ‖ B(size, entries_root)): the anchor does not add up');
  else if (simulated && opts.requireTpm) rows.add('pcr anchor', false, `SIMULATED bank (pcr ${st.pcr.index} ${st.pcr.bank}): a signed hash chain, no hardware anchor (a TPM anchor is required)`);
  else {
    rows.add(
      'pcr anchor',
      true,
      simulated
        ? `SIMULATED bank, pcr ${st.pcr.index} ${st.pcr.bank}: signed hash chain, no hardware anchor`
        : `TPM pcr ${st.pcr.index} ${st.pcr.bank}, as the signed statement says (audit verify against the TPM, or a quote, proves the TPM state)`,
    );
  }
  const ok = rows.ok;
  return { ok, version: 2, anchor: addsUp ? (simulated ? 'simulated' : 'tpm') : 'none', checks: rows.rows, ...(signer.generation !== undefined ? { generation: signer.generation } : {}) };
}

