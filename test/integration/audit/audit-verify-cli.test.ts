/**
 * `ima-qs audit verify` in-process, against the file store of a state folder and the DynamoDB
 * store on dynalite: real chains (the service's AuditChain, real ML-DSA-87 signatures, group
 * commits into a simulated PCR bank), then one kind of tampering per test, each detected AND
 * located (chain, seq and kind asserted from the --json document).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { canonicalCore, entryDigest, parseCore, toRecord, type AuditRecord, type LegacyCore } from '../../../src/audit/audit-entry.js';
import type { AuditCoreV3 } from '../../../src/protocol/audit-core.js';
import { fromBase64, toBase64 } from '../../../src/crypto/bytes.js';
import { signJson } from '../../../src/crypto/signature.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { runCli } from '../../helpers/cli.js';
import { type Dynalite, type KeyFixture, type RawStore, buildChain, dynamoRaw, fileRaw, keyFixture, p, removeDir, startDynalite, tempDir } from './fixtures.js';

const CHAIN = 'worker-1';
let root: string;
let k: KeyFixture;
let other: KeyFixture;
let dyn: Dynalite;

beforeAll(async () => {
  root = tempDir();
  k = await keyFixture(root, 'keys');
  other = await keyFixture(root, 'other-keys');
  dyn = await startDynalite();
});
afterAll(async () => {
  await dyn?.close();
  removeDir(root);
});

let n = 0;
/**
 * A fresh store holding a 10-entry chain in batches of 3, 3 and 4 (seq 0-2, 3-5, 6-9), anchored in
 * pcr 16 of a simulated bank: v3 entries with signed batch statements (the writer of today), or
 * with `legacy` v2 entries signed one by one (the writer of before response v2).
 */
async function freshChain(kind: 'file' | 'dynamo', legacy = false): Promise<{ raw: RawStore; sim: string; bank: SimulatedBank; recs: AuditRecord[] }> {
  const dir = join(root, `case-${++n}`);
  const raw = kind === 'file' ? fileRaw(dir) : await dynamoRaw(dyn);
  const sim = join(root, `pcrs-${n}.json`);
  const bank = new SimulatedBank(sim);
  await buildChain(k, raw.store, bank, CHAIN, [3, 3, 4], { legacy });
  return { raw, sim, bank, recs: await raw.store.range(CHAIN) };
}

async function verify(raw: RawStore, ...extra: string[]) {
  const r = await runCli(['audit', 'verify', ...raw.flags, '--key', k.dir, '--json', ...extra], { env: { ...process.env, ...dyn.env } });
  const doc = r.json();
  return { ...r, doc };
}

async function expectProblem(raw: RawStore, seq: number, kind: string, ...extra: string[]) {
  const r = await verify(raw, ...extra);
  expect(r.code, r.stderr).toBe(1);
  expect(r.doc.ok).toBe(false);
  expect(r.doc.error.code).toBe('AUDIT_CHAIN_INVALID');
  expect(r.doc.error.details).toEqual({ chain: CHAIN, seq, kind });
  expect(r.doc.problem).toMatchObject({ chain: CHAIN, seq, kind });
  expect(r.doc.error.message).toContain(`audit chain ${CHAIN}, entry ${seq}: ${kind}`);
  return r;
}

/** Re-signs a modified core with `key` (an attacker's key, or to show what a forger can do). */
function forge(core: LegacyCore, fx: KeyFixture): AuditRecord {
  return toRecord(p, core, signJson(p, fx.keys.mldsa, 'audit', core));
}

const legacyCore = (rec: AuditRecord) => parseCore(rec) as LegacyCore;

