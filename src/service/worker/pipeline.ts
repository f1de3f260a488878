/**
 * The worker pipeline for one batch of queued requests (DESIGN.md "The data flow", SPEC §8):
 *
 *   open      decapsulate + open the envelope, parse the inner request (the reply key checked in
 *             full), refuse a stale timestamp, a route mismatch or a reused request id
 *             (conditional claim rid#<id> → handle)
 *   council   one vote per persona (PersonaModel; on its budgeted thread in the worker, SPEC §8.3)
 *   sign      ML-DSA-87: the decision (context ima-qs/v2/decision), which binds the payload digest
 *             and the Merkle root of the votes (SPEC §8.10): one signature per decision
 *   audit     per request, claim its audit slot (aud#<handle>, audit-claim.ts), then one audit entry
 *             per decision, one PCR extend and one signed batch statement per batch (group commit)
 *   seal      the response sealed to the client's ephemeral reply key
 *   store     conditional put in ima-quantum-decisions (one decision per request)
 *
 * A decision is stored only after its audit entry is anchored; the caller deletes a message only
 * after its outcome is stored. Every deterministic failure before the audit commit (the envelope,
 * the content, the reply key, a council over its budget) is permanent: refused with a signed
 * refusal (context ima-qs/v2/refusal), stored as "rejected", decided before any vote, decision
 * signature or audit entry. Only remote failures (AWS, TPM, the persona-model service) leave the
 * message to come back; a message that is not ours at all is poison (dead-letter queue). A request
 * whose audit slot another attempt already holds is not decided again: its response is rebuilt
 * from that entry (SPEC §8.7 "once per request").
 */
import type { Anchored, AuditChain } from '../../audit/audit-chain.js';
import { payloadPlaintext } from '../../audit/audit-entry.js';
import { canonicalBytes } from '../../crypto/canonical-json.js';
import type { CompositeKemPrivateKey } from '../../crypto/composite-kem.js';
import { fromBase64, toHex } from '../../crypto/bytes.js';
import { decodeHeader, openBytes, sealBytes } from '../../crypto/envelope.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { fingerprint } from '../../crypto/key-codec.js';
import { ImaError, InputError, RemoteError, toImaError } from '../../errors.js';
import { councilFor } from '../council/councils.js';
import type { PersonaModel } from '../../protocol/council/types.js';
import { buildResponseV2, decisionDigestV2, payloadDigest, signDecisionV2, type CertificationBlock, type SignedDecisionV2 } from '../../protocol/decision-v2.js';
import { refusalText, signRefusal } from '../../protocol/refusal.js';
import { StageTimer, type Logger } from '../log.js';
import type { Clock, Table } from '../../ports.js';
import { DEFAULT_TTL_SECONDS, decodeQueued, requestIdKey } from '../../protocol/records.js';
import { DEFAULT_MAX_SKEW_MS, checkFreshness, parseInnerRequest, requestHandle, type InnerRequest } from '../../protocol/request.js';
import type { Signer } from '../../crypto/signer.js';
import { AuditClaims, type AuditClaim } from './audit-claim.js';

export interface PipelineDeps {
  p: CryptoProvider;
  /** the service's composite KEM private key (requests are sealed to it) */
  recipientKey: CompositeKemPrivateKey;
  /**
   * the KEM key of every generation the worker holds, by the envelope's recipient fingerprint
   * (hex; SPEC §7.2): when given, it replaces `recipientKey`, and a request sealed to a key it
   * does not hold is retried (UNKNOWN_RECIPIENT), not refused
   */
  recipientFor?: (fingerprintHex: string) => Promise<CompositeKemPrivateKey | undefined>;
  signer: Signer;
  signerFingerprint: string;
  /** the root key and the key-set statement that certify a decisions signer (`signer`'s, or an earlier one's) at a decision's issued_at (SPEC §8.10) */
  certification: (issuedAtMs: number, signerPublicKey: Uint8Array) => CertificationBlock;
  /** the public key of another decisions signer the held key sets certify, by fingerprint (a decision rebuilt from an earlier signer's audit entry) */
  signerKeyFor?: (fingerprintHex: string) => Uint8Array | undefined;
  model: PersonaModel;
  requests: Table;
  decisions: Table;
  audit: AuditChain;
  clock: Clock;
  log: Logger;
  maxSkewMs?: number;
  ttlSeconds?: number;
  /** how long another worker's audit claim is respected before it may be taken over (default 120 s) */
  claimLeaseMs?: number;
}

/** Per-request facts for metrics (SPEC §8.8 metrics): stage timings and when the proxy took it in. */
export interface OutcomeFacts {
  /** stage → milliseconds (open, council, sign, audit, seal, store, total) */
  ms?: Record<string, number>;
  /** the proxy's clock at entry (ms since the epoch) */
  receivedAt?: number;
  /** entries of this pipeline's chain appended but not covered by a batch statement, after the commit */
  unanchored?: number;
}

