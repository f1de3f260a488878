/**
 * The audit entry core, version 3 (SPEC §8.7, §8.10.3): what response format v2 carries, so that a
 * client recomputes the entry digest that its batch statement covers and sees that the entry
 * records THIS decision.
 *
 *   core = {v:3, chain, seq, prev, time, request_digest, decision_digest, recipient, sealed_digest}
 *     prev           the previous entry's digest (64 zeros for seq 0)
 *     recipient      fingerprint of the composite key the payload is sealed to (the auditor)
 *     sealed_digest  hex SHA3-256 of the sealed payload's bytes (the envelope, SPEC §4), which
 *                    is stored beside the core, not in it: the core stays small enough to ship
 *   digest = hex SHA3-256(canonical core)                        (the entry digest)
 *
 * v3 entries carry no signature of their own: the signed batch statement of their group commit
 * (batch-statement.ts) covers their digests by a Merkle root. Versions 1 and 2 (signed one by one,
 * payload inline) are read by src/audit.
 */
import { canonicalBytes } from '../crypto/canonical-json.js';
import { toHex } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { HEX64, exactProblem, isIsoTime, isNat } from './shape.js';

export const CORE_V3_KEYS = ['v', 'chain', 'seq', 'prev', 'time', 'request_digest', 'decision_digest', 'recipient', 'sealed_digest'] as const;
export const CHAIN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
export const GENESIS_PREV = '0'.repeat(64);

export interface AuditCoreV3 {
  v: 3;
  chain: string;
  seq: number;
  prev: string;
  time: string;
  request_digest: string;
  decision_digest: string;
  recipient: string;
  sealed_digest: string;
}

/** The first problem with a v3 core's shape, or undefined. */
export function coreV3Problem(c: unknown): string | undefined {
  const e = exactProblem(c, CORE_V3_KEYS, 'the audit entry');
  if (e) return e;
  const o = c as Record<string, unknown>;
  if (o.v !== 3) return 'the audit entry is not version 3';
  if (typeof o.chain !== 'string' || !CHAIN_ID_RE.test(o.chain)) return 'the audit entry chain is not 1-128 of A-Z a-z 0-9 . _ : / -';
  if (!isNat(o.seq)) return 'the audit entry seq is not a whole number';
  for (const k of ['prev', 'request_digest', 'decision_digest', 'recipient', 'sealed_digest'] as const) {
    if (typeof o[k] !== 'string' || !HEX64.test(o[k] as string)) return `the audit entry ${k} is not 64 hex digits`;
  }
  if (!isIsoTime(o.time)) return 'the audit entry time is not an RFC 3339 UTC time with milliseconds';
  return undefined;
}

export function coreV3Digest(p: Pick<CryptoProvider, 'sha3_256'>, core: AuditCoreV3): string {
  return toHex(p.sha3_256(canonicalBytes(core)));
}
