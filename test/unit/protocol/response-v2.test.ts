/**
 * Response format v2 (SPEC §8.10) on a real response from the in-memory pipeline: every check
 * passes untouched; tampering with ANY leaf of the document (each member of the decision, of every
 * vote, of the audit entry, the proof and the batch statement, every proof hash, the simulated
 * flag, every signature) is refused by `ima-qs verify` with exit 1 and a named failed check; the
 * payload digest is checked against the file sent (`--file`); one vote exported alone verifies,
 * a forged proof or a vote of another decision does not; a version 1 response of the code before
 * v2 still verifies, with an "unauthenticated (v1)" anchor that `--require-anchor` refuses.
 * The trust path is the ROOT pin → the key-set statement the response carries → the signer: the
 * online signer's own fingerprint is not a pin, an uncertified signer, a statement not valid at
 * issued_at and an older generation than seen all fail `signer key`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/crypto/bytes.js';
import { pcrBatchDigest, pcrExtend } from '../../../src/protocol/anchor-math.js';
import { payloadDigest } from '../../../src/protocol/decision-v2.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { exportVote, verifyVoteDocument } from '../../../src/protocol/vote-proof.js';
import { batchDigest } from '../../../src/tpm/anchor.js';
import { extendPcr } from '../../../src/tpm/pcr-math.js';
import { runCli } from '../../helpers/cli.js';
import { CLEAN_CODE, decidedResponse, p, serviceFixture, tempDir } from '../service/fixtures.js';
import { testKeySet } from '../../helpers/keyset.js';

/** A fresh root (its statement certifies the fixture's keys, under another pin). */
const rootKey = () => p.mldsa87.fromSeed();

const f = serviceFixture();
const dir = tempDir();
let response: any;
let handle: string;
let other: any;

beforeAll(async () => {
  ({ response, handle } = await decidedResponse());
  ({ response: other } = await decidedResponse());
});

const clone = () => JSON.parse(JSON.stringify(response));
const failed = (r: unknown, opts = {}, pin = f.pin) => verifyResponse(p, r, pin, { requestDigest: handle, ...opts }).checks.filter((c) => !c.ok).map((c) => c.name);

/** Every leaf of a JSON value as a path (arrays by index). */
function leaves(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [path];
}

/** A change that keeps the leaf's type and, where it can, its format (hex stays hex, base64 stays base64). */
function mutate(v: unknown): unknown {
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v === 0 ? 1 : v - 1;
  const s = String(v);
  const swaps: Record<string, string> = { approve: 'reject', reject: 'approve', abstain: 'approve', analyze: 'patents', patents: 'analyze', sha256: 'sha384', sha384: 'sha256', 'ML-DSA-87': 'ML-DSA-65' };
  if (swaps[s]) return swaps[s];
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s)) return s.replace(/\d(?=Z$)/, (d) => String((Number(d) + 1) % 10));
  if (/^[0-9a-f]+$/.test(s)) return s.slice(0, -1) + (s.endsWith('0') ? '1' : '0');
  if (s.length > 100) {
    const i = s.length >> 1; // base64 (a signature or key): one character in the middle
    return s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  }
  return s + 'x';
}

function setAt(doc: any, path: (string | number)[], value: unknown): void {
  let o = doc;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path[path.length - 1]] = value;
}