export type Outcome = (
  | { status: 'decided'; handle: string; outcome: string; reused?: boolean }
  | { status: 'rejected'; handle: string; code: string }
  | { status: 'duplicate'; handle: string }
  | { status: 'poison'; code: string }
  | { status: 'retry'; handle?: string; code: string }
) &
  OutcomeFacts;

type Prepared =
  | { kind: 'decide'; handle: string; inner: InnerRequest; signed: SignedDecisionV2; timer: StageTimer; receivedAt: number }
  | { kind: 'reject'; handle: string; error: ImaError; timer: StageTimer; receivedAt: number }
  | { kind: 'final'; outcome: Outcome };

export const DEFAULT_CLAIM_LEASE_MS = 120_000;

/** Deterministic: the same request fails the same way again. Only remote failures are retried. */
const permanent = (e: ImaError) => e.errorClass !== 'remote';

async function prepare(d: PipelineDeps, body: string): Promise<Prepared> {
  let handle: string | undefined;
  let receivedAt: number | undefined;
  const timer = new StageTimer();
  try {
    const { msg, sealed } = decodeQueued(body);
    if (requestHandle(d.p, sealed) !== msg.handle) throw new InputError('POISON_MESSAGE', 'queue message handle does not match its body');
    handle = msg.handle;
    receivedAt = msg.received_at;
    // no table read here: a redelivery is found by the request-id claim below (or, for a refusal,
    // before it is signed), so the common path costs no read of the decisions table
    const h = handle;
    const refuse = (error: ImaError): Prepared => ({ kind: 'reject', handle: h, error, timer, receivedAt: msg.received_at });
    let key = d.recipientKey;
    // a body that is not an envelope is refused below, by openBytes, as before
    const named = d.recipientFor ? headerRecipient(sealed) : undefined;
    if (d.recipientFor && named) {
      const held = await d.recipientFor(named);
      // sealed to a generation this worker does not hold (yet): retried, never refused (SPEC §7.2)
      if (!held) throw new RemoteError('UNKNOWN_RECIPIENT', `the request is sealed to key ${named.slice(0, 16)}…, which this worker does not hold`);
      key = held;
    }
    let inner: InnerRequest;
    try {
      inner = parseInnerRequest(openBytes(d.p, key, sealed));
      if (inner.route !== msg.route) throw new InputError('ROUTE_MISMATCH', `the request is for /api/${inner.route} but was posted to /api/${msg.route}`);
      // against the proxy's clock at entry, not at pickup (SPEC §8.1): a backlog never makes a request stale
      checkFreshness(inner, msg.received_at, d.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
    } catch (err) {
      const e = toImaError(err);
      if (permanent(e)) return refuse(e);
      throw e;
    }
    // one inner request id, one sealed request: a reused id under another body is refused
    const ttl = Math.floor(d.clock.now() / 1000) + (d.ttlSeconds ?? DEFAULT_TTL_SECONDS);
    const claimed = await d.requests.put({ id: requestIdKey(inner.request_id), handle, ttl }, { ifAbsent: true });
    if (!claimed) {
      const prior = await d.requests.get({ id: requestIdKey(inner.request_id) });
      if (prior?.handle !== handle) return refuse(new InputError('REQUEST_ID_REUSED', 'this request id was already used by another request'));
      // this request again (a redelivery, a retry): decided already?
      if (await d.decisions.get({ id: handle })) return { kind: 'final', outcome: { status: 'duplicate', handle, receivedAt } };
    }
    timer.lap('open');
    const council = councilFor(inner.route);
    let votes;
    try {
      votes = await d.model.consult(council, { route: inner.route, request_digest: handle, payload: inner.payload });
    } catch (err) {
      // a council over its budget (COUNCIL_TIMEOUT) or failing on this content is permanent too
      const e = toImaError(err);
      if (permanent(e)) return refuse(e.errorClass === 'internal' ? new ImaError('internal', 'COUNCIL_FAILED', 'the council failed on this request') : e);
      throw e;
    }
    if (votes.length !== council.personas.length || votes.some((v, i) => v.persona !== council.personas[i].id)) {
      throw new RemoteError('PERSONA_MODEL_BAD_ANSWER', `the persona model did not give one vote per persona of ${council.id}`);
    }
    timer.lap('council');
    const signed = await signDecisionV2(d.p, d.signer, {
      request_digest: handle,
      request_id: inner.request_id,
      route: inner.route,
      council: council.id,
      model: d.model.name,
      payload_digest: payloadDigest(d.p, inner.payload),
      votes,
      issuedAt: new Date(d.clock.now()).toISOString(),
      signerFingerprint: d.signerFingerprint,
    });
    timer.lap('sign');
    return { kind: 'decide', handle, inner, signed, timer, receivedAt: msg.received_at };
  } catch (err) {
    const e = toImaError(err);
    if (e.code === 'POISON_MESSAGE') return { kind: 'final', outcome: { status: 'poison', code: e.code } };
    d.log.log('warn', 'request will be retried', { handle, code: e.code, error: e.message });
    return { kind: 'final', outcome: { status: 'retry', handle, code: e.code, ...(receivedAt !== undefined ? { receivedAt } : {}) } };
  }
}

const claimsCache = new WeakMap<PipelineDeps, AuditClaims>();

function claimsOf(d: PipelineDeps): AuditClaims {
  let c = claimsCache.get(d);
  if (c) return c;
  c = new AuditClaims({
    p: d.p,
    requests: d.requests,
    store: d.audit.auditStore,
    chain: d.audit.chain,
    serviceKey: d.recipientKey,
    payloadToService: d.audit.recipientFingerprint === fingerprint('MLKEM768-P384', d.recipientKey.publicKey),
    clock: d.clock,
    leaseMs: d.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS,
    ttlSeconds: d.ttlSeconds ?? DEFAULT_TTL_SECONDS,
  });
  claimsCache.set(d, c);
  return c;
}

function headerRecipient(sealed: Uint8Array): string | undefined {
  try {
    return toHex(decodeHeader(sealed).fingerprint);
  } catch {
    return undefined;
  }
}

/** Runs the pipeline for a batch of queue message bodies; one outcome per body, in order. */
export async function processBatch(d: PipelineDeps, bodies: readonly string[]): Promise<Outcome[]> {
  // the same message twice in one batch (an SQS duplicate delivery): decided once, the copy follows it
  const firstOf = new Map<string, number>();
  const unique: string[] = [];
  const index = bodies.map((b) => {
    let k = firstOf.get(b);
    if (k === undefined) firstOf.set(b, (k = unique.push(b) - 1));
    return k;
  });
  const decided = await decideBatch(d, unique);
  const seen = new Set<number>();
  return index.map((k) => {
    const o = decided[k];
    if (!seen.has(k)) {
      seen.add(k);
      return o;
    }
    return o.status === 'decided' || o.status === 'rejected' || o.status === 'duplicate' ? { status: 'duplicate', handle: o.handle } : { ...o };
  });
}

async function decideBatch(d: PipelineDeps, bodies: readonly string[]): Promise<Outcome[]> {
  const prepared = await Promise.all(bodies.map((b) => prepare(d, b)));
  const out: Outcome[] = prepared.map((x) => (x.kind === 'final' ? x.outcome : { status: 'retry', code: 'PENDING' }));
  const ttl = () => Math.floor(d.clock.now() / 1000) + (d.ttlSeconds ?? DEFAULT_TTL_SECONDS);
  const decide = prepared.flatMap((x, i) => (x.kind === 'decide' ? [{ x, i }] : []));
  const claims = claimsOf(d);
  /** claims another attempt holds: rebuilt, not decided again */
  const held = new Map<string, AuditClaim>();
  const claimedAt = new Map<string, number>();

  // audit + PCR: one group commit for the batch; no decision leaves without its anchor
  let anchored: Awaited<ReturnType<AuditChain['commitClaimed']>> = [];
  let unanchored: number | undefined;
  if (decide.length > 0) {
    const t0 = performance.now();
    try {
      anchored = await d.audit.commitClaimed(
        decide.map(({ x }) => {
          const claim = claims.claimer(x.handle, x.signed, held, (old) =>
            d.log.log('warn', 'audit claim taken over', { handle: x.handle, from_chain: old.chain, from_seq: old.seq }),
          );
          return {
            request_digest: x.handle,
            decision_digest: decisionDigestV2(d.p, x.signed),
            plaintext: payloadPlaintext(x.signed),
            claim: async (seq: number, moved: boolean) => {
              const ok = await claim(seq, moved);
              if (ok && !moved) claimedAt.set(x.handle, d.clock.now());
              return ok;
            },
          };
        }),
      );
    } catch (err) {
      const e = toImaError(err);
      d.log.log('error', 'audit commit failed: decisions held back, messages will come back', { code: e.code, error: e.message, count: decide.length });
      for (const { x, i } of decide) out[i] = { status: 'retry', handle: x.handle, code: e.code, receivedAt: x.receivedAt };
      anchored = [];
    }
    unanchored = d.audit.unanchoredCount;
    const auditMs = (performance.now() - t0) / Math.max(1, decide.length);
    for (const { x } of decide) x.timer.add('audit', auditMs);
  }
  const slot = new Map(decide.map(({ x, i }, k) => [i, anchored[k]]));

  await Promise.all(
    prepared.map(async (x, i) => {
      if (x.kind === 'final') return;
      try {
        if (x.kind === 'reject') {
          // refused before (a redelivery): nothing more is signed or stored
          if (await d.decisions.get({ id: x.handle })) {
            out[i] = { status: 'duplicate', handle: x.handle, receivedAt: x.receivedAt };
            return;
          }
          const refusal = await signRefusal(d.signer, {
            request_digest: x.handle,
            code: x.error.code,
            message: x.error.message,
            issuedAt: new Date(d.clock.now()).toISOString(),
            signerFingerprint: d.signerFingerprint,
          });
          const stored = await d.decisions.put(
            { id: x.handle, status: 'rejected', code: x.error.code, message: refusal.body.message, refusal: refusalText(refusal), decided_at: d.clock.now(), ttl: ttl() },
            { ifAbsent: true },
          );
          x.timer.lap('store');
          // refused by another attempt first (a redelivery racing this one): a duplicate
          out[i] = stored
            ? { status: 'rejected', handle: x.handle, code: x.error.code, receivedAt: x.receivedAt, ms: { ...x.timer.ms, total: x.timer.total() } }
            : { status: 'duplicate', handle: x.handle, receivedAt: x.receivedAt };
          d.log.log('info', 'request rejected', { handle: x.handle, code: x.error.code });
          return;
        }
        let signed = x.signed;
        let a: Pick<Anchored, 'core' | 'proof' | 'batch'> | undefined = slot.get(i);
        let reused = false;
        if (!a) {
          const claim = held.get(x.handle);
          if (!claim) return; // audit failed: already marked retry
          // another attempt holds this request's audit slot: its anchored entry is the answer
          const r = await claims.rebuild(x.handle, claim);
          signed = r.signed;
          a = r.anchored;
          reused = true;
        } else {
          // a commit slower than half the lease: make sure nobody took the slot over meanwhile
          const at = claimedAt.get(x.handle);
          if (at !== undefined && d.clock.now() - at > (d.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS) / 2 && !(await claims.stillOurs(x.handle, at))) {
            throw new RemoteError('AUDIT_CLAIM_LOST', 'the audit claim of this request was taken over while it was committed');
          }
        }
        // a decision rebuilt from another attempt's entry may be signed by an earlier signer (a
        // rotation in between): the response names that signer and carries its certification
        const signerKey = signed.decision.signer === d.signerFingerprint ? d.signer.publicKey : d.signerKeyFor?.(signed.decision.signer);
        if (!signerKey) {
          throw new RemoteError('SIGNER_UNKNOWN', `the decision of this request was signed by ${signed.decision.signer.slice(0, 16)}…, which no key set this worker holds certifies`);
        }
        const certification = d.certification(Date.parse(signed.decision.issued_at), signerKey);
        const response = buildResponseV2(signed, signerKey, certification, { entry: a.core, proof: a.proof, batch: a.batch });
        const sealed = sealBytes(d.p, fromBase64(x.inner.reply_key, 'reply_key'), canonicalBytes(response));
        x.timer.lap('seal');
        const stored = await d.decisions.put({ id: x.handle, status: 'decided', sealed, decided_at: d.clock.now(), ttl: ttl() }, { ifAbsent: true });
        x.timer.lap('store');
        const ms = { ...x.timer.ms, total: x.timer.total() };
        // a concurrent worker (a redelivery racing this one) stored its decision first: that one is
        // the answer (the same decision: the slot was claimed once), and this attempt is a duplicate
        out[i] = stored
          ? { status: 'decided', handle: x.handle, outcome: signed.decision.outcome, receivedAt: x.receivedAt, ms, ...(reused ? { reused } : {}) }
          : { status: 'duplicate', handle: x.handle, receivedAt: x.receivedAt };
        d.log.log('info', stored ? (reused ? 'decision stored from its audit entry' : 'decision stored') : 'decision already stored by another worker', {
          handle: x.handle,
          route: x.inner.route,
          outcome: signed.decision.outcome,
          audit: `${a.core.chain}/${a.core.seq}`,
          batch: a.batch.statement.size,
          ms,
        });
      } catch (err) {
        const e = toImaError(err);
        d.log.log('warn', 'storing the outcome failed: message will come back', { handle: x.handle, code: e.code, error: e.message });
        out[i] = { status: 'retry', handle: x.handle, code: e.code, receivedAt: x.receivedAt };
      }
    }),
  );
  if (unanchored !== undefined) for (const o of out) o.unanchored = unanchored;
  return out;
}
