/**
 * The ima-qs envelope (SPEC §4): composite ML-KEM-768 + ECDH-P384 (draft-ietf-lamps-pq-composite-kem,
 * id-MLKEM768-ECDH-P384-SHA3-256) + AES-256-GCM in 64 KiB chunks, STREAM-style (Hoang, Reyhanitabar,
 * Rogaway, Vizár 2015; as in age): per-chunk nonce = 88-bit big-endian counter ‖ final flag.
 *
 *   envelope = header(1225) ‖ chunk_0 ‖ … ‖ chunk_n      chunk_i = AES-256-GCM(K, nonce_i, p_i, hh)
 *   header   = "IMA-QS" ‖ version(0x01) ‖ suite(0x01) ‖ recipient fingerprint(32) ‖ KEM ciphertext(1185)
 *   hh       = SHA3-256(header)
 *   K        = SHA3-256("ima-qs/v1/envelope/payload-key" ‖ ss ‖ hh)
 *
 * The header is authenticated twice over, on purpose: K depends on hh (a changed header gives an
 * unrelated key), and hh is the associated data of every chunk (DESIGN.md: "the whole envelope
 * header as associated data"); there is always at least one chunk, so no header goes unchecked.
 *
 * This file holds the header codec, the key schedule, the chunk rules shared by the one-shot and
 * the streaming code (envelope-stream.ts), and the one-shot sealBytes/openBytes used for messages.
 * Pure: bytes in, bytes out, through a CryptoProvider.
 */
import { InputError, VerificationError } from '../errors.js';
import { equalBytes, toHex, utf8 } from './bytes.js';
import {
  MLKEM768_P384,
  compositeDecapsulate,
  compositeEncapsulate,
  type CompositeKemPrivateKey,
} from './composite-kem.js';
import { spkiDer } from './key-codec.js';
import type { CryptoProvider } from './provider.js';

/** "IMA-QS" */
export const ENVELOPE_MAGIC = utf8('IMA-QS');
export const ENVELOPE_VERSION = 0x01;
/** suite 0x01: id-MLKEM768-ECDH-P384-SHA3-256, SHA3-256 key schedule, AES-256-GCM, 64 KiB chunks */
export const SUITE_MLKEM768_P384_AES256GCM_64K = 0x01;
export const SUITE_NAME = 'MLKEM768-P384/AES-256-GCM/64KiB';
export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
/** a sealed full chunk: 64 KiB of ciphertext and its tag */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const FINGERPRINT_SIZE = 32;
const KEM_CT_SIZE = 1185; // MLKEM768_P384.cipherTextBytes: mlkemCT(1088) ‖ ephemeral P-384 point(97)
const OFF_VERSION = 6;
const OFF_SUITE = 7;
const OFF_FP = 8;
const OFF_CT = OFF_FP + FINGERPRINT_SIZE;
export const HEADER_SIZE = OFF_CT + KEM_CT_SIZE; // 1225
const KEY_LABEL = utf8('ima-qs/v1/envelope/payload-key');

/** The parsed header. `bytes` is the exact header as read (what hh is computed over). */
export interface EnvelopeHeader {
  readonly version: number;
  readonly suite: number;
  /** SHA3-256 of the recipient's composite SPKI DER (SPEC §1.4) */
  readonly fingerprint: Uint8Array;
  readonly kemCipherText: Uint8Array;
  readonly bytes: Uint8Array;
}

/** The payload key and associated data of one envelope. */
export interface PayloadKey {
  readonly key: Uint8Array;
  /** hh = SHA3-256(header): the associated data of every chunk */
  readonly aad: Uint8Array;
}

export function encodeHeader(recipientFingerprint: Uint8Array, kemCipherText: Uint8Array): Uint8Array {
  if (recipientFingerprint.length !== FINGERPRINT_SIZE || kemCipherText.length !== KEM_CT_SIZE) {
    throw new InputError('BAD_LENGTH', 'envelope header fields have the wrong length');
  }
  const h = new Uint8Array(HEADER_SIZE);
  h.set(ENVELOPE_MAGIC, 0);
  h[OFF_VERSION] = ENVELOPE_VERSION;
  h[OFF_SUITE] = SUITE_MLKEM768_P384_AES256GCM_64K;
  h.set(recipientFingerprint, OFF_FP);
  h.set(kemCipherText, OFF_CT);
  return h;
}

