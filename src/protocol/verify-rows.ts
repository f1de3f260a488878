/**
 * The rows of a verification (response, vote document) and the trust check they share: what the
 * verifiers of src/protocol return, one row per check. A row says "ok" only about what was
 * checked cryptographically or recomputed (STYLE.md §14); what was not is "not checked" or
 * "unauthenticated", which fail only when the caller requires them.
 */
import { equalBytes, fromBase64, fromHex } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { MLDSA87_SIZES } from '../crypto/signature.js';
import { keySetProblem, pinnedRoot, verifyKeySet, type SignedKeySet } from './keyset.js';
import { HEX64, exactProblem, orUndefined } from './shape.js';

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
  /** the key-set generation that certified the signer (version 2), when the signer key row passed */
  generation?: number;
}

/**
 * What the verifier trusts: the pinned ROOT fingerprint (64 hex), or the root's ML-DSA-87 public
 * key itself (SPEC §8.10.9). A version 1 response (written before the offline root) has no
 * certification: for it the pin (or key) is the service's signing key, as it was then.
 */
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
  /**
   * the highest key-set generation seen for this root: a response certified by a lower one is a
   * rollback — unless its signer is one that generation still certifies (`stillCertified`), so a
   * decision made before a rotation that kept its signer (a KMS signer) still verifies
   */
  minGeneration?: number;
  /** the decisions signers' fingerprints the highest generation seen certifies */
  stillCertified?: readonly string[];
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

/** The certification a version 2 response or vote carries (SPEC §8.10): the root key and the signed key-set statement. */
export interface Certification {
  root: string;
  keyset: SignedKeySet;
}

export function certificationProblem(x: unknown): string | undefined {
  const e = exactProblem(x, ['root', 'keyset'], 'certification');
  if (e) return e;
  const c = x as Record<string, unknown>;
  if (typeof c.root !== 'string') return 'certification.root is not base64 text';
  const ke = keySetProblem(c.keyset);
  return ke ? `certification: ${ke}` : undefined;
}

/**
 * The `signer key` row of a certified document (SPEC §8.10): pin → the root public key (its
 * fingerprint, constant time) → the key-set statement (root signature, context ima-qs/v2/keyset;
 * valid at `at`, the decision's issued_at; generation ≥ minGeneration) → the signer key, which
 * must be the statement's `decisions` signer; every fingerprint the document names must be it.
 */
export function certifiedSigner(
  p: CryptoProvider,
  cert: Certification,
  publicKeyB64: unknown,
  trust: TrustAnchor,
  named: readonly unknown[],
  opts: { at: number; minGeneration?: number; stillCertified?: readonly string[] },
): { key?: Uint8Array; generation?: number; ok: boolean; detail: string } {
  let root: Uint8Array | undefined;
  if (typeof trust === 'string') {
    const pin = normalizePin(trust);
    root = pinnedRoot(cert.root, pin);
    if (!root) return { ok: false, detail: `the certifying root is not the pinned root ${pin.slice(0, 16)}…` };
  } else {
    root = orUndefined(() => fromBase64(cert.root, 'certification.root'));
    if (!root || !equalBytes(root, trust)) return { ok: false, detail: 'the certifying root is not the root key given' };
  }
  const v = verifyKeySet(p, cert.keyset, root, { at: opts.at });
  if (!v.ok) return { ok: false, detail: `the key-set statement does not certify the signer: ${v.reason}` };
  // SPEC §8.10: an older generation than seen is a rollback, unless the newest seen still certifies the signer
  let older = '';
  if (opts.minGeneration !== undefined && v.keys.generation < opts.minGeneration) {
    if (!opts.stillCertified?.includes(v.keys.fingerprints.decisions)) {
      return { ok: false, detail: `generation ${v.keys.generation} is older than generation ${opts.minGeneration} already seen for this root, which no longer certifies this signer (a rollback is refused)` };
    }
    older = `; older than generation ${opts.minGeneration} seen, which still certifies this signer`;
  }
  let pk: Uint8Array | undefined;
  try {
    pk = typeof publicKeyB64 === 'string' ? fromBase64(publicKeyB64, 'signer.public_key') : undefined;
  } catch {
    pk = undefined;
  }
  if (!pk || !equalBytes(pk, v.keys.decisions)) {
    return { ok: false, detail: `the signer is not the decisions signer that generation ${v.keys.generation} certifies (${v.keys.fingerprints.decisions.slice(0, 16)}…)` };
  }
  const fp = v.keys.fingerprints.decisions;
  if (named.some((n) => n !== fp)) return { ok: false, detail: 'the document names another signer fingerprint than the signing key' };
  return {
    key: pk,
    generation: v.keys.generation,
    ok: true,
    detail: `${fp} certified by generation ${v.keys.generation} of root ${cert.keyset.statement.root.slice(0, 16)}… (valid ${cert.keyset.statement.not_before} to ${cert.keyset.statement.not_after}${older})`,
  };
}
