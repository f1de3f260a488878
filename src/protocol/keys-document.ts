/**
 * The public-keys document (SPEC §7.3): what the proxy serves at GET /api/keys and what
 * `keys upload|rotate` publishes in the secret `${prefix}/public-keys`.
 *
 *   {"format":"ima-qs-public-keys/v2",
 *    "root":{"alg":"ML-DSA-87","public_key":"<base64 2592>","fingerprint":"<hex>"},
 *    "current":{statement, signature},        the generation clients seal to (keyset.ts)
 *    "accepted":[{statement, signature}, …]}  other generations the service still decrypts
 *                                              (0..2: the next one while a rotation is published,
 *                                              the previous one until it is retired)
 *
 * Nothing in it is signed by an online key: every statement is signed by the OFFLINE root, whose
 * fingerprint is the pin. A client trusts nothing before the root key hashes to the pin (constant
 * time); then every statement's root signature must verify; the current one must be valid now
 * and of a generation no lower than any it saw before (a rollback is refused). Pure; a "no" is a
 * verdict, never an exception.
 */
import { VerificationError } from '../errors.js';
import { canonicalBytes } from '../crypto/canonical-json.js';
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { type CertifiedKeys, type KeySetFailure, type SignedKeySet, keySetProblem, pinnedRoot, verifyKeySet } from './keyset.js';
import { exactProblem, HEX64, isObj, orUndefined } from './shape.js';
import { parseStrictJson } from './strict-json.js';

export const KEYS_DOCUMENT_FORMAT = 'ima-qs-public-keys/v2';
/** a document larger than this is not one of ours (three statements with audit signers: about 57 KiB) */
export const KEYS_DOCUMENT_MAX_BYTES = 128 * 1024;
/** at most the next and the previous generation beside the current one */
export const MAX_ACCEPTED = 2;
const DOC_KEYS = ['format', 'root', 'current', 'accepted'] as const;

export interface PublicKeysDocument {
  format: typeof KEYS_DOCUMENT_FORMAT;
  root: { alg: 'ML-DSA-87'; public_key: string; fingerprint: string };
  current: SignedKeySet;
  accepted: SignedKeySet[];
}

/** What a verified document gives a client: the current generation's keys, and every certified decisions signer. */
export interface DocumentKeys extends CertifiedKeys {
  /** the root public key (its fingerprint is the pin) */
  root: Uint8Array;
  /** the decisions signers of every generation in the document (a refusal may come from any) */
  signers: Uint8Array[];
  /** composite fingerprints of every generation the service decrypts (current first) */
  recipients: string[];
}

export type KeysDocumentCode =
  | 'KEYS_DOC_MALFORMED'
  | 'KEYS_DOC_PIN_MISMATCH'
  | 'KEYS_DOC_BAD_SIGNATURE'
  | 'KEYS_DOC_NOT_YET_VALID'
  | 'KEYS_DOC_EXPIRED'
  | 'KEYS_DOC_ROLLBACK';

export type KeysDocumentVerdict = { valid: true; document: PublicKeysDocument; keys: DocumentKeys } | { valid: false; code: KeysDocumentCode; reason: string };

const CODE_OF: Record<KeySetFailure, KeysDocumentCode> = {
  MALFORMED: 'KEYS_DOC_MALFORMED',
  ROOT_MISMATCH: 'KEYS_DOC_PIN_MISMATCH',
  BAD_SIGNATURE: 'KEYS_DOC_BAD_SIGNATURE',
  NOT_YET_VALID: 'KEYS_DOC_NOT_YET_VALID',
  EXPIRED: 'KEYS_DOC_EXPIRED',
  ROLLBACK: 'KEYS_DOC_ROLLBACK',
};

/** The document for a root and its statements (deterministic: the same inputs give the same text). */
export function createPublicKeysDocument(input: { root: Uint8Array; current: SignedKeySet; accepted?: SignedKeySet[] }): PublicKeysDocument {
  return {
    format: KEYS_DOCUMENT_FORMAT,
    root: { alg: 'ML-DSA-87', public_key: toBase64(input.root), fingerprint: fingerprint('ML-DSA-87', input.root) },
    current: input.current,
    accepted: input.accepted ?? [],
  };
}

/** The document as published: its canonical JSON text (SPEC §3.2), so equal documents are equal bytes. */
export function publicKeysDocumentText(doc: PublicKeysDocument): string {
  return new TextDecoder().decode(canonicalBytes(doc));
}

export interface VerifyDocumentOptions {
  /** the pinned ROOT fingerprint (64 hex) */
  pin: string;
  now: Date;
  /** the highest generation this client has seen for the pin (a lower current one is KEYS_DOC_ROLLBACK) */
  minGeneration?: number;
}

