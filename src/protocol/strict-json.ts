/**
 * The one JSON reader of every document ima-qs receives (SPEC §3.3): signature files, sealed
 * requests, responses, keys documents, audit cores and anchors, persona-model answers, queue
 * messages and state files. JSON.parse keeps the LAST of two members with the same name, so two
 * readers of one document can see two different documents (a parser differential: a signature
 * file with two "context" members verified). This reader accepts exactly one reading:
 *
 *   - RFC 8259 grammar, one value, whitespace SP HT LF CR only (no BOM, comments, trailing commas);
 *   - member names unique within an object, compared after unescaping ("a" and "\u0061" collide);
 *   - strings without unpaired surrogates, escaped or literal (I-JSON, RFC 7493 §2.1);
 *   - numbers only as plain decimal integers: -?(0|[1-9][0-9]*), no fraction, no exponent, no -0,
 *     magnitude at most 2^53 − 1 (ima-qs documents carry no other numbers; `700e0` and `700.0`
 *     are not the integer 700 here, so a writer's choice cannot change what a verifier reads);
 *   - nesting at most `maxDepth` (64) arrays/objects deep; text at most `maxLength` code units.
 *
 * Pure and browser-safe (no `node:` imports): the browser client reads responses with it. The
 * result is what JSON.parse would return for the same (accepted) text, `__proto__` included as an
 * own data member.
 */
import { InputError } from '../errors.js';

export interface StrictJsonOptions {
  /** refuse a text longer than this (UTF-16 code units); callers bound their bytes before decoding */
  maxLength?: number;
  /** deepest nesting of arrays and objects (default 64) */
  maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 64;

/** Why a text is not strict JSON; callers map it to their own error code (NOT_JSON, BAD_SIGNATURE_FILE …). */
export class StrictJsonError extends InputError {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super('JSON_MALFORMED', `not strict JSON: ${reason} (at offset ${offset})`);
    this.name = 'StrictJsonError';
  }
}

/** Parses `text` under the rules above; throws StrictJsonError. */
export function parseStrictJson(text: string, opts: StrictJsonOptions = {}): unknown {
  if (typeof text !== 'string') throw new StrictJsonError('the input is not text', 0);
  if (opts.maxLength !== undefined && text.length > opts.maxLength) {
    throw new StrictJsonError(`the text is longer than ${opts.maxLength} characters`, opts.maxLength);
  }
  const r = new Reader(text, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  r.ws();
  const v = r.value(0);
  r.ws();
  if (r.pos !== text.length) r.fail('data after the JSON value');
  return v;
}

/** UTF-8 bytes (strict decoding: invalid UTF-8 is refused, not replaced), then parseStrictJson. */
export function parseStrictJsonBytes(bytes: Uint8Array, opts: StrictJsonOptions = {}): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new StrictJsonError('the input is not UTF-8', 0);
  }
  return parseStrictJson(text, opts);
}

const MAX_SAFE_DIGITS = 16; // 2^53 − 1 = 9007199254740991 has 16 digits
/** the characters a string scan must stop at: its end, an escape, a control character, a surrogate */
const STOP = /["\\\u0000-\u001f\ud800-\udfff]/g;

class Reader {
  pos = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  fail(why: string, at = this.pos): never {
    throw new StrictJsonError(why, at);
  }

  ws(): void {
    const s = this.s;
    let i = this.pos;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
    this.pos = i;
  }

  value(depth: number): unknown {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.integer();
        return this.fail(Number.isNaN(c) ? 'unexpected end of input' : 'unexpected character');
    }
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
    return v;
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.pos++; // {
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('expected a member name');
      const at = this.pos;
      const name = this.string();
      if (Object.prototype.hasOwnProperty.call(out, name)) this.fail(`duplicate member name ${JSON.stringify(name.slice(0, 40))}`, at);
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
      this.pos++;
      this.ws();
      const v = this.value(depth);
      // as JSON.parse (CreateDataProperty): "__proto__" is an own member, never the prototype
      if (name === '__proto__') Object.defineProperty(out, name, { value: v, writable: true, enumerable: true, configurable: true });
      else out[name] = v;
      this.ws();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.ws();
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        return out;
      }
      this.fail(Number.isNaN(c) ? 'unexpected end of input' : "expected ',' or '}'");
    }
  }

  private array(depth: number): unknown[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.pos++; // [
    const out: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.ws();
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        return out;
      }
      this.fail(Number.isNaN(c) ? 'unexpected end of input' : "expected ',' or ']'");
    }
  }

  /** -?(0|[1-9][0-9]*) and nothing after it that would make it a fraction or an exponent. */
  private integer(): number {
    const s = this.s;
    const start = this.pos;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const first = s.charCodeAt(i);
    if (!(first >= 0x30 && first <= 0x39)) this.fail('a number needs a digit after -', i);
    const digitsFrom = i;
    if (first === 0x30) i++;
    else while (s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    const next = s.charCodeAt(i);
    if (next === 0x2e || next === 0x65 || next === 0x45) {
      this.fail('numbers are plain integers here: no fraction or exponent (write 700, not 700.0 or 7e2)', start);
    }
    if (next >= 0x30 && next <= 0x39) this.fail('a number has a leading zero', start);
    if (i - digitsFrom > MAX_SAFE_DIGITS) this.fail('an integer beyond ±(2^53 − 1)', start);
    const v = Number(s.slice(start, i));
    if (!Number.isSafeInteger(v)) this.fail('an integer beyond ±(2^53 − 1)', start);
    if (Object.is(v, -0)) this.fail('-0 is not an integer here (write 0)', start);
    this.pos = i;
    return v;
  }

  private string(): string {
    const s = this.s;
    const start = this.pos;
    let i = start + 1;
    let out = '';
    let from = i;
    for (;;) {
      // jump to the next character that needs a look (native regex scan: long base64 members are common)
      STOP.lastIndex = i;
      const hit = STOP.exec(s);
      if (!hit) this.fail('unterminated string', start);
      i = hit.index;
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) this.fail('a control character in a string must be escaped', i);
      if (c >= 0xd800 && c <= 0xdfff) {
        // literal surrogates: only as a high-low pair
        const d = s.charCodeAt(i + 1);
        if (c >= 0xdc00 || !(d >= 0xdc00 && d <= 0xdfff)) this.fail('an unpaired surrogate in a string', i);
        i += 2;
        continue;
      }
      out += s.slice(from, i); // c is a backslash here
      const e = s.charCodeAt(i + 1);
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const u = this.hex4(i + 2);
          if (u >= 0xd800 && u <= 0xdbff) {
            // an escaped high surrogate must be followed by an escaped low one
            const lo = s.charCodeAt(i + 6) === 0x5c && s.charCodeAt(i + 7) === 0x75 ? this.hex4(i + 8) : -1;
            if (!(lo >= 0xdc00 && lo <= 0xdfff)) this.fail('an unpaired surrogate escape in a string', i);
            out += String.fromCharCode(u, lo);
            i += 12;
            from = i;
            continue;
          }
          if (u >= 0xdc00 && u <= 0xdfff) this.fail('an unpaired surrogate escape in a string', i);
          out += String.fromCharCode(u);
          i += 6;
          from = i;
          continue;
        }
        default:
          this.fail('an invalid escape in a string', i);
      }
      i += 2;
      from = i;
    }
    this.pos = i + 1;
    return from === start + 1 ? s.slice(from, i) : out + s.slice(from, i);
  }

  private hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(at + k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) this.fail('an invalid \\u escape in a string', at - 2);
      v = v * 16 + d;
    }
    return v;
  }
}
