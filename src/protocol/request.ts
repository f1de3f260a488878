/**
 * The sealed request (SPEC §8.1): what a client POSTs to /api/analyze or /api/patents.
 *
 *   body   = envelope (SPEC §4) sealed to the service's composite KEM key, sent as
 *            application/octet-stream; at most MAX_SEALED_BYTES
 *   inner  = the envelope's plaintext: UTF-8 JSON
 *            {v:1, request_id, timestamp, route, reply_key, payload:{name, content}}
 *   handle = lowercase hex SHA3-256(body): the request digest. The client computes it from what it
 *            sent; the proxy answers with it; the decision names it (decision.request_digest).
 *
 * Checks here are the boundary checks (STYLE.md §4): sizes and formats, with errors in the
 * user's terms. The proxy runs `checkSealedFormat` (no crypto, no private key); the worker opens
 * and runs `parseInnerRequest` + `checkFreshness`.
 */
import { InputError } from '../errors.js';
import { fromBase64, toBase64, toHex, utf8 } from '../crypto/bytes.js';
import { MLKEM768_P384, compositeGenerate, type CompositeKemPrivateKey } from '../crypto/composite-kem.js';
import { HEADER_SIZE, TAG_SIZE, checkHeaderPrefix, decodeHeader, sealBytes } from '../crypto/envelope.js';
import { checkCompositePublicKey } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { parseStrictJsonBytes } from './strict-json.js';
import { isUtcTime } from './utc-time.js';

export const ROUTES = ['analyze', 'patents'] as const;
export type Route = (typeof ROUTES)[number];

/**
 * 128 KiB: base64 in the SQS message (SPEC §8.2) then stays below SQS's 256 KiB message limit.
 * The smallest envelope is a header and one empty chunk's tag.
 */
export const MAX_SEALED_BYTES = 128 * 1024;
export const MIN_SEALED_BYTES = HEADER_SIZE + TAG_SIZE;
/** a request older or newer than this (client clock vs the proxy's clock at entry) is refused as stale */
export const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;
export const MAX_NAME_CHARS = 255;
export const REPLY_KEY_BYTES = 1281; // MLKEM768_P384 public key: 1184 ‖ 97

export interface RequestPayload {
  /** what the content is called (a file name), 1..255 characters */
  name: string;
  /** the text to judge (UTF-8) */
  content: string;
}

export interface InnerRequest {
  v: 1;
  /** a UUID (RFC 9562 text form, lowercase) chosen by the client; never reused */
  request_id: string;
  /** RFC 3339 UTC time with milliseconds, e.g. 2026-05-01T12:00:00.000Z */
  timestamp: string;
  route: Route;
  /** base64 of the client's ephemeral composite public key (1281 bytes): the decision is sealed to it */
  reply_key: string;
  payload: RequestPayload;
}

export function isRoute(s: string): s is Route {
  return (ROUTES as readonly string[]).includes(s);
}

/** The request digest / poll handle: hex SHA3-256 of the exact sealed bytes. */
export function requestHandle(p: Pick<CryptoProvider, 'sha3_256'>, sealed: Uint8Array): string {
  return toHex(p.sha3_256(sealed));
}

