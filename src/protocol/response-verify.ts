/**
 * `verifyResponse`: the offline checks of a decision response, pure and synchronous (sigstore-js
 * style: fetching happens elsewhere). `ima-qs verify response.json`, the request client and the
 * browser page are built on it. It dispatches on the document's version: 2 (SPEC §8.10, written
 * now: every claim signed or recomputed) or 1 (SPEC §8.5, written before: its audit anchor is
 * unauthenticated). A malformed document is a failed `format` row, never a throw.
 *
 * Each check is one row {name, status, ok, detail}. A row says "ok" only about what was checked
 * cryptographically or recomputed (STYLE.md §14); what was not is "not checked" (e.g. the payload
 * digest without the file) or "unauthenticated" (a v1 anchor). Those rows do not fail the response
 * unless the caller requires them (`requireAnchor`).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyResponseV1 } from './response-verify-v1.js';
import { verifyResponseV2 } from './response-verify-v2.js';
import { isObj } from './shape.js';
import type { ResponseVerification, TrustAnchor, VerifyResponseOptions } from './verify-rows.js';

export { CheckRows, certificationProblem, certifiedSigner, normalizePin, trustedSigner } from './verify-rows.js';
export type { Certification } from './verify-rows.js';
export type { AnchorKind, CheckStatus, ResponseCheck, ResponseVerification, TrustAnchor, VerifyResponseOptions } from './verify-rows.js';

export function verifyResponse(p: CryptoProvider, response: unknown, trust: TrustAnchor, opts: VerifyResponseOptions = {}): ResponseVerification {
  const v = isObj(response) ? response.v : undefined;
  if (v === 2) return verifyResponseV2(p, response, trust, opts);
  if (v === 1) return verifyResponseV1(p, response, trust, opts);
  return {
    ok: false,
    anchor: 'none',
    checks: [{ name: 'format', ok: false, status: 'fail', detail: 'not a decision response of version 1 or 2' }],
  };
}
