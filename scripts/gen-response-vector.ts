/**
 * Writes test/vectors/response/v2-response.json (SPEC §8.10.8): one complete version 2 response
 * built from fixed TEST keys and inputs, with every intermediate value — canonical bytes, leaf
 * hashes, roots, proofs, digests, the signed bytes and the signatures — so an independent
 * implementation can check it byte for byte. Committed, run by hand only (never in CI):
 *
 *   node --import tsx scripts/gen-response-vector.ts
 *
 * Signing here is FIPS 204 DETERMINISTIC ML-DSA (rnd = 32 zero bytes) so the signatures are
 * reproducible; the service signs hedged (fresh randomness), and verification is the same for
 * both. The keys are TEST KEYS derived from public labels: their private halves are published.
 * The response's certification (SPEC §8.10.9) is a key-set statement of a TEST root, also signed
 * deterministically: the pin of this vector is the root's fingerprint.
 * The sealed audit payloads are fixed bytes recorded in the vector (their sealing is SPEC §4's,
 * vectored in test/vectors/envelope); only their SHA3-256 enters the entry cores.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { canonicalJson } from '../src/crypto/canonical-json.js';
import { fromHex, toBase64, toHex, utf8 } from '../src/crypto/bytes.js';
import { fingerprint } from '../src/crypto/key-codec.js';
import { getProvider } from '../src/crypto/providers.js';
import { SIGNATURE_CONTEXTS, type SignaturePurpose } from '../src/crypto/signature.js';
import { signedBytes, type SignRequest, type Signer } from '../src/crypto/signer.js';
import { pcrExtend } from '../src/protocol/anchor-math.js';
import { GENESIS_PREV, coreV3Digest, type AuditCoreV3 } from '../src/protocol/audit-core.js';
import { batchPcrDigest, type BatchStatement } from '../src/protocol/batch-statement.js';
import { buildResponseV2, decisionDigestV2, payloadDigest, signDecisionV2, voteLeafBytes, voteProofs } from '../src/protocol/decision-v2.js';
import { allInclusionPaths, leafHash, rootFromLeafHashes } from '../src/protocol/merkle.js';
import { refusalText, signRefusal } from '../src/protocol/refusal.js';
import { verifyResponse } from '../src/protocol/response-verify.js';
import { councilFor, RulesModel } from '../src/service/council/councils.js';
import { certifyKeySet, keySetDigest } from '../src/protocol/keyset.js';
import { recipientPublicKey } from '../src/keys/key-dir.js';

const p = getProvider('noble');
const outDir = new URL('../test/vectors/response/', import.meta.url).pathname;

/** A 32-byte test value from a public label. */
const derive = (label: string) => sha3_256(utf8(label));

const seed = derive('ima-qs response vector signer (TEST ONLY)');
const keys = ml_dsa87.keygen(seed);
const pin = fingerprint('ML-DSA-87', keys.publicKey); // the signer's fingerprint, named in the documents
// the offline root (TEST) and its statement certifying the signer: the vector's pin is the root's
const rootSeed = derive('ima-qs response vector root (TEST ONLY)');
const rootKeys = ml_dsa87.keygen(rootSeed);
const rootPin = fingerprint('ML-DSA-87', rootKeys.publicKey);
const kemKey = recipientPublicKey({
  mlkem: p.mlkem768.fromSeed(new Uint8Array([...derive('vector ML-KEM d (TEST)'), ...derive('vector ML-KEM z (TEST)')])).publicKey,
  // a 48-byte scalar: 16 zero bytes ‖ SHA3-256(label), below the group order
  ecdh: p.p384.fromScalar(new Uint8Array([...new Uint8Array(16), ...derive('vector P-384 scalar (TEST)')])).publicKey,
});
const rootPrivate = p.mldsa87.fromSeed(rootSeed);
// the audit signer (SPEC §7.3 signers.audit; it signs checkpoints, nothing in this vector)
const auditKey = ml_dsa87.keygen(derive('ima-qs response vector audit signer (TEST ONLY)'));
const hedged = certifyKeySet(p, rootPrivate, { kem: kemKey, decisions: keys.publicKey, audit: auditKey.publicKey, notBefore: new Date('2026-05-01T00:00:00Z') });
const statementBytes = utf8(canonicalJson(hedged.statement));
const keysetSig = ml_dsa87.sign(statementBytes, rootKeys.secretKey, { context: utf8(SIGNATURE_CONTEXTS.keyset), extraEntropy: false });
const keyset = { statement: hedged.statement, signature: toBase64(keysetSig) };
const certification = { root: toBase64(rootKeys.publicKey), keyset };

