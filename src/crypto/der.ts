/**
 * A minimal, strict DER (ITU-T X.690 §10) reader and writer: just what the key files of SPEC §2
 * need — SEQUENCE, INTEGER, OCTET STRING, BIT STRING, NULL, OBJECT IDENTIFIER and context-specific
 * tags. Strict means: single-byte tags only, definite minimal lengths, minimal INTEGERs, no length
 * past the end, no trailing bytes. Hostile input only ever produces an InputError (never a
 * RangeError or a hang): every read is bounds-checked and loops are bounded by the input length.
 */
import { InputError } from '../errors.js';
import { concatBytes } from './bytes.js';

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

/** Context-specific tag number `n` (0..30), primitive or constructed. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

export interface Tlv {
  tag: number;
  value: Uint8Array;
}

/** Reads DER elements from a window of a byte array. */
export class DerReader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    /** names the input in errors, e.g. "server.pub" */
    readonly what: string,
    private readonly code = 'DER_MALFORMED',
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  fail(why: string): InputError {
    return new InputError(this.code, `${this.what} is not valid DER (${why})`);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  peekTag(): number | undefined {
    return this.pos < this.end ? this.buf[this.pos] : undefined;
  }

  /** The next element, whatever its tag. */
  next(): Tlv {
    const { buf, end } = this;
    if (this.pos >= end) throw this.fail('unexpected end of data');
    const tag = buf[this.pos++];
    if ((tag & 0x1f) === 0x1f) throw this.fail('multi-byte tags are not used here');
    if (this.pos >= end) throw this.fail('missing length');
    let len = buf[this.pos++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0) throw this.fail('indefinite length');
      if (n > 3) throw this.fail('length too large');
      if (this.pos + n > end) throw this.fail('truncated length');
      if (buf[this.pos] === 0) throw this.fail('non-minimal length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[this.pos++];
      if (len < 0x80) throw this.fail('non-minimal length');
    }
    if (len > end - this.pos) throw this.fail('length past the end');
    const value = buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return { tag, value };
  }

  /** The next element, which must have tag `tag`; returns its contents. */
  expect(tag: number, name: string): Uint8Array {
    const t = this.peekTag();
    if (t !== tag) {
      throw this.fail(t === undefined ? `missing ${name}` : `expected ${name}, found tag 0x${t.toString(16)}`);
    }
    return this.next().value;
  }

  sequence(name = 'SEQUENCE'): DerReader {
    const v = this.expect(TAG.SEQUENCE, name);
    return new DerReader(v, this.what, this.code);
  }

  /** A non-negative INTEGER that fits a JS number safely (versions, small counters). */
  smallInteger(name = 'INTEGER'): number {
    const v = this.expect(TAG.INTEGER, name);
    checkMinimalInteger(v, this, name);
    if (v[0] & 0x80) throw this.fail(`${name} is negative`);
    if (v.length > 6) throw this.fail(`${name} is too large`);
    let n = 0;
    for (const b of v) n = n * 256 + b;
    return n;
  }

  /** A non-negative INTEGER as big-endian magnitude bytes (leading 0x00 sign byte removed). */
  unsignedInteger(name = 'INTEGER'): Uint8Array {
    const v = this.expect(TAG.INTEGER, name);
    checkMinimalInteger(v, this, name);
    if (v[0] & 0x80) throw this.fail(`${name} is negative`);
    return v[0] === 0 && v.length > 1 ? v.subarray(1) : v;
  }

  octetString(name = 'OCTET STRING'): Uint8Array {
    return this.expect(TAG.OCTET_STRING, name);
  }

  /** A BIT STRING holding whole bytes (zero unused bits), as keys always are. */
  bitString(name = 'BIT STRING'): Uint8Array {
    const v = this.expect(TAG.BIT_STRING, name);
    if (v.length === 0) throw this.fail(`${name} is empty`);
    if (v[0] !== 0) throw this.fail(`${name} has unused bits`);
    return v.subarray(1);
  }

  null(name = 'NULL'): void {
    const v = this.expect(TAG.NULL, name);
    if (v.length !== 0) throw this.fail(`${name} has contents`);
  }

  oid(name = 'OBJECT IDENTIFIER'): string {
    return decodeOid(this.expect(TAG.OID, name), this, name);
  }

  /** Contents of an explicitly tagged (constructed) context element [n], as a reader. */
  explicit(n: number, name: string): DerReader {
    return new DerReader(this.expect(contextTag(n, true), name), this.what, this.code);
  }

  /** Contents of an implicitly tagged primitive context element [n]. */
  implicit(n: number, name: string): Uint8Array {
    return this.expect(contextTag(n, false), name);
  }

  /** Asserts that nothing follows. */
  finish(name = 'structure'): void {
    if (this.pos !== this.end) throw this.fail(`trailing bytes after ${name}`);
  }
}

function checkMinimalInteger(v: Uint8Array, r: DerReader, name: string): void {
  if (v.length === 0) throw r.fail(`${name} is empty`);
  if (v.length > 1 && ((v[0] === 0 && !(v[1] & 0x80)) || (v[0] === 0xff && v[1] & 0x80))) {
    throw r.fail(`${name} is not minimally encoded`);
  }
}

function decodeOid(v: Uint8Array, r: DerReader, name: string): string {
  if (v.length === 0 || v.length > 64) throw r.fail(`${name} has a bad length`);
  const arcs: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    if (acc === 0 && v[i] === 0x80) throw r.fail(`${name} is not minimally encoded`);
    acc = acc * 128 + (v[i] & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) throw r.fail(`${name} has an arc that is too large`);
    if (!(v[i] & 0x80)) {
      arcs.push(acc);
      acc = 0;
    } else if (i === v.length - 1) {
      throw r.fail(`${name} is truncated`);
    }
  }
  const first = arcs[0];
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

// ---- writer ----

function encodeLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), encodeLength(value.length), value);
}

export function derSequence(...items: Uint8Array[]): Uint8Array {
  return tlv(TAG.SEQUENCE, concatBytes(...items));
}

/** A non-negative INTEGER from a JS number. */
export function derSmallInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('derSmallInteger: not a non-negative safe integer');
  const bytes: number[] = [];
  let x = n;
  do {
    bytes.unshift(x & 0xff);
    x = Math.floor(x / 256);
  } while (x > 0);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Uint8Array.from(bytes));
}

export function derOctetString(v: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, v);
}

export function derBitString(v: Uint8Array): Uint8Array {
  return tlv(TAG.BIT_STRING, concatBytes(Uint8Array.of(0), v));
}

export function derNull(): Uint8Array {
  return Uint8Array.of(TAG.NULL, 0);
}

export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`derOid: bad arc in ${dotted}`);
    return Number(s);
  });
  if (arcs.length < 2 || arcs[0] > 2) throw new RangeError(`derOid: bad OID ${dotted}`);
  const out: number[] = [];
  const push = (n: number) => {
    const group: number[] = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) group.unshift((x & 0x7f) | 0x80);
    out.push(...group);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, Uint8Array.from(out));
}

/** Explicit context tag [n] around already-encoded elements. */
export function derExplicit(n: number, ...items: Uint8Array[]): Uint8Array {
  return tlv(contextTag(n, true), concatBytes(...items));
}

/** Implicit primitive context tag [n] around raw contents. */
export function derImplicit(n: number, value: Uint8Array): Uint8Array {
  return tlv(contextTag(n, false), value);
}
