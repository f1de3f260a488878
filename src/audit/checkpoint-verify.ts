/**
 * The checkpoint side of `audit verify` (SPEC §8.11). Two steps:
 *
 *   1. `assessCheckpoints` (pure): every version of every object in the checkpoint store —
 *      registrations and checkpoints — parsed strictly, signed by a trusted audit key, at the key
 *      it names; per chain the checkpoints 0..K without a gap, each `prev` the digest of the one
 *      before, sizes never shrinking; a key holding two different versions is a fork; a delete
 *      marker is a deletion that object lock refused to carry out (the version is still there).
 *   2. `checkAgainstStore` (reads the audit table): each checkpoint's statements are the stored
 *      ones (digest by digest), its head is the stored entry at size-1, and the chain still holds
 *      every entry a checkpoint covers (a truncated tail, a deleted chain).
 *
 * A problem names the chain and the first seq it concerns, like the chain verifier's.
 */
import { fromBase64 } from '../crypto/bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { verifyJson } from '../crypto/signature.js';
import type { BatchStatement } from '../protocol/batch-statement.js';
import {
  CHECKPOINT_GENESIS,
  CHECKPOINT_PREFIX,
  KEYSET_PREFIX,
  REGISTRY_PREFIX,
  parseObjectKey,
  signedProblem,
  statementDigest,
  storedDigest,
  type ChainRegistration,
  type Checkpoint,
  type SignedCheckpoint,
  type SignedRegistration,
} from '../protocol/checkpoint.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import type { AuditStore } from './audit-store.js';
import type { CheckpointStore, ObjectVersion } from './checkpoint-store.js';
import type { AuditProblem } from './audit-verify.js';
import { trustedKeyAt, type AuditKeyTrust } from './checkpoint-trust.js';

export interface StoredVersion extends ObjectVersion {
  /** absent for a delete marker */
  bytes?: Uint8Array;
}

/** Everything the checkpoint store holds, every version (read once, then judged purely). */
export interface CheckpointEvidence {
  label: string;
  objects: StoredVersion[];
}

export async function readCheckpointEvidence(store: CheckpointStore, onProgress?: (n: number) => void): Promise<CheckpointEvidence> {
  const versions = [...(await store.versions(KEYSET_PREFIX)), ...(await store.versions(REGISTRY_PREFIX)), ...(await store.versions(CHECKPOINT_PREFIX))];
  const objects: StoredVersion[] = [];
  for (const v of versions) {
    objects.push(v.deleteMarker ? v : { ...v, bytes: await store.getVersion(v) });
    onProgress?.(objects.length);
  }
  return { label: store.label, objects };
}

export interface ChainCheckpoints {
  chain: string;
  registration?: ChainRegistration;
  /** verified checkpoints, index 0..K in order, up to the first problem */
  checkpoints: Checkpoint[];
  problem?: AuditProblem;
}

export interface CheckpointAssessment {
  label: string;
  chains: Map<string, ChainCheckpoints>;
  /** object keys that are not ours (ignored) */
  ignored: string[];
  /** objects read (versions, delete markers included) */
  objects: number;
}

type Parsed = { kind: 'registration'; doc: SignedRegistration } | { kind: 'checkpoint'; doc: SignedCheckpoint };

function parseVersion(bytes: Uint8Array, member: 'registration' | 'checkpoint'): { doc?: Parsed; problem?: string } {
  let v: unknown;
  try {
    v = parseStrictJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { problem: 'not JSON' };
  }
  const problem = signedProblem(v, member);
  if (problem) return { problem };
  return { doc: member === 'registration' ? { kind: 'registration', doc: v as SignedRegistration } : { kind: 'checkpoint', doc: v as SignedCheckpoint } };
}

function signatureOk(p: CryptoProvider, trusted: AuditKeyTrust, doc: Parsed): string | undefined {
  const inner = doc.kind === 'registration' ? doc.doc.registration : doc.doc.checkpoint;
  // SPEC §8.11: an audit key certified by the pinned root at the document's own time
  const found = trustedKeyAt(trusted, 'audit', inner.signer, Date.parse(doc.kind === 'registration' ? doc.doc.registration.created : doc.doc.checkpoint.time));
  if ('reason' in found) return found.reason;
  const key = found.key;
  let sig: Uint8Array;
  try {
    sig = fromBase64(doc.doc.signature, 'signature');
  } catch {
    return 'its signature is not base64';
  }
  const purpose = doc.kind === 'registration' ? 'chain' : 'checkpoint';
  return verifyJson(p, key, purpose, inner, sig) ? undefined : `its signature does not verify (context ima-qs/v2/${purpose}): it was changed`;
}

