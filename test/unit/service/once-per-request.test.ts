/**
 * Issue 12 items 3 and 4 (SPEC §8.7 "once per request"): permanent failures are decided before any
 * signature or audit entry, and under a failed store, a crash between audit and store, a duplicate
 * delivery, two workers racing and a dead worker's claim taken over, a request gets at most one
 * audit entry and one stored outcome. Real crypto, in-memory tables, the simulated bank.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { parseCore } from '../../../src/audit/audit-entry.js';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { verifyStore } from '../../../src/audit/audit-verify-run.js';
import { equalBytes, fromBase64, toBase64, utf8 } from '../../../src/crypto/bytes.js';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { sealBytes } from '../../../src/crypto/envelope.js';
import { InlineSigner, type SignRequest, type Signer } from '../../../src/crypto/signer.js';
import { RemoteError } from '../../../src/errors.js';
import type { Item, PutOptions, Table } from '../../../src/ports.js';
import { DECISIONS_KEY, REQUESTS_KEY, auditClaimKey, encodeQueued } from '../../../src/protocol/records.js';
import { verifyRefusal } from '../../../src/protocol/refusal.js';
import { requestHandle, sealRequest, uuidV4 } from '../../../src/protocol/request.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { processBatch, type PipelineDeps } from '../../../src/service/worker/pipeline.js';
import type { PcrBank } from '../../../src/tpm/pcr-bank.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { CLEAN_CODE, memoryLogger, openDecision, p, pipelineDeps, serviceFixture, tempDir } from './fixtures.js';
import { testKeySet } from '../../helpers/keyset.js';

const f = serviceFixture();

/** A Signer that counts what it signs, by purpose. */
function countingSigner(): Signer & { count: Record<string, number> } {
  const inner = new InlineSigner(p, f.keys.mldsa);
  const count: Record<string, number> = {};
  return {
    count,
    publicKey: inner.publicKey,
    signAll: (items: readonly SignRequest[]) => {
      for (const it of items) count[it.purpose] = (count[it.purpose] ?? 0) + 1;
      return inner.signAll(items);
    },
    close: () => inner.close(),
  };
}

/** The decisions table, failing the first `n` puts of a decided item (a store lost after the commit). */
function failingDecisions(n: number): Table & { inner: MemoryTable } {
  const inner = new MemoryTable('d', DECISIONS_KEY);
  let left = n;
  return {
    inner,
    name: inner.name,
    key: inner.key,
    put: async (item: Item, opts?: PutOptions) => {
      if (item.status === 'decided' && left-- > 0) throw new RemoteError('AWS_UNREACHABLE', 'the table went away');
      return inner.put(item, opts);
    },
    get: (k) => inner.get(k),
    query: (a, o) => inner.query(a, o),
    update: (k, s, o) => inner.update(k, s, o),
    deleteIf: (k, e) => inner.deleteIf(k, e),
    partitions: () => inner.partitions(),
  };
}

function world() {
  const requests = new MemoryTable('r', REQUESTS_KEY);
  const decisions = new MemoryTable('d', DECISIONS_KEY);
  const auditStore = new TableAuditStore(new MemoryTable('a', AUDIT_KEY));
  const bank = new SimulatedBank(join(tempDir(), 'pcr.json'));
  return { requests, decisions, auditStore, bank };
}

type World = ReturnType<typeof world>;

function worker(w: World, over: Partial<Parameters<typeof pipelineDeps>[0]> & { claimLeaseMs?: number } = {}): PipelineDeps {
  const d = pipelineDeps({ requests: w.requests, decisions: w.decisions, auditStore: w.auditStore, pcrBank: w.bank, log: memoryLogger(), ...over });
  return over.claimLeaseMs !== undefined ? { ...d, claimLeaseMs: over.claimLeaseMs } : d;
}

function queued(content = CLEAN_CODE) {
  const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content });
  return { ...r, body: encodeQueued(r.handle, 'analyze', Date.now(), r.sealed) };
}

async function entries(w: World, chain: string) {
  return w.auditStore.range(chain);
}

async function allEntries(w: World) {
  const out = [];
  for (const c of await w.auditStore.chains()) out.push(...(await w.auditStore.range(c)));
  return out;
}

/** A request whose reply_key is 1281 bytes but not a key: `part` says which half is broken. */
function badReplyKey(part: 'mlkem' | 'p384') {
  const key = compositeGenerate(p).publicKey.slice();
  if (part === 'mlkem') key.fill(0xff, 0, 1152); // coefficients 4095 ≥ q = 3329 (FIPS 203 §7.2)
  else key[1184 + 96] ^= 0x01; // the point's y coordinate off the curve
  const inner = {
    v: 1,
    request_id: uuidV4(p.randomBytes(16)),
    timestamp: new Date().toISOString(),
    route: 'analyze',
    reply_key: toBase64(key),
    payload: { name: 'a.ts', content: CLEAN_CODE },
  };
  const sealed = sealBytes(p, f.recipient, utf8(JSON.stringify(inner)));
  const handle = requestHandle(p, sealed);
  return { handle, body: encodeQueued(handle, 'analyze', Date.now(), sealed) };
}

