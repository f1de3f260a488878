/**
 * The key-set statement (SPEC §7.3): what the OFFLINE root ML-DSA-87 key signs, and the only
 * thing it signs (context `ima-qs/v2/keyset`). One statement per generation:
 *
 *   statement {v:1, service, root, generation, previous,
 *              kem:{alg:"MLKEM768-P384", public_key, fingerprint},
 *              signers:{decisions:{alg:"ML-DSA-87", public_key, fingerprint}, audit:{…}},
 *              not_before, not_after}
 *   signed    {statement, signature}      signature = root's ML-DSA-87 over canonical(statement)
 *   digest    hex SHA3-256(canonical(statement))   what the next generation names as `previous`
 *
 *   root        the root key's fingerprint (SPEC §1.4): THE pin clients hold
 *   generation  1, 2, 3 … (+1 per statement); a verifier that saw generation g refuses any lower
 *   previous    the digest of generation − 1's statement (64 zeros for generation 1)
 *   kem         the composite recipient key requests are sealed to (SPEC §1.3)
 *   signers     the online keys the root certifies, one per purpose, both always present:
 *               `decisions` signs decisions, batch statements and refusals (contexts
 *               ima-qs/v2/decision|batch|refusal); `audit` signs chain registrations and audit
 *               checkpoints only (ima-qs/v2/chain|checkpoint, SPEC §8.11)
 *   not_before, not_after   SPEC §1.5 seconds form; 90 days by default
 *
 * Pure and browser-safe: the client, the proxy, `ima-qs verify` and the rollout checks share it.
 * A "no" is a verdict, never a throw.
 */
import { canonicalBytes } from '../crypto/canonical-json.js';
import { equalBytes, fromBase64, fromHex, toBase64, toHex } from '../crypto/bytes.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { signJson, verifyJson } from '../crypto/signature.js';
import { HEX64, exactProblem, isNat, isObj, orUndefined } from './shape.js';
import { isUtcTime } from './utc-time.js';

export const STATEMENT_KEYS = ['v', 'service', 'root', 'generation', 'previous', 'kem', 'signers', 'not_before', 'not_after'] as const;
const KEY_ENTRY_KEYS = ['alg', 'public_key', 'fingerprint'] as const;
export const GENESIS_PREVIOUS = '0'.repeat(64);
export const DEFAULT_KEYSET_VALIDITY_DAYS = 90;
/** the longest a statement may be valid: a root signature is not a ten-year licence */
export const MAX_KEYSET_VALIDITY_DAYS = 400;
const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** The purposes the root certifies an online signer for (SPEC §7.3). */
export type SignerPurpose = 'decisions' | 'audit';

export interface KeyEntry<A extends string> {
  alg: A;
  public_key: string;
  fingerprint: string;
}

export interface KeySetStatement {
  v: 1;
  service: string;
  root: string;
  generation: number;
  previous: string;
  kem: KeyEntry<'MLKEM768-P384'>;
  signers: { decisions: KeyEntry<'ML-DSA-87'>; audit: KeyEntry<'ML-DSA-87'> };
  not_before: string;
  not_after: string;
}

export interface SignedKeySet {
  statement: KeySetStatement;
  /** base64 ML-DSA-87 by the root, context ima-qs/v2/keyset */
  signature: string;
}

/** The keys a verified statement certifies, decoded. */
export interface CertifiedKeys {
  generation: number;
  service: string;
  /** composite ML-KEM-768 + P-384 recipient key (1281 bytes) */
  composite: Uint8Array;
  mlkem: Uint8Array;
  ecdh: Uint8Array;
  /** the decisions signer (decisions, batch statements, refusals) */
  decisions: Uint8Array;
  /** the audit signer (chain registrations and checkpoints) */
  audit: Uint8Array;
  fingerprints: { composite: string; decisions: string; audit: string };
  notBefore: number;
  notAfter: number;
  digest: string;
}

export type KeySetFailure = 'MALFORMED' | 'ROOT_MISMATCH' | 'BAD_SIGNATURE' | 'NOT_YET_VALID' | 'EXPIRED' | 'ROLLBACK';
export type KeySetVerdict = { ok: true; keys: CertifiedKeys; signed: SignedKeySet } | { ok: false; failure: KeySetFailure; reason: string };

type Hash = Pick<CryptoProvider, 'sha3_256'>;