/** Step 1: the store on its own. */
export function assessCheckpoints(p: CryptoProvider, ev: CheckpointEvidence, trusted: AuditKeyTrust): CheckpointAssessment {
  const chains = new Map<string, ChainCheckpoints>();
  const ignored: string[] = [];
  const entry = (chain: string) => {
    let c = chains.get(chain);
    if (!c) chains.set(chain, (c = { chain, checkpoints: [] }));
    return c;
  };
  const fail = (chain: string, seq: number, kind: AuditProblem['kind'], detail: string) => {
    const c = entry(chain);
    if (!c.problem || seq < c.problem.seq) c.problem = { chain, seq, kind, detail };
  };
  // group versions by key
  const byKey = new Map<string, StoredVersion[]>();
  for (const o of ev.objects) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o]);
  const checkpoints = new Map<string, Map<number, { doc: SignedCheckpoint; digest: string }>>();
  for (const [key, versions] of byKey) {
    const named = parseObjectKey(key);
    if (!named) {
      ignored.push(key);
      continue;
    }
    if (named.kind === 'keyset') continue; // judged by checkpoint-trust.ts
    const where = `${ev.label}: ${key}`;
    const member = named.kind;
    const kept = versions.filter((v) => !v.deleteMarker);
    const docs: Parsed[] = [];
    let bad = false;
    for (const v of kept) {
      const { doc, problem } = parseVersion(v.bytes ?? new Uint8Array(0), member);
      const sigProblem = doc ? signatureOk(p, trusted, doc) : undefined;
      const inner = doc && (doc.kind === 'registration' ? doc.doc.registration : doc.doc.checkpoint);
      const seqOf = inner && doc?.kind === 'checkpoint' ? firstSeq(doc.doc.checkpoint) : 0;
      if (problem || sigProblem) {
        fail(named.chain, seqOf, 'checkpoint', `${where} (version ${v.version}) is not a valid ${member}: ${problem ?? sigProblem}`);
        bad = true;
      } else if (inner!.chain !== named.chain || (doc!.kind === 'checkpoint' && named.kind === 'checkpoint' && doc!.doc.checkpoint.index !== named.index)) {
        fail(named.chain, seqOf, 'checkpoint', `${where} holds a ${member} of ${inner!.chain}${doc!.kind === 'checkpoint' ? ` index ${doc!.doc.checkpoint.index}` : ''}: it was copied here`);
        bad = true;
      } else docs.push(doc!);
    }
    const digests = [...new Set(docs.map((d) => storedDigest(p, d.doc)))];
    if (digests.length > 1) {
      const seq = docs[0].kind === 'checkpoint' ? firstSeq(docs[0].doc.checkpoint) : 0;
      fail(named.chain, seq, 'forked', `${where} has ${digests.length} different versions: the ${member} was rewritten (object lock kept the first; every version is evidence)`);
      bad = true;
    }
    for (const d of versions.filter((v) => v.deleteMarker)) {
      const seq = docs[0]?.kind === 'checkpoint' ? firstSeq(docs[0].doc.checkpoint) : 0;
      fail(named.chain, seq, 'checkpoint', `${where} was deleted (delete marker ${d.version}); ${kept.length ? 'object lock kept the version under it' : 'no version is left'}`);
    }
    if (bad || !docs.length) continue;
    const doc = docs[0];
    if (doc.kind === 'registration') entry(named.chain).registration = doc.doc.registration;
    else {
      let m = checkpoints.get(named.chain);
      if (!m) checkpoints.set(named.chain, (m = new Map()));
      m.set(doc.doc.checkpoint.index, { doc: doc.doc, digest: storedDigest(p, doc.doc) });
    }
  }
  // per chain: 0..K without a gap, linked by prev, sizes never shrinking, registered
  for (const [chain, m] of checkpoints) {
    const c = entry(chain);
    const max = Math.max(...m.keys());
    let prev: { digest: string; size: number } | undefined;
    for (let i = 0; i <= max; i++) {
      const got = m.get(i);
      if (!got) {
        const next = [...m.entries()].filter(([k]) => k > i).sort((a, b) => a[0] - b[0])[0]?.[1].doc.checkpoint;
        fail(chain, prev?.size ?? 0, 'checkpoint', `checkpoint ${i} of chain ${chain} is missing (deleted or never stored) while checkpoint ${next?.index ?? max} exists`);
        break;
      }
      const cp = got.doc.checkpoint;
      if (cp.prev !== (prev?.digest ?? CHECKPOINT_GENESIS)) {
        fail(chain, prev?.size ?? 0, 'forked', `checkpoint ${i} of chain ${chain} does not follow checkpoint ${i - 1} (prev differs): the checkpoints were forked or one was replaced`);
        break;
      }
      if (prev && cp.size < prev.size) {
        fail(chain, cp.size, 'forked', `checkpoint ${i} of chain ${chain} covers ${cp.size} entries, fewer than checkpoint ${i - 1} (${prev.size}): a rollback`);
        break;
      }
      if (cp.batches.length && cp.batches[0].first_seq !== (prev?.size ?? 0)) {
        fail(chain, prev?.size ?? 0, 'checkpoint', `checkpoint ${i} of chain ${chain} does not start where checkpoint ${i - 1} ends`);
        break;
      }
      c.checkpoints.push(cp);
      prev = { digest: got.digest, size: cp.size };
    }
  }
  for (const c of chains.values()) {
    if (!c.registration && !c.problem) fail(c.chain, 0, 'unregistered', `chain ${c.chain} has checkpoints but no registration in ${ev.label} (deleted?)`);
  }
  return { label: ev.label, chains, ignored, objects: ev.objects.length };
}