describe('response format v2', () => {
  it('passes every check untouched, by fingerprint or by key; the payload digest is checked when given', () => {
    expect(failed(response, { payloadDigest: payloadDigest(p, { name: 'a.ts', content: CLEAN_CODE }) })).toEqual([]);
    // by the root public key itself (verify --key ROOT_DIR)
    const v = verifyResponse(p, response, f.root, { requireAnchor: true });
    expect(v).toMatchObject({ ok: true, version: 2, anchor: 'simulated', generation: 1 });
    expect(v.checks.find((c) => c.name === 'signer key')?.detail).toMatch(/certified by generation 1 of root/);
    expect(v.checks.map((c) => c.name)).toEqual(['format', 'signer key', 'decision signature', 'votes root', 'tally', 'aggregation rule', 'payload digest', 'audit entry', 'batch signature', 'entry in batch', 'pcr anchor']);
    expect(v.checks.find((c) => c.name === 'payload digest')).toMatchObject({ ok: true, status: 'not checked' });
    expect(v.checks.find((c) => c.name === 'pcr anchor')?.detail).toMatch(/SIMULATED/);
    // --require-tpm: a simulated anchor fails
    expect(verifyResponse(p, response, f.pin, { requireTpm: true }).checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['pcr anchor']);
  });

  it('costs one decision signature per response, plus the batch statement signature (and carries the root\'s)', () => {
    // base64 of a 4627-byte ML-DSA-87 signature is 6172 characters: the decision's, the batch
    // statement's, and the root's over the key-set statement (made once per generation, offline)
    const sigs = (JSON.stringify(response).match(/"[A-Za-z0-9+/]+={0,2}"/g) ?? []).filter((x) => x.length - 2 === 6172);
    expect(sigs.length).toBe(3);
    expect(response.certification.keyset.signature).toBe(f.keyset.signature);
  });

  it('trusts the root pin only: the online signer\'s fingerprint, another root, an uncertified signer, a rollback fail `signer key`', () => {
    expect(failed(response, {}, f.fp.mldsa)).toEqual(['signer key', 'decision signature', 'batch signature']);
    expect(failed(response, {}, 'ab'.repeat(32))).toEqual(['signer key', 'decision signature', 'batch signature']);
    // the generation seen is 1: a verifier that saw generation 2 refuses generation 1 (a rollback)
    expect(failed(response, { minGeneration: 2 })).toEqual(['signer key', 'decision signature', 'batch signature']);
    expect(verifyResponse(p, response, f.pin, { minGeneration: 2 }).checks[1].detail).toMatch(/rollback/);
    expect(failed(response, { minGeneration: 1 })).toEqual([]);
    // …unless the newest generation seen still certifies this signer (a rotation that kept it): a
    // decision made before the rotation still verifies
    expect(failed(response, { minGeneration: 2, stillCertified: [f.fp.mldsa] })).toEqual([]);
    expect(verifyResponse(p, response, f.pin, { minGeneration: 2, stillCertified: [f.fp.mldsa] }).checks[1].detail).toMatch(/still certifies this signer/);
    expect(failed(response, { minGeneration: 2, stillCertified: ['ab'.repeat(32)] })).toEqual(['signer key', 'decision signature', 'batch signature']);
    // a statement that certifies another signer: the response's key is not the certified one
    const other = testKeySet(p, { root: undefined });
    const swapped = clone();
    swapped.certification = { root: other.certification.root, keyset: other.keyset };
    expect(failed(swapped, {}, other.pin)).toContain('signer key');
    // the statement must be valid at the decision's issued_at
    const late = clone();
    const ks = testKeySet(p, { keys: f.keys, root: rootKey(), notBefore: new Date(Date.parse(response.decision.issued_at) + 60_000) });
    late.certification = ks.certification;
    expect(failed(late, {}, ks.pin)).toEqual(['signer key', 'decision signature', 'batch signature']);
    expect(verifyResponse(p, late, ks.pin).checks[1].detail).toMatch(/valid from/);
  });

  it('every leaf of the document, tampered, is refused with exit 1 and a named check', async () => {
    const paths = leaves(response);
    expect(paths.length).toBeGreaterThan(120);
    const file = join(dir, 'tampered.json');
    const named = new Map<string, string[]>();
    for (const path of paths) {
      const doc = clone();
      let v: unknown = doc;
      for (const k of path) v = (v as any)[k];
      setAt(doc, path, mutate(v));
      writeFileSync(file, JSON.stringify(doc));
      const r = await runCli(['verify', file, '--pin', f.pin, '--json', '--request-digest', handle]);
      const key = path.join('.');
      expect(r.code, `${key}: ${r.stdout}`).toBe(r.json().failed?.includes('format') ? 3 : 1);
      expect(r.json().ok, key).toBe(false);
      const rows: string[] = r.json().error?.details?.failed ?? [];
      expect(rows.length, key).toBeGreaterThan(0);
      named.set(key, rows);
    }
    // spot checks: the check that catches each kind of tampering
    expect(named.get('audit.batch.statement.pcr.simulated')).toEqual(['batch signature']);
    expect(named.get('audit.proof.path.0')).toEqual(['entry in batch']);
    expect(named.get('audit.entry.time')).toEqual(['entry in batch']);
    expect(named.get('votes.3.rationale')).toEqual(['votes root']);
    expect(named.get('decision.payload_digest')).toEqual(['decision signature', 'audit entry']);
    expect(named.get('signer.public_key')).toContain('signer key');
    expect(named.get('certification.keyset.statement.generation')).toEqual(['format']); // generation 0 is no generation
    expect(named.get('certification.keyset.statement.root')).toContain('signer key');
    expect(named.get('certification.keyset.signature')).toContain('signer key');
    expect(named.get('certification.root')).toContain('signer key');
  });

  it('verify --file: the file that was sent passes; one byte changed fails the payload digest', async () => {
    const resp = join(dir, 'response.json');
    writeFileSync(resp, JSON.stringify(response));
    writeFileSync(join(dir, 'a.ts'), CLEAN_CODE);
    const ok = await runCli(['verify', resp, '--pin', f.pin, '--file', join(dir, 'a.ts'), '--json']);
    expect(ok.code).toBe(0);
    expect(ok.json().checks.find((c: any) => c.name === 'payload digest')).toMatchObject({ ok: true, status: 'ok' });
    writeFileSync(join(dir, 'b.ts'), CLEAN_CODE.replace('a + b', 'a - b'));
    const bad = await runCli(['verify', resp, '--pin', f.pin, '--file', join(dir, 'b.ts'), '--name', 'a.ts', '--json']);
    expect(bad.code).toBe(1);
    expect(bad.json().error.details.failed).toEqual(['payload digest']);
    // the name is part of the payload: the right content under another name is another payload
    const renamed = await runCli(['verify', resp, '--pin', f.pin, '--file', join(dir, 'a.ts'), '--name', 'other.ts', '--json']);
    expect(renamed.json().error.details.failed).toEqual(['payload digest']);
  });

  it('one vote exported and verified alone; a forged proof or a vote of another decision is refused', async () => {
    const resp = join(dir, 'r2.json');
    writeFileSync(resp, JSON.stringify(response));
    const out = join(dir, 'vote.json');
    const e = await runCli(['vote', 'export', resp, '--persona', 'security-auditor', '--pin', f.pin, '-o', out, '--json']);
    expect(e.code, e.stdout + e.stderr).toBe(0);
    const vote = JSON.parse(readFileSync(out, 'utf8'));
    expect(Object.keys(vote).sort()).toEqual(['certification', 'decision', 'format', 'proof', 'signature', 'signer', 'vote']);
    expect(JSON.stringify(vote)).not.toContain(response.votes[1].rationale); // the others stay out
    const ok = await runCli(['verify', out, '--pin', f.pin, '--json']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.json().checks.map((c: any) => c.name)).toEqual(['format', 'signer key', 'decision signature', 'vote in decision']);

    const forged = structuredClone(vote);
    forged.proof.path[0] = forged.proof.path[0].replace(/.$/, (c: string) => (c === '0' ? '1' : '0'));
    expect(verifyVoteDocument(p, forged, f.pin).checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['vote in decision']);
    const flipped = structuredClone(vote);
    flipped.vote.vote = flipped.vote.vote === 'approve' ? 'reject' : 'approve';
    expect(verifyVoteDocument(p, flipped, f.pin).checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['vote in decision']);
    // the same persona's vote and proof, under another decision (another request)
    const foreign = { ...exportVote(p, other, 'security-auditor')!, decision: vote.decision, signature: vote.signature };
    foreign.vote = { ...foreign.vote, rationale: foreign.vote.rationale + ' ' };
    expect(verifyVoteDocument(p, foreign, f.pin).ok).toBe(false);
    const otherDecision = { ...vote, decision: other.decision, signature: other.signature, proof: exportVote(p, other, 'security-auditor')!.proof };
    otherDecision.vote = { ...otherDecision.vote, confidence: otherDecision.vote.confidence === 0 ? 1 : 0 };
    expect(verifyVoteDocument(p, otherDecision, f.pin).checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['vote in decision']);
    const wrongPin = await runCli(['verify', out, '--pin', 'ab'.repeat(32), '--json']);
    expect(wrongPin.code).toBe(1);
    // the online signer's fingerprint is not a pin for a vote either
    expect(verifyVoteDocument(p, vote, f.fp.mldsa).checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['signer key', 'decision signature']);
  });

  it('browser-safe PCR math equals src/tpm', () => {
    const ds = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    for (const bank of ['sha256', 'sha384'] as const) {
      expect(toHex(pcrBatchDigest(bank, ds))).toBe(toHex(batchDigest(bank, ds)));
      const old = new Uint8Array(bank === 'sha256' ? 32 : 48).fill(7);
      const d = batchDigest(bank, ds);
      expect(toHex(pcrExtend(bank, old, d))).toBe(toHex(extendPcr(bank, old, d)));
    }
  });
});

