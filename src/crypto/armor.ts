/**
 * ASCII armor for envelopes (SPEC §4.4), streaming in both directions: a strict PEM-like
 * encoding (RFC 7468 "strict" textual encoding, as age's armor) with one accepted form per byte
 * string, so an armored file cannot be altered without the change being either rejected here or
 * caught by the envelope's authentication.
 *
 *   -----BEGIN IMA-QS ENCRYPTED FILE-----
 *   64 columns of standard base64 (RFC 4648 §4) per line, the last line 4..64, padded
 *   -----END IMA-QS ENCRYPTED FILE-----
 *
 * Uses Buffer's native base64 for throughput (64 MiB files); each line is checked first.
 */
import { Buffer } from 'node:buffer';
import { InputError } from '../errors.js';
import { fromBase64 } from './bytes.js';
import { PEM_COLUMNS, PEM_LEADING_WS, PEM_WS_ONLY, classifyPemBodyLine, newPemBody, withoutCr } from './pem-rules.js';

export const ARMOR_BEGIN = '-----BEGIN IMA-QS ENCRYPTED FILE-----';
export const ARMOR_END = '-----END IMA-QS ENCRYPTED FILE-----';
export const ARMOR_COLUMNS = PEM_COLUMNS;
const BYTES_PER_LINE = (ARMOR_COLUMNS / 4) * 3; // 48
/** no accepted line is longer than this (the BEGIN line, 37, and a CR): a cap on buffering */
const MAX_LINE = 80;
const WS_ONLY = PEM_WS_ONLY;
const LEADING_WS = PEM_LEADING_WS;

/** Armors a byte stream: yields ASCII bytes (LF line endings, a final LF after the END line). */
export async function* armorEncode(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield Buffer.from(ARMOR_BEGIN + '\n', 'latin1');
  let carry: Uint8Array = new Uint8Array(0);
  for await (const piece of source) {
    const data = carry.length ? Buffer.concat([carry, piece]) : piece;
    const full = data.length - (data.length % BYTES_PER_LINE);
    if (full > 0) yield lines(data.subarray(0, full));
    carry = Uint8Array.from(data.subarray(full)); // < 48 bytes, copied (the source may reuse its buffer)
  }
  if (carry.length > 0) yield lines(carry);
  yield Buffer.from(ARMOR_END + '\n', 'latin1');
}

function lines(bytes: Uint8Array): Buffer {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += ARMOR_COLUMNS) out.push(b64.slice(i, i + ARMOR_COLUMNS));
  return Buffer.from(out.join('\n') + '\n', 'latin1');
}

/** Armors a whole byte string (for small envelopes and tests). */
export function armorBytes(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
  const out = [ARMOR_BEGIN];
  for (let i = 0; i < b64.length; i += ARMOR_COLUMNS) out.push(b64.slice(i, i + ARMOR_COLUMNS));
  out.push(ARMOR_END, '');
  return out.join('\n');
}

/** True when the first byte that is not whitespace starts an armor BEGIN line ('-'). */
export function looksArmored(head: Uint8Array[]): boolean {
  for (const piece of head) {
    for (const b of piece) {
      if (b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a) continue;
      return b === 0x2d;
    }
  }
  return false;
}

function bad(message: string, line: number): InputError {
  return new InputError('BAD_ARMOR', `armored input, line ${line}: ${message}`, {
    hint: `an armored file is '${ARMOR_BEGIN}', lines of ${ARMOR_COLUMNS} base64 characters, then '${ARMOR_END}'`,
  });
}

/**
 * Decodes armor strictly (SPEC §4.4): whitespace (SP, HT, CR, LF) may precede the BEGIN line and
 * follow the END line; lines end in LF or CRLF; every body line but the last is exactly 64
 * characters of the standard alphabet; the last is 4..64 characters, canonical padding and zero
 * padding bits; nothing else anywhere. Bytes are yielded only for lines already checked.
 */
export async function* armorDecode(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  type State = 'pre' | 'body' | 'post';
  let state: State = 'pre' as State; // (changed inside onLine: no narrowing)
  let pending = '';
  let lineNo = 0;
  const body = newPemBody();

  // handles one complete line (without its LF); returns decoded bytes for body lines
  const onLine = (raw: string): Buffer | undefined => {
    lineNo++;
    const line = withoutCr(raw);
    if (state === 'pre') {
      if (line !== ARMOR_BEGIN) throw bad(`expected '${ARMOR_BEGIN}'`, lineNo);
      state = 'body';
      return undefined;
    }
    if (line === ARMOR_END) {
      if (body.lines === 0) throw bad('no data between the BEGIN and END lines', lineNo);
      state = 'post';
      return undefined;
    }
    let kind: 'full' | 'last';
    try {
      kind = classifyPemBodyLine(line, body); // SPEC §2.1 = §4.4: one rule for key files and armor
    } catch (err) {
      throw bad((err as Error).message, lineNo);
    }
    if (kind === 'full') return Buffer.from(line, 'base64');
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(line, 'the line'); // strict: alphabet, length, padding, zero padding bits
    } catch (err) {
      throw bad(err instanceof Error ? err.message : 'the line is not valid base64', lineNo);
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  };

  const isPost = () => state === 'post';
  for await (const piece of source) {
    pending += Buffer.from(piece.buffer, piece.byteOffset, piece.length).toString('latin1');
    if (state === 'post') {
      if (!WS_ONLY.test(pending)) throw bad(`unexpected data after '${ARMOR_END}'`, lineNo + 1);
      pending = '';
      continue;
    }
    if (state === 'pre') {
      // count the blank lines skipped, so errors point at the right line
      const m = LEADING_WS.exec(pending);
      if (m) {
        lineNo += (m[0].match(/\n/g) ?? []).length;
        pending = pending.slice(m[0].length);
      }
    }
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
      const decoded = onLine(pending.slice(start, nl));
      if (decoded) out.push(decoded);
      start = nl + 1;
      if (isPost()) break;
    }
    pending = pending.slice(start);
    if (isPost()) {
      if (!WS_ONLY.test(pending)) throw bad(`unexpected data after '${ARMOR_END}'`, lineNo + 1);
      pending = '';
    } else if (pending.length > MAX_LINE) {
      throw bad(`a line is longer than ${ARMOR_COLUMNS} characters`, lineNo + 1);
    }
    if (out.length === 1) yield out[0];
    else if (out.length > 1) yield Buffer.concat(out);
  }
  // the END line may lack its final newline
  if (state === 'body' && pending.length > 0) {
    const decoded = onLine(pending);
    if (decoded) throw bad(`missing '${ARMOR_END}' (the armored file is truncated)`, lineNo + 1);
  } else if (state === 'pre' && pending.length > 0) {
    onLine(pending); // throws, or moves to body and fails below
  }
  if (state === 'pre') throw bad(`no '${ARMOR_BEGIN}' line (the input is empty or blank)`, lineNo + 1);
  if (state === 'body') throw bad(`missing '${ARMOR_END}' (the armored file is truncated)`, lineNo + 1);
}

/** Decodes a whole armored text (for small envelopes and tests). */
export async function dearmorBytes(text: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const b of armorDecode([Buffer.from(text, "latin1")])) parts.push(b);
  return Buffer.concat(parts);
}
