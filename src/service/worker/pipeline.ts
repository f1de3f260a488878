/**
 * The worker pipeline for one batch of queued requests (DESIGN.md "The data flow", SPEC §8):
 *
 *   open      decapsulate + open the envelope, parse the inner request, refuse a stale timestamp,
 *             a route mismatch or a reused request id (conditional claim rid#<id> → handle)
 *   council   one vote per persona (PersonaModel)
 *   sign      ML-DSA-87: the decision (context ima-qs/v2/decision), which binds the payload digest
 *             and the Merkle root of the votes (SPEC §8.10): one signature per decision
 *   audit     one audit entry per decision, one PCR extend and one signed batch statement per
 *             batch (group commit)
 *   seal      the response sealed to the client's ephemeral reply key
 *   store     conditional put in ima-quantum-decisions (one decision per request)
 *
 * A decision is stored only after its audit entry is anchored; the caller deletes a message only
 * after its outcome is stored. Permanent refusals (bad envelope, stale, reused id) are signed
 * (context ima-qs/v2/refusal) and stored as "rejected" so the client learns why and can tell a
 * real refusal from a forged one; transient failures (AWS, TPM, model) leave the message to
 * come back; a message that is not ours at all is poison (dead-letter queue).
 */
import type { AuditChain } from '../../audit/audit-chain.js';
import { payloadPlaintext } from '../../audit/audit-entry.js';
import { canonicalBytes } from '../../crypto/canonical-json.js';
import type { CompositeKemPrivateKey } from '../../crypto/composite-kem.js';
import { fromBase64, toHex } from '../../crypto/bytes.js';
import { decodeHeader } from '../../crypto/envelope.js';
import { openBytes, sealBytes } from '../../crypto/envelope.js';
import type { CryptoProvider } from '../../crypto/provider.js';
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
  /** the root key and the key-set statement that certify `signer` at a decision's issued_at (SPEC §8.10) */
  certification: (issuedAtMs: number) => CertificationBlock;
  model: PersonaModel;
  requests: Table;
  decisions: Table;
  audit: AuditChain;
  clock: Clock;
  log: Logger;
  maxSkewMs?: number;
  ttlSeconds?: number;
}

export type Outcome =
  | { status: 'decided'; handle: string; outcome: string }
  | { status: 'rejected'; handle: string; code: string }
  | { status: 'duplicate'; handle: string }
  | { status: 'poison'; code: string }
  | { status: 'retry'; handle?: string; code: string };

type Prepared =
  | { kind: 'decide'; handle: string; inner: InnerRequest; signed: SignedDecisionV2; timer: StageTimer }
  | { kind: 'reject'; handle: string; error: ImaError; timer: StageTimer }
  | { kind: 'final'; outcome: Outcome };

const PERMANENT = new Set(['input', 'verify']);

