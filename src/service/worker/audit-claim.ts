/**
 * Once per request (SPEC §8.7): at most one audit entry and one stored outcome per request digest,
 * whatever happens between the audit commit and the store — a failed store, a crash, a duplicate
 * SQS delivery, two workers racing.
 *
 * Before an entry is appended, its worker claims the request's audit slot with a conditional put
 * of `aud#<handle>` in the requests table: `{chain, seq, claimed_at, ttl}`, plus `decision` (the
 * signed decision sealed to the SERVICE's own composite key) when the audit payload is sealed to a
 * separate auditor key — otherwise the entry's own payload is that sealed decision. A later
 * attempt on any worker that finds the claim does not decide again: it rebuilds the response from
 * the claimed entry, the inclusion proof recomputed from its batch's stored entries, the batch's
 * signed statement and the claimed decision — no new signature, no auditor key needed.
 *
 * A claim is stale, and is taken over (conditional delete on its exact content, then a new
 * conditional put), when
 *   - it names this worker's own chain but no entry of this request at its seq (the append failed:
 *     nothing of it was anchored), or
 *   - it names another chain, is older than the lease (default twice the visibility timeout), and
 *     its entry is missing or still not covered by a batch statement (its worker died or hangs).
 * The entry of a claim taken over is never released; if it was appended it stays in its chain as a
 * superseded entry (`audit verify` reports an unanchored one as `unanchored-superseded`).
 * A fresh claim of another chain (its worker is at work) makes this attempt wait: the message
 * comes back after its visibility timeout (AUDIT_CLAIM_PENDING, a remote failure).
 */
import type { Anchored } from '../../audit/audit-chain.js';
import { parseCore, payloadPlaintext, type AuditRecord } from '../../audit/audit-entry.js';
import type { AuditStore } from '../../audit/audit-store.js';
import { fromBase64, fromHex, toBase64, toHex } from '../../crypto/bytes.js';
import type { CompositeKemPrivateKey } from '../../crypto/composite-kem.js';
import { openBytes, sealBytes } from '../../crypto/envelope.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { ImaError, RemoteError } from '../../errors.js';
import type { Clock, Item, Table } from '../../ports.js';
import type { AuditCoreV3 } from '../../protocol/audit-core.js';
import { statementProblem, type BatchStatement } from '../../protocol/batch-statement.js';
import { decisionDigestV2, type SignedDecisionV2 } from '../../protocol/decision-v2.js';
import { allInclusionPaths, leafHash, rootFromLeafHashes } from '../../protocol/merkle.js';
import { auditClaimKey } from '../../protocol/records.js';
import { parseStrictJson, parseStrictJsonBytes } from '../../protocol/strict-json.js';

export interface AuditClaim {
  chain: string;
  seq: number;
  claimed_at: number;
  /** base64 envelope of the signed decision sealed to the service key (only with an auditor key) */
  decision?: string;
}

export interface AuditClaimsOptions {
  p: CryptoProvider;
  requests: Table;
  store: AuditStore;
  /** this worker's chain */
  chain: string;
  /** the service's composite key: claimed decisions are sealed to its public key, opened with it */
  serviceKey: CompositeKemPrivateKey;
  /** whether the audit payloads are sealed to the service key (then a claim needs no copy) */
  payloadToService: boolean;
  clock: Clock;
  leaseMs: number;
  ttlSeconds: number;
}

function claimOf(it: Item | undefined): AuditClaim | undefined {
  if (!it || typeof it.chain !== 'string' || typeof it.seq !== 'number' || typeof it.claimed_at !== 'number') return undefined;
  return { chain: it.chain, seq: it.seq, claimed_at: it.claimed_at, ...(typeof it.decision === 'string' ? { decision: it.decision } : {}) };
}

export class AuditClaims {
  constructor(private readonly o: AuditClaimsOptions) {}

  /**
   * The claim step of one request for `AuditChain.commitClaimed`: true when the slot is ours
   * (claimed, or a stale claim taken over); false when another attempt holds it — then
   * `held.get(handle)` is that claim, to rebuild the response from.
   */
  claimer(handle: string, signed: SignedDecisionV2, held: Map<string, AuditClaim>, onTakeover?: (old: AuditClaim) => void) {
    const o = this.o;
    const key = { id: auditClaimKey(handle) };
    // only with an auditor key: the entry's payload cannot be opened by the service key
    const decision = o.payloadToService ? undefined : toBase64(sealBytes(o.p, o.serviceKey.publicKey, payloadPlaintext(signed)));
    return async (seq: number, moved: boolean): Promise<boolean> => {
      const now = o.clock.now();
      const item: Item = { ...key, chain: o.chain, seq, claimed_at: now, ttl: Math.floor(now / 1000) + o.ttlSeconds, ...(decision ? { decision } : {}) };
      if (moved) {
        await o.requests.put(item); // already ours: the seq it gets changed
        return true;
      }
      if (await o.requests.put(item, { ifAbsent: true })) return true;
      const now2 = await o.requests.get(key);
      const claim = claimOf(now2);
      if (!claim) return o.requests.put(item, { ifAbsent: true }); // gone meanwhile (its ttl): try once more
      if (await this.stale(handle, claim)) {
        const cond: Item = { chain: claim.chain, seq: claim.seq, claimed_at: claim.claimed_at };
        if ((await o.requests.deleteIf(key, cond)) && (await o.requests.put(item, { ifAbsent: true }))) {
          onTakeover?.(claim);
          return true;
        }
        const again = claimOf(await o.requests.get(key));
        if (again) held.set(handle, again);
        return false;
      }
      held.set(handle, claim);
      return false;
    };
  }

