/**
 * Chain registrations and signed checkpoints (SPEC §8.11): what an auditor keeps outside the audit
 * table, in a write-once store (an S3 bucket with Object Lock in compliance mode, or STATE/checkpoints
 * for the local stack), signed with the separate audit key (ML-DSA-87, never the decision key).
 *
 *   registration  {v:1, type:"ima-qs/chain-registration", chain, worker_key, created, signer}
 *                 context ima-qs/v2/chain — written once, before the chain's first entry
 *   checkpoint    {v:1, type:"ima-qs/checkpoint", chain, index, prev, size, head,
 *                  batches:[{first_seq, size, digest}], last_batch:{first_seq, digest}|null,
 *                  time, reason, signer}
 *                 context ima-qs/v2/checkpoint — entries 0..size-1 as the writer saw them:
 *                   head        the digest of entry size-1 (64 zeros when size = 0)
 *                   batches     every batch statement with first_seq in [previous size, size), in order,
 *                               digest = SHA3-256 of the canonical statement (SPEC §8.10.4)
 *                   last_batch  the chain's newest statement (the "last batch statement digest")
 *                   prev        SHA3-256 of the canonical stored form of checkpoint index-1 (zeros for 0)
 *
 * Stored form (one object per document, never replaced): canonical JSON of
 * {"registration"|"checkpoint": …, "signature": "<base64>"}. Object keys: registry/<id>.json and
 * checkpoints/<id>/<index, 12 digits>.json, where <id> is the chain id with encodeURIComponent
 * (chain ids hold `/` and `:`).
 *
 * Beside them, the key-set statements that certify the audit key (SPEC §7.3 signers.audit): the
 * certification {root, keyset} as a response carries it, canonical JSON, at
 * keysets/g<generation, 9 digits>-<first 48 hex digits of the statement digest>.json. A verifier
 * holding only the root pin finds in the store itself which audit keys the root certified, and
 * when. Pure: shapes, digests, keys.
 */
import { canonicalBytes, canonicalJson } from '../crypto/canonical-json.js';
import { toHex, utf8 } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { CHAIN_ID_RE, GENESIS_PREV } from './audit-core.js';
import { HEX64, exactProblem, isIsoTime, isNat, isObj } from './shape.js';

export const REGISTRATION_TYPE = 'ima-qs/chain-registration';
export const CHECKPOINT_TYPE = 'ima-qs/checkpoint';
export const REGISTRATION_KEYS = ['v', 'type', 'chain', 'worker_key', 'created', 'signer'] as const;
export const CHECKPOINT_KEYS = ['v', 'type', 'chain', 'index', 'prev', 'size', 'head', 'batches', 'last_batch', 'time', 'reason', 'signer'] as const;
export const CHECKPOINT_REASONS = ['count', 'interval', 'stop'] as const;
/** a checkpoint lists at most this many statements; a writer with more splits them over several */
export const MAX_CHECKPOINT_BATCHES = 1024;
/** a stored document is small; anything larger is not one of ours */
export const MAX_STORED_DOCUMENT = 256 * 1024;
export const REGISTRY_PREFIX = 'registry/';
export const CHECKPOINT_PREFIX = 'checkpoints/';
export const KEYSET_PREFIX = 'keysets/';

export interface ChainRegistration {
  v: 1;
  type: typeof REGISTRATION_TYPE;
  chain: string;
  /** fingerprint of the ML-DSA-87 key that signs the chain's batch statements (the decision key) */
  worker_key: string;
  created: string;
  /** fingerprint of the audit key that signs this registration */
  signer: string;
}

export interface CheckpointBatch {
  first_seq: number;
  size: number;
  digest: string;
}

export interface Checkpoint {
  v: 1;
  type: typeof CHECKPOINT_TYPE;
  chain: string;
  index: number;
  prev: string;
  size: number;
  head: string;
  batches: CheckpointBatch[];
  last_batch: { first_seq: number; digest: string } | null;
  time: string;
  reason: (typeof CHECKPOINT_REASONS)[number];
  signer: string;
}

export interface SignedRegistration {
  registration: ChainRegistration;
  signature: string;
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  signature: string;
}

export const CHECKPOINT_GENESIS = GENESIS_PREV;

const chainProblem = (c: unknown, what: string) => (typeof c !== 'string' || !CHAIN_ID_RE.test(c) ? `${what} chain is not a chain id` : undefined);

export function registrationProblem(x: unknown): string | undefined {
  const e = exactProblem(x, REGISTRATION_KEYS, 'the registration');
  if (e) return e;
  const r = x as Record<string, unknown>;
  if (r.v !== 1 || r.type !== REGISTRATION_TYPE) return 'the registration is not version 1 of ima-qs/chain-registration';
  const c = chainProblem(r.chain, 'the registration');
  if (c) return c;
  if (typeof r.worker_key !== 'string' || !HEX64.test(r.worker_key)) return 'worker_key is not 64 hex digits';
  if (typeof r.signer !== 'string' || !HEX64.test(r.signer)) return 'signer is not 64 hex digits';
  if (!isIsoTime(r.created)) return 'created is not an RFC 3339 UTC time with milliseconds';
  return undefined;
}

