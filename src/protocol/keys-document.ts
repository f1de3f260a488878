/**
 * The signed public-keys document (SPEC §7.3): what the proxy serves at GET /api/keys and what
 * `keys upload` publishes in the secret `${prefix}/public-keys`.
 *
 *   {"format":"ima-qs-public-keys/v1","service":"ima-qs",
 *    "keys":{"mlkem768":{"algorithm":"ML-KEM-768","publicKey":"<base64>","fingerprint":"<hex>"},
 *            "p384":{…"P-384"…},"composite":{…"MLKEM768-P384"…},"mldsa87":{…"ML-DSA-87"…}},
 *    "notBefore":"…Z","notAfter":"…Z","created":"…Z",
 *    "signature":{"algorithm":"ML-DSA-87","context":"ima-qs/v1/keys","value":"<base64>"}}
 *
 * The signature is ML-DSA-87 (FIPS 204, hedged) with context "ima-qs/v1/keys" over the RFC 8785
 * canonical JSON of the document without its "signature" member, by the key in keys.mldsa87.
 * A client trusts nothing in it before the embedded ML-DSA-87 key hashes to the fingerprint it
 * pinned out of band (DESIGN.md "The data flow", step 1).
 */
import { VerificationError } from '../errors.js';
import { concatBytes, equalBytes, fromBase64, fromHex, toBase64 } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { KeyAlg } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { SIGNATURE_CONTEXTS, signJson, verifyJson } from '../crypto/signature.js';
import { parseStrictJson } from './strict-json.js';
import { isUtcTime } from './utc-time.js';

export const KEYS_DOCUMENT_FORMAT = 'ima-qs-public-keys/v1';
/** a document larger than this is not one of ours (the real one is about 6 KiB) */
export const KEYS_DOCUMENT_MAX_BYTES = 64 * 1024;
export const DEFAULT_VALIDITY_DAYS = 365;

type Slot = 'mlkem768' | 'p384' | 'composite' | 'mldsa87';
const SLOTS: Record<Slot, { alg: KeyAlg; bytes: number }> = {
  mlkem768: { alg: 'ML-KEM-768', bytes: 1184 },
  p384: { alg: 'P-384', bytes: 97 },
  composite: { alg: 'MLKEM768-P384', bytes: 1281 },
  mldsa87: { alg: 'ML-DSA-87', bytes: 2592 },
};

export interface PublishedKey {
  algorithm: KeyAlg;
  publicKey: string;
  fingerprint: string;
}

export interface PublicKeysDocument {
  format: typeof KEYS_DOCUMENT_FORMAT;
  service: string;
  keys: Record<Slot, PublishedKey>;
  notBefore: string;
  notAfter: string;
  created: string;
  signature: { algorithm: 'ML-DSA-87'; context: string; value: string };
}

export interface DocumentKeys {
  mlkem: Uint8Array;
  ecdh: Uint8Array;
  composite: Uint8Array;
  mldsa: Uint8Array;
}

export type KeysDocumentVerdict =
  | {
      valid: true;
      document: PublicKeysDocument;
      keys: DocumentKeys;
      fingerprints: { mlkem: string; ecdh: string; composite: string; mldsa: string };
    }
  | {
      valid: false;
      code: 'KEYS_DOC_MALFORMED' | 'KEYS_DOC_PIN_MISMATCH' | 'KEYS_DOC_BAD_SIGNATURE' | 'KEYS_DOC_NOT_YET_VALID' | 'KEYS_DOC_EXPIRED';
      reason: string;
    };

