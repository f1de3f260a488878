/**
 * The committed response-format v2 vector (test/vectors/response/v2-response.json, SPEC §8.10.8):
 * every intermediate value recomputed from the inputs with this code, every signature checked under
 * its context (and re-made byte for byte by deterministic FIPS 204 signing), the response verified,
 * and the refusal verified. An implementation written from SPEC.md checks itself against the same file.
 */
import { readFileSync } from 'node:fs';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/crypto/canonical-json.js';
import { fromBase64, fromHex, toHex, utf8 } from '../../../src/crypto/bytes.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { verifyBytes } from '../../../src/crypto/signature.js';
import { pcrExtend } from '../../../src/protocol/anchor-math.js';
import { coreV3Digest } from '../../../src/protocol/audit-core.js';
import { batchPcrDigest } from '../../../src/protocol/batch-statement.js';
import { decisionDigestV2, payloadDigest, voteLeafBytes, votesRoot } from '../../../src/protocol/decision-v2.js';
import { leafHash, rootFromLeafHashes, verifyInclusion } from '../../../src/protocol/merkle.js';
import { verifyRefusal } from '../../../src/protocol/refusal.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';

const vector = JSON.parse(readFileSync(new URL('../../vectors/response/v2-response.json', import.meta.url), 'utf8'));
const I = vector.intermediate;
const r = vector.response;