describe('permanent failures are decided before any signature or audit entry', () => {
  for (const part of ['mlkem', 'p384'] as const) {
    it(`an invalid reply key (${part} part): one signed REPLY_KEY_INVALID refusal, zero audit entries, no decision or vote signature`, async () => {
      const w = world();
      const signer = countingSigner();
      const d = worker(w, { signer });
      const r = badReplyKey(part);
      const [o] = await processBatch(d, [r.body]);
      expect(o).toMatchObject({ status: 'rejected', code: 'REPLY_KEY_INVALID' });
      expect(signer.count).toEqual({ refusal: 1 });
      expect(await allEntries(w)).toHaveLength(0);
      expect(await w.requests.get({ id: auditClaimKey(r.handle) })).toBeUndefined();
      const stored = await w.decisions.get({ id: r.handle });
      expect(stored).toMatchObject({ status: 'rejected', code: 'REPLY_KEY_INVALID' });
      const v = verifyRefusal(p, JSON.parse(String(stored!.refusal)), { publicKey: f.keys.mldsa.publicKey, fingerprint: f.fp.mldsa }, r.handle);
      expect(v.ok).toBe(true);
      // delivered again (maxReceiveCount would have made it 5 times): nothing more is spent
      const [again] = await processBatch(d, [r.body]);
      expect(again.status).toBe('duplicate');
      expect(signer.count).toEqual({ refusal: 1 });
    });
  }
});