/** Builds and signs the document for the service's public keys. */
export function createPublicKeysDocument(
  p: CryptoProvider,
  input: { mlkem: Uint8Array; ecdh: Uint8Array; signingKey: MlDsaPrivateKey; service?: string; now: Date; validityDays?: number },
): PublicKeysDocument {
  const days = input.validityDays ?? DEFAULT_VALIDITY_DAYS;
  const composite = concatBytes(input.mlkem, input.ecdh); // composite-kem draft: mlkemPK ‖ P-384 point
  const entry = (slot: Slot, pk: Uint8Array): PublishedKey => ({
    algorithm: SLOTS[slot].alg,
    publicKey: toBase64(pk),
    fingerprint: fingerprint(SLOTS[slot].alg, pk),
  });
  const created = isoSeconds(input.now);
  const unsigned: Omit<PublicKeysDocument, 'signature'> = {
    format: KEYS_DOCUMENT_FORMAT,
    service: input.service ?? 'ima-qs',
    keys: {
      mlkem768: entry('mlkem768', input.mlkem),
      p384: entry('p384', input.ecdh),
      composite: entry('composite', composite),
      mldsa87: entry('mldsa87', input.signingKey.publicKey),
    },
    notBefore: created,
    notAfter: isoSeconds(new Date(input.now.getTime() + days * 86_400_000)),
    created,
  };
  const sig = signJson(p, input.signingKey, 'keys', unsigned);
  return { ...unsigned, signature: { algorithm: 'ML-DSA-87', context: SIGNATURE_CONTEXTS.keys, value: toBase64(sig) } };
}

/**
 * Verifies a document (JSON text or parsed value) against a pinned ML-DSA-87 fingerprint:
 * structure → embedded ML-DSA key hashes to the pin (constant time) → signature → the listed
 * fingerprints match the keys → validity at `now`. A "no" is a verdict, never an exception.
 */
export function verifyPublicKeysDocument(p: CryptoProvider, input: unknown, opts: { pin: string; now: Date }): KeysDocumentVerdict {
  const bad = (code: Exclude<KeysDocumentVerdict, { valid: true }>['code'], reason: string): KeysDocumentVerdict => ({ valid: false, code, reason });
  let pin: Uint8Array;
  try {
    pin = fromHex(opts.pin.trim().toLowerCase(), 'pinned fingerprint');
  } catch {
    return bad('KEYS_DOC_PIN_MISMATCH', 'the pinned fingerprint is not hex');
  }
  if (pin.length !== 32) return bad('KEYS_DOC_PIN_MISMATCH', `the pinned fingerprint is ${pin.length} bytes; a fingerprint is 32 (64 hex digits)`);

  const parsed = parseDocument(input);
  if (typeof parsed === 'string') return bad('KEYS_DOC_MALFORMED', parsed);
  const { doc, keys } = parsed;

  // Precondition: nothing in the document is trusted before its signing key matches the pin.
  if (!equalBytes(fromHex(fingerprint('ML-DSA-87', keys.mldsa)), pin)) {
    return bad('KEYS_DOC_PIN_MISMATCH', 'the document is signed by an ML-DSA-87 key other than the pinned one');
  }
  const { signature, ...unsigned } = doc;
  let sig: Uint8Array;
  try {
    sig = fromBase64(signature.value, 'signature');
  } catch {
    return bad('KEYS_DOC_MALFORMED', 'signature.value is not base64');
  }
  if (!verifyJson(p, keys.mldsa, 'keys', unsigned, sig)) {
    return bad('KEYS_DOC_BAD_SIGNATURE', 'the ML-DSA-87 signature does not verify');
  }
  const fps = {
    mlkem: fingerprint('ML-KEM-768', keys.mlkem),
    ecdh: fingerprint('P-384', keys.ecdh),
    composite: fingerprint('MLKEM768-P384', keys.composite),
    mldsa: fingerprint('ML-DSA-87', keys.mldsa),
  };
  const listed = { mlkem: doc.keys.mlkem768, ecdh: doc.keys.p384, composite: doc.keys.composite, mldsa: doc.keys.mldsa87 };
  for (const k of Object.keys(fps) as (keyof typeof fps)[]) {
    if (listed[k].fingerprint !== fps[k]) return bad('KEYS_DOC_MALFORMED', `the fingerprint listed for ${listed[k].algorithm} is not the key's`);
  }
  if (!equalBytes(keys.composite, concatBytes(keys.mlkem, keys.ecdh))) {
    return bad('KEYS_DOC_MALFORMED', 'the composite key is not the ML-KEM-768 key followed by the P-384 key');
  }
  const t = opts.now.getTime();
  if (t < Date.parse(doc.notBefore)) return bad('KEYS_DOC_NOT_YET_VALID', `the document is valid from ${doc.notBefore}`);
  if (t > Date.parse(doc.notAfter)) return bad('KEYS_DOC_EXPIRED', `the document expired at ${doc.notAfter}`);
  return { valid: true, document: doc, keys, fingerprints: fps };
}

