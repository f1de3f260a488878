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
import { type AuditEntryCore, payloadBytes } from './audit-entry.js';
import type { TrustedSigners } from './audit-verify.js';

export type OpenedPayload =
  | {
      status: 'opened';
      signed: SignedDecision;
      /** the payload's decision digest equals the entry's decision_digest */
      digestOk: boolean;
      /** decision and vote signatures, when a trusted key is known (undefined: not checked) */
      decisionSignatureOk?: boolean;
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

  open(core: AuditEntryCore): OpenedPayload {
    if (core.recipient !== this.fp) return { status: 'other-recipient', recipient: core.recipient };
    let signed: SignedDecision;
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(openBytes(this.p, this.key, payloadBytes(core)));
      signed = JSON.parse(text) as SignedDecision;
      if (!signed || typeof signed !== 'object' || !signed.decision || !Array.isArray(signed.votes) || typeof signed.signature !== 'string') {
        return { status: 'unreadable', reason: 'the payload is not a signed decision' };
      }
    } catch {
      return { status: 'unreadable', reason: 'the payload does not open with this key (altered or sealed to another key)' };
    }
    const digestOk = decisionDigest(this.p, signed) === core.decision_digest;
    const pk = this.trusted?.get(core.signer);
    if (!pk) return { status: 'opened', signed, digestOk };
    const ok = (purpose: 'decision' | 'vote', value: unknown, sig: unknown) => {
      try {
        return typeof sig === 'string' && verifyJson(this.p, pk, purpose, value, fromBase64(sig, 'signature'));
      } catch {
        return false;
      }
    };
    return {
      status: 'opened',
      signed,
      digestOk,
      decisionSignatureOk: ok('decision', signed.decision, signed.signature),
      votesOk: signed.votes.filter((v) => ok('vote', v?.body, v?.signature)).length,
    };
  }
}
