/**
 * Which audit keys (and decisions signers) an auditor trusts, from the root pin alone (SPEC §7.3,
 * §8.11). The checkpoint store holds, beside the registrations and checkpoints, the key-set
 * statements that certify each audit key (keysets/g<generation>-<digest>.json, written by the
 * checkpoint writer): every version is read, its root checked against the pin in constant time,
 * its root signature verified. A key is then trusted for a document signed at time T only when a
 * verified statement certifies it (signers.audit for registrations and checkpoints,
 * signers.decisions for batch statements) and T lies in that statement's validity.
 *
 * A keyset object that does not verify under the pinned root is refused and listed, never trusted:
 * whoever can write into the store (the worker's role) cannot make an auditor trust a key.
 * Pure: evidence in, verdicts out.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { parseObjectKey } from '../protocol/checkpoint.js';
import type { CertificationBlock } from '../protocol/decision-v2.js';
import { keySetDigest, pinnedRoot, verifyKeySet } from '../protocol/keyset.js';
import { exactProblem } from '../protocol/shape.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export interface CertifiedKey {
  key: Uint8Array;
  /** the statements that certify it: [not_before, not_after] in ms and their generation */
  windows: { notBefore: number; notAfter: number; generation: number }[];
}

/** The keys the pinned root certified, per purpose. */
export interface CertifiedSigners {
  kind: 'certified';
  /** the root fingerprint (the pin) */
  pin: string;
  audit: Map<string, CertifiedKey>;
  decisions: Map<string, CertifiedKey>;
  /** the generations whose statements verified, ascending */
  generations: number[];
  /** keyset objects (or given statements) that were refused, and why */
  refused: { where: string; reason: string }[];
}

/** A plain map fingerprint → key (a library caller that chose its keys itself; the CLI never passes one). */
export type AuditKeyTrust = Map<string, Uint8Array> | CertifiedSigners;

function addKey(m: Map<string, CertifiedKey>, fp: string, key: Uint8Array, w: CertifiedKey['windows'][number]): void {
  const have = m.get(fp);
  if (have) have.windows.push(w);
  else m.set(fp, { key, windows: [w] });
}

/**
 * The statements among `objects` (every version under keysets/) and `given` (statements the
 * caller holds, e.g. a local stack's key folders) that verify under the pinned root.
 */
export function certifiedSigners(
  p: CryptoProvider,
  pin: string,
  objects: readonly { key: string; version: string; deleteMarker: boolean; bytes?: Uint8Array }[],
  given: readonly { where: string; certification: CertificationBlock }[] = [],
): CertifiedSigners {
  const out: CertifiedSigners = { kind: 'certified', pin, audit: new Map(), decisions: new Map(), generations: [], refused: [] };
  const seen = new Set<string>();
  const consider = (where: string, x: unknown, named?: { generation: number; digest: string }) => {
    const shape = exactProblem(x, ['root', 'keyset'], 'the stored statement');
    if (shape) return out.refused.push({ where, reason: shape });
    const c = x as CertificationBlock;
    const root = pinnedRoot(c.root, pin);
    if (!root) return out.refused.push({ where, reason: `its root is not the pinned root ${pin.slice(0, 16)}…` });
    const v = verifyKeySet(p, c.keyset, root);
    if (!v.ok) return out.refused.push({ where, reason: v.reason });
    const k = v.keys;
    if (named && (named.generation !== k.generation || named.digest !== k.digest.slice(0, 48))) {
      return out.refused.push({ where, reason: `it holds generation ${k.generation} ${k.digest.slice(0, 16)}…, not the one its name says` });
    }
    const digest = keySetDigest(p, c.keyset.statement);
    if (seen.has(digest)) return;
    seen.add(digest);
    const w = { notBefore: k.notBefore, notAfter: k.notAfter, generation: k.generation };
    addKey(out.audit, k.fingerprints.audit, k.audit, w);
    addKey(out.decisions, k.fingerprints.decisions, k.decisions, w);
    if (!out.generations.includes(k.generation)) out.generations.push(k.generation);
  };
  for (const o of objects) {
    const named = parseObjectKey(o.key);
    if (named?.kind !== 'keyset' || o.deleteMarker || !o.bytes) continue;
    const where = `${o.key} (version ${o.version})`;
    let x: unknown;
    try {
      x = parseStrictJson(new TextDecoder('utf-8', { fatal: true }).decode(o.bytes));
    } catch {
      out.refused.push({ where, reason: 'not JSON' });
      continue;
    }
    consider(where, x, named);
  }
  for (const g of given) consider(g.where, g.certification);
  out.generations.sort((a, b) => a - b);
  return out;
}

/**
 * The key `fp` for a document signed at `atMs` under `trust`, or why there is none. With a plain
 * map, time is not checked (the caller trusts the key outright).
 */
export function trustedKeyAt(trust: AuditKeyTrust, purpose: 'audit' | 'decisions', fp: string, atMs: number): { key: Uint8Array } | { reason: string } {
  if (trust instanceof Map) {
    const key = trust.get(fp);
    return key ? { key } : { reason: `signed by ${fp.slice(0, 16)}…, which is not a trusted ${purpose === 'audit' ? 'audit key' : 'signer'}` };
  }
  const c = (purpose === 'audit' ? trust.audit : trust.decisions).get(fp);
  if (!c) return { reason: `signed by ${fp.slice(0, 16)}…, which no statement of root ${trust.pin.slice(0, 16)}… certifies as its ${purpose === 'audit' ? 'audit' : 'decisions'} signer` };
  if (!c.windows.some((w) => w.notBefore <= atMs && atMs <= w.notAfter)) {
    const span = c.windows.map((w) => `generation ${w.generation}: ${new Date(w.notBefore).toISOString()} to ${new Date(w.notAfter).toISOString()}`).join('; ');
    return { reason: `signed by ${fp.slice(0, 16)}… at ${Number.isFinite(atMs) ? new Date(atMs).toISOString() : 'an unreadable time'}, outside every statement that certifies it (${span})` };
  }
  return { key: c.key };
}