  /** Whether `claim` may be taken over (see the module comment). */
  private async stale(handle: string, claim: AuditClaim): Promise<boolean> {
    const o = this.o;
    const entry = await o.store.get(claim.chain, claim.seq);
    const ours = entry !== undefined && entryDigestOf(entry) === handle;
    if (claim.chain === o.chain) return !ours; // our own chain: commits are serialised, so the append failed
    if (o.clock.now() - claim.claimed_at <= o.leaseMs) return false;
    if (!ours) return true;
    return (await this.statementFor(claim.chain, claim.seq)) === undefined;
  }

  /** Whether the owner of `claim` is still within its lease (after a commit that reused nothing). */
  async stillOurs(handle: string, claimedAt: number): Promise<boolean> {
    const c = claimOf(await this.o.requests.get({ id: auditClaimKey(handle) }));
    return c !== undefined && c.chain === this.o.chain && c.claimed_at === claimedAt;
  }

  private async statementFor(chain: string, seq: number): Promise<{ statement: BatchStatement; signature: string } | undefined> {
    const [rec] = await this.o.store.batches(chain, { to: seq, descending: true, limit: 1 });
    if (!rec) return undefined;
    let st: unknown;
    try {
      st = parseStrictJson(rec.statement);
    } catch {
      return undefined;
    }
    if (statementProblem(st)) return undefined;
    const s = st as BatchStatement;
    return seq < s.first_seq + s.size ? { statement: s, signature: rec.signature } : undefined;
  }

  /**
   * The anchored entry of a held claim, as a response carries it, and the signed decision it
   * records; AUDIT_CLAIM_PENDING (remote: the message comes back) while the entry is not anchored.
   */
  async rebuild(handle: string, claim: AuditClaim): Promise<{ signed: SignedDecisionV2; anchored: Pick<Anchored, 'core' | 'proof' | 'batch'> }> {
    const o = this.o;
    const pending = (why: string) => new RemoteError('AUDIT_CLAIM_PENDING', `the audit entry claimed for this request at ${claim.chain}/${claim.seq} ${why}`);
    const entry = await o.store.get(claim.chain, claim.seq);
    if (!entry || entryDigestOf(entry) !== handle) throw pending('is not stored yet');
    const st = await this.statementFor(claim.chain, claim.seq);
    if (!st) throw pending('is not anchored yet');
    const { statement } = st;
    const entries = await o.store.range(claim.chain, { from: statement.first_seq, to: statement.first_seq + statement.size - 1 });
    const leaves = entries.map((r) => leafHash(o.p, fromHex(r.digest)));
    if (entries.length !== statement.size || toHex(rootFromLeafHashes(o.p, leaves)) !== statement.entries_root) {
      throw new ImaError('internal', 'AUDIT_BATCH_INCONSISTENT', `the stored entries of batch ${claim.chain}/${statement.first_seq} do not give its signed root`);
    }
    const index = claim.seq - statement.first_seq;
    const core = parseCore(entry) as AuditCoreV3;
    const sealed = claim.decision !== undefined ? fromBase64(claim.decision, 'claimed decision') : fromBase64(entry.payload ?? '', 'audit payload');
    const signed = parseStrictJsonBytes(openBytes(o.p, o.serviceKey, sealed)) as SignedDecisionV2;
    if (decisionDigestV2(o.p, signed) !== core.decision_digest) {
      throw new ImaError('internal', 'AUDIT_CLAIM_INCONSISTENT', `the decision claimed at ${claim.chain}/${claim.seq} is not the one its entry records`);
    }
    const path = allInclusionPaths(o.p, leaves)[index].map(toHex);
    return { signed, anchored: { core, proof: { index, size: statement.size, path }, batch: st } };
  }
}

/** The request digest an entry records (v3 cores), without a full check. */
function entryDigestOf(rec: AuditRecord): string | undefined {
  try {
    const c = parseCore(rec) as { request_digest?: unknown };
    return typeof c.request_digest === 'string' ? c.request_digest : undefined;
  } catch {
    return undefined;
  }
}

