/**
 * Opening an audit entry's sealed payload (SPEC §8.7): the envelope (SPEC §4) of the canonical JSON
 * {decision, signature, votes}, sealed to the audit recipient. Only with that private key
 * (`--decrypt --identity DIR`) does anything of the decision become readable; the opened payload
 * is checked against the entry (decision digest) and its signatures (decision and vote contexts).
 */
import { fromBase64 } from '../crypto/bytes.js';
import type { CompositeKemPrivateKey } from '../crypto/composite-kem.js';
import { openBytes } from '../crypto/envelope.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { decisionDigest, type SignedDecision } from '../protocol/decision.js';
import { votesRoot, type SignedDecisionV2, type VoteLeaf } from '../protocol/decision-v2.js';
import { type AuditEntryCore, type AuditRecord, payloadBytes } from './audit-entry.js';
import type { TrustedSigners } from './audit-verify.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export type OpenedPayload =
  | {
      status: 'opened';
      signed: SignedDecision | SignedDecisionV2;
      /** the payload's decision digest equals the entry's decision_digest */
      digestOk: boolean;
      /** decision signature, when a trusted key is known (undefined: not checked) */
      decisionSignatureOk?: boolean;
      /** v1: valid vote signatures; v2: the votes' Merkle root is the signed votes_root (21 or 0) */
      votesOk?: number;
    }
  | { status: 'other-recipient'; recipient: string }
  | { status: 'unreadable'; reason: string };

export class PayloadOpener {
  private readonly fp: string;

  constructor(
    private readonly p: CryptoProvider,
    private readonly key: CompositeKemPrivateKey,
    private readonly trusted?: TrustedSigners,
  ) {
    this.fp = fingerprint('MLKEM768-P384', key.publicKey);
  }

  /** Fingerprint of the identity's composite public key: the `recipient` it can open. */
  get fingerprint(): string {
    return this.fp;
  }

  /** `rec`: the stored record, whose `payload` a v3 core names (v1/v2 cores carry it inline). */
  open(core: AuditEntryCore, rec?: Pick<AuditRecord, 'payload'>): OpenedPayload {
    if (core.recipient !== this.fp) return { status: 'other-recipient', recipient: core.recipient };
    let signed: SignedDecision | SignedDecisionV2;
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(openBytes(this.p, this.key, payloadBytes(core, rec)));
      signed = parseStrictJson(text) as SignedDecision | SignedDecisionV2;
      if (!signed || typeof signed !== 'object' || !signed.decision || !Array.isArray(signed.votes) || typeof signed.signature !== 'string') {
        return { status: 'unreadable', reason: 'the payload is not a signed decision' };
      }
    } catch {
      return { status: 'unreadable', reason: 'the payload does not open with this key (altered or sealed to another key)' };
    }
    let digestOk: boolean;
    try {
      digestOk = decisionDigest(this.p, signed as SignedDecision) === core.decision_digest; // same rule for v1 and v2
    } catch {
      digestOk = false;
    }
    const signer = (signed.decision as { signer?: unknown }).signer;
    const pk = typeof signer === 'string' ? this.trusted?.get(signer) : undefined;
    if (!pk) return { status: 'opened', signed, digestOk };
    const ok = (purpose: 'decision' | 'decision2' | 'vote', value: unknown, sig: unknown) => {
      try {
        return typeof sig === 'string' && verifyJson(this.p, pk, purpose, value, fromBase64(sig, 'signature'));
      } catch {
        return false;
      }
    };
    if ((signed.decision as { v?: unknown }).v === 2) {
      const s2 = signed as SignedDecisionV2;
      let rootOk = false;
      try {
        rootOk = votesRoot(this.p, s2.votes as VoteLeaf[]) === s2.decision.votes_root;
      } catch {
        rootOk = false;
      }
      return { status: 'opened', signed, digestOk, decisionSignatureOk: ok('decision2', s2.decision, s2.signature), votesOk: rootOk ? s2.votes.length : 0 };
    }
    const s1 = signed as SignedDecision;
    return {
      status: 'opened',
      signed,
      digestOk,
      decisionSignatureOk: ok('decision', s1.decision, s1.signature),
      votesOk: s1.votes.filter((v) => ok('vote', v?.body, v?.signature)).length,
    };
  }
}