/**
 * Checks what can be checked of a header prefix (magic, version, suite) as soon as those bytes
 * exist, so a wrong file is named as such even when it is shorter than a header. SPEC §4.5.
 */
export function checkHeaderPrefix(bytes: Uint8Array): void {
  const n = Math.min(bytes.length, ENVELOPE_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== ENVELOPE_MAGIC[i]) {
      throw new InputError('NOT_AN_ENVELOPE', 'this is not an ima-qs encrypted file (wrong magic bytes)', {
        hint: "an ima-qs encrypted file starts with 'IMA-QS' (or, armored, '-----BEGIN IMA-QS ENCRYPTED FILE-----')",
      });
    }
  }
  if (bytes.length > OFF_VERSION && bytes[OFF_VERSION] !== ENVELOPE_VERSION) {
    throw new InputError(
      'UNSUPPORTED_VERSION',
      `envelope version ${bytes[OFF_VERSION]} is not supported; this ima-qs reads version ${ENVELOPE_VERSION}`,
      { hint: 'the file may come from a newer ima-qs: upgrade' },
    );
  }
  if (bytes.length > OFF_SUITE && bytes[OFF_SUITE] !== SUITE_MLKEM768_P384_AES256GCM_64K) {
    throw new InputError(
      'UNSUPPORTED_SUITE',
      `envelope suite ${bytes[OFF_SUITE]} is not supported; this ima-qs knows suite ${SUITE_MLKEM768_P384_AES256GCM_64K} (${SUITE_NAME})`,
    );
  }
}

/** Parses the first HEADER_SIZE bytes of `bytes` (more may follow: the payload). */
export function decodeHeader(bytes: Uint8Array): EnvelopeHeader {
  checkHeaderPrefix(bytes);
  if (bytes.length < HEADER_SIZE) {
    throw new InputError(
      'ENVELOPE_TRUNCATED',
      `the encrypted file is ${bytes.length} bytes; its header alone is ${HEADER_SIZE}`,
      { hint: 'the file was cut short (an incomplete download or copy?)' },
    );
  }
  const header = bytes.subarray(0, HEADER_SIZE);
  return {
    version: header[OFF_VERSION],
    suite: header[OFF_SUITE],
    fingerprint: header.subarray(OFF_FP, OFF_CT),
    kemCipherText: header.subarray(OFF_CT, HEADER_SIZE),
    bytes: header,
  };
}

/** K and hh from the KEM shared secret (SPEC §4.2). */
export function derivePayloadKey(p: CryptoProvider, sharedSecret: Uint8Array, header: Uint8Array): PayloadKey {
  const aad = p.sha3_256(header);
  return { key: p.sha3_256(KEY_LABEL, sharedSecret, aad), aad };
}

/** nonce_i = i as an 88-bit big-endian integer ‖ final flag (0x01 for the last chunk, else 0x00). */
export function chunkNonce(index: number, final: boolean): Uint8Array {
  const n = new Uint8Array(12);
  const hi = Math.floor(index / 0x1_0000_0000);
  const view = new DataView(n.buffer);
  view.setUint32(3, hi >>> 0);
  view.setUint32(7, index >>> 0);
  n[11] = final ? 1 : 0;
  return n;
}

export function sealChunk(p: CryptoProvider, pk: PayloadKey, index: number, final: boolean, plaintext: Uint8Array): Uint8Array {
  return p.aes256gcm.seal(pk.key, chunkNonce(index, final), plaintext, pk.aad);
}

/**
 * Opens chunk `index`. `last` says whether it is the last chunk of the input (decided by the
 * framing: only the last piece may be shorter than SEALED_CHUNK_SIZE). A chunk authenticates only
 * at its own index and with its own final flag, which is what detects reordering, swaps, dropped
 * chunks, truncation at a chunk boundary and data after the final chunk (SPEC §4.3). On failure
 * one more open (with the other flag) only tells truncation or trailing data apart from tampering.
 */