export function checkpointProblem(x: unknown): string | undefined {
  const e = exactProblem(x, CHECKPOINT_KEYS, 'the checkpoint');
  if (e) return e;
  const c = x as Record<string, unknown>;
  if (c.v !== 1 || c.type !== CHECKPOINT_TYPE) return 'the checkpoint is not version 1 of ima-qs/checkpoint';
  const ch = chainProblem(c.chain, 'the checkpoint');
  if (ch) return ch;
  if (!isNat(c.index)) return 'index is not a whole number';
  if (!isNat(c.size)) return 'size is not a whole number';
  for (const k of ['prev', 'head', 'signer'] as const) if (typeof c[k] !== 'string' || !HEX64.test(c[k] as string)) return `${k} is not 64 hex digits`;
  if (!isIsoTime(c.time)) return 'time is not an RFC 3339 UTC time with milliseconds';
  if (!(CHECKPOINT_REASONS as readonly unknown[]).includes(c.reason)) return `reason is not one of ${CHECKPOINT_REASONS.join(', ')}`;
  if (!Array.isArray(c.batches) || c.batches.length > MAX_CHECKPOINT_BATCHES) return `batches is not a list of at most ${MAX_CHECKPOINT_BATCHES}`;
  let next = -1;
  for (const b of c.batches) {
    const be = exactProblem(b, ['first_seq', 'size', 'digest'], 'a checkpoint batch');
    if (be) return be;
    const o = b as Record<string, unknown>;
    if (!isNat(o.first_seq) || !isNat(o.size) || o.size === 0 || typeof o.digest !== 'string' || !HEX64.test(o.digest)) return 'a checkpoint batch is not {first_seq, size ≥ 1, digest}';
    if ((o.first_seq as number) <= next) return 'the checkpoint batches are not in first_seq order';
    next = (o.first_seq as number) + (o.size as number) - 1;
    if (next >= (c.size as number)) return 'a checkpoint batch reaches past the checkpoint size';
  }
  if (c.last_batch !== null) {
    const le = exactProblem(c.last_batch, ['first_seq', 'digest'], 'last_batch');
    if (le) return le;
    const l = c.last_batch as Record<string, unknown>;
    if (!isNat(l.first_seq) || typeof l.digest !== 'string' || !HEX64.test(l.digest)) return 'last_batch is not {first_seq, digest}';
  }
  if ((c.size as number) === 0 && c.head !== CHECKPOINT_GENESIS) return 'a checkpoint of no entries has a head';
  return undefined;
}

/** The outer `{registration|checkpoint, signature}` object; the inner document's problem otherwise. */
export function signedProblem(x: unknown, member: 'registration' | 'checkpoint'): string | undefined {
  const e = exactProblem(x, [member, 'signature'], `the signed ${member}`);
  if (e) return e;
  const o = x as Record<string, unknown>;
  if (typeof o.signature !== 'string') return 'the signature is not base64 text';
  return member === 'registration' ? registrationProblem(o.registration) : checkpointProblem(o.checkpoint);
}

/** SHA3-256 of a batch statement's canonical JSON: how a checkpoint names a statement. */
export function statementDigest(p: Pick<CryptoProvider, 'sha3_256'>, statement: unknown): string {
  return toHex(p.sha3_256(canonicalBytes(statement)));
}

/** SHA3-256 of a stored signed checkpoint (its canonical form): the next checkpoint's `prev`. */
export function storedDigest(p: Pick<CryptoProvider, 'sha3_256'>, signed: SignedCheckpoint | SignedRegistration): string {
  return toHex(p.sha3_256(canonicalBytes(signed)));
}

export function encodeStored(signed: SignedCheckpoint | SignedRegistration): Uint8Array {
  return utf8(canonicalJson(signed) + '\n');
}

/** The path component for a chain id (SPEC §8.11: encodeURIComponent). */
export function chainKey(chain: string): string {
  return encodeURIComponent(chain);
}

export function registrationKey(chain: string): string {
  return `${REGISTRY_PREFIX}${chainKey(chain)}.json`;
}

export function checkpointKey(chain: string, index: number): string {
  return `${CHECKPOINT_PREFIX}${chainKey(chain)}/${String(index).padStart(12, '0')}.json`;
}

/** Where a key-set statement certifying the audit key is kept: keysets/g<9 digits>-<48 hex>.json. */
export function keysetObjectKey(generation: number, digest: string): string {
  return `${KEYSET_PREFIX}g${String(generation).padStart(9, '0')}-${digest.slice(0, 48)}.json`;
}

/** The chain and index an object key names (undefined: not a key of ours). */
export function parseObjectKey(
  key: string,
): { kind: 'registration'; chain: string } | { kind: 'checkpoint'; chain: string; index: number } | { kind: 'keyset'; generation: number; digest: string } | undefined {
  const k = /^keysets\/g(\d{9})-([0-9a-f]{48})\.json$/.exec(key);
  if (k) return { kind: 'keyset', generation: Number(k[1]), digest: k[2] };
  let m = /^registry\/([A-Za-z0-9._%-]{1,400})\.json$/.exec(key);
  const decode = (s: string) => {
    try {
      const c = decodeURIComponent(s);
      return CHAIN_ID_RE.test(c) && chainKey(c) === s ? c : undefined;
    } catch {
      return undefined;
    }
  };
  if (m) {
    const chain = decode(m[1]);
    return chain ? { kind: 'registration', chain } : undefined;
  }
  m = /^checkpoints\/([A-Za-z0-9._%-]{1,400})\/(\d{12})\.json$/.exec(key);
  if (m) {
    const chain = decode(m[1]);
    return chain ? { kind: 'checkpoint', chain, index: Number(m[2]) } : undefined;
  }
  return undefined;
}

export function isSignedCheckpoint(x: unknown): x is SignedCheckpoint {
  return isObj(x) && signedProblem(x, 'checkpoint') === undefined;
}
