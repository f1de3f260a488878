/**
 * The audit entry (SPEC §8.7; issue 7 §1). One per decision, in a per-worker hash chain:
 *
 *   core = {v:2, chain, seq, prev, time, request_digest, decision_digest, signer, recipient,
 *           payload}
 *     prev       hex SHA3-256 of the previous entry's core (64 zeros for seq 0)
 *     signer     fingerprint of the worker's ML-DSA-87 key
 *     recipient  fingerprint of the composite KEM key the payload is sealed to (the audit
 *                recipient: by default the service's own key, so `--identity DIR` reads it)
 *     payload    base64 envelope (SPEC §4) of the canonical JSON {decision, signature, votes}
 *   digest    = hex SHA3-256(canonical core)                        (the entry digest)
 *   signature = ML-DSA-87 over the canonical core, context "ima-qs/v1/audit"
 *   anchor    = {pcr, bank, before, after, simulated, batch:{id, size, index}}: set once the
 *               group-commit extend that covers the entry has happened; an entry without one is
 *               "unanchored" (SPEC §8.7: the worker anchors it on its next commit).
 *
 * The stored core is the exact canonical JSON text, so verification is byte-exact.
 *
 * Versions: v:3 (written now, src/protocol/audit-core.ts) is v:2 without its own signature and
 * with the sealed payload stored beside the core (`sealed_digest` binds it): the signed batch
 * statement of its group commit covers its digest (SPEC §8.10.4). v:2 entries (written before)
 * were signed one by one; v:1 entries also carried `route` in clear. Both are still read and
 * verified but never written. Any other `v` is refused by the verifier as `unsupported` (SPEC §8.7).
 */
import { fromBase64, toBase64, toHex, utf8 } from '../crypto/bytes.js';
import { canonicalBytes, canonicalJson } from '../crypto/canonical-json.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import { InputError } from '../errors.js';
import { parseStrictJson } from '../protocol/strict-json.js';

import { CHAIN_ID_RE, GENESIS_PREV, type AuditCoreV3 } from '../protocol/audit-core.js';
export { CHAIN_ID_RE, GENESIS_PREV };
export const MAX_CHAIN_ID = 128;

/** The version of the core this code writes (SPEC §8.7). */
export const CORE_VERSION = 3;
/** Versions this code reads and verifies: 1 (with `route` in clear), 2 (signed per entry) and 3. */
export const READABLE_CORE_VERSIONS: readonly number[] = [1, 2, 3];

export function isReadableVersion(v: unknown): boolean {
  return typeof v === 'number' && READABLE_CORE_VERSIONS.includes(v);
}

/** A v1 or v2 core (signed per entry, payload inline). */
export interface LegacyCore {
  /** 1 for entries written before the route left the core, 2 before batch statements */
  v: 1 | 2;
  chain: string;
  seq: number;
  prev: string;
  time: string;
  /** v:1 only: the route in clear (v:2 keeps it inside the sealed payload) */
  route?: string;
  request_digest: string;
  decision_digest: string;
  signer: string;
  recipient: string;
  payload: string;
}

export type AuditEntryCore = LegacyCore | AuditCoreV3;

/** A legacy per-entry anchor (v1/v2 chains, SPEC §8.7): set after the extend that covered the entry. */
export interface AuditAnchor {
  pcr: number;
  bank: 'sha256' | 'sha384';
  before: string;
  after: string;
  simulated: boolean;
  /** id = seq of the batch's first entry; index = this entry's place in it */
  batch: { id: number; size: number; index: number };
}

export interface AuditRecord {
  chain: string;
  seq: number;
  /** canonical JSON text of the core, exactly as signed */
  core: string;
  digest: string;
  /** v1/v2: base64 ML-DSA-87 signature, context ima-qs/v1/audit (v3 entries have none) */
  signature?: string;
  /** v3: base64 of the sealed payload (the envelope whose SHA3-256 is the core's sealed_digest) */
  payload?: string;
  /** v1/v2 only: the per-entry anchor (v3 entries are covered by a batch statement) */
  anchor?: AuditAnchor;
}

/** A stored, signed batch statement (SPEC §8.10.4): `statement` is its canonical JSON text. */
export interface BatchRecord {
  chain: string;
  first_seq: number;
  statement: string;
  /** base64 ML-DSA-87, context ima-qs/v2/batch */
  signature: string;
}

export function checkChainId(chain: string): string {
  if (typeof chain !== 'string' || !CHAIN_ID_RE.test(chain)) {
    throw new InputError('BAD_CHAIN_ID', `audit chain id "${String(chain).slice(0, 40)}" is not 1-128 characters of A-Z a-z 0-9 . _ : / -`);
  }
  return chain;
}

export function entryDigest(p: Pick<CryptoProvider, 'sha3_256'>, core: AuditEntryCore): string {
  return toHex(p.sha3_256(canonicalBytes(core)));
}

