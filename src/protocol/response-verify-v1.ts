/**
 * The checks of a version 1 decision response (SPEC §8.5), pure and synchronous. Version 1 signed
 * every vote but not its audit anchor: the anchor's arithmetic is recomputed and its link to the
 * decision checked, yet nothing signs it, so its row reads "unauthenticated (v1)" (an exit 1 with
 * --require-anchor). Written by ima-qs before response format v2 (response-verify-v2.ts).
 */
import { equalBytes, fromBase64, fromHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { BANK_SIZE, pcrBatchDigest, pcrExtend } from './anchor-math.js';
import { outcome, tally } from './council/aggregate.js';
import { councilFor } from './council/rosters.js';
import { VOTE_CHOICES } from './council/types.js';
import { decisionDigest, votesDigest, type DecisionResponse } from './decision.js';
import { isRoute } from './request.js';
import { CheckRows, trustedSigner, type ResponseVerification, type TrustAnchor, type VerifyResponseOptions } from './verify-rows.js';
import { HEX64, hasExactly, isObj, orUndefined } from './shape.js';

const RESPONSE_KEYS = ['v', 'decision', 'signature', 'votes', 'signer', 'audit'] as const;
const DECISION_KEYS = ['v', 'request_digest', 'request_id', 'route', 'council', 'model', 'issued_at', 'votes_digest', 'tally', 'outcome', 'signer'] as const;
const TALLY_KEYS = ['approve', 'reject', 'abstain', 'cast', 'quorum', 'needed'] as const;
const VOTE_KEYS = ['v', 'request_digest', 'council', 'model', 'persona', 'vote', 'confidence', 'rationale'] as const;
const SIGNER_KEYS = ['alg', 'public_key', 'fingerprint'] as const;
const AUDIT_KEYS = ['chain', 'seq', 'entry_digest', 'decision_digest', 'pcr', 'batch'] as const;
const PCR_KEYS = ['index', 'bank', 'before', 'after', 'simulated'] as const;
const BATCH_KEYS = ['id', 'size', 'index', 'entry_digests'] as const;
/** SPEC §6.3: a group commit holds at most 65536 entries */
const MAX_BATCH = 65536;

/** Structural checks; returns the first problem, or undefined when the document has the SPEC §8.5 shape. */
export function responseFormatProblem(r: unknown): string | undefined {
  if (!isObj(r) || r.v !== 1) return 'not a version 1 response object';
  if (!hasExactly(r, RESPONSE_KEYS)) return `the response is not exactly {${RESPONSE_KEYS.join(', ')}}`;
  const d = r.decision;
  if (!isObj(d) || d.v !== 1) return 'decision is missing';
  if (!hasExactly(d, DECISION_KEYS)) return `decision is not exactly {${DECISION_KEYS.join(', ')}}`;
  for (const k of ['request_digest', 'votes_digest', 'signer']) if (typeof d[k] !== 'string' || !HEX64.test(d[k] as string)) return `decision.${k} is not 64 hex digits`;
  if (typeof d.route !== 'string' || !isRoute(d.route)) return 'decision.route is unknown';
  if (typeof d.council !== 'string' || typeof d.model !== 'string' || typeof d.request_id !== 'string' || typeof d.issued_at !== 'string') {
    return 'decision lacks council, model, request_id or issued_at';
  }
  if (!isObj(d.tally) || !hasExactly(d.tally, TALLY_KEYS) || !TALLY_KEYS.every((k) => Number.isSafeInteger((d.tally as Record<string, unknown>)[k]))) {
    return `decision.tally is not {${TALLY_KEYS.join(', ')}} of integers`;
  }
  if (typeof d.outcome !== 'string') return 'decision lacks its outcome';
  if (typeof r.signature !== 'string') return 'signature is missing';
  if (!Array.isArray(r.votes)) return 'votes is not an array';
  // one vote per persona: more than the council has is malformed (and bounds the work below)
  const size = councilFor(d.route).personas.length;
  if (r.votes.length > size) return `${r.votes.length} votes; the council of ${d.route} has ${size} personas`;
  for (const [i, v] of r.votes.entries()) {
    if (!isObj(v) || !hasExactly(v, ['body', 'signature']) || !isObj(v.body) || typeof v.signature !== 'string') return `vote ${i} is not {body, signature}`;
    const b = v.body;
    if (!hasExactly(b, VOTE_KEYS) || b.v !== 1) return `vote ${i} body is not {${VOTE_KEYS.join(', ')}} with v 1`;
    if (typeof b.persona !== 'string' || !(VOTE_CHOICES as readonly string[]).includes(b.vote as string)) return `vote ${i} has no persona or an unknown choice`;
    if (!Number.isInteger(b.confidence) || (b.confidence as number) < 0 || (b.confidence as number) > 1000) return `vote ${i} confidence is not 0..1000`;
    if (typeof b.request_digest !== 'string' || typeof b.council !== 'string' || typeof b.model !== 'string' || typeof b.rationale !== 'string') {
      return `vote ${i} lacks request_digest, council, model or rationale`;
    }
  }
  const s = r.signer;
  if (!isObj(s) || !hasExactly(s, SIGNER_KEYS) || s.alg !== 'ML-DSA-87' || typeof s.public_key !== 'string' || typeof s.fingerprint !== 'string') return 'signer is not {alg: ML-DSA-87, public_key, fingerprint}';
  const a = r.audit;
  if (!isObj(a) || !hasExactly(a, AUDIT_KEYS)) return `audit is not {${AUDIT_KEYS.join(', ')}}`;
  if (!isObj(a.pcr) || !hasExactly(a.pcr, PCR_KEYS)) return `audit.pcr is not {${PCR_KEYS.join(', ')}}`;
  if (!isObj(a.batch) || !hasExactly(a.batch, BATCH_KEYS)) return `audit.batch is not {${BATCH_KEYS.join(', ')}}`;
  if (!Array.isArray(a.batch.entry_digests) || a.batch.entry_digests.length > MAX_BATCH) return `audit.batch.entry_digests is not an array of at most ${MAX_BATCH}`;
  return undefined;
}

export function verifyResponseV1(p: CryptoProvider, response: unknown, trust: TrustAnchor, opts: VerifyResponseOptions = {}): ResponseVerification {
  const rows = new CheckRows();
  const problem = responseFormatProblem(response);
  rows.add('format', !problem, problem ?? 'a version 1 decision response (written before response format v2)');
  if (problem) return { ok: false, version: 1, anchor: 'none', checks: rows.rows };
  const r = response as DecisionResponse;

  // 1. the signer key is the trusted one
  const signer = trustedSigner(r.signer.public_key, trust, [r.signer.fingerprint, r.decision.signer]);
  rows.add('signer key', signer.ok, signer.detail);
  const key = signer.key;

  // 2. signatures (context strings included: a vote signature never verifies as a decision)
  const sigOk = (purpose: 'vote' | 'decision', value: unknown, sig: string) => {
    if (!key) return false;
    try {
      return verifyJson(p, key, purpose, value, fromBase64(sig, 'signature'));
    } catch {
      return false;
    }
  };
  rows.add('decision signature', sigOk('decision', r.decision, r.signature), key ? 'ML-DSA-87, context ima-qs/v1/decision' : 'not checked: the signer key is not trusted');
  const badVotes = r.votes.filter((v) => !sigOk('vote', v.body, v.signature)).map((v) => v.body.persona);
  rows.add(
    'vote signatures',
    key !== undefined && badVotes.length === 0,
    badVotes.length === 0 ? `${r.votes.length} of ${r.votes.length} valid (context ima-qs/v1/vote)` : `${r.votes.length - badVotes.length} of ${r.votes.length} valid; bad: ${badVotes.slice(0, 5).join(', ')}`,
  );

  // 3. the votes are the ones the decision was made on, from the council of its route
  const council = councilFor(r.decision.route);
  const personas = council.personas.map((x) => x.id);
  const votePersonas = r.votes.map((v) => v.body.persona);
  let bindProblem: string | undefined;
  if (orUndefined(() => votesDigest(p, r.votes)) !== r.decision.votes_digest) bindProblem = 'votes_digest does not match the votes';
  else if (r.decision.council !== council.id) bindProblem = `council ${r.decision.council} does not serve route ${r.decision.route}`;
  else if (votePersonas.length !== personas.length || votePersonas.some((x, i) => x !== personas[i])) bindProblem = `the votes are not one per persona of ${council.id} in order`;
  else {
    const odd = r.votes.find((v) => v.body.request_digest !== r.decision.request_digest || v.body.council !== r.decision.council || v.body.model !== r.decision.model);
    if (odd) bindProblem = `the vote of ${odd.body.persona} is for another request, council or model`;
  }
  rows.add('votes bound to decision', !bindProblem, bindProblem ?? `${r.votes.length} votes of ${council.id}, digest matches`);

  // 4. the tally and the aggregation rule (SPEC §8.3, rule v1)
  const t = tally(r.votes.map((v) => v.body));
  const tallyOk = TALLY_KEYS.every((k) => r.decision.tally[k] === t[k]); // format: exactly these six members
  rows.add('tally', tallyOk, tallyOk ? `approve ${t.approve}, reject ${t.reject}, abstain ${t.abstain}` : `the votes count approve ${t.approve}, reject ${t.reject}, abstain ${t.abstain}; the decision says otherwise`);
  const expected = outcome(t);
  rows.add('aggregation rule', r.decision.outcome === expected, `quorum ${t.quorum}, ${t.cast} cast, ${t.needed} approvals needed: ${expected}${r.decision.outcome === expected ? '' : ` (the decision says ${r.decision.outcome})`}`);

  // 5. the request it answers; v1 decisions do not bind the payload
  if (opts.requestDigest !== undefined) {
    const same = opts.requestDigest.toLowerCase() === r.decision.request_digest;
    rows.add('request digest', same, same ? `answers request ${r.decision.request_digest}` : `answers request ${r.decision.request_digest}, not ${opts.requestDigest.slice(0, 64)}`);
  }
  if (opts.payloadDigest !== undefined) rows.note('payload digest', 'not checked', 'a version 1 decision does not bind the payload it judged');

  // 6. the audit anchor: a wrong one is still a "no"; a consistent one is only unauthenticated
  const a = anchorProblem(p, r);
  if (a) rows.add('audit anchor', false, a);
  else {
    rows.note(
      'audit anchor',
      'unauthenticated',
      `unauthenticated (v1): chain ${r.audit.chain} seq ${r.audit.seq}, pcr ${r.audit.pcr.index} ${r.audit.pcr.bank}${r.audit.pcr.simulated ? ' (claims the SIMULATED bank)' : ''}; nothing signs a v1 anchor`,
      opts.requireAnchor === true || opts.requireTpm === true,
    );
  }
  return { ok: rows.ok, version: 1, anchor: a ? 'none' : 'unauthenticated', checks: rows.rows };
}

function anchorProblem(p: CryptoProvider, r: DecisionResponse): string | undefined {
  const a = r.audit as unknown as Record<string, unknown>;
  if (typeof a.chain !== 'string' || a.chain.length === 0 || a.chain.length > 128) return 'chain is not a name of 1..128 characters';
  if (!Number.isInteger(a.seq) || (a.seq as number) < 0) return 'seq is not a non-negative integer';
  if (typeof a.entry_digest !== 'string' || !HEX64.test(a.entry_digest)) return 'entry_digest is not 64 hex digits';
  if (a.decision_digest !== orUndefined(() => decisionDigest(p, r))) return 'decision_digest does not match the decision and its signature';
  const pcr = a.pcr as Record<string, unknown> | undefined;
  if (!isObj(pcr) || !Number.isInteger(pcr.index) || (pcr.index as number) < 0 || (pcr.index as number) > 23) return 'pcr.index is not 0..23';
  if (pcr.bank !== 'sha256' && pcr.bank !== 'sha384') return 'pcr.bank is not sha256 or sha384';
  const n = BANK_SIZE[pcr.bank] * 2;
  const hexN = new RegExp(`^[0-9a-f]{${n}}$`);
  if (typeof pcr.before !== 'string' || !hexN.test(pcr.before) || typeof pcr.after !== 'string' || !hexN.test(pcr.after)) return `pcr.before/after are not ${n} hex digits`;
  if (typeof pcr.simulated !== 'boolean') return 'pcr.simulated is missing';
  const b = a.batch as Record<string, unknown> | undefined;
  if (!isObj(b) || !Array.isArray(b.entry_digests) || !Number.isInteger(b.size) || !Number.isInteger(b.index) || !Number.isInteger(b.id)) return 'batch is malformed';
  const ds = b.entry_digests as unknown[];
  if (ds.length !== b.size || (b.index as number) < 0 || (b.index as number) >= ds.length) return 'batch size or index does not fit its entries';
  if (!ds.every((d) => typeof d === 'string' && HEX64.test(d))) return 'batch.entry_digests are not 64 hex digits each';
  if (ds[b.index as number] !== a.entry_digest) return 'the entry is not at its index in the batch';
  const B = pcrBatchDigest(pcr.bank, ds.map((d) => fromHex(d as string)));
  const after = pcrExtend(pcr.bank, fromHex(pcr.before), B);
  if (!equalBytes(after, fromHex(pcr.after))) return 'pcr.after is not H(before ‖ batch digest): the anchor does not add up';
  return undefined;
}