function firstSeq(c: Checkpoint): number {
  return c.batches[0]?.first_seq ?? c.size;
}

export interface CheckpointStanding {
  /** the newest verified checkpoint */
  latest?: { index: number; size: number; time: string };
  /** entries after it: present when the chain has more entries than the newest checkpoint covers */
  notYetCheckpointed?: { count: number; since?: string; ageSeconds?: number };
  problem?: AuditProblem;
}

/**
 * Step 2: the chain in the audit table against its checkpoints. `head` is the chain's newest seq
 * in the table (undefined: no entries). Reads each checkpoint's statements and head entry.
 */
export async function checkAgainstStore(
  p: CryptoProvider,
  store: Pick<AuditStore, 'batches' | 'get'>,
  chain: string,
  cps: readonly Checkpoint[],
  head: number | undefined,
  now: number,
): Promise<CheckpointStanding> {
  const have = head === undefined ? 0 : head + 1;
  const latest = cps.at(-1);
  const out: CheckpointStanding = latest ? { latest: { index: latest.index, size: latest.size, time: latest.time } } : {};
  const fail = (seq: number, kind: AuditProblem['kind'], detail: string) => {
    out.problem = { chain, seq, kind, detail };
    return out;
  };
  let from = 0;
  for (const c of cps) {
    if (c.size > have) {
      if (have === 0) return fail(0, 'missing', `chain ${chain} has no entries, but checkpoint ${c.index} (${c.time}) covers ${c.size}: the chain was deleted`);
      return fail(have, 'missing', `entries ${have} to ${c.size - 1} are missing: checkpoint ${c.index} (${c.time}) covers them (a truncated tail)`);
    }
    const stored = await store.batches(chain, { from, to: c.size - 1 });
    for (let i = 0; i < Math.max(stored.length, c.batches.length); i++) {
      const want = c.batches[i];
      const got = stored[i];
      if (!got) return fail(want.first_seq, 'missing', `the batch statement at ${want.first_seq} that checkpoint ${c.index} recorded is gone`);
      if (!want || got.first_seq < want.first_seq) return fail(got.first_seq, 'inserted', `the batch statement at ${got.first_seq} is not among those checkpoint ${c.index} recorded: it was added later`);
      if (got.first_seq > want.first_seq) return fail(want.first_seq, 'missing', `the batch statement at ${want.first_seq} that checkpoint ${c.index} recorded is gone`);
      let st: BatchStatement | undefined;
      try {
        st = parseStrictJson(got.statement) as BatchStatement;
      } catch {
        st = undefined;
      }
      let digest: string | undefined;
      try {
        digest = st ? statementDigest(p, st) : undefined;
      } catch {
        digest = undefined;
      }
      if (digest !== want.digest) {
        return fail(want.first_seq, 'altered', `the batch statement at ${want.first_seq} (entries ${want.first_seq}-${want.first_seq + want.size - 1}) is not the one checkpoint ${c.index} (${c.time}) recorded: it was edited or re-signed`);
      }
    }
    if (c.size > 0) {
      const rec = await store.get(chain, c.size - 1);
      if (!rec) return fail(c.size - 1, 'missing', `entry ${c.size - 1}, the head of checkpoint ${c.index}, is missing`);
      if (rec.digest !== c.head) {
        return fail(from, 'altered', `entries ${from} to ${c.size - 1} differ from checkpoint ${c.index} (${c.time}): its head is ${c.head.slice(0, 16)}…, the stored entry ${c.size - 1} is ${rec.digest.slice(0, 16)}… (rewritten)`);
      }
    }
    from = c.size;
  }
  if (have > (latest?.size ?? 0)) {
    const first = await store.get(chain, latest?.size ?? 0);
    const since = first ? timeOf(first.core) : undefined;
    out.notYetCheckpointed = {
      count: have - (latest?.size ?? 0),
      ...(since ? { since, ageSeconds: Math.max(0, Math.round((now - Date.parse(since)) / 1000)) } : {}),
    };
  }
  return out;
}

function timeOf(core: string): string | undefined {
  try {
    const t = (parseStrictJson(core) as { time?: unknown }).time;
    return typeof t === 'string' && Number.isFinite(Date.parse(t)) ? t : undefined;
  } catch {
    return undefined;
  }
}
