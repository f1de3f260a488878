/**
 * One audit entry's own checks (SPEC §8.7), shared by the chain verifier (audit-verify.ts) and by
 * `audit tail|show`: the core's shape per format version, its canonical form, the v1/v2 anchor's
 * shape, the sealed payload's digest, and an entry's signature status on its own.
 */
import { fromBase64, toHex } from '../crypto/bytes.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { BANK_SIZE } from '../protocol/anchor-math.js';
import { coreV3Problem } from '../protocol/audit-core.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import type { TrustedSigners } from './audit-batch.js';
import { type AuditAnchor, type AuditEntryCore, type AuditRecord, entryDigest, isReadableVersion, unsupportedVersionDetail } from './audit-entry.js';

const HEX = /^[0-9a-f]+$/;

/** The canonical text, or undefined for a value RFC 8785 cannot carry (a lone surrogate, §3.2.2.2): an edited core, not a crash. */
export function canonicalOrUndefined(core: AuditEntryCore): string | undefined {
  try {
    return canonicalJson(core);
  } catch {
    return undefined;
  }
}

export function tryCore(text: string): AuditEntryCore | undefined {
  try {
    const v = parseStrictJson(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as AuditEntryCore) : undefined;
  } catch {
    return undefined;
  }
}

/** The members of each readable core version (SPEC §8.7); v:2 took `route` out of the clear. */
const CORE_FIELDS: Record<number, readonly string[]> = {
  1: ['v', 'chain', 'seq', 'prev', 'time', 'route', 'request_digest', 'decision_digest', 'signer', 'recipient', 'payload'],
  2: ['v', 'chain', 'seq', 'prev', 'time', 'request_digest', 'decision_digest', 'signer', 'recipient', 'payload'],
};

export function coreShapeProblem(c: AuditEntryCore): string | undefined {
  if (c.v === 3) return coreV3Problem(c);
  const fields = isReadableVersion(c.v) ? CORE_FIELDS[c.v] : undefined;
  if (!fields) return unsupportedVersionDetail(c.v);
  const extra = Object.keys(c).filter((k) => !fields.includes(k));
  if (extra.length) return `version ${c.v} has no member ${extra.slice(0, 3).join(', ')}`;
  if (!Number.isSafeInteger(c.seq) || c.seq < 0) return 'seq is not a whole number';
  for (const f of fields) {
    if (f === 'v' || f === 'seq') continue;
    if (typeof (c as unknown as Record<string, unknown>)[f] !== 'string') return `${f} is not a string`;
  }
  if (!/^[0-9a-f]{64}$/.test(c.prev)) return 'prev is not 64 hex digits';
  if (!/^[0-9a-f]{64}$/.test(c.signer)) return 'signer is not a 64-hex-digit fingerprint';
  return undefined;
}

export function anchorShapeProblem(a: AuditAnchor): string | undefined {
  if (!a || typeof a !== 'object') return 'not an object';
  if (!Number.isInteger(a.pcr) || a.pcr < 0 || a.pcr > 23) return 'pcr is not 0-23';
  if (a.bank !== 'sha256' && a.bank !== 'sha384') return 'bank is not sha256 or sha384';
  const n = BANK_SIZE[a.bank] * 2;
  if (typeof a.before !== 'string' || a.before.length !== n || !HEX.test(a.before)) return `before is not ${n} hex digits`;
  if (typeof a.after !== 'string' || a.after.length !== n || !HEX.test(a.after)) return `after is not ${n} hex digits`;
  const b = a.batch;
  if (!b || !Number.isSafeInteger(b.id) || !Number.isInteger(b.size) || !Number.isInteger(b.index) || b.size < 1 || b.index < 0 || b.index >= b.size) {
    return 'batch is not {id, size, index} with 0 ≤ index < size';
  }
  if (typeof a.simulated !== 'boolean') return 'simulated is not a boolean';
  return undefined;
}

/** hex SHA3-256 of a stored base64 payload, or undefined when there is none or it is not base64. */
export function sealedDigest(p: CryptoProvider, payload: string | undefined): string | undefined {
  if (payload === undefined) return undefined;
  try {
    return toHex(p.sha3_256(fromBase64(payload, 'payload')));
  } catch {
    return undefined;
  }
}

export function fromHexFast(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** One entry on its own (for `tail` and `show`): digest, canonical form and signature under a trusted key. */
export function entrySignatureStatus(p: CryptoProvider, rec: AuditRecord, trusted: TrustedSigners | undefined): 'ok' | 'BAD' | 'unchecked' | 'batch' {
  const core = tryCore(rec.core);
  if (!core || coreShapeProblem(core) || canonicalOrUndefined(core) !== rec.core || entryDigest(p, core) !== rec.digest) return 'BAD';
  if (core.chain !== rec.chain || core.seq !== rec.seq) return 'BAD';
  // a v3 entry is signed only through its batch statement (audit verify checks it)
  if (core.v === 3) return sealedDigest(p, rec.payload) === core.sealed_digest ? 'batch' : 'BAD';
  if (!trusted) return 'unchecked';
  const key = trusted.get(core.signer);
  if (!key) return 'BAD';
  let sig: Uint8Array;
  try {
    sig = fromBase64(rec.signature ?? '', 'signature');
  } catch {
    return 'BAD';
  }
  return verifyJson(p, key, 'audit', core, sig) ? 'ok' : 'BAD';
}

/** The parsed core when it is a JSON object (else undefined); not a verification. */
export function readCore(rec: AuditRecord): AuditEntryCore | undefined {
  const c = tryCore(rec.core);
  return c && !coreShapeProblem(c) ? c : undefined;
}