export function openChunk(p: CryptoProvider, pk: PayloadKey, index: number, last: boolean, sealed: Uint8Array): Uint8Array {
  if (sealed.length < TAG_SIZE) {
    throw new InputError(
      'ENVELOPE_TRUNCATED',
      index === 0 && sealed.length === 0
        ? 'the encrypted file ends right after its header (no payload)'
        : `the encrypted file ends inside chunk ${index} (${sealed.length} bytes; a chunk has at least ${TAG_SIZE})`,
      { hint: 'the file was cut short (an incomplete download or copy?)' },
    );
  }
  const pt = p.aes256gcm.open(pk.key, chunkNonce(index, last), sealed, pk.aad);
  if (pt) {
    // SPEC §4.3: only an empty plaintext is an empty (final) chunk; an encoder never makes another
    if (last && pt.length === 0 && index > 0) {
      throw new InputError('ENVELOPE_MALFORMED', 'the encrypted file ends with an empty chunk after a full one');
    }
    return pt;
  }
  if (last && sealed.length === SEALED_CHUNK_SIZE && p.aes256gcm.open(pk.key, chunkNonce(index, false), sealed, pk.aad)) {
    throw new VerificationError('ENVELOPE_TRUNCATED', `the encrypted file is truncated: it ends after chunk ${index}, which is not the final chunk`, {
      hint: 'the file was cut short at a chunk boundary; any plaintext already written to stdout is incomplete',
    });
  }
  if (!last && p.aes256gcm.open(pk.key, chunkNonce(index, true), sealed, pk.aad)) {
    throw new VerificationError('TRAILING_DATA', `the encrypted file has data after its final chunk (chunk ${index})`, {
      hint: 'something was appended to the file; the appended data is not authenticated',
    });
  }
  throw new VerificationError(
    'DECRYPT_FAILED',
    `decryption failed: chunk ${index} does not authenticate (the file was modified, reordered, truncated or has data appended)`,
  );
}

/**
 * Fingerprints by key array, so that sealing many messages to one recipient hashes its SPKI once.
 * Arrays are mutable: a hit is used only if the stored copy still equals the array.
 */
const fingerprintCache = new WeakMap<Uint8Array, { copy: Uint8Array; fp: Uint8Array }>();

/** The recipient's fingerprint, checked for length first (SPEC §1.4). */
export function recipientFingerprint(p: CryptoProvider, publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== MLKEM768_P384.publicKeyBytes) {
    throw new InputError(
      'BAD_KEY_LENGTH',
      `recipient public key is ${publicKey?.length ?? 0} bytes; an ${MLKEM768_P384.label} composite public key is ${MLKEM768_P384.publicKeyBytes} (ML-KEM-768 1184 ‖ P-384 point 97)`,
    );
  }
  const hit = fingerprintCache.get(publicKey);
  if (hit && equalBytes(hit.copy, publicKey)) return hit.fp.slice();
  // = fingerprint('MLKEM768-P384', publicKey) (SPEC §1.4), hashed by the provider (native SHA3 on node)
  const fp = p.sha3_256(spkiDer('MLKEM768-P384', publicKey));
  fingerprintCache.set(publicKey, { copy: Uint8Array.from(publicKey), fp });
  return fp.slice();
}

/** Encapsulates to the recipient and returns the header and payload key of a new envelope. */
export function beginSeal(p: CryptoProvider, recipientPublicKey: Uint8Array): { header: Uint8Array; payloadKey: PayloadKey } {
  const fp = recipientFingerprint(p, recipientPublicKey);
  const { cipherText, sharedSecret } = compositeEncapsulate(p, recipientPublicKey);
  const header = encodeHeader(fp, cipherText);
  const payloadKey = derivePayloadKey(p, sharedSecret, header);
  sharedSecret.fill(0);
  return { header, payloadKey };
}

/**
 * Checks that the envelope is addressed to `key` (before any KEM work) and decapsulates. A wrong
 * recipient is a decryption "no" (exit 1) that names both fingerprints (public values).
 */