/** A core's canonical text, its UTF-8 bytes (what is signed) and its digest, computed once. */
export interface CanonicalCore {
  text: string;
  bytes: Uint8Array;
  digest: string;
}

export function canonicalCore(p: Pick<CryptoProvider, 'sha3_256'>, core: AuditEntryCore): CanonicalCore {
  const text = canonicalJson(core);
  const bytes = utf8(text);
  return { text, bytes, digest: toHex(p.sha3_256(bytes)) };
}

/** Builds the stored record of a legacy (v1/v2) core from its signature — for tools and tests of old chains. */
export function toRecord(p: Pick<CryptoProvider, 'sha3_256'>, core: LegacyCore, signature: Uint8Array, canon: CanonicalCore = canonicalCore(p, core)): AuditRecord {
  return { chain: core.chain, seq: core.seq, core: canon.text, digest: canon.digest, signature: toBase64(signature) };
}

/** The stored record of a v3 core: the core's canonical text and digest, the sealed payload beside it. */
export function toRecordV3(core: AuditCoreV3, canon: CanonicalCore, sealedPayload: Uint8Array): AuditRecord {
  return { chain: core.chain, seq: core.seq, core: canon.text, digest: canon.digest, payload: toBase64(sealedPayload) };
}

export function parseCore(rec: AuditRecord): AuditEntryCore {
  try {
    return parseStrictJson(rec.core) as AuditEntryCore;
  } catch (err) {
    throw new InputError('AUDIT_ENTRY_MALFORMED', `audit entry ${rec.chain}/${rec.seq} is not JSON`, { cause: err });
  }
}

/** What a reader says about a core whose `v` it does not know (SPEC §8.7). */
export function unsupportedVersionDetail(v: unknown): string {
  const shown = typeof v === 'number' || typeof v === 'string' ? JSON.stringify(v).slice(0, 20) : v === undefined ? 'none' : typeof v;
  return `entry format version ${shown} is not one this ima-qs reads (${READABLE_CORE_VERSIONS.join(', ')}): a newer writer, or the entry was altered`;
}

export type EntryProblem = 'malformed' | 'altered' | 'unsigned' | 'misplaced';

/**
 * Checks one record on its own: the core parses and is canonical, its digest and position match,
 * and the signature verifies with the audit context. Links between entries: audit-chain.ts.
 */
export function checkRecord(p: CryptoProvider, rec: AuditRecord, signerPublicKey: Uint8Array): { ok: true } | { ok: false; problem: EntryProblem; detail: string } {
  let core: AuditEntryCore;
  try {
    core = parseCore(rec);
  } catch {
    return { ok: false, problem: 'malformed', detail: 'the core is not JSON' };
  }
  if (!isReadableVersion(core?.v)) return { ok: false, problem: 'malformed', detail: unsupportedVersionDetail(core?.v) };
  let canonical: string | undefined;
  try {
    canonical = canonicalJson(core);
  } catch {
    canonical = undefined; // e.g. a lone surrogate (RFC 8785 §3.2.2.2): never what a writer produced
  }
  if (canonical !== rec.core) return { ok: false, problem: 'malformed', detail: 'the core is not canonical JSON' };
  if (core.chain !== rec.chain || core.seq !== rec.seq) return { ok: false, problem: 'misplaced', detail: `the core says ${core.chain}/${core.seq}` };
  if (entryDigest(p, core) !== rec.digest) return { ok: false, problem: 'altered', detail: 'the digest does not match the core' };
  if (core.v === 3) return { ok: false, problem: 'unsigned', detail: 'a version 3 entry has no signature of its own: its batch statement signs it (audit verify)' };
  let sig: Uint8Array;
  try {
    sig = fromBase64(rec.signature ?? '', 'signature');
  } catch {
    return { ok: false, problem: 'unsigned', detail: 'the signature is not base64' };
  }
  if (!verifyJson(p, signerPublicKey, 'audit', core, sig)) return { ok: false, problem: 'unsigned', detail: 'the signature does not verify (context ima-qs/v1/audit)' };
  return { ok: true };
}

/** The plaintext sealed into `payload`: canonical JSON bytes of the signed decision. */
export function payloadPlaintext(signed: { decision: unknown; signature: string; votes: unknown[] }): Uint8Array {
  return utf8(canonicalJson({ decision: signed.decision, signature: signed.signature, votes: signed.votes }));
}

/** The sealed payload of an entry: inline in a v1/v2 core, beside the core in a v3 record. */
export function payloadBytes(core: AuditEntryCore, rec?: Pick<AuditRecord, 'payload'>): Uint8Array {
  if (core.v === 3) return fromBase64(rec?.payload ?? '', 'audit payload');
  return fromBase64(core.payload, 'audit payload');
}
