/**
 * Merkle trees as RFC 9162 §2.1 defines them (Certificate Transparency 2.0), with SHA3-256 as HASH
 * (SPEC §8.10.1). Used twice in response format v2: the votes of a decision (leaves = canonical JSON
 * of each vote) and the entries of a group commit (leaves = the 32-byte entry digests).
 *
 *   MTH({})      = HASH()
 *   leaf hash    = HASH(0x00 ‖ d)
 *   node         = HASH(0x01 ‖ left ‖ right)
 *   MTH(D[n])    = HASH(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])),  k the largest power of two < n
 *
 * Inclusion proofs are PATH(m, D[n]) of §2.1.3.1 and are verified with the algorithm of §2.1.3.2,
 * which needs no knowledge of the tree but its size. Pure and browser-safe; every input is
 * bounded (a proof path longer than 64 hashes cannot be for any tree this code builds).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { concatBytes, equalBytes } from '../crypto/bytes.js';

type Hash = Pick<CryptoProvider, 'sha3_256'>;

export const HASH_BYTES = 32;
/** a tree of at most 2^32 leaves has a path of at most 32 hashes; 64 leaves room and bounds work */
export const MAX_PATH = 64;

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

export function leafHash(p: Hash, data: Uint8Array): Uint8Array {
  return p.sha3_256(concatBytes(LEAF, data));
}

export function nodeHash(p: Hash, left: Uint8Array, right: Uint8Array): Uint8Array {
  return p.sha3_256(concatBytes(NODE, left, right));
}

/** The largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over already-hashed leaves. */
export function rootFromLeafHashes(p: Hash, leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return p.sha3_256(new Uint8Array(0));
  let level = leaves.slice();
  // bottom-up pairing gives exactly RFC 9162's left-balanced tree: an odd last node is promoted
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(p, level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

export function merkleRoot(p: Hash, data: readonly Uint8Array[]): Uint8Array {
  return rootFromLeafHashes(p, data.map((d) => leafHash(p, d)));
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1, over already-hashed leaves; sibling hashes from the leaf up. */
export function inclusionPath(p: Hash, leaves: readonly Uint8Array[], m: number): Uint8Array[] {
  if (!Number.isSafeInteger(m) || m < 0 || m >= leaves.length) throw new RangeError(`leaf ${m} is not in a tree of ${leaves.length}`);
  const path: Uint8Array[] = [];
  const walk = (lo: number, hi: number, idx: number): void => {
    const n = hi - lo;
    if (n <= 1) return;
    const k = split(n);
    if (idx < k) {
      walk(lo, lo + k, idx);
      path.push(rootFromLeafHashes(p, leaves.slice(lo + k, hi)));
    } else {
      walk(lo + k, hi, idx - k);
      path.push(rootFromLeafHashes(p, leaves.slice(lo, lo + k)));
    }
  };
  walk(0, leaves.length, m);
  return path;
}

/** All inclusion paths of a tree at once (each subtree hashed once): O(n log n). */
export function allInclusionPaths(p: Hash, leaves: readonly Uint8Array[]): Uint8Array[][] {
  const paths: Uint8Array[][] = leaves.map(() => []);
  const build = (lo: number, hi: number): Uint8Array => {
    const n = hi - lo;
    if (n === 1) return leaves[lo];
    const k = split(n);
    const left = build(lo, lo + k);
    const right = build(lo + k, hi);
    for (let i = lo; i < lo + k; i++) paths[i].push(right);
    for (let i = lo + k; i < hi; i++) paths[i].push(left);
    return nodeHash(p, left, right);
  };
  if (leaves.length > 0) build(0, leaves.length);
  return paths;
}

/**
 * RFC 9162 §2.1.3.2: true when `leaf` (a leaf hash) is at `index` of a tree of `size` leaves whose
 * root is `root`. Any malformed input is simply false.
 */
export function verifyInclusion(p: Hash, leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (path.length > MAX_PATH || leaf.length !== HASH_BYTES || root.length !== HASH_BYTES) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const node of path) {
    if (node.length !== HASH_BYTES || sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, node, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(p, r, node);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}
