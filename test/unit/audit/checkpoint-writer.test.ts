/**
 * The checkpoint writer and the checkpoint formats (SPEC §8.11) on the write-once file store and an
 * in-memory audit table: what it writes and when, how it picks up after a restart, a backlog split
 * over several checkpoints, a lost answer retried without a fork, a foreign object refused; the
 * object keys and the shape checks.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { canonicalJson } from '../../../src/crypto/canonical-json.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { TableAuditStore, AUDIT_KEY } from '../../../src/audit/audit-store.js';
import { FileCheckpointStore } from '../../../src/audit/checkpoint-store-file.js';
import type { CheckpointStore } from '../../../src/audit/checkpoint-store.js';
import { CheckpointWriter } from '../../../src/audit/checkpoint-writer.js';
import { assessCheckpoints, checkAgainstStore, readCheckpointEvidence } from '../../../src/audit/checkpoint-verify.js';
import { InlineSigner } from '../../../src/crypto/signer.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { auditSigningKey, generateAuditKey } from '../../../src/keys/audit-key.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPublicKey } from '../../../src/keys/key-dir.js';
import { anchorLabel } from '../../../src/protocol/anchor-label.js';
import { checkpointKey, checkpointProblem, parseObjectKey, registrationKey, type SignedCheckpoint } from '../../../src/protocol/checkpoint.js';
import { parseStrictJson } from '../../../src/protocol/strict-json.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';

const p = getProvider('node');
const keys = generateServiceKeys(p);
const fp = fingerprints(publicKeysOf(keys));
const audit = auditSigningKey(generateAuditKey(p), 'test');
const trusted = new Map([[audit.fingerprint, audit.key.publicKey]]);
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function setup(everyEntries = 1_000_000) {
  const root = mkdtempSync(join(tmpdir(), 'ima-cpw-'));
  roots.push(root);
  let t = Date.UTC(2026, 0, 1);
  const clock = { now: () => (t += 1000) };
  const table = new TableAuditStore(new MemoryTable('audit', AUDIT_KEY));
  const cps = new FileCheckpointStore(join(root, 'checkpoints'));
  const bank = join(root, 'pcr.json');
  const writer = (store: CheckpointStore = cps) => new CheckpointWriter(p, { store, audit: table, key: audit, clock, everyEntries, everyMs: 3_600_000 });
  const chainFor = (w: CheckpointWriter, chain = 'task-1/0') =>
    new AuditChain(p, {
      chain,
      store: table,
      pcrBank: new SimulatedBank(bank),
      pcr: 16,
      signer: new InlineSigner(p, keys.mldsa),
      signerFingerprint: fp.mldsa,
      recipient: recipientPublicKey(publicKeysOf(keys)),
      recipientFingerprint: fp.composite,
      clock,
      onBatch: (s, h) => w.observe(chain, s, h),
    });
  let i = 0;
  const items = (n: number) =>
    Array.from({ length: n }, () => {
      const x = (i++).toString(16).padStart(64, '0');
      return { request_digest: x, decision_digest: x, plaintext: new TextEncoder().encode(`decision ${i}`) };
    });
  return { root, table, cps, writer, chainFor, items };
}

async function verdict(s: ReturnType<typeof setup>, chain = 'task-1/0') {
  const a = assessCheckpoints(p, await readCheckpointEvidence(s.cps), trusted);
  const head = (await s.table.range(chain, { descending: true, limit: 1 }))[0]?.seq;
  const cc = a.chains.get(chain);
  return { a, cc, standing: await checkAgainstStore(p, s.table, chain, cc?.checkpoints ?? [], head, Date.UTC(2026, 0, 2)) };
}

describe('the checkpoint writer (SPEC §8.11)', () => {
  it('registers first (write-once), then checkpoints every N entries and at stop; the result verifies', async () => {
    const s = setup(4);
    const w = s.writer();
    expect(await w.register('task-1/0', fp.mldsa)).toEqual({ registered: 'created' });
    const ac = s.chainFor(w);
    await ac.commit(s.items(3)); // 3 < 4: nothing yet
    expect(w.status()).toEqual([{ chain: 'task-1/0', checkpointed: 0, head: 3 }]);
    await ac.commit(s.items(2)); // 5 ≥ 4: a checkpoint (count)
    await w.flush('count'); // wait for the triggered write (serialised)
    expect(w.status()[0].checkpointed).toBe(5);
    await ac.commit(s.items(1));
    const final = await w.stop();
    expect(final).toEqual({ written: 1, failed: [] });
    const docs = (await s.cps.keys('checkpoints/')).map((k) => parseStrictJson(readFileSync(join(s.root, 'checkpoints', k), 'utf8')) as unknown as SignedCheckpoint);
    expect(docs.map((d) => [d.checkpoint.index, d.checkpoint.size, d.checkpoint.reason, d.checkpoint.batches.map((b) => b.first_seq)])).toEqual([
      [0, 5, 'count', [0, 3]],
      [1, 6, 'stop', [5]],
    ]);
    expect(docs[1].checkpoint.last_batch?.first_seq).toBe(5);
    const v = await verdict(s);
    expect(v.cc?.problem).toBeUndefined();
    expect(v.cc?.registration?.worker_key).toBe(fp.mldsa);
    expect(v.standing).toEqual({ latest: { index: 1, size: 6, time: docs[1].checkpoint.time } });
    // files are written once (link(2) never replaces) and left read-only
    const file = join(s.root, 'checkpoints', checkpointKey('task-1/0', 0));
    expect(statSync(file).mode & 0o777).toBe(0o444);
    expect(await s.cps.putOnce(checkpointKey('task-1/0', 0), new TextEncoder().encode('{}'))).toBe('exists');
    expect(readFileSync(file, 'utf8')).toBe(`${canonicalJson(docs[0])}\n`);
  });

  it('picks up after a restart: the newest checkpoint, then the statements stored after it', async () => {
    const s = setup();
    const w1 = s.writer();
    await w1.register('task-1/0', fp.mldsa);
    const ac1 = s.chainFor(w1);
    await ac1.commit(s.items(2));
    await w1.flush('count');
    await ac1.commit(s.items(3)); // written, never checkpointed (a crash)
    const w2 = s.writer();
    expect(await w2.register('task-1/0', fp.mldsa)).toEqual({ registered: 'exists' });
    expect(w2.status()).toEqual([{ chain: 'task-1/0', checkpointed: 2, head: 5 }]);
    const ac2 = s.chainFor(w2);
    await ac2.commit(s.items(1));
    await w2.stop();
    const v = await verdict(s);
    expect(v.cc?.problem).toBeUndefined();
    expect(v.cc?.checkpoints.map((c) => [c.index, c.size])).toEqual([[0, 2], [1, 6]]);
    expect(v.standing.problem).toBeUndefined();
  });

  it('a backlog of more than 1024 statements is split over several checkpoints (the head of each read from the table)', async () => {
    const s = setup();
    const w = s.writer();
    await w.register('long', fp.mldsa);
    // 1030 one-entry batches as the audit chain reports them (statements and entries as stored)
    const digest = (seq: number) => seq.toString(16).padStart(64, 'e');
    for (let seq = 0; seq < 1030; seq++) {
      await s.table.append({ chain: 'long', seq, core: '{}', digest: digest(seq) });
      const statement = { v: 2, chain: 'long', first_seq: seq, size: 1, entries_root: digest(seq), pcr: { index: 16, bank: 'sha256', before: '0'.repeat(64), after: '0'.repeat(64), simulated: true }, time: '2026-01-01T00:00:00.000Z', signer: fp.mldsa } as const;
      w.observe('long', { statement, signature: '' }, digest(seq));
    }
    expect((await w.stop()).written).toBe(2);
    const docs = (await s.cps.keys('checkpoints/')).map((k) => (parseStrictJson(readFileSync(join(s.root, 'checkpoints', k), 'utf8')) as unknown as SignedCheckpoint).checkpoint);
    expect(docs.map((c) => [c.size, c.batches.length, c.head])).toEqual([[1024, 1024, digest(1023)], [1030, 6, digest(1029)]]);
    expect(docs[1].batches[0].first_seq).toBe(1024);
    const a = assessCheckpoints(p, await readCheckpointEvidence(s.cps), trusted);
    expect(a.chains.get('long')?.problem).toBeUndefined();
    expect(a.chains.get('long')?.checkpoints).toHaveLength(2);
  });

  it('an answer lost after the object was stored: the retry finds its own object (no fork)', async () => {
    const s = setup();
    let lose = true;
    const flaky: CheckpointStore = {
      label: 'flaky',
      putOnce: async (k, b) => {
        const r = await s.cps.putOnce(k, b);
        if (k.startsWith('checkpoints/') && lose) {
          lose = false;
          throw Object.assign(new Error('connection reset'), { code: 'AWS_UNREACHABLE' });
        }
        return r;
      },
      get: (k) => s.cps.get(k),
      keys: (pr) => s.cps.keys(pr),
      versions: (pr) => s.cps.versions(pr),
      getVersion: (v) => s.cps.getVersion(v),
    };
    const w = s.writer(flaky);
    await w.register('task-1/0', fp.mldsa);
    await s.chainFor(w).commit(s.items(2));
    expect((await w.flush('interval')).failed).toMatchObject([{ chain: 'task-1/0', code: 'AWS_UNREACHABLE' }]);
    expect(await w.flush('interval')).toEqual({ written: 1, failed: [] });
    expect(await s.cps.keys('checkpoints/')).toHaveLength(1);
    expect((await verdict(s)).cc?.problem).toBeUndefined();
  });

  it('another object where its next checkpoint goes: CHECKPOINT_CONFLICT, and the chain is not checkpointed any more', async () => {
    const s = setup();
    const w = s.writer();
    await w.register('task-1/0', fp.mldsa);
    await s.chainFor(w).commit(s.items(1));
    await s.cps.putOnce(checkpointKey('task-1/0', 0), new TextEncoder().encode('{"not":"ours"}\n'));
    expect((await w.flush('interval')).failed).toMatchObject([{ code: 'CHECKPOINT_CONFLICT' }]);
    expect(w.status()[0].conflict).toBe(checkpointKey('task-1/0', 0));
    expect(await w.flush('interval')).toEqual({ written: 0, failed: [] });
  });

  it('a registration of another chain at the key refuses the start (AUDIT_REGISTRY_CONFLICT)', async () => {
    const s = setup();
    const other = s.writer();
    await other.register('a', fp.mldsa);
    const text = readFileSync(join(s.root, 'checkpoints', registrationKey('a')), 'utf8');
    const dir = join(s.root, 'checkpoints', 'registry');
    chmodSync(dir, 0o700);
    writeFileSync(join(dir, 'b.json'), text, { mode: 0o444 });
    await expect(s.writer().register('b', fp.mldsa)).rejects.toMatchObject({ code: 'AUDIT_REGISTRY_CONFLICT' });
  });
});

describe('checkpoint formats and keys', () => {
  it('object keys encode the chain id and name the index with 12 digits; parseObjectKey is their inverse', () => {
    expect(checkpointKey('task-1/0', 7)).toBe('checkpoints/task-1%2F0/000000000007.json');
    expect(registrationKey('ecs:abc/1')).toBe('registry/ecs%3Aabc%2F1.json');
    expect(parseObjectKey('checkpoints/task-1%2F0/000000000007.json')).toEqual({ kind: 'checkpoint', chain: 'task-1/0', index: 7 });
    expect(parseObjectKey('registry/ecs%3Aabc%2F1.json')).toEqual({ kind: 'registration', chain: 'ecs:abc/1' });
    for (const bad of ['checkpoints/a/7.json', 'registry/a/b.json', 'registry/..%2Fx.json', 'registry/%2e%2e.json', 'other/a.json', 'registry/task-1/0.json']) expect(parseObjectKey(bad), bad).toBeUndefined();
  });

  it('checkpointProblem refuses what a checkpoint may not be', () => {
    const good = {
      v: 1, type: 'ima-qs/checkpoint', chain: 'c', index: 0, prev: '0'.repeat(64), size: 3, head: 'a'.repeat(64),
      batches: [{ first_seq: 0, size: 3, digest: 'b'.repeat(64) }], last_batch: { first_seq: 0, digest: 'b'.repeat(64) }, time: '2026-01-01T00:00:00.000Z', reason: 'stop', signer: 'c'.repeat(64),
    };
    expect(checkpointProblem(good)).toBeUndefined();
    const cases: [string, Record<string, unknown>][] = [
      ['an extra member', { ...good, simulated: true }],
      ['a batch past the size', { ...good, batches: [{ first_seq: 0, size: 4, digest: 'b'.repeat(64) }] }],
      ['batches out of order', { ...good, size: 6, batches: [{ first_seq: 3, size: 3, digest: 'b'.repeat(64) }, { first_seq: 0, size: 3, digest: 'b'.repeat(64) }] }],
      ['an unknown reason', { ...good, reason: 'whenever' }],
      ['a chain id with #', { ...good, chain: 'c#batches' }],
      ['no entries but a head', { ...good, size: 0, batches: [] }],
      ['a time without milliseconds', { ...good, time: '2026-01-01T00:00:00Z' }],
    ];
    for (const [why, c] of cases) expect(checkpointProblem(c), why).toBeDefined();
  });

  it('one anchor phrase (issue 14 item 6)', () => {
    expect(anchorLabel({ simulated: true })).toBe('signed hash chain with checkpoints; no hardware anchor');
    expect(anchorLabel({ simulated: true, checkpointed: false })).toBe('signed hash chain without checkpoints; no hardware anchor');
    expect(anchorLabel({ simulated: false })).toBe('TPM PCR anchor');
  });
});