describe('response format v1 (written before v2)', () => {
  const vector = JSON.parse(readFileSync(new URL('../../vectors/response/v1-response.json', import.meta.url), 'utf8'));

  it('still verifies its signatures; its anchor row reads "unauthenticated (v1)"', async () => {
    const v = verifyResponse(p, vector.response, vector.pin, { requestDigest: vector.request_digest });
    expect(v).toMatchObject({ ok: true, version: 1, anchor: 'unauthenticated' });
    expect(v.checks.find((c) => c.name === 'audit anchor')).toMatchObject({ ok: true, status: 'unauthenticated' });
    expect(v.checks.find((c) => c.name === 'audit anchor')?.detail).toMatch(/^unauthenticated \(v1\)/);
    const file = join(dir, 'v1.json');
    writeFileSync(file, JSON.stringify(vector.response));
    const r = await runCli(['verify', file, '--pin', vector.pin]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/unauthenticated\s+│ audit anchor/);
  });

  it('--require-anchor turns the unauthenticated anchor into exit 1', async () => {
    const file = join(dir, 'v1b.json');
    writeFileSync(file, JSON.stringify(vector.response));
    const r = await runCli(['verify', file, '--pin', vector.pin, '--require-anchor', '--json']);
    expect(r.code).toBe(1);
    expect(r.json().error.details.failed).toEqual(['audit anchor']);
  });

  it('a v1 vote flipped still fails its signature', () => {
    const t = structuredClone(vector.response);
    t.votes[0].body.vote = t.votes[0].body.vote === 'approve' ? 'reject' : 'approve';
    expect(verifyResponse(p, t, vector.pin).checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(expect.arrayContaining(['vote signatures']));
  });
});
