/**
 * The audit key trusted through the root pin alone (SPEC §7.3, §8.11): the checkpoint writer stores
 * the root-signed statement that certifies its audit key beside the checkpoints; the verifier reads
 * it from the store, checks it under the pinned root, and trusts a registration or checkpoint only
 * when a verified statement certifies its signer at the document's time. Refused: a statement of
 * another root, one re-signed by anyone else, one whose name is not its content, an audit key no
 * statement certifies, a document signed outside every certifying statement's validity.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { FileCheckpointStore } from '../../../src/audit/checkpoint-store-file.js';
import { certifiedSigners, trustedKeyAt } from '../../../src/audit/checkpoint-trust.js';
import { assessCheckpoints, readCheckpointEvidence } from '../../../src/audit/checkpoint-verify.js';
import { CheckpointWriter } from '../../../src/audit/checkpoint-writer.js';
import { toBase64 } from '../../../src/crypto/bytes.js';
import { canonicalJson } from '../../../src/crypto/canonical-json.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { InlineSigner } from '../../../src/crypto/signer.js';
import { signJson } from '../../../src/crypto/signature.js';
import { auditSigningKey } from '../../../src/keys/audit-key.js';
import { fingerprints, publicKeysOf, recipientPublicKey } from '../../../src/keys/key-dir.js';
import { keysetObjectKey } from '../../../src/protocol/checkpoint.js';
import { keySetDigest } from '../../../src/protocol/keyset.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { testKeySet } from '../../helpers/keyset.js';

const p = getProvider('node');
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));
const T0 = Date.UTC(2026, 0, 1);

/** A chain of 3 entries checkpointed by a writer holding `certs`, signed with `audit`. */
async function written(ks: ReturnType<typeof testKeySet>, certs = [ks.certification], start = T0) {
  const root = mkdtempSync(join(tmpdir(), 'ima-cpt-'));
  roots.push(root);
  let t = start;
  const clock = { now: () => (t += 1000) };
  const table = new TableAuditStore(new MemoryTable('audit', AUDIT_KEY));
  const store = new FileCheckpointStore(join(root, 'cps'));
  const fp = fingerprints(publicKeysOf(ks.keys));
  const writer = new CheckpointWriter(p, { store, audit: table, key: auditSigningKey(ks.audit, 'test'), certifications: () => certs, clock, everyEntries: 1_000_000, everyMs: 3_600_000 });
  await writer.register('c', fp.mldsa);
  const chain = new AuditChain(p, {
    chain: 'c',
    store: table,
    pcrBank: new SimulatedBank(join(root, 'pcr.json')),
    pcr: 16,
    signer: new InlineSigner(p, ks.keys.mldsa),
    signerFingerprint: fp.mldsa,
    recipient: recipientPublicKey(publicKeysOf(ks.keys)),
    recipientFingerprint: fp.composite,
    clock,
    onBatch: (s, h) => writer.observe('c', s, h),
  });
  await chain.commit(['a', 'b', 'c'].map((x) => ({ request_digest: x.repeat(64), decision_digest: x.repeat(64), plaintext: new TextEncoder().encode(x) })));
  expect((await writer.stop()).written).toBe(1);
  return { root, dir: join(root, 'cps'), store };
}

