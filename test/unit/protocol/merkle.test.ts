/**
 * RFC 9162 §2.1 Merkle trees with SHA3-256 (src/protocol/merkle.ts): the tree hash against a
 * direct recursive transcription of MTH, every inclusion proof of trees of 1..33 leaves verifying
 * with the §2.1.3.2 algorithm, and proofs that must not verify (other index, other size, other
 * leaf, a flipped hash, a path too long or too short, a size whose tree has another shape).
 */
import { describe, expect, it } from 'vitest';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { concatBytes, toHex, utf8 } from '../../../src/crypto/bytes.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { allInclusionPaths, inclusionPath, leafHash, merkleRoot, verifyInclusion } from '../../../src/protocol/merkle.js';

const p = getProvider('noble');

/** MTH exactly as RFC 9162 §2.1.1 writes it. */
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha3_256(new Uint8Array(0));
  if (d.length === 1) return sha3_256(concatBytes(Uint8Array.of(0), d[0]));
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return sha3_256(concatBytes(Uint8Array.of(1), mth(d.slice(0, k)), mth(d.slice(k))));
}

const data = (n: number) => Array.from({ length: n }, (_, i) => utf8(`leaf ${i}`));

describe('RFC 9162 Merkle tree (SHA3-256)', () => {
  it('the root equals MTH for 0..33 leaves', () => {
    for (let n = 0; n <= 33; n++) expect(toHex(merkleRoot(p, data(n))), `n=${n}`).toBe(toHex(mth(data(n))));
  });

  it('every proof of every tree of 1..33 leaves verifies; the per-leaf and the all-at-once paths agree', () => {
    for (let n = 1; n <= 33; n++) {
      const leaves = data(n).map((x) => leafHash(p, x));
      const root = merkleRoot(p, data(n));
      const all = allInclusionPaths(p, leaves);
      for (let m = 0; m < n; m++) {
        const path = inclusionPath(p, leaves, m);
        expect(path.map(toHex)).toEqual(all[m].map(toHex));
        expect(verifyInclusion(p, leaves[m], m, n, path, root), `n=${n} m=${m}`).toBe(true);
      }
    }
  });

  it('refuses a proof for another index, size or leaf, a flipped hash, or a path of the wrong length', () => {
    const n = 21;
    const leaves = data(n).map((x) => leafHash(p, x));
    const root = merkleRoot(p, data(n));
    const path = inclusionPath(p, leaves, 5);
    expect(verifyInclusion(p, leaves[5], 5, n, path, root)).toBe(true);
    expect(verifyInclusion(p, leaves[5], 4, n, path, root)).toBe(false);
    // (the size is not bound by the path alone — RFC 9162 takes it from the signed tree head; ours
    // come from the signed statement's size or the council roster, checked before the proof)
    expect(verifyInclusion(p, leaves[5], 5, 8, path, root)).toBe(false);
    expect(verifyInclusion(p, leaves[6], 5, n, path, root)).toBe(false);
    const flipped = path.map((h) => h.slice());
    flipped[2][0] ^= 1;
    expect(verifyInclusion(p, leaves[5], 5, n, flipped, root)).toBe(false);
    expect(verifyInclusion(p, leaves[5], 5, n, path.slice(1), root)).toBe(false);
    expect(verifyInclusion(p, leaves[5], 5, n, [...path, path[0]], root)).toBe(false);
    expect(verifyInclusion(p, leaves[5], n, n, path, root)).toBe(false);
    expect(verifyInclusion(p, leaves[5], -1, n, path, root)).toBe(false);
    // a leaf is hashed with 0x00, a node with 0x01: an inner node is not a leaf (second preimage)
    expect(verifyInclusion(p, path[0], 4, n, path.slice(1), root)).toBe(false);
  });
});