export function beginOpen(
  p: CryptoProvider,
  key: CompositeKemPrivateKey,
  header: EnvelopeHeader,
  identityFingerprint: Uint8Array = recipientFingerprint(p, key.publicKey),
): PayloadKey {
  if (!equalBytes(header.fingerprint, identityFingerprint)) {
    throw new VerificationError(
      'WRONG_RECIPIENT',
      `this file was encrypted to key ${toHex(header.fingerprint)}, not to ${toHex(identityFingerprint)}`,
      { hint: "decrypt with the identity of that fingerprint ('ima-qs keys show DIR' prints fingerprints)" },
    );
  }
  let ss: Uint8Array;
  try {
    ss = compositeDecapsulate(p, key, header.kemCipherText);
  } catch (err) {
    // an invalid ephemeral P-384 point: the header was modified, which is a decryption "no"
    if (err instanceof InputError && err.code !== 'KEY_WRONG_ALGORITHM') {
      throw new VerificationError('DECRYPT_FAILED', 'decryption failed: the KEM ciphertext in the header is invalid (the header was modified)', { cause: err });
    }
    throw err;
  }
  const pk = derivePayloadKey(p, ss, header.bytes);
  ss.fill(0);
  return pk;
}

/** Size of the envelope of an n-byte plaintext. */
export function sealedSize(n: number): number {
  const chunks = n === 0 ? 1 : Math.ceil(n / CHUNK_SIZE);
  return HEADER_SIZE + n + chunks * TAG_SIZE;
}

/** One-shot seal of a message (same wire format as the stream, SPEC §4). */
export function sealBytes(p: CryptoProvider, recipientPublicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const { header, payloadKey } = beginSeal(p, recipientPublicKey);
  if (plaintext.length <= CHUNK_SIZE) {
    // the common case (messages): one final chunk, one allocation for the result
    const sealed = sealChunk(p, payloadKey, 0, true, plaintext);
    payloadKey.key.fill(0);
    const out = new Uint8Array(HEADER_SIZE + sealed.length);
    out.set(header, 0);
    out.set(sealed, HEADER_SIZE);
    return out;
  }
  const out = new Uint8Array(sealedSize(plaintext.length));
  out.set(header, 0);
  let off = HEADER_SIZE;
  for (let i = 0, pos = 0; pos < plaintext.length; i++, pos += CHUNK_SIZE) {
    const end = Math.min(pos + CHUNK_SIZE, plaintext.length);
    const sealed = sealChunk(p, payloadKey, i, end === plaintext.length, plaintext.subarray(pos, end));
    out.set(sealed, off);
    off += sealed.length;
  }
  payloadKey.key.fill(0);
  return out;
}

/**
 * One-shot open. Throws InputError for malformed framing (not an envelope, unknown version or
 * suite, too short) and VerificationError (DECRYPT_FAILED, WRONG_RECIPIENT, ENVELOPE_TRUNCATED,
 * TRAILING_DATA) when it does not authenticate.
 */
export function openBytes(p: CryptoProvider, key: CompositeKemPrivateKey, envelope: Uint8Array): Uint8Array {
  const header = decodeHeader(envelope);
  const payloadKey = beginOpen(p, key, header);
  try {
    const body = envelope.subarray(HEADER_SIZE);
    if (body.length <= SEALED_CHUNK_SIZE) return openChunk(p, payloadKey, 0, true, body);
    const chunks = Math.ceil(body.length / SEALED_CHUNK_SIZE);
    const lastLength = body.length - (chunks - 1) * SEALED_CHUNK_SIZE;
    if (lastLength < TAG_SIZE) openChunk(p, payloadKey, chunks - 1, true, body.subarray(body.length - lastLength)); // throws
    const out = new Uint8Array(body.length - chunks * TAG_SIZE);
    let off = 0;
    for (let i = 0; i < chunks; i++) {
      const start = i * SEALED_CHUNK_SIZE;
      const last = i === chunks - 1;
      const pt = openChunk(p, payloadKey, i, last, body.subarray(start, Math.min(start + SEALED_CHUNK_SIZE, body.length)));
      out.set(pt, off);
      off += pt.length;
    }
    return out;
  } finally {
    payloadKey.key.fill(0);
  }
}