describe('audit keys certified by the root (SPEC §8.11)', () => {
  const ks = testKeySet(p, { notBefore: new Date(T0 - 60_000) });

  it('the writer stores the statement; with the pin alone the registration and checkpoint verify', async () => {
    const w = await written(ks);
    const names = readdirSync(join(w.dir, 'keysets'));
    expect(names).toEqual([keysetObjectKey(1, keySetDigest(p, ks.keyset.statement)).slice('keysets/'.length)]);
    const ev = await readCheckpointEvidence(w.store);
    const trust = certifiedSigners(p, ks.pin, ev.objects);
    expect({ generations: trust.generations, audit: [...trust.audit.keys()], decisions: [...trust.decisions.keys()], refused: trust.refused }).toEqual({
      generations: [1],
      audit: [ks.keyset.statement.signers.audit.fingerprint],
      decisions: [ks.keyset.statement.signers.decisions.fingerprint],
      refused: [],
    });
    const a = assessCheckpoints(p, ev, trust);
    expect(a.chains.get('c')!.problem).toBeUndefined();
    expect(a.chains.get('c')!.registration).toMatchObject({ chain: 'c', signer: ks.keyset.statement.signers.audit.fingerprint });
    expect(a.chains.get('c')!.checkpoints).toHaveLength(1);
    expect(a.ignored).toEqual([]);
  });

  it('another pin trusts nothing: every registration and checkpoint is a checkpoint problem', async () => {
    const w = await written(ks);
    const other = testKeySet(p);
    const ev = await readCheckpointEvidence(w.store);
    const trust = certifiedSigners(p, other.pin, ev.objects);
    expect(trust.audit.size).toBe(0);
    expect(trust.refused[0].reason).toMatch(/not the pinned root/);
    const a = assessCheckpoints(p, ev, trust);
    expect(a.chains.get('c')!.problem).toMatchObject({ kind: 'checkpoint', detail: expect.stringMatching(/no statement of root/) });
  });

  it('a statement planted by whoever can write the store (re-signed by another key under the same name) is refused, never trusted', async () => {
    const w = await written(ks);
    const [name] = readdirSync(join(w.dir, 'keysets'));
    const planted = testKeySet(p); // its own root, its own audit key
    // the pinned root's public key, but a statement signed by the planter's root
    const forged = { root: ks.certification.root, keyset: { statement: { ...planted.keyset.statement, root: ks.pin }, signature: planted.keyset.signature } };
    const path = join(w.dir, 'keysets', `${name.slice(0, 11)}${'f'.repeat(48)}.json`);
    writeFileSync(path, canonicalJson(forged) + '\n');
    const trust = certifiedSigners(p, ks.pin, (await readCheckpointEvidence(w.store)).objects);
    expect(trust.audit.size).toBe(1);
    expect(trust.refused).toEqual([{ where: expect.stringContaining('ffff'), reason: expect.stringMatching(/root signature does not verify/) }]);
  });

  it('a stored statement whose name is not its generation and digest is refused', async () => {
    const w = await written(ks);
    const [name] = readdirSync(join(w.dir, 'keysets'));
    writeFileSync(join(w.dir, 'keysets', `g000000007-${'0'.repeat(48)}.json`), readFileSync(join(w.dir, 'keysets', name)));
    const trust = certifiedSigners(p, ks.pin, (await readCheckpointEvidence(w.store)).objects);
    expect(trust.refused).toEqual([{ where: expect.stringContaining('g000000007'), reason: expect.stringMatching(/not the one its name says/) }]);
  });

  it('without the statement in the store (deleted), the checkpoints are untrusted: found, not hidden', async () => {
    const w = await written(ks);
    rmSync(join(w.dir, 'keysets'), { recursive: true, force: true });
    const ev = await readCheckpointEvidence(w.store);
    const a = assessCheckpoints(p, ev, certifiedSigners(p, ks.pin, ev.objects));
    expect(a.chains.get('c')!.problem).toMatchObject({ kind: 'checkpoint', seq: 0 });
  });

  it('a checkpoint signed after every certifying statement expired is not trusted (time window)', async () => {
    const short = testKeySet(p, { notBefore: new Date(T0 - 60_000), validityDays: 1 });
    const w = await written(short, [short.certification], T0 + 3 * 86_400_000);
    const ev = await readCheckpointEvidence(w.store);
    const trust = certifiedSigners(p, short.pin, ev.objects);
    expect(trust.audit.size).toBe(1);
    const a = assessCheckpoints(p, ev, trust);
    expect(a.chains.get('c')!.problem).toMatchObject({ kind: 'checkpoint', detail: expect.stringMatching(/outside every statement that certifies it/) });
    // and inside the window the same key is trusted
    const fpA = short.keyset.statement.signers.audit.fingerprint;
    expect('key' in trustedKeyAt(trust, 'audit', fpA, T0)).toBe(true);
    expect('reason' in trustedKeyAt(trust, 'audit', fpA, T0 + 3 * 86_400_000)).toBe(true);
  });

  it('a renewed statement over the same audit key joins the windows; the decisions key is never trusted as an audit key', async () => {
    const g1 = testKeySet(p, { notBefore: new Date(T0 - 60_000), validityDays: 1 });
    const g2 = testKeySet(p, { root: g1.root, previous: g1.keyset, keys: g1.keys, audit: g1.audit, notBefore: new Date(T0 + 86_400_000 - 60_000), validityDays: 30 });
    const w = await written(g1, [g1.certification, g2.certification], T0 + 3 * 86_400_000);
    const ev = await readCheckpointEvidence(w.store);
    const trust = certifiedSigners(p, g1.pin, ev.objects);
    expect(trust.generations).toEqual([1, 2]);
    expect(trust.audit.get(g1.keyset.statement.signers.audit.fingerprint)!.windows).toHaveLength(2);
    expect(assessCheckpoints(p, ev, trust).chains.get('c')!.problem).toBeUndefined();
    expect('reason' in trustedKeyAt(trust, 'audit', g1.keyset.statement.signers.decisions.fingerprint, T0)).toBe(true);
  });

  it('a registration signed with the decisions key (not the audit key) is refused even with the pin', async () => {
    const w = await written(ks);
    const reg = JSON.parse(readFileSync(join(w.dir, 'registry', 'c.json'), 'utf8'));
    const registration = { ...reg.registration, chain: 'd', signer: ks.keyset.statement.signers.decisions.fingerprint };
    writeFileSync(join(w.dir, 'registry', 'd.json'), canonicalJson({ registration, signature: toBase64(signJson(p, ks.keys.mldsa, 'chain', registration)) }) + '\n');
    const ev = await readCheckpointEvidence(w.store);
    const a = assessCheckpoints(p, ev, certifiedSigners(p, ks.pin, ev.objects));
    expect(a.chains.get('d')!.problem).toMatchObject({ kind: 'checkpoint', detail: expect.stringMatching(/certifies as its audit signer/) });
    expect(a.chains.get('c')!.problem).toBeUndefined();
  });
});
