/**
 * The one rule for PEM-like text (SPEC §2.1 key files = SPEC §4.4 armor; RFC 7468 §3 "strict"):
 * shared by the key-file reader (whole text, key-codec.ts) and the armor reader (streaming,
 * armor.ts), so that a text one of them accepts the other accepts too, with its own label.
 *
 *   [whitespace: SP HT CR LF]  -----BEGIN L-----  EOL
 *   body lines: each exactly 64 characters of the standard alphabet (RFC 4648 §4), except the
 *               last, which is 4..64 characters, '=' padding only there, zero padding bits
 *   -----END L-----  [EOL]  [whitespace]
 *
 * EOL is LF or CRLF, chosen per line (a mix is accepted: each line is one of the two); the final
 * newline after the END line is optional; nothing else (no spaces inside or at the end of a line,
 * no blank lines, no headers, no text) anywhere. Pure: no `node:` imports.
 */

export const PEM_COLUMNS = 64;
/** the whitespace allowed before the BEGIN line and after the END line */
export const PEM_LEADING_WS = /^[ \t\r\n]+/;
export const PEM_WS_ONLY = /^[ \t\r\n]*$/;
const FULL_LINE = /^[A-Za-z0-9+/]{64}$/;

/** Why a line breaks the rule (callers wrap it in their own error: KEY_MALFORMED, BAD_ARMOR). */
export class PemRuleError extends Error {}

/** A line without its line ending: the LF is already gone; one CR before it is the CRLF form. */
export function withoutCr(raw: string): string {
  return raw.endsWith('\r') ? raw.slice(0, -1) : raw;
}

/** State of one body: how many lines so far, and whether the last (short or padded) one was seen. */
export interface PemBody {
  lines: number;
  sawLast: boolean;
}

export function newPemBody(): PemBody {
  return { lines: 0, sawLast: false };
}

/**
 * Classifies one body line: 'full' (64 characters of the alphabet, no padding: the caller may
 * decode it with any base64 decoder) or 'last' (the short or padded final line: the caller MUST
 * decode it strictly — alphabet, length a multiple of 4, canonical padding, zero padding bits).
 * Throws PemRuleError for anything else.
 */
export function classifyPemBodyLine(line: string, body: PemBody): 'full' | 'last' {
  if (body.sawLast) throw new PemRuleError('a line after the short or padded last line (only the END line may follow it)');
  body.lines++;
  if (FULL_LINE.test(line)) return 'full';
  if (line.length === 0 || line.length > PEM_COLUMNS) {
    throw new PemRuleError(`a line has ${line.length} characters; lines have ${PEM_COLUMNS} (the last one 4 to ${PEM_COLUMNS})`);
  }
  body.sawLast = true;
  return 'last';
}