/** Deterministic ML-DSA-87 (FIPS 204 §3.4: rnd = 0^32), with our context strings: for the vector only. */
class DeterministicSigner implements Signer {
  readonly publicKey = keys.publicKey;
  readonly signed: { purpose: SignaturePurpose; bytes: Uint8Array; signature: Uint8Array }[] = [];
  async signAll(items: readonly SignRequest[]): Promise<Uint8Array[]> {
    return items.map((it) => {
      const bytes = signedBytes(it);
      const signature = ml_dsa87.sign(bytes, keys.secretKey, { context: utf8(SIGNATURE_CONTEXTS[it.purpose]), extraEntropy: false });
      this.signed.push({ purpose: it.purpose, bytes, signature });
      return signature;
    });
  }
  async close(): Promise<void> {}
}

const signer = new DeterministicSigner();
const route = 'analyze' as const;
const council = councilFor(route);
const payload = {
  name: 'add.ts',
  content: '// adds two numbers\nexport function add(a: number, b: number): number {\n  return a + b;\n}\ntest(\'add\', () => expect(add(1, 2)).toBe(3));\n',
};
const requestDigest = toHex(derive('ima-qs response vector request (TEST ONLY)'));
const requestId = '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b';
const issuedAt = '2026-05-01T12:00:01.250Z';
const votes = await new RulesModel().consult(council, { route, request_digest: requestDigest, payload });

const signed = await signDecisionV2(p, signer, {
  request_digest: requestDigest,
  request_id: requestId,
  route,
  council: council.id,
  model: new RulesModel().name,
  payload_digest: payloadDigest(p, payload),
  votes,
  issuedAt,
  signerFingerprint: pin,
});
const decisionSigned = signer.signed[signer.signed.length - 1];

// the group commit: three entries of chain "worker-1" at seq 7, 8, 9; this decision is entry 8
const chain = 'worker-1';
const sealed = [0, 1, 2].map((i) => sha3_256(utf8(`sealed payload ${i} (TEST bytes, not an envelope)`)));
const otherDecisionDigests = [toHex(derive('other decision 7')), toHex(derive('other decision 9'))];
const otherRequestDigests = [toHex(derive('other request 7')), toHex(derive('other request 9'))];
const entryTime = '2026-05-01T12:00:01.300Z';
let prev = toHex(derive('the digest of entry 6 (TEST)'));
const cores: AuditCoreV3[] = [];
for (let i = 0; i < 3; i++) {
  const core: AuditCoreV3 = {
    v: 3,
    chain,
    seq: 7 + i,
    prev,
    time: entryTime,
    request_digest: i === 1 ? requestDigest : otherRequestDigests[i === 0 ? 0 : 1],
    decision_digest: i === 1 ? decisionDigestV2(p, signed) : otherDecisionDigests[i === 0 ? 0 : 1],
    recipient: toHex(derive('the auditor composite key fingerprint (TEST)')),
    sealed_digest: toHex(p.sha3_256(sealed[i])),
  };
  cores.push(core);
  prev = coreV3Digest(p, core);
}
const entryDigests = cores.map((c) => coreV3Digest(p, c));
const entryLeaves = entryDigests.map((d) => leafHash(p, fromHex(d)));
const entriesRoot = rootFromLeafHashes(p, entryLeaves);
const entryPaths = allInclusionPaths(p, entryLeaves);
const before = toHex(derive('pcr 11 before this batch (TEST)'));
const B = batchPcrDigest('sha256', 3, entriesRoot);
const after = toHex(pcrExtend('sha256', fromHex(before), B));
const statement: BatchStatement = {
  v: 2,
  chain,
  first_seq: 7,
  size: 3,
  entries_root: toHex(entriesRoot),
  pcr: { index: 11, bank: 'sha256', before, after, simulated: true },
  time: '2026-05-01T12:00:01.320Z',
  signer: pin,
};
const [statementSig] = await signer.signAll([{ purpose: 'batch', value: statement }]);
const response = buildResponseV2(signed, keys.publicKey, certification, {
  entry: cores[1],
  proof: { index: 1, size: 3, path: entryPaths[1].map(toHex) },
  batch: { statement, signature: toBase64(statementSig) },
});

