/**
 * Byte helpers used by every crypto module. Pure (no `node:` imports) so the noble provider and
 * everything built on it bundles for a browser. Decoders are strict: they reject anything that is
 * not the canonical encoding, and say which input was wrong (never its contents).
 */
import { InputError } from '../errors.js';

/** Constant-time equality for byte strings (the lengths are not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** Strict hex (either case, even length, nothing else); `what` names the input in errors. */
export function fromHex(hex: string, what = 'hex string'): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new InputError('BAD_HEX', `${what} is not valid hex`, { hint: 'expected an even number of 0-9a-f digits' });
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const PAD = 0x3d; // '='
// ASCII bytes → a flat one-byte string in one native call (latin1 = windows-1252, identical on ASCII)
const ascii = new TextDecoder('latin1');

/**
 * Standard base64 with padding (RFC 4648 §4). The ASCII is written into a byte array and decoded
 * once: building the text with `+=` made a rope of n/3 pieces that every later reader (JSON,
 * regex, hashing) had to flatten — on 100 KB+ payloads that was several ms per call.
 */
export function toBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let i = 0;
  let o = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = B64_CODES[v >>> 18];
    out[o++] = B64_CODES[(v >>> 12) & 63];
    out[o++] = B64_CODES[(v >>> 6) & 63];
    out[o++] = B64_CODES[v & 63];
  }
  const rest = n - i;
  if (rest === 1) {
    const v = bytes[i] << 16;
    out[o++] = B64_CODES[v >>> 18];
    out[o++] = B64_CODES[(v >>> 12) & 63];
    out[o++] = PAD;
    out[o++] = PAD;
  } else if (rest === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out[o++] = B64_CODES[v >>> 18];
    out[o++] = B64_CODES[(v >>> 12) & 63];
    out[o++] = B64_CODES[(v >>> 6) & 63];
    out[o++] = PAD;
  }
  return ascii.decode(out);
}

/**
 * Strict standard base64 (RFC 4648 §4): padded, no whitespace, no URL-safe letters, and the
 * unused bits of the last group zero (so every byte string has exactly one accepted encoding).
 */
export function fromBase64(b64: string, what = 'base64 text'): Uint8Array {
  const bad = (why: string) => new InputError('BAD_BASE64', `${what} is not valid base64 (${why})`);
  if (typeof b64 !== 'string') throw bad('not text');
  if (b64.length % 4 !== 0) throw bad('length is not a multiple of 4');
  let pad = 0;
  if (b64.endsWith('==')) pad = 2;
  else if (b64.endsWith('=')) pad = 1;
  const body = b64.length - pad;
  const out = new Uint8Array((b64.length / 4) * 3 - pad);
  let o = 0;
  let acc = 0;
  for (let i = 0; i < body; i++) {
    const c = b64.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c] : -1;
    if (v < 0) throw bad(`unexpected character at offset ${i}`);
    acc = (acc << 6) | v;
    if ((i & 3) === 3) {
      out[o++] = (acc >>> 16) & 255;
      out[o++] = (acc >>> 8) & 255;
      out[o++] = acc & 255;
      acc = 0;
    }
  }
  if (pad === 2) {
    if (acc & 0xf) throw bad('non-zero padding bits');
    out[o++] = (acc >>> 4) & 255;
  } else if (pad === 1) {
    if (acc & 0x3) throw bad('non-zero padding bits');
    out[o++] = (acc >>> 10) & 255;
    out[o++] = (acc >>> 2) & 255;
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8(str: string): Uint8Array {
  return encoder.encode(str);
}

/** Overwrites secret bytes we own once they are no longer needed (best effort in JS). */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}

/** Throws InputError naming `what` unless `bytes` is a Uint8Array of exactly `len` bytes. */
export function expectLength(bytes: unknown, len: number, what: string, code = 'BAD_LENGTH'): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new InputError(code, `${what} expected Uint8Array of length ${len}, got ${typeof bytes}`);
  }
  if (bytes.length !== len) {
    throw new InputError(code, `${what} expected Uint8Array of length ${len}, got ${bytes.length}`);
  }
}