/** The verdict as an exception (exit 1) for callers that cannot go on without a valid document. */
export function assertPublicKeysDocument(p: CryptoProvider, input: unknown, opts: { pin: string; now: Date }) {
  const v = verifyPublicKeysDocument(p, input, opts);
  if (!v.valid) throw new VerificationError(v.code, `public-keys document: ${v.reason}`);
  return v;
}

function parseDocument(input: unknown): { doc: PublicKeysDocument; keys: DocumentKeys } | string {
  let v: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    if (text.length > KEYS_DOCUMENT_MAX_BYTES) return `the document is ${text.length} bytes; at most ${KEYS_DOCUMENT_MAX_BYTES} are expected`;
    try {
      v = parseStrictJson(text);
    } catch {
      return 'the document is not JSON';
    }
  }
  if (!isObject(v)) return 'the document is not a JSON object';
  if (v.format !== KEYS_DOCUMENT_FORMAT) return `format is not ${KEYS_DOCUMENT_FORMAT}`;
  if (typeof v.service !== 'string' || v.service.length === 0 || v.service.length > 128) return 'service is not a name';
  for (const f of ['notBefore', 'notAfter', 'created'] as const) {
    if (!isUtcDateTime(v[f])) return `${f} is not a UTC date-time`;
  }
  const sig = v.signature;
  if (!isObject(sig) || sig.algorithm !== 'ML-DSA-87' || sig.context !== SIGNATURE_CONTEXTS.keys || typeof sig.value !== 'string') {
    return `signature is not an ML-DSA-87 signature with context ${SIGNATURE_CONTEXTS.keys}`;
  }
  if (!isObject(v.keys)) return 'keys is not an object';
  const raw: Partial<Record<Slot, Uint8Array>> = {};
  for (const slot of Object.keys(SLOTS) as Slot[]) {
    const e = v.keys[slot];
    const { alg, bytes } = SLOTS[slot];
    if (!isObject(e) || e.algorithm !== alg || typeof e.publicKey !== 'string' || typeof e.fingerprint !== 'string') {
      return `keys.${slot} is not an ${alg} public key entry`;
    }
    let pk: Uint8Array;
    try {
      pk = fromBase64(e.publicKey, `keys.${slot}.publicKey`);
    } catch {
      return `keys.${slot}.publicKey is not base64`;
    }
    if (pk.length !== bytes) return `keys.${slot}.publicKey is ${pk.length} bytes; an ${alg} public key is ${bytes}`;
    raw[slot] = pk;
  }
  const allowed = new Set(['format', 'service', 'keys', 'notBefore', 'notAfter', 'created', 'signature']);
  for (const k of Object.keys(v)) if (!allowed.has(k)) return `unknown member ${k.slice(0, 40)}`;
  return {
    doc: v as unknown as PublicKeysDocument,
    keys: { mlkem: raw.mlkem768!, ecdh: raw.p384!, composite: raw.composite!, mldsa: raw.mldsa87! },
  };
}

/**
 * RFC 3339 UTC date-time (`Z`) naming a real instant: a month 13 or a Feb 30 would parse as NaN or
 * roll over, and a NaN bound compares false both ways, which would make the validity check pass.
 */
/** SPEC §1.5 "seconds" form: 2026-11-28T12:00:00Z, a real instant, no fraction. */
function isUtcDateTime(s: unknown): s is string {
  return isUtcTime(s, 'seconds');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