// sha384 bank: the same root extends a 48-byte PCR through a 48-byte B
const before384 = '00'.repeat(48);
const B384 = batchPcrDigest('sha384', 3, entriesRoot);

const refusal = await signRefusal(signer, { request_digest: toHex(derive('a refused request (TEST)')), code: 'STALE_REQUEST', message: 'the request timestamp 2026-05-01T11:50:00.000Z is more than 300 s from the service clock', issuedAt: '2026-05-01T12:00:02.000Z', signerFingerprint: pin });

const v = verifyResponse(p, response, rootPin, { requestDigest, payloadDigest: payloadDigest(p, payload), requireAnchor: true });
if (!v.ok) throw new Error(`the vector does not verify: ${JSON.stringify(v.checks.filter((c) => !c.ok))}`);

const hexOf = (b: Uint8Array) => toHex(b);
const vector = {
  scenario: 'v2-response',
  description:
    'One complete version 2 response (SPEC §8.10) from fixed TEST keys, deterministic ML-DSA-87 (rnd = 0^32, for this vector only), with every intermediate value. Generated by scripts/gen-response-vector.ts.',
  keys: {
    signer: { alg: 'ML-DSA-87', seed_hex: hexOf(seed), public_key_base64: toBase64(keys.publicKey), fingerprint: pin },
    root: { alg: 'ML-DSA-87', seed_hex: hexOf(rootSeed), public_key_base64: toBase64(rootKeys.publicKey), fingerprint: rootPin },
  },
  pin: rootPin,
  contexts: { decision: SIGNATURE_CONTEXTS.decision2, batch: SIGNATURE_CONTEXTS.batch, refusal: SIGNATURE_CONTEXTS.refusal, keyset: SIGNATURE_CONTEXTS.keyset },
  inputs: { payload, request_digest: requestDigest, request_id: requestId, route, council: council.id, issued_at: issuedAt, sealed_payloads_hex: sealed.map(hexOf) },
  intermediate: {
    payload_canonical: canonicalJson({ name: payload.name, content: payload.content }),
    payload_digest: signed.decision.payload_digest,
    vote_leaves: signed.votes.map((vote) => ({ canonical: new TextDecoder().decode(voteLeafBytes(vote)), leaf_hash: hexOf(leafHash(p, voteLeafBytes(vote))) })),
    votes_root: signed.decision.votes_root,
    vote_proofs: voteProofs(p, signed.votes).map((pr, i) => ({ persona: signed.votes[i].persona, ...pr })),
    decision_canonical: new TextDecoder().decode(decisionSigned.bytes),
    decision_signature_base64: signed.signature,
    decision_digest: decisionDigestV2(p, signed),
    entries: cores.map((c, i) => ({ core_canonical: canonicalJson(c), digest: entryDigests[i], leaf_hash: hexOf(entryLeaves[i]) })),
    entries_root: statement.entries_root,
    entry_proof: response.audit.proof,
    pcr_batch_digest_sha256: hexOf(B),
    pcr_after_sha256: after,
    statement_canonical: canonicalJson(statement),
    statement_signature_base64: toBase64(statementSig),
    sha384_bank: { before: before384, batch_digest: hexOf(B384), after: hexOf(pcrExtend('sha384', fromHex(before384), B384)) },
    keyset_statement_canonical: canonicalJson(keyset.statement),
    keyset_signature_base64: keyset.signature,
    keyset_digest: keySetDigest(p, keyset.statement),
  },
  response,
  refusal: { canonical: refusalText(refusal), body_canonical: canonicalJson(refusal.body), ...refusal },
  expected: { valid: true, version: 2, anchor: 'simulated', checks: v.checks.map((c) => ({ name: c.name, status: c.status })) },
  genesis_prev: GENESIS_PREV,
};
mkdirSync(outDir, { recursive: true });
writeFileSync(`${outDir}v2-response.json`, JSON.stringify(vector, null, 2) + '\n');
process.stdout.write(`wrote ${outDir}v2-response.json (${signed.votes.length} votes, outcome ${signed.decision.outcome})\n`);
