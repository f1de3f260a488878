/**
 * Streaming encryption and decryption of envelopes (SPEC §4) in constant memory: at most one
 * 64 KiB chunk (plus the 1225-byte header) is held at any time, whatever the size of the input.
 *
 * Both directions are async generators over async iterables of bytes (Node streams are async
 * iterables), so they compose with files, stdin/stdout and armor without knowing about any of them.
 * Decryption releases a chunk's plaintext only after that chunk authenticated at its position; the
 * last chunk only after it authenticated as the final one. A caller that streams to an
 * irrevocable sink (stdout) has therefore written only authenticated bytes when an error arrives,
 * but may have written an incomplete prefix: truncation is reported at the end (SPEC §4.6).
 */
import type { CompositeKemPrivateKey } from './composite-kem.js';
import {
  CHUNK_SIZE,
  HEADER_SIZE,
  SEALED_CHUNK_SIZE,
  beginOpen,
  beginSeal,
  checkHeaderPrefix,
  decodeHeader,
  openChunk,
  sealChunk,
  type EnvelopeHeader,
  type PayloadKey,
} from './envelope.js';
import { armorDecode, looksArmored } from './armor.js';
import type { CryptoProvider } from './provider.js';

export interface EncryptStreamOptions {
  /** called once with the header, before any chunk (e.g. to report the recipient fingerprint) */
  onHeader?: (header: Uint8Array) => void;
  /** called after each chunk with the number of plaintext bytes consumed so far */
  onProgress?: (plaintextBytes: number) => void;
}

/** Yields the envelope of everything `source` yields: the header, then one sealed chunk at a time. */
export async function* encryptStream(
  p: CryptoProvider,
  recipientPublicKey: Uint8Array,
  source: AsyncIterable<Uint8Array>,
  opts: EncryptStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  const { header, payloadKey } = beginSeal(p, recipientPublicKey);
  opts.onHeader?.(header);
  const buf = new Uint8Array(CHUNK_SIZE);
  let fill = 0;
  let index = 0;
  let total = 0;
  try {
    yield header;
    for await (const piece of source) {
      let off = 0;
      while (off < piece.length) {
        // a full buffer is sealed as non-final only once we know more plaintext follows
        if (fill === CHUNK_SIZE) {
          yield sealChunk(p, payloadKey, index++, false, buf);
          fill = 0;
          opts.onProgress?.(total);
        }
        const n = Math.min(CHUNK_SIZE - fill, piece.length - off);
        buf.set(piece.subarray(off, off + n), fill);
        fill += n;
        off += n;
        total += n;
      }
    }
    // the final chunk: the remainder, or the empty chunk of an empty plaintext (SPEC §4.3)
    yield sealChunk(p, payloadKey, index, true, buf.subarray(0, fill));
    opts.onProgress?.(total);
  } finally {
    payloadKey.key.fill(0);
    buf.fill(0);
  }
}

export interface DecryptStreamOptions {
  /** called once the header parsed, before decapsulation (e.g. to name the recipient) */
  onHeader?: (header: EnvelopeHeader) => void;
  onProgress?: (ciphertextBytes: number) => void;
}

/**
 * Yields the authenticated plaintext of a binary envelope, chunk by chunk. Throws InputError for
 * malformed framing and VerificationError when anything does not authenticate (SPEC §4.5).
 */
export async function* decryptStream(
  p: CryptoProvider,
  key: CompositeKemPrivateKey,
  source: AsyncIterable<Uint8Array>,
  opts: DecryptStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  const headerBuf = new Uint8Array(HEADER_SIZE);
  let headerFill = 0;
  let payloadKey: PayloadKey | undefined;
  // one sealed chunk; a full buffer is opened as non-final only once more input follows it
  const chunk = new Uint8Array(SEALED_CHUNK_SIZE);
  let fill = 0;
  let index = 0;
  let total = 0;
  try {
    for await (const piece of source) {
      let off = 0;
      total += piece.length;
      if (!payloadKey) {
        const n = Math.min(HEADER_SIZE - headerFill, piece.length);
        headerBuf.set(piece.subarray(0, n), headerFill);
        headerFill += n;
        off = n;
        checkHeaderPrefix(headerBuf.subarray(0, headerFill)); // a wrong file fails on its first bytes
        if (headerFill < HEADER_SIZE) continue;
        const header = decodeHeader(headerBuf);
        opts.onHeader?.(header);
        payloadKey = beginOpen(p, key, header);
      }
      while (off < piece.length) {
        if (fill === SEALED_CHUNK_SIZE) {
          yield openChunk(p, payloadKey, index++, false, chunk);
          fill = 0;
          opts.onProgress?.(total);
        }
        const n = Math.min(SEALED_CHUNK_SIZE - fill, piece.length - off);
        chunk.set(piece.subarray(off, off + n), fill);
        fill += n;
        off += n;
      }
    }
    if (!payloadKey) {
      decodeHeader(headerBuf.subarray(0, headerFill)); // throws: not an envelope, or truncated
      throw new Error('unreachable: a short header must not decode');
    }
    yield openChunk(p, payloadKey, index, true, chunk.subarray(0, fill));
    opts.onProgress?.(total);
  } finally {
    payloadKey?.key.fill(0);
  }
}

/** Like decryptStream, but accepts armored input too (SPEC §4.4: detected by its BEGIN line). */
export async function* decryptAnyStream(
  p: CryptoProvider,
  key: CompositeKemPrivateKey,
  source: AsyncIterable<Uint8Array>,
  opts: DecryptStreamOptions & { onArmor?: (armored: boolean) => void } = {},
): AsyncGenerator<Uint8Array> {
  const { head, rest } = await peekNonWhitespace(source);
  const whole = prepend(head, rest);
  const armored = looksArmored(head);
  opts.onArmor?.(armored);
  yield* decryptStream(p, key, armored ? armorDecode(whole) : whole, opts);
}

const WS = new Set([0x20, 0x09, 0x0d, 0x0a]);

/** Reads until a byte that is not whitespace has been seen (or the input ended). */
async function peekNonWhitespace(
  source: AsyncIterable<Uint8Array>,
): Promise<{ head: Uint8Array[]; rest: AsyncIterator<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let seen = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return { head, rest: it };
    head.push(r.value);
    seen += r.value.length;
    // bounded: past 64 KiB of blanks the input is no envelope either way (decoders say why)
    if (seen > 65536 || r.value.some((b) => !WS.has(b))) return { head, rest: it };
  }
}

async function* prepend(head: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* head;
    for (;;) {
      const r = await rest.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await rest.return?.();
  }
}