export function isHandle(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

/**
 * Proxy-side checks, before any crypto (SPEC §8.1): size bounds, the envelope's magic, version and
 * suite, and (when known) that it is sealed to this service's key — all without a private key.
 */
export function checkSealedFormat(sealed: Uint8Array, expectedRecipientFingerprint?: Uint8Array | readonly Uint8Array[]): void {
  if (sealed.length > MAX_SEALED_BYTES) {
    throw new InputError('BODY_TOO_LARGE', `the request body is ${sealed.length} bytes; the limit is ${MAX_SEALED_BYTES}`);
  }
  checkHeaderPrefix(sealed);
  if (sealed.length < MIN_SEALED_BYTES) {
    throw new InputError('BODY_TOO_SMALL', `the request body is ${sealed.length} bytes; a sealed request is at least ${MIN_SEALED_BYTES}`);
  }
  if (expectedRecipientFingerprint) {
    const fp = decodeHeader(sealed).fingerprint;
    // any generation the service publishes (current and accepted, SPEC §7.3)
    const expected = expectedRecipientFingerprint instanceof Uint8Array ? [expectedRecipientFingerprint] : expectedRecipientFingerprint;
    const same = expected.some((e) => {
      let eq = fp.length === e.length;
      for (let i = 0; eq && i < fp.length; i++) eq = fp[i] === e[i];
      return eq;
    });
    if (!same) {
      throw new InputError('WRONG_RECIPIENT', 'the request is sealed to a different key than this service publishes', {
        hint: 'fetch GET /api/keys again: the service keys may have been rotated',
      });
    }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const INNER_KEYS = ['v', 'request_id', 'timestamp', 'route', 'reply_key', 'payload'];

function bad(message: string): InputError {
  return new InputError('BAD_REQUEST_CONTENT', message);
}

function exactKeys(obj: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw bad(`${what} has an unknown field "${k.slice(0, 40)}"`);
  for (const k of keys) if (!(k in obj)) throw bad(`${what} is missing the field "${k}"`);
}

/** Parses and checks the opened inner request (SPEC §8.1); unknown fields are refused. */
export function parseInnerRequest(plaintext: Uint8Array): InnerRequest {
  let doc: unknown;
  try {
    doc = parseStrictJsonBytes(plaintext);
  } catch {
    throw bad('the opened request is not UTF-8 JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('the opened request is not a JSON object');
  const r = doc as Record<string, unknown>;
  exactKeys(r, INNER_KEYS, 'the request');
  if (r.v !== 1) throw bad(`request version ${String(r.v).slice(0, 10)} is not supported; expected 1`);
  if (typeof r.request_id !== 'string' || !UUID.test(r.request_id)) throw bad('request_id is not a lowercase UUID');
  if (!isUtcTime(r.timestamp, 'millis')) {
    throw bad('timestamp is not an RFC 3339 UTC time like 2026-05-01T12:00:00.000Z');
  }
  if (typeof r.route !== 'string' || !isRoute(r.route)) throw bad(`route is not one of ${ROUTES.join(', ')}`);
  if (typeof r.reply_key !== 'string') throw bad('reply_key is not base64 text');
  const key = fromBase64(r.reply_key, 'reply_key');
  if (key.length !== REPLY_KEY_BYTES) {
    throw bad(`reply_key is ${key.length} bytes; a composite ML-KEM-768 + P-384 public key is ${REPLY_KEY_BYTES}`);
  }
  // the whole key now, not when the answer is sealed (SPEC §8.1): a key that cannot be sealed to is
  // a permanent refusal decided before any vote, signature or audit entry
  try {
    checkCompositePublicKey('reply_key', key);
  } catch {
    throw new InputError('REPLY_KEY_INVALID', 'reply_key is not a valid composite public key (its ML-KEM-768 part fails the FIPS 203 §7.2 modulus check, or its P-384 part is not an uncompressed point on the curve)');
  }
  const pl = r.payload;
  if (typeof pl !== 'object' || pl === null || Array.isArray(pl)) throw bad('payload is not a JSON object');
  exactKeys(pl as Record<string, unknown>, ['name', 'content'], 'the payload');
  const { name, content } = pl as Record<string, unknown>;
  if (typeof name !== 'string' || name.length < 1 || name.length > MAX_NAME_CHARS) {
    throw bad(`payload.name must be 1 to ${MAX_NAME_CHARS} characters`);
  }
  if (typeof content !== 'string') throw bad('payload.content is not text');
  return r as unknown as InnerRequest;
}

/**
 * Refuses a request whose timestamp is more than `maxSkewMs` from `receivedAtMs` (either way):
 * the time the service received it (SPEC §8.1: the proxy's `received_at`, never the time a worker
 * picks it up, so a queue backlog never makes a fresh request stale).
 */
export function checkFreshness(req: InnerRequest, receivedAtMs: number, maxSkewMs = DEFAULT_MAX_SKEW_MS): void {
  const t = Date.parse(req.timestamp);
  if (Math.abs(receivedAtMs - t) > maxSkewMs) {
    throw new InputError('STALE_REQUEST', `the request timestamp ${req.timestamp} is more than ${Math.round(maxSkewMs / 1000)} s from the time the service received it`, {
      hint: 'check the client clock, and seal a new request (never resend an old one)',
    });
  }
}

export interface SealedRequest {
  sealed: Uint8Array;
  handle: string;
  inner: InnerRequest;
  /** the ephemeral key the decision will be sealed to: keep it until the answer is opened */
  replyKey: CompositeKemPrivateKey;
}

/**
 * Client side: makes an ephemeral composite key pair and seals a request to the service's
 * composite KEM public key (1281 bytes). `requestId` and `now` are injectable for tests.
 */
export function sealRequest(
  p: CryptoProvider,
  serviceRecipientKey: Uint8Array,
  route: Route,
  payload: RequestPayload,
  opts: { requestId?: string; nowMs?: number } = {},
): SealedRequest {
  const replyKey = compositeGenerate(p);
  const inner: InnerRequest = {
    v: 1,
    request_id: opts.requestId ?? uuidV4(p.randomBytes(16)),
    timestamp: new Date(opts.nowMs ?? Date.now()).toISOString(),
    route,
    reply_key: toBase64(replyKey.publicKey),
    payload,
  };
  const sealed = sealBytes(p, serviceRecipientKey, utf8(JSON.stringify(inner)));
  return { sealed, handle: requestHandle(p, sealed), inner, replyKey };
}

/** RFC 9562 version 4 UUID text from 16 random bytes. */
export function uuidV4(rnd: Uint8Array): string {
  const b = rnd.slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// keeps the constant honest against the KEM module (checked at load, cheap)
if (MLKEM768_P384.publicKeyBytes !== REPLY_KEY_BYTES) throw new Error('composite public key size drifted from SPEC §8.1');
