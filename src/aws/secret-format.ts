/**
 * The key-custody secret format (SPEC §7): one Secrets Manager secret per private key, named
 * `${prefix}/ml-kem-768-private`, `${prefix}/ml-dsa-87-private`, `${prefix}/ecdh-p384-private`,
 * whose SecretString is the JSON object
 *
 *   {"format":"ima-qs-secret/v1","algorithm":"ML-DSA-87","fingerprint":"<64 hex>",
 *    "pem":"-----BEGIN PRIVATE KEY-----\n…","created":"2026-…Z"}
 *
 * `fingerprint` is SHA3-256 of the public key's SPKI DER (the same fingerprint `keys show` prints),
 * `pem` is the PKCS#8 private key in the seed-only form (SPEC key files). The signed public-keys
 * document lives beside them in `${prefix}/public-keys`.
 */
import { InputError } from '../errors.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import { isUtcTime } from '../protocol/utc-time.js';

export const SECRET_FORMAT = 'ima-qs-secret/v1';
export const DEFAULT_PREFIX = 'ima/quantum';

export type KeyRole = 'mlkem' | 'mldsa' | 'ecdh';
export type KeyAlgorithm = 'ML-KEM-768' | 'ML-DSA-87' | 'P-384';

export interface KeySecretSpec {
  role: KeyRole;
  algorithm: KeyAlgorithm;
  /** the last part of the secret name */
  suffix: string;
}

/** The three private-key secrets, in the order they are written. */
export const KEY_SECRETS: readonly KeySecretSpec[] = Object.freeze([
  { role: 'mlkem', algorithm: 'ML-KEM-768', suffix: 'ml-kem-768-private' },
  { role: 'mldsa', algorithm: 'ML-DSA-87', suffix: 'ml-dsa-87-private' },
  { role: 'ecdh', algorithm: 'P-384', suffix: 'ecdh-p384-private' },
] as const);

export const PUBLIC_KEYS_SUFFIX = 'public-keys';

/**
 * The fourth key secret (SPEC §7.1, §8.11): the audit key, which signs chain registrations and
 * checkpoints only. Same format as the others; read only by the worker's checkpoint writer.
 */
export const AUDIT_KEY_SECRET = Object.freeze({ role: 'audit', algorithm: 'ML-DSA-87', suffix: 'audit-ml-dsa-87-private' } as const);

/**
 * A prefix is a secret-name path without leading or trailing slash, of the characters Secrets
 * Manager allows in names (ASCII letters, digits, / _ + = . @ -), short enough for every suffix.
 */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*$/.test(prefix) || prefix.length > 480) {
    throw new InputError('BAD_PREFIX', `--prefix "${prefix.slice(0, 80)}" is not a secret name prefix`, {
      hint: 'expected a path like ima/quantum: letters, digits and / _ + = . @ -, no leading or trailing slash',
    });
  }
  return prefix;
}

export function secretName(prefix: string, suffix: string): string {
  return `${prefix}/${suffix}`;
}

export interface KeySecret {
  format: typeof SECRET_FORMAT;
  algorithm: KeyAlgorithm;
  fingerprint: string;
  pem: string;
  created: string;
}

export function encodeKeySecret(s: Omit<KeySecret, 'format'>): string {
  const doc: KeySecret = { format: SECRET_FORMAT, algorithm: s.algorithm, fingerprint: s.fingerprint, pem: s.pem, created: s.created };
  return JSON.stringify(doc);
}

/** The outcome of reading a secret value: our format, or why not (never the value itself). */
export type ParsedKeySecret = { ok: true; secret: KeySecret } | { ok: false; reason: string };

/** Parses a SecretString; structure and types only (the PEM is checked by its decoder). */
export function parseKeySecret(text: string, expected: KeyAlgorithm): ParsedKeySecret {
  let v: unknown;
  try {
    v = parseStrictJson(text);
  } catch {
    return { ok: false, reason: 'not JSON (not an ima-qs key secret)' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  const members = ['format', 'algorithm', 'fingerprint', 'pem', 'created'];
  const extra = Object.keys(o).find((k) => !members.includes(k));
  if (extra !== undefined) return { ok: false, reason: `unknown member ${JSON.stringify(extra.slice(0, 40))}` };
  if (o.format !== SECRET_FORMAT) return { ok: false, reason: `format is not ${SECRET_FORMAT}` };
  if (o.algorithm !== expected) return { ok: false, reason: `algorithm is ${String(o.algorithm).slice(0, 20)}, expected ${expected}` };
  if (typeof o.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(o.fingerprint)) {
    return { ok: false, reason: 'fingerprint is not 64 lowercase hex digits' };
  }
  if (typeof o.pem !== 'string' || !o.pem.startsWith('-----BEGIN ') || o.pem.length > 16384) {
    return { ok: false, reason: 'pem is not a PEM text' };
  }
  if (!isUtcTime(o.created, 'seconds')) return { ok: false, reason: 'created is not a UTC time like 2026-11-28T12:00:00Z' };
  return { ok: true, secret: { format: SECRET_FORMAT, algorithm: expected, fingerprint: o.fingerprint, pem: o.pem, created: o.created } };
}

/** The tags every custody secret carries (SPEC §7): never anything secret. */
export function secretTags(algorithm: string, fingerprint: string): Record<string, string> {
  return { project: 'ima-qs', algorithm, fingerprint };
}

/** A short form of a fingerprint for tables: the first 16 hex digits. */
export function shortFingerprint(fp: string | undefined): string {
  return fp ? fp.slice(0, 16) : '—';
}

/** A short form of a version id for tables. */
export function shortVersion(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
