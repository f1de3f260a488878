/**
 * What the key hierarchy costs a verifier (issue 15): verifying the public-keys document (one
 * root signature per statement: the current generation, and during a rotation one or two
 * accepted ones) and a v2 response (the root's signature over the statement is checked beside
 * the decision's and the batch statement's), per provider. Medians of --n runs.
 * Run: node --import tsx bench/keys.bench.ts [--n 30]
 */
import { getProvider } from '../src/crypto/providers.js';
import { generateServiceKeys, publicKeysOf, recipientPublicKey } from '../src/keys/key-dir.js';
import { createPublicKeysDocument, publicKeysDocumentText, verifyPublicKeysDocument } from '../src/protocol/keys-document.js';
import { certifyKeySet, verifyKeySet } from '../src/protocol/keyset.js';

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 30;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(f: () => unknown): number {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

const p0 = getProvider('node');
const root = p0.mldsa87.fromSeed();
const cert = (previous?: ReturnType<typeof certifyKeySet>) => {
  const k = generateServiceKeys(p0);
  return certifyKeySet(p0, root, { kem: recipientPublicKey(publicKeysOf(k)), decisions: k.mldsa.publicKey, audit: p0.mldsa87.fromSeed().publicKey, previous, notBefore: new Date(Date.now() - 60_000) });
};
const g1 = cert();
const g2 = cert(g1);
const g3 = cert(g2);
const pin = (await import('../src/crypto/key-codec.js')).fingerprint('ML-DSA-87', root.publicKey);
const one = publicKeysDocumentText(createPublicKeysDocument({ root: root.publicKey, current: g2 }));
const three = publicKeysDocumentText(createPublicKeysDocument({ root: root.publicKey, current: g2, accepted: [g3, g1] }));
console.log(`node ${process.version}; document ${one.length} B (1 statement), ${three.length} B (3 statements); medians of ${n}`);
for (const name of ['noble', 'node'] as const) {
  const p = getProvider(name);
  const now = new Date();
  const doc1 = time(() => verifyPublicKeysDocument(p, one, { pin, now }));
  const doc3 = time(() => verifyPublicKeysDocument(p, three, { pin, now }));
  const st = time(() => verifyKeySet(p, g2, root.publicKey, { at: Date.now() }));
  console.log(`${name.padEnd(5)} (native PQ: ${p.nativePq}): keys document 1 statement ${doc1.toFixed(2)} ms, 3 statements ${doc3.toFixed(2)} ms; one statement (what a response adds) ${st.toFixed(2)} ms`);
}