/**
 * Verifies a document (JSON text, bytes or parsed value) against the pinned root fingerprint:
 * structure → the root key hashes to the pin (constant time) → every statement's root signature
 * → the current generation is not a rollback → the current statement is valid `now`.
 */
export function verifyPublicKeysDocument(p: CryptoProvider, input: unknown, opts: VerifyDocumentOptions): KeysDocumentVerdict {
  const bad = (code: KeysDocumentCode, reason: string): KeysDocumentVerdict => ({ valid: false, code, reason });
  const pin = String(opts.pin ?? '').trim().toLowerCase().replace(/^sha3-256:/, '');
  if (!HEX64.test(pin)) return bad('KEYS_DOC_PIN_MISMATCH', 'the pinned fingerprint is not 64 hex digits');
  const parsed = parseDocument(input);
  if (typeof parsed === 'string') return bad('KEYS_DOC_MALFORMED', parsed);
  const doc = parsed;
  // Precondition: nothing in the document is trusted before its root key matches the pin.
  const root = pinnedRoot(doc.root.public_key, pin);
  if (!root) return bad('KEYS_DOC_PIN_MISMATCH', 'the document\'s root key is not the pinned root');
  const signers: Uint8Array[] = [];
  const recipients: string[] = [];
  const generations = new Set<number>();
  let current: CertifiedKeys | undefined;
  for (const [i, s] of [doc.current, ...doc.accepted].entries()) {
    // the current statement: not a rollback, valid now; the accepted ones: signed by the root
    const v = verifyKeySet(p, s, root, i === 0 ? { minGeneration: opts.minGeneration, at: opts.now.getTime() } : {});
    if (!v.ok) return bad(CODE_OF[v.failure], `${i === 0 ? 'current' : `accepted[${i - 1}]`}: ${v.reason}`);
    if (generations.has(v.keys.generation)) return bad('KEYS_DOC_MALFORMED', `generation ${v.keys.generation} is listed twice`);
    generations.add(v.keys.generation);
    current ??= v.keys;
    signers.push(v.keys.decisions);
    recipients.push(v.keys.fingerprints.composite);
  }
  return { valid: true, document: doc, keys: { ...current!, root, signers, recipients } };
}

/** The verdict as an exception (exit 1) for callers that cannot go on without a valid document. */
export function assertPublicKeysDocument(p: CryptoProvider, input: unknown, opts: VerifyDocumentOptions) {
  const v = verifyPublicKeysDocument(p, input, opts);
  if (!v.valid) throw new VerificationError(v.code, `public-keys document: ${v.reason}`);
  return v;
}

/**
 * The composite fingerprints a published document names (current first, then accepted), WITHOUT
 * verifying it: the proxy's pre-filter of requests sealed to a key the service does not hold.
 * The proxy reads its own secret (written by `keys upload`); clients verify what they trust.
 * undefined when the text is not a document of this format.
 */
export function documentRecipients(text: string): string[] | undefined {
  const doc = parseDocument(text);
  if (typeof doc === 'string') return undefined;
  return [doc.current, ...doc.accepted].map((s) => s.statement.kem.fingerprint);
}

function parseDocument(input: unknown): PublicKeysDocument | string {
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
  if (isObj(v) && v.format !== KEYS_DOCUMENT_FORMAT) {
    return typeof v.format === 'string' && v.format === 'ima-qs-public-keys/v1'
      ? 'format is ima-qs-public-keys/v1 (signed by an online key, before the offline root): republish it with ima-qs keys upload'
      : `format is not ${KEYS_DOCUMENT_FORMAT}`;
  }
  const e = exactProblem(v, DOC_KEYS, 'the document');
  if (e) return e;
  const o = v as Record<string, unknown>;
  const r = o.root;
  const re = exactProblem(r, ['alg', 'public_key', 'fingerprint'], 'root');
  if (re) return re;
  const root = r as Record<string, unknown>;
  const rk = typeof root.public_key === 'string' ? orUndefined(() => fromBase64(root.public_key as string, 'root.public_key')) : undefined;
  if (root.alg !== 'ML-DSA-87' || !rk || rk.length !== 2592) return 'root is not an ML-DSA-87 public key of 2592 bytes';
  if (root.fingerprint !== fingerprint('ML-DSA-87', rk)) return 'root.fingerprint is not its key\'s';
  const ce = keySetProblem(o.current);
  if (ce) return `current: ${ce}`;
  if (!Array.isArray(o.accepted) || o.accepted.length > MAX_ACCEPTED) return `accepted is not a list of at most ${MAX_ACCEPTED} statements`;
  for (const [i, s] of o.accepted.entries()) {
    const se = keySetProblem(s);
    if (se) return `accepted[${i}]: ${se}`;
  }
  return v as unknown as PublicKeysDocument;
}