describe.each(['file', 'dynamo'] as const)('audit verify, a chain written before response v2: signed entries (%s store)', (kind) => {
  const fresh = (k2: 'file' | 'dynamo') => freshChain(k2, true);
  it('an intact chain verifies, and its end matches the pcr', async () => {
    const { raw, sim } = await fresh(kind);
    const r = await verify(raw, '--simulated', sim);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.ok).toBe(true);
    expect(r.doc.chains).toHaveLength(1);
    expect(r.doc.chains[0]).toMatchObject({ chain: CHAIN, ok: true, entries: 10, first: 0, last: 9, batches: 3, signers: [k.fp.mldsa], problem: null });
    expect(r.doc.chains[0].compared.status).toBe('match');
    expect(r.doc.chains[0].pcr).toMatchObject({ index: 16, bank: 'sha256', simulated: true });
    expect(r.doc.simulated).toBe(true);
  });

  it('a deleted entry is missing', async () => {
    const { raw } = await fresh(kind);
    await raw.remove(CHAIN, 4);
    await expectProblem(raw, 4, 'missing');
  });

  it('one byte altered in a field is altered', async () => {
    const { raw, recs } = await fresh(kind);
    const r5 = recs[5];
    const core = r5.core.replace(/"request_digest":"(.)/, (_m, c: string) => `"request_digest":"${c === 'a' ? 'b' : 'a'}`);
    expect(core).not.toBe(r5.core);
    await raw.put({ ...r5, core });
    await expectProblem(raw, 5, 'altered');
  });

  it('one byte altered in a field, digest recomputed, is still altered (the signature)', async () => {
    const { raw, recs } = await fresh(kind);
    const c = legacyCore(recs[5]);
    const changed: LegacyCore = { ...c, time: c.time.replace(/.$/, 'X') };
    const recomputed = toRecord(p, changed, new Uint8Array());
    expect(recomputed.digest).toBe(entryDigest(p, changed));
    await raw.put({ ...recs[5], core: recomputed.core, digest: recomputed.digest }); // the original signature stays
    await expectProblem(raw, 5, 'altered');
  });

  it('one byte altered in the signature is altered', async () => {
    const { raw, recs } = await fresh(kind);
    const sig = fromBase64(recs[5].signature!);
    sig[100] ^= 0x01;
    await raw.put({ ...recs[5], signature: toBase64(sig) });
    await expectProblem(raw, 5, 'altered');
  });

  it('a removed signature is unsigned', async () => {
    const { raw, recs } = await fresh(kind);
    await raw.put({ ...recs[7], signature: '' });
    await expectProblem(raw, 7, 'unsigned');
  });

  it('two swapped entries are reordered, located at the first', async () => {
    const { raw, recs } = await fresh(kind);
    await raw.put({ ...recs[7], seq: 2 });
    await raw.put({ ...recs[2], seq: 7 });
    await expectProblem(raw, 2, 'reordered');
  });

  it('a forged entry signed by another key, inserted in the middle, is inserted', async () => {
    const { raw, recs } = await fresh(kind);
    const base = legacyCore(recs[5]);
    const forged = forge({ ...base, seq: 5, prev: recs[4].digest, request_digest: 'f'.repeat(64), signer: other.fp.mldsa }, other);
    for (let i = 9; i >= 5; i--) await raw.put({ ...recs[i], seq: i + 1 }); // make room: the genuine 5..9 move up
    await raw.put({ ...forged, anchor: recs[5].anchor });
    await expectProblem(raw, 5, 'inserted');
  });

  it('a forged entry claiming the service key, inserted in the middle, is inserted (the chain links around it)', async () => {
    const { raw, recs } = await fresh(kind);
    const base = legacyCore(recs[3]);
    const forged = forge({ ...base, seq: 3, prev: recs[2].digest, request_digest: 'e'.repeat(64) }, other); // signer field still names the service key
    for (let i = 9; i >= 3; i--) await raw.put({ ...recs[i], seq: i + 1 });
    await raw.put({ ...forged, anchor: recs[3].anchor });
    await expectProblem(raw, 3, 'inserted');
  });

  it('a truncated tail passes without a pcr to compare with, and is missing against the pcr', async () => {
    const { raw, sim } = await fresh(kind);
    for (const s of [6, 7, 8, 9]) await raw.remove(CHAIN, s); // the whole last batch
    const blind = await verify(raw);
    expect(blind.code, blind.stderr).toBe(0);
    expect(blind.doc.chains[0].compared).toEqual({ status: 'not-compared', reason: 'no --tcti, --simulated or --quote given' });
    await expectProblem(raw, 6, 'missing', '--simulated', sim);
  });

  it('a tail truncated inside a batch is missing even without a pcr', async () => {
    const { raw } = await fresh(kind);
    for (const s of [8, 9]) await raw.remove(CHAIN, s);
    await expectProblem(raw, 8, 'missing');
  });

  it('an entry without its anchor is unanchored', async () => {
    const { raw, recs } = await fresh(kind);
    await raw.put({ ...recs[3], anchor: undefined });
    await expectProblem(raw, 3, 'unanchored');
  });

  it('an anchor whose pcr value was changed is a pcr-mismatch at its batch', async () => {
    const { raw, recs } = await fresh(kind);
    for (const i of [3, 4, 5]) await raw.put({ ...recs[i], anchor: { ...recs[i].anchor!, after: 'ab'.repeat(32) } });
    await expectProblem(raw, 3, 'pcr-mismatch');
  });

  it('a pcr extended outside the chain between two batches is a pcr-mismatch; an event log of that extend explains it', async () => {
    const dir = join(root, `case-${++n}`);
    const raw = kind === 'file' ? fileRaw(dir) : await dynamoRaw(dyn);
    const sim = join(root, `pcrs-${n}.json`);
    const log = join(root, `events-${n}.log`);
    const bank = new SimulatedBank(sim);
    await buildChain(k, raw.store, bank, CHAIN, [2, 2], { legacy: true });
    const ext = await runCli(['tpm', 'extend', '--simulated', sim, '--pcr', '16', '--digest', '11'.repeat(32), '--event-log', log, '--json']);
    expect(ext.code, ext.stderr).toBe(0);
    await buildChain(k, raw.store, bank, CHAIN, [3], { start: 4, legacy: true });
    await expectProblem(raw, 4, 'pcr-mismatch', '--simulated', sim);
    const explained = await verify(raw, '--simulated', sim, '--event-log', log);
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.doc.chains[0]).toMatchObject({ entries: 7, batches: 3 });
    expect(explained.doc.chains[0].compared.status).toBe('match');
  });

  it('verifies a range (--from/--to), checking the link into it', async () => {
    const { raw, recs } = await fresh(kind);
    const ok = await verify(raw, '--from', '4', '--to', '8');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.doc.chains[0]).toMatchObject({ entries: 5, first: 4, last: 8 });
    expect(ok.doc.chains[0].compared.status).toBe('not-compared');
    // the entry just before the range was replaced by another validly signed one: the link breaks
    await raw.put(forge({ ...legacyCore(recs[3]), request_digest: 'd'.repeat(64) }, k));
    await expectProblem(raw, 4, 'reordered', '--from', '4');
  });
});

describe.each(['file', 'dynamo'] as const)('audit verify, v3 entries under signed batch statements (%s store)', (kind) => {
  const fresh = (k2: 'file' | 'dynamo') => freshChain(k2);
  const statement = async (raw: RawStore, first: number) => (await raw.store.batches(CHAIN, { from: first, to: first }))[0];

  it('an intact chain verifies: 3 signed statements, no per-entry signature, the end matches the pcr', async () => {
    const { raw, sim, recs } = await fresh(kind);
    expect(recs.every((r) => r.signature === undefined && parseCore(r).v === 3)).toBe(true);
    const r = await verify(raw, '--simulated', sim);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.chains[0]).toMatchObject({ chain: CHAIN, ok: true, entries: 10, first: 0, last: 9, batches: 3, signers: [k.fp.mldsa], problem: null });
    expect(r.doc.chains[0].compared.status).toBe('match');
  });

  it('a deleted entry is missing', async () => {
    const { raw } = await fresh(kind);
    await raw.remove(CHAIN, 4);
    await expectProblem(raw, 4, 'missing');
  });

  it('a field changed without its digest is altered, at the entry', async () => {
    const { raw, recs } = await fresh(kind);
    await raw.put({ ...recs[5], core: recs[5].core.replace(/"request_digest":"(.)/, (_m, c: string) => `"request_digest":"${c === 'a' ? 'b' : 'a'}`) });
    await expectProblem(raw, 5, 'altered');
  });

  it('a field changed with its digest recomputed (and the next prev too) is altered, at its batch: the signed root no longer adds up', async () => {
    const { raw, recs } = await fresh(kind);
    const c = parseCore(recs[4]) as AuditCoreV3;
    const changed = { ...c, request_digest: 'f'.repeat(64) };
    const canon = canonicalCore(p, changed);
    await raw.put({ ...recs[4], core: canon.text, digest: canon.digest });
    const n5 = { ...(parseCore(recs[5]) as AuditCoreV3), prev: canon.digest };
    const c5 = canonicalCore(p, n5);
    await raw.put({ ...recs[5], core: c5.text, digest: c5.digest });
    await expectProblem(raw, 3, 'altered');
  });

  it('a sealed payload replaced is altered', async () => {
    const { raw, recs } = await fresh(kind);
    await raw.put({ ...recs[6], payload: recs[7].payload });
    await expectProblem(raw, 6, 'altered');
  });

  it('a batch statement edited (the simulated flag flipped) or its signature changed is altered, at its batch', async () => {
    const { raw } = await fresh(kind);
    const b = await statement(raw, 3);
    const st = JSON.parse(b.statement);
    st.pcr.simulated = !st.pcr.simulated;
    await raw.putBatch(CHAIN, 3, { statement: JSON.stringify(st), signature: b.signature });
    await expectProblem(raw, 3, 'altered');
    const sig = fromBase64(b.signature);
    sig[10] ^= 1;
    await raw.putBatch(CHAIN, 3, { statement: b.statement, signature: toBase64(sig) });
    await expectProblem(raw, 3, 'altered');
  });

  it('a deleted batch statement leaves its entries unanchored', async () => {
    const { raw } = await fresh(kind);
    await raw.putBatch(CHAIN, 3, undefined);
    await expectProblem(raw, 3, 'unanchored');
  });

  it('a statement signed by another key is inserted', async () => {
    const { raw } = await fresh(kind);
    const b = await statement(raw, 6);
    const st = JSON.parse(b.statement);
    st.signer = other.fp.mldsa;
    await raw.putBatch(CHAIN, 6, { statement: JSON.stringify(st), signature: toBase64(signJson(p, other.keys.mldsa, 'batch', st)) });
    await expectProblem(raw, 6, 'inserted');
  });

  it('two swapped entries are reordered', async () => {
    const { raw, recs } = await fresh(kind);
    await raw.put({ ...recs[7], seq: 2 });
    await raw.put({ ...recs[2], seq: 7 });
    await expectProblem(raw, 2, 'reordered');
  });

  it('entries deleted from the tail while their statement stays are missing, even without a pcr', async () => {
    const { raw } = await fresh(kind);
    for (const s of [6, 7, 8, 9]) await raw.remove(CHAIN, s);
    await expectProblem(raw, 6, 'missing');
  });

  it('a statement whose pcr arithmetic does not add up (re-signed by the service key) is a pcr-mismatch', async () => {
    const { raw } = await fresh(kind);
    const b = await statement(raw, 0);
    const st = JSON.parse(b.statement);
    st.pcr.after = 'ab'.repeat(32);
    await raw.putBatch(CHAIN, 0, { statement: JSON.stringify(st), signature: toBase64(signJson(p, k.keys.mldsa, 'batch', st)) });
    await expectProblem(raw, 0, 'pcr-mismatch');
  });

  it('a whole tail batch deleted with its statement passes without a pcr, and is missing against the pcr', async () => {
    const { raw, sim } = await fresh(kind);
    for (const s of [6, 7, 8, 9]) await raw.remove(CHAIN, s);
    await raw.putBatch(CHAIN, 6, undefined);
    const blind = await verify(raw);
    expect(blind.code, blind.stderr).toBe(0); // what signed checkpoints outside the table are for
    await expectProblem(raw, 6, 'missing', '--simulated', sim);
  });
});