/** hex SHA3-256 of the canonical statement: what the next generation names as `previous`. */
export function keySetDigest(p: Hash, statement: KeySetStatement): string {
  return toHex(p.sha3_256(canonicalBytes(statement)));
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface CertifyInput {
  service?: string;
  /** the previous generation's signed statement (absent: generation 1) */
  previous?: SignedKeySet;
  /** composite recipient key: ML-KEM-768 public key ‖ P-384 point (1281 bytes) */
  kem: Uint8Array;
  decisions: Uint8Array;
  audit: Uint8Array;
  notBefore: Date;
  validityDays?: number;
}

/** Signs the statement of the next generation with the root key (offline; `keys generate|certify`). */
export function certifyKeySet(p: CryptoProvider, root: MlDsaPrivateKey, input: CertifyInput): SignedKeySet {
  const days = input.validityDays ?? DEFAULT_KEYSET_VALIDITY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_KEYSET_VALIDITY_DAYS) throw new RangeError(`validityDays must be 1..${MAX_KEYSET_VALIDITY_DAYS}`);
  if (input.kem.length !== 1281) throw new RangeError('kem expected the 1281-byte composite public key');
  if (input.decisions.length !== 2592 || input.audit?.length !== 2592) throw new RangeError('signers expected 2592-byte ML-DSA-87 public keys');
  if (equalBytes(input.decisions, input.audit)) throw new RangeError('the audit signer must be a separate key from the decisions signer');
  const rootFp = fingerprint('ML-DSA-87', root.publicKey);
  if (input.previous && input.previous.statement.root !== rootFp) throw new RangeError('the previous statement was signed by another root');
  const entry = <A extends 'MLKEM768-P384' | 'ML-DSA-87'>(alg: A, pk: Uint8Array): KeyEntry<A> => ({ alg, public_key: toBase64(pk), fingerprint: fingerprint(alg, pk) });
  const start = Math.floor(input.notBefore.getTime() / 1000) * 1000;
  const statement: KeySetStatement = {
    v: 1,
    service: input.service ?? 'ima-qs',
    root: rootFp,
    generation: input.previous ? input.previous.statement.generation + 1 : 1,
    previous: input.previous ? keySetDigest(p, input.previous.statement) : GENESIS_PREVIOUS,
    kem: entry('MLKEM768-P384', input.kem),
    signers: { decisions: entry('ML-DSA-87', input.decisions), audit: entry('ML-DSA-87', input.audit) },
    not_before: isoSeconds(start),
    not_after: isoSeconds(start + days * 86_400_000),
  };
  if (!SERVICE_RE.test(statement.service)) throw new RangeError('service must be 1-128 of A-Z a-z 0-9 . _ : / -');
  return { statement, signature: toBase64(signJson(p, root, 'keyset', statement)) };
}

function keyEntryProblem(x: unknown, alg: string, bytes: number, what: string): string | undefined {
  const e = exactProblem(x, KEY_ENTRY_KEYS, what);
  if (e) return e;
  const o = x as Record<string, unknown>;
  if (o.alg !== alg) return `${what}.alg is not ${alg}`;
  if (typeof o.fingerprint !== 'string' || !HEX64.test(o.fingerprint)) return `${what}.fingerprint is not 64 hex digits`;
  const pk = typeof o.public_key === 'string' ? orUndefined(() => fromBase64(o.public_key as string, `${what}.public_key`)) : undefined;
  if (!pk || pk.length !== bytes) return `${what}.public_key is not base64 of a ${bytes}-byte ${alg} public key`;
  if (fingerprint(alg as 'ML-DSA-87', pk) !== o.fingerprint) return `${what}.fingerprint is not its key's`;
  return undefined;
}

/** The first problem with a signed statement's shape (members, types, sizes, fingerprints), or undefined. */
export function keySetProblem(x: unknown): string | undefined {
  const e = exactProblem(x, ['statement', 'signature'], 'the key-set statement');
  if (e) return e;
  const { statement: s, signature } = x as Record<string, unknown>;
  if (typeof signature !== 'string') return 'the key-set signature is not base64 text';
  const se = exactProblem(s, STATEMENT_KEYS, 'the statement');
  if (se) return se;
  const o = s as Record<string, unknown>;
  if (o.v !== 1) return 'the statement is not version 1';
  if (typeof o.service !== 'string' || !SERVICE_RE.test(o.service)) return 'service is not 1-128 of A-Z a-z 0-9 . _ : / -';
  if (typeof o.root !== 'string' || !HEX64.test(o.root)) return 'root is not a fingerprint';
  if (!isNat(o.generation) || o.generation === 0) return 'generation is not a whole number ≥ 1';
  if (typeof o.previous !== 'string' || !HEX64.test(o.previous)) return 'previous is not 64 hex digits';
  if ((o.generation === 1) !== (o.previous === GENESIS_PREVIOUS)) return 'previous is 64 zeros exactly for generation 1';
  for (const f of ['not_before', 'not_after'] as const) if (!isUtcTime(o[f], 'seconds')) return `${f} is not a UTC time like 2026-11-28T12:00:00Z`;
  if (Date.parse(o.not_after as string) <= Date.parse(o.not_before as string)) return 'not_after is not after not_before';
  const ke = keyEntryProblem(o.kem, 'MLKEM768-P384', 1281, 'kem');
  if (ke) return ke;
  if (!isObj(o.signers)) return 'signers is not an object';
  const names = Object.keys(o.signers);
  if (names.length !== 2 || !names.includes('decisions') || !names.includes('audit')) return 'signers is not {decisions, audit}';
  for (const n of names) {
    const pe = keyEntryProblem(o.signers[n], 'ML-DSA-87', 2592, `signers.${n}`);
    if (pe) return pe;
  }
  // SPEC §8.11: the audit key is separate, so the online decisions key alone cannot re-sign the history behind a checkpoint
  if ((o.signers.audit as KeyEntry<'ML-DSA-87'>).fingerprint === (o.signers.decisions as KeyEntry<'ML-DSA-87'>).fingerprint) return 'signers.audit is the decisions signer: the audit key must be a separate key';
  return undefined;
}

