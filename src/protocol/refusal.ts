/**
 * Signed refusals (SPEC §8.10.5): when the worker refuses a request for good (it cannot be opened,
 * it is stale, its reply key is invalid, …) it says so under its ML-DSA-87 key, context
 * `ima-qs/v2/refusal`, bound to the request digest:
 *
 *   body   {v:2, request_digest, code, message, issued_at, signer}
 *   422    {"error":{"code","message"}, "refusal":{"body":…, "signature":"<base64>"}}
 *
 * A 422 whose refusal is missing, malformed, for another request, or badly signed is a FORGED
 * refusal (any proxy or table writer can write plain JSON): the client reports it as such.
 */
import { canonicalBytes } from '../crypto/canonical-json.js';
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import type { Signer } from '../crypto/signer.js';
import { HEX64, exactProblem, isIsoTime } from './shape.js';

export const REFUSAL_KEYS = ['v', 'request_digest', 'code', 'message', 'issued_at', 'signer'] as const;
export const MAX_REFUSAL_MESSAGE = 500;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export interface RefusalBody {
  v: 2;
  request_digest: string;
  code: string;
  message: string;
  issued_at: string;
  signer: string;
}

export interface SignedRefusal {
  body: RefusalBody;
  /** base64 ML-DSA-87, context ima-qs/v2/refusal */
  signature: string;
}

export async function signRefusal(
  signer: Signer,
  input: { request_digest: string; code: string; message: string; issuedAt: string; signerFingerprint: string },
): Promise<SignedRefusal> {
  const body: RefusalBody = {
    v: 2,
    request_digest: input.request_digest,
    code: input.code,
    message: input.message.slice(0, MAX_REFUSAL_MESSAGE),
    issued_at: input.issuedAt,
    signer: input.signerFingerprint,
  };
  const [sig] = await signer.signAll([{ purpose: 'refusal', value: body }]);
  return { body, signature: toBase64(sig) };
}

export function refusalText(r: SignedRefusal): string {
  return new TextDecoder().decode(canonicalBytes(r));
}

export function refusalProblem(x: unknown): string | undefined {
  const e = exactProblem(x, ['body', 'signature'], 'the refusal');
  if (e) return e;
  const r = x as Record<string, unknown>;
  if (typeof r.signature !== 'string') return 'the refusal signature is not base64 text';
  const be = exactProblem(r.body, REFUSAL_KEYS, 'the refusal body');
  if (be) return be;
  const b = r.body as Record<string, unknown>;
  if (b.v !== 2) return 'the refusal is not version 2';
  if (typeof b.request_digest !== 'string' || !HEX64.test(b.request_digest)) return 'request_digest is not 64 hex digits';
  if (typeof b.signer !== 'string' || !HEX64.test(b.signer)) return 'signer is not 64 hex digits';
  if (typeof b.code !== 'string' || !CODE.test(b.code)) return 'code is not an error code';
  if (typeof b.message !== 'string' || b.message.length > MAX_REFUSAL_MESSAGE) return `message is not text of at most ${MAX_REFUSAL_MESSAGE} characters`;
  if (!isIsoTime(b.issued_at)) return 'issued_at is not an RFC 3339 UTC time with milliseconds';
  return undefined;
}

export type RefusalVerdict = { ok: true; refusal: SignedRefusal } | { ok: false; reason: string };

/**
 * Checks a refusal against the trusted signer key (from a keys document verified against the pin)
 * and the request it must answer. Pure; a "no" is `{ok:false}`, never a throw.
 */
export function verifyRefusal(
  p: CryptoProvider,
  x: unknown,
  trusted: { publicKey: Uint8Array; fingerprint: string },
  requestDigest: string,
): RefusalVerdict {
  const problem = refusalProblem(x);
  if (problem) return { ok: false, reason: problem };
  const r = x as SignedRefusal;
  if (r.body.request_digest !== requestDigest) return { ok: false, reason: 'the refusal is for another request' };
  if (r.body.signer !== trusted.fingerprint) return { ok: false, reason: 'the refusal names another signer than the service key' };
  let sig: Uint8Array;
  try {
    sig = fromBase64(r.signature, 'refusal signature');
  } catch {
    return { ok: false, reason: 'the refusal signature is not base64' };
  }
  if (!verifyJson(p, trusted.publicKey, 'refusal', r.body, sig)) return { ok: false, reason: 'the refusal signature does not verify (context ima-qs/v2/refusal)' };
  return { ok: true, refusal: r };
}