describe('audit verify: several chains and usage', () => {
  it('verifies every chain and names the bad one', async () => {
    const dir = join(root, `multi-${++n}`);
    const raw = fileRaw(dir);
    await buildChain(k, raw.store, new SimulatedBank(join(root, `m1-${n}.json`)), 'worker-a', [2]);
    await buildChain(k, raw.store, new SimulatedBank(join(root, `m2-${n}.json`)), 'worker-b', [3]);
    const good = await verify(raw);
    expect(good.code, good.stderr).toBe(0);
    expect(good.doc.chains.map((c: { chain: string; entries: number }) => [c.chain, c.entries])).toEqual([['worker-a', 2], ['worker-b', 3]]);
    await raw.remove('worker-b', 1);
    const bad = await verify(raw);
    expect(bad.code).toBe(1);
    expect(bad.doc.error.details).toEqual({ chain: 'worker-b', seq: 1, kind: 'missing' });
    expect(bad.doc.chains[0].ok).toBe(true);
    const table = await runCli(['audit', 'verify', ...raw.flags, '--key', k.dir]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain('worker-b');
    expect(table.stdout).toContain('FAIL seq 1: missing');
    expect(table.stderr).toContain('ima-qs: error: audit chain worker-b, entry 1: missing');
  });

  it('an entry signed with an untrusted key: trusting that key too changes the answer', async () => {
    const dir = join(root, `rot-${++n}`);
    const raw = fileRaw(dir);
    await buildChain(other, raw.store, new SimulatedBank(join(root, `r-${n}.json`)), 'w', [2]);
    const r = await runCli(['audit', 'verify', ...raw.flags, '--key', k.dir, '--json']);
    expect(r.code).toBe(1);
    expect(r.json().error.details).toEqual({ chain: 'w', seq: 0, kind: 'inserted' });
    const both = await runCli(['audit', 'verify', ...raw.flags, '--key', k.dir, '--key', join(other.dir, 'ml_dsa_87_public.key'), '--json']);
    expect(both.code, both.stderr).toBe(0);
  });

  it('refuses bad usage with exit 2 or 3 and a code', async () => {
    const dir = tempDir();
    try {
      const none = await runCli(['audit', 'verify', '--json']);
      expect(none.code).toBe(2);
      expect(none.json().error.code).toBe('USAGE');
      const both = await runCli(['audit', 'verify', '--state', dir, '--table', 't', '--json']);
      expect(both.code).toBe(2);
      const empty = await runCli(['audit', 'verify', '--state', dir, '--key', k.dir, '--json']);
      expect(empty.code).toBe(3);
      expect(empty.json().error.code).toBe('STATE_EMPTY');
      const nokey = await runCli(['audit', 'verify', '--table', 'x', '--region', 'us-east-1', '--endpoint-url', dyn.url, '--json'], { env: { ...process.env, ...dyn.env } });
      expect(nokey.code).toBe(2);
      expect(nokey.json().error.code).toBe('AUDIT_KEY_REQUIRED');
      const badFrom = await runCli(['audit', 'verify', '--state', dir, '--from', 'x1', '--json']);
      expect(badFrom.code).toBe(3);
    } finally {
      removeDir(dir);
    }
  });
});