describe.each(['noble', 'node'] as const)('response vector v2 (%s provider)', (name) => {
  const p = getProvider(name);
  const pk = fromBase64(vector.keys.signer.public_key_base64);

  it('the signer and root keys come from their seeds; the pin is the root fingerprint; the root certifies the signer (context ima-qs/v2/keyset)', () => {
    expect(toHex(ml_dsa87.keygen(fromHex(vector.keys.signer.seed_hex)).publicKey)).toBe(toHex(pk));
    expect(fingerprint('ML-DSA-87', pk)).toBe(vector.keys.signer.fingerprint);
    const root = fromBase64(vector.keys.root.public_key_base64);
    expect(toHex(ml_dsa87.keygen(fromHex(vector.keys.root.seed_hex)).publicKey)).toBe(toHex(root));
    expect(fingerprint('ML-DSA-87', root)).toBe(vector.pin);
    const ks = r.certification.keyset;
    expect(canonicalJson(ks.statement)).toBe(I.keyset_statement_canonical);
    expect(ks.signature).toBe(I.keyset_signature_base64);
    expect(toHex(p.sha3_256(utf8(I.keyset_statement_canonical)))).toBe(I.keyset_digest);
    expect(ks.statement.signers.decisions.fingerprint).toBe(vector.keys.signer.fingerprint);
    expect(verifyBytes(p, root, 'keyset', utf8(I.keyset_statement_canonical), fromBase64(I.keyset_signature_base64))).toBe(true);
  });

  it('payload, votes, root and proofs recompute', () => {
    expect(canonicalJson(vector.inputs.payload)).toBe(I.payload_canonical);
    expect(payloadDigest(p, vector.inputs.payload)).toBe(I.payload_digest);
    expect(r.decision.payload_digest).toBe(I.payload_digest);
    r.votes.forEach((v: never, i: number) => {
      expect(new TextDecoder().decode(voteLeafBytes(v))).toBe(I.vote_leaves[i].canonical);
      expect(toHex(leafHash(p, utf8(I.vote_leaves[i].canonical)))).toBe(I.vote_leaves[i].leaf_hash);
    });
    expect(votesRoot(p, r.votes)).toBe(I.votes_root);
    expect(toHex(rootFromLeafHashes(p, I.vote_leaves.map((l: { leaf_hash: string }) => fromHex(l.leaf_hash))))).toBe(I.votes_root);
    for (const pr of I.vote_proofs) {
      expect(verifyInclusion(p, fromHex(I.vote_leaves[pr.index].leaf_hash), pr.index, pr.size, pr.path.map((h: string) => fromHex(h)), fromHex(I.votes_root))).toBe(true);
    }
  });

  it('the decision: canonical bytes, signature (context ima-qs/v2/decision), digest', () => {
    expect(canonicalJson(r.decision)).toBe(I.decision_canonical);
    expect(verifyBytes(p, pk, 'decision2', utf8(I.decision_canonical), fromBase64(I.decision_signature_base64))).toBe(true);
    expect(verifyBytes(p, pk, 'batch', utf8(I.decision_canonical), fromBase64(I.decision_signature_base64))).toBe(false);
    expect(decisionDigestV2(p, r)).toBe(I.decision_digest);
  });

  it('the entries, their root, the proof of this one, the PCR arithmetic and the statement', () => {
    I.entries.forEach((e: { core_canonical: string; digest: string; leaf_hash: string }) => {
      expect(coreV3Digest(p, JSON.parse(e.core_canonical))).toBe(e.digest);
      expect(toHex(leafHash(p, fromHex(e.digest)))).toBe(e.leaf_hash);
    });
    for (const [i, e] of I.entries.entries()) if (i > 0) expect(JSON.parse(e.core_canonical).prev).toBe(I.entries[i - 1].digest);
    expect(canonicalJson(r.audit.entry)).toBe(I.entries[1].core_canonical);
    expect(toHex(p.sha3_256(fromHex(vector.inputs.sealed_payloads_hex[1])))).toBe(r.audit.entry.sealed_digest);
    const root = rootFromLeafHashes(p, I.entries.map((e: { leaf_hash: string }) => fromHex(e.leaf_hash)));
    expect(toHex(root)).toBe(I.entries_root);
    expect(verifyInclusion(p, fromHex(I.entries[1].leaf_hash), 1, 3, I.entry_proof.path.map((h: string) => fromHex(h)), root)).toBe(true);
    expect(toHex(batchPcrDigest('sha256', 3, root))).toBe(I.pcr_batch_digest_sha256);
    const st = r.audit.batch.statement;
    expect(toHex(pcrExtend('sha256', fromHex(st.pcr.before), fromHex(I.pcr_batch_digest_sha256)))).toBe(I.pcr_after_sha256);
    expect(st.pcr.after).toBe(I.pcr_after_sha256);
    expect(toHex(batchPcrDigest('sha384', 3, root))).toBe(I.sha384_bank.batch_digest);
    expect(I.sha384_bank.batch_digest).toHaveLength(96);
    expect(toHex(pcrExtend('sha384', fromHex(I.sha384_bank.before), fromHex(I.sha384_bank.batch_digest)))).toBe(I.sha384_bank.after);
    expect(canonicalJson(st)).toBe(I.statement_canonical);
    expect(verifyBytes(p, pk, 'batch', utf8(I.statement_canonical), fromBase64(I.statement_signature_base64))).toBe(true);
  });

  it('the response verifies with the pin, the request digest and the payload digest; the refusal verifies', () => {
    const v = verifyResponse(p, r, vector.pin, { requestDigest: vector.inputs.request_digest, payloadDigest: I.payload_digest, requireAnchor: true });
    expect(v.ok).toBe(true);
    expect(v.checks.map((c) => ({ name: c.name, status: c.status }))).toEqual(vector.expected.checks);
    expect(v.anchor).toBe(vector.expected.anchor);
    const ref = vector.refusal;
    expect(canonicalJson(ref.body)).toBe(ref.body_canonical);
    expect(verifyRefusal(p, { body: ref.body, signature: ref.signature }, { publicKey: pk, fingerprint: vector.keys.signer.fingerprint }, ref.body.request_digest)).toEqual({ ok: true, refusal: { body: ref.body, signature: ref.signature } });
  });
});

describe('deterministic FIPS 204 signing reproduces the vector signatures byte for byte', () => {
  it('decision, batch statement and refusal', () => {
    const sk = ml_dsa87.keygen(fromHex(vector.keys.signer.seed_hex)).secretKey;
    const sign = (text: string, ctx: string) => Buffer.from(ml_dsa87.sign(utf8(text), sk, { context: utf8(ctx), extraEntropy: false })).toString('base64');
    expect(sign(I.decision_canonical, vector.contexts.decision)).toBe(I.decision_signature_base64);
    expect(sign(I.statement_canonical, vector.contexts.batch)).toBe(I.statement_signature_base64);
    expect(sign(vector.refusal.body_canonical, vector.contexts.refusal)).toBe(vector.refusal.signature);
    const rootSk = ml_dsa87.keygen(fromHex(vector.keys.root.seed_hex)).secretKey;
    expect(Buffer.from(ml_dsa87.sign(utf8(I.keyset_statement_canonical), rootSk, { context: utf8(vector.contexts.keyset), extraEntropy: false })).toString('base64')).toBe(I.keyset_signature_base64);
  });
});
