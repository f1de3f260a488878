/**
 * The pure verifier (src/audit/audit-verify.ts) and its runner, on an in-memory table: PCR
 * reachability, chains sharing one PCR (each other's batches explain the gaps), the event-log
 * transitions, ranges starting inside a batch, and records that are not even JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { ChainVerifier, compareWithPcr, reachable, type PcrEvidence } from '../../../src/audit/audit-verify.js';
import { verifyStore } from '../../../src/audit/audit-verify-run.js';
import { withCertifiedSigners } from '../../../src/commands/audit-checkpoints.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { toHex } from '../../../src/crypto/bytes.js';
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
const store = () => new TableAuditStore(new MemoryTable('audit', AUDIT_KEY));

async function evidenceOf(bank: SimulatedBank, pcr: number): Promise<PcrEvidence> {
  return { source: 'test bank', values: [{ pcr, bank: 'sha256', value: toHex((await bank.read(pcr, ['sha256'])).sha256) }] };
}

describe('reachable', () => {
  const t = (from: string, to: string) => ({ pcr: 11, bank: 'sha256' as const, from, to });
  it('follows transitions of the same pcr and bank only', () => {
    const ts = [t('a', 'b'), t('b', 'c'), { ...t('c', 'd'), pcr: 12 }];
    expect(reachable(ts, 11, 'sha256', 'a', 'a')).toBe(true);
    expect(reachable(ts, 11, 'sha256', 'a', 'c')).toBe(true);
    expect(reachable(ts, 11, 'sha256', 'c', 'a')).toBe(false);
    expect(reachable(ts, 11, 'sha256', 'a', 'd')).toBe(false);
    expect(reachable(ts, 11, 'sha384', 'a', 'b')).toBe(false);
  });
});

describe('batch statements signed by a key the root certified (SPEC §8.11)', () => {
  // buildChain's clock starts here
  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const spanned = (w: { notBefore: number; notAfter: number }) =>
    Object.assign(trusted(), { validity: new Map([[k.fp.mldsa, [{ ...w, generation: 1 }]]]) });

  it('verify while dated inside a certifying statement, and are refused (located) when dated outside every one', async () => {
    const s = store();
    const bank = new SimulatedBank(join(root, 'spans.json'));
    await buildChain(k, s, bank, 'g', [2, 1], { pcr: 16 });
    const ev = await evidenceOf(bank, 16);
    const inside = await verifyStore(p, s, { chains: ['g'], trusted: spanned({ notBefore: T0 - 3_600_000, notAfter: T0 + 3_600_000 }), evidence: async () => ev });
    expect(inside.results[0].verdict.problem).toBeUndefined();
    const expired = await verifyStore(p, s, { chains: ['g'], trusted: spanned({ notBefore: T0 - 7_200_000, notAfter: T0 - 1 }), evidence: async () => ev });
    expect(expired.results[0].verdict.problem).toMatchObject({ chain: 'g', seq: 0, kind: 'inserted' });
    expect(expired.results[0].verdict.problem?.detail).toMatch(/when no statement of the pinned root certified its signer .*generation 1/);
  });

  it('a key given explicitly is trusted as given; a certified one carries its spans', () => {
    const certified = { kind: 'certified' as const, pin: 'f'.repeat(64), audit: new Map(), generations: [1], refused: [], decisions: new Map([['a'.repeat(64), { key: new Uint8Array(1), windows: [{ notBefore: 1, notAfter: 2, generation: 1 }] }], [k.fp.mldsa, { key: k.keys.mldsa.publicKey, windows: [{ notBefore: 1, notAfter: 2, generation: 1 }] }]]) };
    const t = withCertifiedSigners(trusted(), certified);
    expect([...t.keys()].sort()).toEqual(['a'.repeat(64), k.fp.mldsa].sort());
    expect([...(t.validity?.keys() ?? [])]).toEqual(['a'.repeat(64)]);
  });
});

describe('verifyStore', () => {
  it('two chains on one pcr explain each other’s gaps; one of them alone does not', async () => {
    const s = store();
    const bank = new SimulatedBank(join(root, 'shared.json'));
    await buildChain(k, s, bank, 'a', [2], { pcr: 11 });
    await buildChain(k, s, bank, 'b', [1], { pcr: 11 });
    await buildChain(k, s, bank, 'a', [1], { pcr: 11, start: 2 });
    const ev = await evidenceOf(bank, 11);
    const both = await verifyStore(p, s, { chains: ['a', 'b'], trusted: trusted(), evidence: async () => ev });
    expect(both.results.map((r) => [r.verdict.chain, r.verdict.problem?.kind ?? 'ok', r.pcr.status])).toEqual([
      ['a', 'ok', 'match'],
      ['b', 'ok', 'match'],
    ]);
    const alone = await verifyStore(p, s, { chains: ['a'], trusted: trusted(), evidence: async () => ev });
    expect(alone.results[0].verdict.problem).toMatchObject({ chain: 'a', seq: 2, kind: 'pcr-mismatch' });
  });

  it('a range that starts inside a batch verifies the rest of it without its earlier digests', async () => {
    const s = store();
    const bank = new SimulatedBank(join(root, 'range.json'));
    await buildChain(k, s, bank, 'c', [4, 2], { pcr: 11 });
    const r = await verifyStore(p, s, { chains: ['c'], from: 2, trusted: trusted(), evidence: async () => evidenceOf(bank, 11) });
    expect(r.results[0].verdict).toMatchObject({ entries: 4, first: 2, last: 5, batches: 2 });
    expect(r.results[0].verdict.problem).toBeUndefined();
    expect(r.results[0].pcr.status).toBe('match');
  });

  it('reports progress and stops reading a chain at its first problem', async () => {
    const s = store();
    const bank = new SimulatedBank(join(root, 'stop.json'));
    await buildChain(k, s, bank, 'd', [3, 3], { pcr: 11 });
    const r1 = await s.get('d', 1);
    await (s as unknown as { table: MemoryTable }).table.put({ chain: 'd', seq: 1, core: 'not json', digest: r1!.digest, payload: r1!.payload! });
    const seen: number[] = [];
    const r = await verifyStore(p, s, { chains: ['d'], trusted: trusted(), evidence: async () => undefined, pageSize: 2, onProgress: (done) => seen.push(done) });
    expect(r.results[0].verdict.problem).toMatchObject({ seq: 1, kind: 'altered' });
    expect(r.results[0].verdict.entries).toBe(1);
    expect(Math.max(...seen)).toBe(1); // nothing after the bad entry was counted
  });
});

describe('ChainVerifier', () => {
  it('an empty chain is fine and is compared with nothing', () => {
    const v = new ChainVerifier(p, 'e', trusted()).finish(true);
    expect(v).toMatchObject({ chain: 'e', entries: 0, batches: 0 });
    expect(compareWithPcr(v, { source: 'x', values: [] }, [], true)).toEqual({ status: 'not-compared', reason: 'no anchored entries' });
  });

  it('a chain whose first entry is not seq 0 is missing its start', async () => {
    const s = store();
    await buildChain(k, s, new SimulatedBank(join(root, 'start.json')), 'f', [2], { pcr: 11 });
    const [, second] = await s.range('f');
    const v = new ChainVerifier(p, 'f', trusted());
    expect(v.push(second)).toBe(false);
    expect(v.finish(true).problem).toMatchObject({ seq: 0, kind: 'missing' });
  });
});
