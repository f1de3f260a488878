/**
 * Scans log lines for key material. What can be recognised without the keys themselves:
 *
 *  - PEM armor (RFC 7468 §2): "-----BEGIN …-----" lines, and the words "PRIVATE KEY" anywhere;
 *  - long base64 runs (RFC 4648 §4): ≥ 43 base64 characters in a row that are not plain hex.
 *    A 32-byte ML-DSA-87 seed (FIPS 204 ξ) is 43 base64 characters (+ "="), an ML-KEM-768 seed
 *    (d‖z, 64 bytes) 86, a P-384 scalar 64; hex digests and fingerprints (which the services log on purpose) are
 *    exempt because they are all hex. Base64 of a known seed prefix cannot be searched for without
 *    the key, so this is a pattern scan, and the report says so.
 *
 * The findings name the log group, the time and the kind — never the matching text.
 */

export interface LogFinding {
  group: string;
  timestamp: number;
  kind: 'pem-armor' | 'private-key-words' | 'long-base64';
}

const PEM_ARMOR = /-----BEGIN [A-Z0-9 ]+-----/;
const PRIVATE_KEY_WORDS = /PRIVATE KEY/i;
/** base64 / base64url alphabet, ≥ 43 in a row, not bordered by more of the alphabet */
const BASE64_RUN = /[A-Za-z0-9+/_-]{43,}={0,2}/g;
const HEX_ONLY = /^[0-9a-fA-F]+$/;

export const LOG_SCAN_PATTERNS = ['PEM armor (-----BEGIN …-----)', '"PRIVATE KEY"', 'base64 runs ≥ 43 characters that are not hex'];

export function scanLogMessage(group: string, timestamp: number, message: string): LogFinding[] {
  const out: LogFinding[] = [];
  if (PEM_ARMOR.test(message)) out.push({ group, timestamp, kind: 'pem-armor' });
  else if (PRIVATE_KEY_WORDS.test(message)) out.push({ group, timestamp, kind: 'private-key-words' });
  for (const m of message.matchAll(BASE64_RUN)) {
    const run = m[0].replace(/=+$/, '');
    // hex digests/fingerprints and path-like runs (a/b/c…) are not key material
    if (HEX_ONLY.test(run)) continue;
    if (/^[A-Za-z0-9_.-]*(\/[A-Za-z0-9_.-]+){2,}$/.test(run) && !/[+]/.test(run) && run.split('/').every((p) => p.length < 40)) continue;
    out.push({ group, timestamp, kind: 'long-base64' });
    break;
  }
  return out;
}