async function prepare(d: PipelineDeps, body: string): Promise<Prepared> {
  let handle: string | undefined;
  const timer = new StageTimer();
  try {
    const { msg, sealed } = decodeQueued(body);
    if (requestHandle(d.p, sealed) !== msg.handle) throw new InputError('POISON_MESSAGE', 'queue message handle does not match its body');
    handle = msg.handle;
    if (await d.decisions.get({ id: handle })) return { kind: 'final', outcome: { status: 'duplicate', handle } };
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
      if (PERMANENT.has(e.errorClass)) return { kind: 'reject', handle, error: e, timer };
      throw e;
    }
    // one inner request id, one sealed request: a reused id under another body is refused
    const ttl = Math.floor(d.clock.now() / 1000) + (d.ttlSeconds ?? DEFAULT_TTL_SECONDS);
    const claimed = await d.requests.put({ id: requestIdKey(inner.request_id), handle, ttl }, { ifAbsent: true });
    if (!claimed) {
      const prior = await d.requests.get({ id: requestIdKey(inner.request_id) });
      if (prior?.handle !== handle) {
        return { kind: 'reject', handle, error: new InputError('REQUEST_ID_REUSED', 'this request id was already used by another request'), timer };
      }
    }
    timer.lap('open');
    const council = councilFor(inner.route);
    const votes = await d.model.consult(council, { route: inner.route, request_digest: handle, payload: inner.payload });
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
    return { kind: 'decide', handle, inner, signed, timer };
  } catch (err) {
    const e = toImaError(err);
    if (e.code === 'POISON_MESSAGE') return { kind: 'final', outcome: { status: 'poison', code: e.code } };
    d.log.log('warn', 'request will be retried', { handle, code: e.code, error: e.message });
    return { kind: 'final', outcome: { status: 'retry', handle, code: e.code } };
  }
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
  const prepared = await Promise.all(bodies.map((b) => prepare(d, b)));
  const out: Outcome[] = prepared.map((x) => (x.kind === 'final' ? x.outcome : { status: 'retry', code: 'PENDING' }));
  const decide = prepared.flatMap((x, i) => (x.kind === 'decide' ? [{ x, i }] : []));
  const ttl = () => Math.floor(d.clock.now() / 1000) + (d.ttlSeconds ?? DEFAULT_TTL_SECONDS);

  // audit + PCR: one group commit for the batch; no decision leaves without its anchor
  let anchored: Awaited<ReturnType<AuditChain['commit']>> = [];
  if (decide.length > 0) {
    const t0 = performance.now();
    try {
      anchored = await d.audit.commit(
        decide.map(({ x }) => ({
          request_digest: x.handle,
          decision_digest: decisionDigestV2(d.p, x.signed),
          plaintext: payloadPlaintext(x.signed),
        })),
      );
    } catch (err) {
      const e = toImaError(err);
      d.log.log('error', 'audit commit failed: decisions held back, messages will come back', { code: e.code, error: e.message, count: decide.length });
      for (const { x, i } of decide) out[i] = { status: 'retry', handle: x.handle, code: e.code };
      anchored = [];
    }
    const auditMs = (performance.now() - t0) / Math.max(1, decide.length);
    for (const { x } of decide) x.timer.add('audit', auditMs);
  }

  await Promise.all(
    prepared.map(async (x, i) => {
      if (x.kind === 'final') return;
      try {
        if (x.kind === 'reject') {
          const refusal = await signRefusal(d.signer, {
            request_digest: x.handle,
            code: x.error.code,
            message: x.error.message,
            issuedAt: new Date(d.clock.now()).toISOString(),
            signerFingerprint: d.signerFingerprint,
          });
          await d.decisions.put(
            { id: x.handle, status: 'rejected', code: x.error.code, message: refusal.body.message, refusal: refusalText(refusal), decided_at: d.clock.now(), ttl: ttl() },
            { ifAbsent: true },
          );
          out[i] = { status: 'rejected', handle: x.handle, code: x.error.code };
          d.log.log('info', 'request rejected', { handle: x.handle, code: x.error.code });
          return;
        }
        const k = decide.findIndex((e) => e.i === i);
        const a = anchored[k];
        if (!a) return; // audit failed: already marked retry
        const certification = d.certification(Date.parse(x.signed.decision.issued_at));
        const response = buildResponseV2(x.signed, d.signer.publicKey, certification, { entry: a.core, proof: a.proof, batch: a.batch });
        const sealed = sealBytes(d.p, fromBase64(x.inner.reply_key, 'reply_key'), canonicalBytes(response));
        x.timer.lap('seal');
        const stored = await d.decisions.put({ id: x.handle, status: 'decided', sealed, decided_at: d.clock.now(), ttl: ttl() }, { ifAbsent: true });
        x.timer.lap('store');
        out[i] = { status: 'decided', handle: x.handle, outcome: x.signed.decision.outcome };
        // a concurrent worker (a redelivery racing this one) stored its decision first: that one is
        // the answer; ours stays only in the audit chain
        d.log.log('info', stored ? 'decision stored' : 'decision already stored by another worker', {
          handle: x.handle,
          route: x.inner.route,
          outcome: x.signed.decision.outcome,
          audit_seq: a.record.seq,
          batch: a.batch.statement.size,
          ms: { ...x.timer.ms, total: x.timer.total() },
        });
      } catch (err) {
        const e = toImaError(err);
        d.log.log('warn', 'storing the outcome failed: message will come back', { handle: x.handle, code: e.code });
        out[i] = { status: 'retry', handle: x.handle, code: e.code };
      }
    }),
  );
  return out;
}
