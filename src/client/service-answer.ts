/**
 * What the client makes of a service answer that is not the success it asked for (SPEC §8.2,
 * §8.10.5): a JSON object or BAD_SERVICE_ANSWER, an error carrying the service's own code, and a
 * 422's signed refusal verified against the decisions signers the pinned root certifies. Pure and
 * browser-safe, like the client (black-box-client.ts).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import { ImaError, InputError, RemoteError, VerificationError } from '../errors.js';
import type { DocumentKeys } from '../protocol/keys-document.js';
import { verifyRefusal } from '../protocol/refusal.js';
import { parseStrictJsonBytes } from '../protocol/strict-json.js';
import { printable } from './http-answer.js';

/** A status and a body, as the client's one network step returns them. */
export interface Reply {
  status: number;
  body: Uint8Array;
}

export function jsonObject(body: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = parseStrictJsonBytes(body);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new RemoteError('BAD_SERVICE_ANSWER', `${what}: the service answered with something that is not a JSON object`);
}

/** A non-success answer as an error carrying the service's own code (SPEC §8.2 errors). */
export function refusal(res: Reply, what: string): RemoteError {
  let code = 'HTTP_' + res.status;
  let message = '';
  try {
    const e = (parseStrictJsonBytes(res.body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code)) code = e.code;
    if (typeof e?.message === 'string') message = printable(e.message);
  } catch {
    // not our JSON error shape: keep the status
  }
  return new RemoteError('SERVICE_REFUSED', `${what}: the service answered ${res.status} ${code}${message ? `: ${message}` : ''}`, {
    details: { status: res.status, serviceCode: code },
  });
}

/**
 * A 422 is the worker's refusal, signed (SPEC §8.10.5): verified against the decisions signers
 * the verified keys document certifies (any of its generations: a worker signs under the newest
 * it holds) and this request's digest. A real one is REQUEST_REFUSED
 * (exit 3, the service's code in details); anything else is a forged refusal (exit 1).
 */
export function signedRefusal(p: CryptoProvider, res: Reply, keys: DocumentKeys, handle: string): ImaError {
  let doc: unknown;
  try {
    doc = parseStrictJsonBytes(res.body);
  } catch {
    doc = undefined;
  }
  const claimed = (doc as { error?: { code?: unknown } } | undefined)?.error?.code;
  const shown = typeof claimed === 'string' && /^[A-Z0-9_]{1,64}$/.test(claimed) ? claimed : 'unknown';
  const claimedRefusal = (doc as { refusal?: unknown } | undefined)?.refusal;
  let v = verifyRefusal(p, claimedRefusal, { publicKey: keys.signers[0], fingerprint: fingerprint('ML-DSA-87', keys.signers[0]) }, handle);
  for (const signer of keys.signers.slice(1)) {
    if (v.ok) break;
    const other = verifyRefusal(p, claimedRefusal, { publicKey: signer, fingerprint: fingerprint('ML-DSA-87', signer) }, handle);
    if (other.ok) v = other;
  }
  if (!v.ok) {
    return new VerificationError('REFUSAL_FORGED', `the service answered 422 ${shown}, but the refusal is not signed by a signer the pinned root certifies: ${v.reason}`, {
      hint: 'something between you and the service (a proxy, or whoever can write its tables) made up this refusal; the request may still be decided: poll again or resend',
      details: { serviceCode: shown },
    });
  }
  const b = v.refusal.body;
  return new InputError('REQUEST_REFUSED', `the service refused the request (signed): ${b.code}: ${printable(b.message)}`, {
    details: { serviceCode: b.code, status: 422, signed: true, refusal: v.refusal },
  });
}
