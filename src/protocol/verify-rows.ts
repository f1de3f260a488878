/**
 * The rows of a verification (response, vote document) and the trust check they share: what the
 * verifiers of src/protocol return, one row per check. A row says "ok" only about what was
 * checked cryptographically or recomputed (STYLE.md §14); what was not is "not checked" or
 * "unauthenticated", which fail only when the caller requires them.
 */
import { equalBytes, fromBase64, fromHex } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import { MLDSA87_SIZES } from '../crypto/signature.js';
import { HEX64 } from './shape.js';

export type CheckStatus = 'ok' | 'fail' | 'not checked' | 'unauthenticated';

export interface ResponseCheck {
  name: string;
  /** false only for a failed check */
  ok: boolean;
  status: CheckStatus;
  detail: string;
}

/** What the audit anchor of a valid response amounts to, for labels in every output. */
export type AnchorKind = 'tpm' | 'simulated' | 'unauthenticated' | 'none';

export interface ResponseVerification {
  ok: boolean;
  /** the response format version, when the document had one we read */
  version?: 1 | 2;
  anchor: AnchorKind;
  checks: ResponseCheck[];
}

/** What the verifier trusts: the pinned fingerprint (64 hex) or the ML-DSA-87 public key itself. */
export type TrustAnchor = string | Uint8Array;

export interface VerifyResponseOptions {
  /** the handle of the request it must answer (the client knows it; verify --request-digest) */
  requestDigest?: string;
  /** SHA3-256 of canonical {name, content} sent (the client; verify --file) */
  payloadDigest?: string;
  /** an unauthenticated anchor (v1) fails instead of being reported */
  requireAnchor?: boolean;
  /** a simulated anchor fails too: only a TPM anchor passes */
  requireTpm?: boolean;
}

/** Collects the rows of one verification. */
export class CheckRows {
  readonly rows: ResponseCheck[] = [];

  add(name: string, pass: boolean, detail: string): boolean {
    this.rows.push({ name, ok: pass, status: pass ? 'ok' : 'fail', detail });
    return pass;
  }

  /** A row about something not verified: fails only when `required`. */
  note(name: string, status: 'not checked' | 'unauthenticated', detail: string, required = false): void {
    this.rows.push({ name, ok: !required, status: required ? 'fail' : status, detail: required ? `${detail} (required)` : detail });
  }

  get ok(): boolean {
    return this.rows.every((c) => c.ok);
  }
}

export function normalizePin(pin: string): string {
  return pin.trim().toLowerCase().replace(/^sha3-256:/, '');
}

/**
 * The `signer key` row: the response's ML-DSA-87 public key must be the trusted one, and every
 * fingerprint the document names for its signer must be that key's. Returns the key when trusted.
 */
export function trustedSigner(publicKeyB64: unknown, trust: TrustAnchor, named: readonly unknown[]): { key?: Uint8Array; ok: boolean; detail: string } {
  let pk: Uint8Array | undefined;
  try {
    pk = typeof publicKeyB64 === 'string' ? fromBase64(publicKeyB64, 'signer.public_key') : undefined;
  } catch {
    pk = undefined;
  }
  if (!pk || pk.length !== MLDSA87_SIZES.publicKey) {
    return { ok: false, detail: `signer.public_key is ${pk?.length ?? 'not'} bytes; an ML-DSA-87 public key is ${MLDSA87_SIZES.publicKey}` };
  }
  const fp = fingerprint('ML-DSA-87', pk);
  let ok: boolean;
  let detail: string;
  if (typeof trust === 'string') {
    const pin = normalizePin(trust);
    ok = HEX64.test(pin) && equalBytes(fromHex(fp), fromHex(pin));
    detail = ok ? `fingerprint ${fp} matches the pin` : `fingerprint ${fp} is not the pinned ${pin.slice(0, 64)}`;
  } else {
    ok = equalBytes(pk, trust);
    detail = ok ? `the given public key (fingerprint ${fp})` : 'the response was signed by another key than the one given';
  }
  if (ok && named.some((n) => n !== fp)) return { ok: false, detail: 'the document names another signer fingerprint than the signing key' };
  return ok ? { key: pk, ok, detail } : { ok, detail };
}