describe('once per request: one audit entry, one stored outcome', () => {
  it('a store that fails after the audit commit: the retry reuses the entry (no second entry, no new signature)', async () => {
    const w = world();
    const decisions = failingDecisions(1);
    const signer = countingSigner();
    const d = worker({ ...w, decisions: decisions.inner }, { decisions, signer });
    const r = queued();
    expect((await processBatch(d, [r.body]))[0]).toMatchObject({ status: 'retry', code: 'AWS_UNREACHABLE' });
    expect(await entries(w, 'worker-1')).toHaveLength(1);
    const signedBefore = { ...signer.count };

    const [o] = await processBatch(d, [r.body]);
    expect(o).toMatchObject({ status: 'decided', reused: true });
    expect(await entries(w, 'worker-1')).toHaveLength(1);
    // the retry decided again (1 signature) but appended nothing and released the first decision
    expect(signer.count.batch).toBe(signedBefore.batch);
    const item = await decisions.inner.get({ id: r.handle });
    const response = openDecision(toBase64(item!.sealed as Uint8Array), r.replyKey) as { decision: { issued_at: string }; audit: { entry: { seq: number } } };
    expect(verifyResponse(p, response, f.pin, { requestDigest: r.handle }).checks.filter((c) => !c.ok)).toEqual([]);
    const [entry] = await entries(w, 'worker-1');
    expect(response.audit.entry).toEqual(parseCore(entry));
  });

  it('a crash between audit and store: a fresh worker on the same chain, or another worker, answers from the one entry', async () => {
    for (const next of ['worker-1', 'worker-2']) {
      const w = world();
      const r = queued();
      const decisions = failingDecisions(1);
      // the first worker commits, then "crashes" before its store
      await processBatch(worker({ ...w, decisions: decisions.inner }, { decisions }), [r.body]);
      expect(await allEntries(w)).toHaveLength(1);
      // a new process (new AuditChain object: nothing in memory) picks the message up again
      const [o] = await processBatch(worker({ ...w, decisions: decisions.inner }, { decisions, chain: next }), [r.body]);
      expect(o).toMatchObject({ status: 'decided', reused: true });
      expect(await allEntries(w)).toHaveLength(1);
      const item = await decisions.inner.get({ id: r.handle });
      const response = openDecision(toBase64(item!.sealed as Uint8Array), r.replyKey);
      expect(verifyResponse(p, response, f.pin, { requestDigest: r.handle }).checks.filter((c) => !c.ok)).toEqual([]);
    }
  });

  it('a rebuild after a signer rotation: the answer names the signer that decided, with its certification; a worker whose key sets do not certify it retries', async () => {
    const w = world();
    const r = queued();
    const decisions = failingDecisions(1);
    // the first worker (the fixture's signer) commits, then "crashes" before its store
    await processBatch(worker({ ...w, decisions: decisions.inner }, { decisions }), [r.body]);
    // a worker of the next generation: another signer, certified by the same root
    const next = p.mldsa87.fromSeed();
    const g2 = testKeySet(p, { root: f.rootKey, previous: f.keyset, decisions: next.publicKey });
    const nextFp = fingerprint('ML-DSA-87', next.publicKey);
    const base = worker({ ...w, decisions: decisions.inner }, { decisions, chain: 'worker-2', signer: new InlineSigner(p, next), signerFingerprint: nextFp, certification: g2.certification });
    const unknowing = await processBatch(base, [r.body]);
    expect(unknowing[0]).toMatchObject({ status: 'retry', code: 'SIGNER_UNKNOWN' });
    const knowing: PipelineDeps = {
      ...base,
      signerKeyFor: (fp) => (fp === f.fp.mldsa ? f.keys.mldsa.publicKey : undefined),
      certification: (_at, key) => (equalBytes(key, next.publicKey) ? g2.certification : f.certification),
    };
    const [o] = await processBatch(knowing, [r.body]);
    expect(o).toMatchObject({ status: 'decided', reused: true });
    expect(await allEntries(w)).toHaveLength(1);
    const response = openDecision(toBase64((await decisions.inner.get({ id: r.handle }))!.sealed as Uint8Array), r.replyKey);
    expect((response as { signer: { fingerprint: string } }).signer.fingerprint).toBe(f.fp.mldsa);
    expect(verifyResponse(p, response, f.pin, { requestDigest: r.handle }).checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('a duplicate delivery, in one batch and in a later one: one entry, one outcome', async () => {
    const w = world();
    const d = worker(w);
    const r = queued();
    const out = await processBatch(d, [r.body, r.body]);
    expect(out.map((o) => o.status)).toEqual(['decided', 'duplicate']);
    expect((await processBatch(d, [r.body]))[0].status).toBe('duplicate');
    expect(await allEntries(w)).toHaveLength(1);
  });

  for (const kind of ['decided', 'rejected'] as const) {
    it(`a store that loses the ifAbsent race (${kind}): the attempt reports a duplicate, the first stored outcome stays`, async () => {
      const w = world();
      const r = kind === 'decided' ? queued() : badReplyKey('mlkem');
      const first = { id: r.handle, status: kind, marker: 'stored by the other attempt', decided_at: Date.now(), ttl: 0 };
      // another attempt stores its outcome between this attempt's read and its conditional write
      const decisions: Table = {
        name: w.decisions.name,
        key: w.decisions.key,
        put: async (item: Item, opts?: PutOptions) => {
          if (item.id === r.handle && opts?.ifAbsent && !(await w.decisions.get({ id: r.handle }))) await w.decisions.put(first);
          return w.decisions.put(item, opts);
        },
        get: (k) => w.decisions.get(k),
        query: (a, o) => w.decisions.query(a, o),
        update: (k, s, o) => w.decisions.update(k, s, o),
        deleteIf: (k, e) => w.decisions.deleteIf(k, e),
        partitions: () => w.decisions.partitions(),
      };
      const [o] = await processBatch(worker(w, { decisions }), [r.body]);
      expect(o).toMatchObject({ status: 'duplicate', handle: r.handle });
      expect(await w.decisions.get({ id: r.handle })).toMatchObject({ marker: 'stored by the other attempt' });
      expect(await allEntries(w)).toHaveLength(kind === 'decided' ? 1 : 0);
    });
  }

  it('two workers racing on the same message: one entry; the loser answers from it or comes back', async () => {
    const w = world();
    const a = worker(w, { chain: 'worker-1' });
    const b = worker(w, { chain: 'worker-2' });
    const r = queued();
    const [[oa], [ob]] = await Promise.all([processBatch(a, [r.body]), processBatch(b, [r.body])]);
    expect(await allEntries(w)).toHaveLength(1);
    const statuses = [oa.status, ob.status].sort();
    // the winner decided; the loser either rebuilt the answer from the winner's entry, found it
    // stored, or waits for the winner's anchor (AUDIT_CLAIM_PENDING: the message comes back)
    expect(statuses).toContain('decided');
    for (const o of [oa, ob]) if (o.status === 'retry') expect(o.code).toBe('AUDIT_CLAIM_PENDING');
    const [again] = await processBatch(b, [r.body]);
    expect(again.status).toBe('duplicate');
    expect(await allEntries(w)).toHaveLength(1);
  });

  it("a batch where one request's slot is held elsewhere: the others are appended without a gap, their claims moved", async () => {
    const w = world();
    const other = worker(w, { chain: 'worker-2' });
    const [r1, r2, r3] = [queued(), queued('x = 1\n'), queued('y = 2\n')];
    // worker-2 holds r2's slot, fresh (its worker is at work): worker-1 must not take it
    await w.requests.put({ id: auditClaimKey(r2.handle), chain: 'worker-2', seq: 7, claimed_at: Date.now(), ttl: Math.floor(Date.now() / 1000) + 3600 });
    const out = await processBatch(worker(w), [r1.body, r2.body, r3.body]);
    expect(out.map((o) => o.status)).toEqual(['decided', 'retry', 'decided']);
    expect(out[1]).toMatchObject({ code: 'AUDIT_CLAIM_PENDING' });
    const recs = await entries(w, 'worker-1');
    expect(recs.map((r) => [r.seq, parseCore(r).request_digest])).toEqual([
      [0, r1.handle],
      [1, r3.handle],
    ]);
    expect(await w.requests.get({ id: auditClaimKey(r3.handle) })).toMatchObject({ chain: 'worker-1', seq: 1 });
    void other;
  });

  it('a dead worker: its fresh claim is respected; after the lease it is taken over and audit verify names the old entry unanchored-superseded', async () => {
    const w = world();
    const r = queued();
    const deadBank: PcrBank = {
      describe: () => w.bank.describe(),
      read: (pcr, banks) => w.bank.read(pcr, banks),
      extend: async () => {
        throw new RemoteError('TPM_UNREACHABLE', 'the tpm went away'); // appended, never anchored: then the worker died
      },
      quote: () => w.bank.quote(),
    };
    let now = Date.now();
    const clock = { now: () => now };
    const [dead] = await processBatch(worker({ ...w, bank: w.bank }, { chain: 'worker-1', pcrBank: deadBank, clock }), [r.body]);
    expect(dead).toMatchObject({ status: 'retry', code: 'TPM_UNREACHABLE' });
    expect(await entries(w, 'worker-1')).toHaveLength(1);

    const other = () => worker(w, { chain: 'worker-2', clock, claimLeaseMs: 60_000 });
    // within the lease: worker-1 may still be at work
    expect((await processBatch(other(), [r.body]))[0]).toMatchObject({ status: 'retry', code: 'AUDIT_CLAIM_PENDING' });
    expect(await entries(w, 'worker-2')).toHaveLength(0);
    // past the lease: taken over, decided in worker-2's chain
    now += 61_000;
    const [o] = await processBatch(other(), [r.body]);
    expect(o.status).toBe('decided');
    expect(await entries(w, 'worker-2')).toHaveLength(1);
    expect(await w.requests.get({ id: auditClaimKey(r.handle) })).toMatchObject({ chain: 'worker-2', seq: 0 });
    const item = await w.decisions.get({ id: r.handle });
    const response = openDecision(toBase64(item!.sealed as Uint8Array), r.replyKey) as { audit: { entry: { chain: string } } };
    expect(response.audit.entry.chain).toBe('worker-2');

    const run = await verifyStore(p, w.auditStore, {
      chains: ['worker-1', 'worker-2'],
      trusted: new Map([[f.fp.mldsa, f.keys.mldsa.publicKey]]),
      evidence: async () => undefined,
    });
    const [one, two] = run.results;
    expect(one.verdict.problem).toMatchObject({ kind: 'unanchored-superseded', seq: 0 });
    expect(one.verdict.problem!.detail).toContain('worker-2/0');
    expect(two.verdict.problem).toBeUndefined();
  });

  it('an unanchored tail that was not decided elsewhere stays plain unanchored', async () => {
    const w = world();
    const chain = new AuditChain(p, {
      chain: 'worker-9',
      store: w.auditStore,
      pcrBank: { ...w.bank, describe: () => w.bank.describe(), read: (a, b) => w.bank.read(a, b), quote: () => w.bank.quote(), extend: async () => Promise.reject(new RemoteError('TPM_UNREACHABLE', 'x')) },
      pcr: 16,
      signer: new InlineSigner(p, f.keys.mldsa),
      signerFingerprint: f.fp.mldsa,
      recipient: f.recipient,
      recipientFingerprint: f.fp.composite,
      clock: { now: () => Date.now() },
    });
    await expect(chain.commit([{ request_digest: 'a'.repeat(64), decision_digest: 'b'.repeat(64), plaintext: utf8('{}') }])).rejects.toMatchObject({ code: 'TPM_UNREACHABLE' });
    const run = await verifyStore(p, w.auditStore, { chains: ['worker-9'], trusted: new Map([[f.fp.mldsa, f.keys.mldsa.publicKey]]), evidence: async () => undefined });
    expect(run.results[0].verdict.problem?.kind).toBe('unanchored');
    void fromBase64;
  });
});