export interface VerifyKeySetOptions {
  /** the instant the statement must be valid at (ms since the epoch); undefined: not checked */
  at?: number;
  /** the highest generation already seen for this root: a lower one is a rollback */
  minGeneration?: number;
}

/**
 * Verifies a signed statement against the root public key: shape → the statement names this root
 * → the root's signature (context ima-qs/v2/keyset) → generation ≥ minGeneration → validity at `at`.
 */
export function verifyKeySet(p: CryptoProvider, x: unknown, rootPublicKey: Uint8Array, opts: VerifyKeySetOptions = {}): KeySetVerdict {
  const bad = (failure: KeySetFailure, reason: string): KeySetVerdict => ({ ok: false, failure, reason });
  const problem = keySetProblem(x);
  if (problem) return bad('MALFORMED', problem);
  const signed = x as SignedKeySet;
  const s = signed.statement;
  if (rootPublicKey.length !== 2592) return bad('ROOT_MISMATCH', 'the root public key is not 2592 bytes');
  const rootFp = fingerprint('ML-DSA-87', rootPublicKey);
  if (!equalBytes(fromHex(s.root), fromHex(rootFp))) return bad('ROOT_MISMATCH', `the statement names root ${s.root.slice(0, 16)}…, not ${rootFp.slice(0, 16)}…`);
  const sig = orUndefined(() => fromBase64(signed.signature, 'key-set signature'));
  if (!sig || !verifyJson(p, rootPublicKey, 'keyset', s, sig)) return bad('BAD_SIGNATURE', `generation ${s.generation}: the root signature does not verify (context ima-qs/v2/keyset)`);
  if (opts.minGeneration !== undefined && s.generation < opts.minGeneration) {
    return bad('ROLLBACK', `generation ${s.generation} is older than generation ${opts.minGeneration} already seen for this root (a rollback is refused)`);
  }
  const notBefore = Date.parse(s.not_before);
  const notAfter = Date.parse(s.not_after);
  if (opts.at !== undefined && opts.at < notBefore) return bad('NOT_YET_VALID', `generation ${s.generation} is valid from ${s.not_before}`);
  if (opts.at !== undefined && opts.at > notAfter) return bad('EXPIRED', `generation ${s.generation} expired at ${s.not_after}`);
  const composite = fromBase64(s.kem.public_key);
  return {
    ok: true,
    signed,
    keys: {
      generation: s.generation,
      service: s.service,
      composite,
      mlkem: composite.slice(0, 1184),
      ecdh: composite.slice(1184),
      decisions: fromBase64(s.signers.decisions.public_key),
      audit: fromBase64(s.signers.audit.public_key),
      fingerprints: { composite: s.kem.fingerprint, decisions: s.signers.decisions.fingerprint, audit: s.signers.audit.fingerprint },
      notBefore,
      notAfter,
      digest: keySetDigest(p, s),
    },
  };
}

/** The root public key from its base64, checked against the pin in constant time; undefined when it is not the pinned root. */
export function pinnedRoot(rootB64: unknown, pin: string): Uint8Array | undefined {
  if (typeof rootB64 !== 'string' || !HEX64.test(pin)) return undefined;
  const root = orUndefined(() => fromBase64(rootB64, 'root public key'));
  if (!root || root.length !== 2592) return undefined;
  return equalBytes(fromHex(fingerprint('ML-DSA-87', root)), fromHex(pin)) ? root : undefined;
}
