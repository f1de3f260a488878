/**
 * The audit entry core's format versions (SPEC §8.7, §8.10.3): v:3 (written now) holds nothing of
 * the decision in clear and no signature of its own (its batch statement signs it); v:2 entries
 * (signed one by one) and v:1 entries (route in clear) still verify, also in one chain; a core of
 * any other version is refused as `unsupported` by the verifier (and as malformed by the
 * rollout's per-record check), and a v:2 core that carries a member v:2 does not have (a route)
 * is refused even when correctly signed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { GENESIS_PREV, checkRecord, toRecord, type AuditRecord, type LegacyCore } from '../../../src/audit/audit-entry.js';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { ChainVerifier, entrySignatureStatus, readCore } from '../../../src/audit/audit-verify.js';
import { verifyStore } from '../../../src/audit/audit-verify-run.js';
import { fromHex, toBase64, toHex } from '../../../src/crypto/bytes.js';
import { pcrBatchDigest, pcrExtend } from '../../../src/protocol/anchor-math.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { InlineSigner } from '../../../src/crypto/signer.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { type KeyFixture, buildChain, keyFixture, p, removeDir, tempDir } from '../../integration/audit/fixtures.js';

let root: string;
let k: KeyFixture;
beforeAll(async () => {
  root = tempDir();
  k = await keyFixture(root);
});
afterAll(() => removeDir(root));

const trusted = () => new Map([[k.fp.mldsa, k.keys.mldsa.publicKey]]);

/** A correctly signed, anchored (batch of one) record of whatever core is given. */
async function signed(core: Record<string, unknown>, before: string): Promise<AuditRecord> {
  const [sig] = await new InlineSigner(p, k.keys.mldsa).signAll([{ purpose: 'audit', value: core }]);
  const rec = toRecord(p, core as unknown as LegacyCore, sig);
  const after = toHex(pcrExtend('sha256', fromHex(before), pcrBatchDigest('sha256', [fromHex(rec.digest)])));
  rec.anchor = { pcr: 16, bank: 'sha256', before, after, simulated: true, batch: { id: rec.seq, size: 1, index: 0 } };
  return rec;
}

function core(seq: number, prev: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    v: 2,
    chain: 'c',
    seq,
    prev,
    time: '2026-01-01T00:00:00.000Z',
    request_digest: 'a'.repeat(64),
    decision_digest: 'b'.repeat(64),
    signer: k.fp.mldsa,
    recipient: k.fp.composite,
    payload: toBase64(new Uint8Array(64)),
    ...extra,
  };
}

const ZERO = '0'.repeat(64);

function verify(recs: AuditRecord[]) {
  const v = new ChainVerifier(p, 'c', trusted());
  for (const r of recs) if (!v.push(r)) break;
  return v.finish(true);
}

describe('audit entry core versions', () => {
  it('the service writes v:3 cores with no route in clear and no signature, and they verify', async () => {
    const store = new TableAuditStore(new MemoryTable('audit', AUDIT_KEY));
    await buildChain(k, store, new SimulatedBank(join(root, 'pcr.json')), 'w', [2, 1]);
    const recs = await store.range('w');
    expect(recs).toHaveLength(3);
    for (const r of recs) {
      const c = JSON.parse(r.core);
      expect(c.v).toBe(3);
      expect(Object.keys(c).sort()).toEqual(['chain', 'decision_digest', 'prev', 'recipient', 'request_digest', 'sealed_digest', 'seq', 'time', 'v']);
      expect(r.signature).toBeUndefined();
      // buildChain alternates analyze and patents decisions: neither route is in the stored item
      expect(JSON.stringify(r)).not.toMatch(/analyze|patents|code-analysis|legal-documents/);
    }
    const run = await verifyStore(p, store, { chains: ['w'], trusted: trusted(), evidence: async () => undefined });
    expect(run.results[0].verdict).toMatchObject({ entries: 3 });
    expect(run.results[0].verdict.problem).toBeUndefined();
  });

  it('a v:1 entry (route in clear) still verifies, followed by v:2 entries in the same chain', async () => {
    const r0 = await signed(core(0, GENESIS_PREV, { v: 1, route: 'analyze' }), ZERO);
    const r1 = await signed(core(1, r0.digest, {}), r0.anchor!.after);
    const verdict = verify([r0, r1]);
    expect(verdict.problem).toBeUndefined();
    expect(verdict.entries).toBe(2);
    expect((readCore(r0) as LegacyCore | undefined)?.route).toBe('analyze');
    expect(entrySignatureStatus(p, r0, trusted())).toBe('ok');
    expect(checkRecord(p, r0, k.keys.mldsa.publicKey)).toEqual({ ok: true });
    expect(checkRecord(p, r1, k.keys.mldsa.publicKey)).toEqual({ ok: true });
  });

  it('an unknown version is refused as unsupported, even correctly signed', async () => {
    const r0 = await signed(core(0, GENESIS_PREV, {}), ZERO);
    const r1 = await signed(core(1, r0.digest, { v: 4 }), r0.anchor!.after);
    const verdict = verify([r0, r1]);
    expect(verdict.entries).toBe(1);
    expect(verdict.problem).toMatchObject({ chain: 'c', seq: 1, kind: 'unsupported' });
    expect(verdict.problem!.detail).toContain('entry format version 4 is not one this ima-qs reads (1, 2, 3)');
    expect(entrySignatureStatus(p, r1, trusted())).toBe('BAD');
    expect(readCore(r1)).toBeUndefined();
    expect(checkRecord(p, r1, k.keys.mldsa.publicKey)).toMatchObject({ ok: false, problem: 'malformed' });
    // no version at all
    const { v: _v, ...unversioned } = core(0, GENESIS_PREV, {});
    const none = await signed(unversioned, ZERO);
    expect(verify([none]).problem).toMatchObject({ seq: 0, kind: 'unsupported' });
    expect(verify([none]).problem!.detail).toContain('version none');
  });

  it('a v:2 core with a route member is malformed (v:2 keeps the route sealed), even correctly signed', async () => {
    const r0 = await signed(core(0, GENESIS_PREV, { route: 'patents' }), ZERO);
    const verdict = verify([r0]);
    expect(verdict.problem).toMatchObject({ seq: 0, kind: 'altered' });
    expect(verdict.problem!.detail).toContain('version 2 has no member route');
    // and a v:1 core without its route is malformed too
    const r1 = await signed(core(0, GENESIS_PREV, { v: 1 }), ZERO);
    expect(verify([r1]).problem).toMatchObject({ seq: 0, kind: 'altered' });
    expect(verify([r1]).problem!.detail).toContain('route is not a string');
  });
});
