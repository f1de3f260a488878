/**
 * The audit chain's append + anchor protocol: fork refused, a failed extend leaves entries
 * unanchored and the next commit anchors them with ONE extend, a lost extend (it happened but the
 * worker did not see it) is recognised, never applied twice.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { fromHex, toHex } from '../../../src/crypto/bytes.js';
import { utf8 } from '../../../src/crypto/bytes.js';
import { RemoteError } from '../../../src/errors.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { InlineSigner } from '../../../src/crypto/signer.js';
import { batchPcrDigest } from '../../../src/protocol/batch-statement.js';
import { leafHash, rootFromLeafHashes } from '../../../src/protocol/merkle.js';
import type { PcrBank } from '../../../src/tpm/pcr-bank.js';
import { extendPcr } from '../../../src/tpm/pcr-math.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { p, serviceFixture, tempDir } from './fixtures.js';

const f = serviceFixture();
const item = (i: number) => ({ request_digest: toHex(new Uint8Array(32).fill(i)), decision_digest: toHex(new Uint8Array(32).fill(100 + i)), plaintext: utf8(`{"n":${i}}`) });

/** a bank that fails on demand: before the extend (unreachable) or after it (outcome lost) */
function flaky(inner: PcrBank) {
  const mode = { fail: 'none' as 'none' | 'before' | 'after' };
  const bank: PcrBank = {
    read: (pcr, banks) => inner.read(pcr, banks),
    describe: () => inner.describe(),
    quote: (a, b, c) => inner.quote(a, b, c),
    async extend(pcr, d) {
      if (mode.fail === 'before') throw new RemoteError('TPM_UNREACHABLE', 'no tpm');
      await inner.extend(pcr, d);
      if (mode.fail === 'after') throw new RemoteError('TPM_TIMEOUT', 'timed out');
    },
  };
  return { bank, mode };
}

function chain(store: TableAuditStore, bank: PcrBank) {
  return new AuditChain(p, {
    chain: 'c1',
    store,
    pcrBank: bank,
    pcr: 16,
    signer: new InlineSigner(p, f.keys.mldsa),
    signerFingerprint: f.fp.mldsa,
    recipient: f.recipient,
    recipientFingerprint: f.fp.composite,
    clock: { now: () => Date.now() },
  });
}

/** Replays every stored batch statement from its entries (recomputed roots), from PCR zero. */
async function replayAll(store: TableAuditStore): Promise<string> {
  const recs = await store.range('c1');
  let v: Uint8Array = new Uint8Array(32);
  for (const b of await store.batches('c1')) {
    const st = JSON.parse(b.statement);
    const of = recs.filter((r) => r.seq >= st.first_seq && r.seq < st.first_seq + st.size);
    const root = rootFromLeafHashes(p, of.map((r) => leafHash(p, fromHex(r.digest))));
    expect(toHex(root)).toBe(st.entries_root);
    expect(st.pcr.before).toBe(toHex(v)); // consecutive batches chain: before = the previous after
    v = extendPcr('sha256', v, batchPcrDigest('sha256', st.size, root));
    expect(st.pcr.after).toBe(toHex(v));
  }
  return toHex(v);
}

async function covered(store: TableAuditStore): Promise<{ first_seq: number; size: number }[]> {
  return (await store.batches('c1')).map((b) => {
    const st = JSON.parse(b.statement);
    return { first_seq: st.first_seq, size: st.size };
  });
}

describe('AuditChain', () => {
  it('anchors entries of failed extends in the next commit, recognises a lost extend, keeps PCR = replay', async () => {
    const sim = new SimulatedBank(join(tempDir(), 'pcr.json'));
    const { bank, mode } = flaky(sim);
    const store = new TableAuditStore(new MemoryTable('a', AUDIT_KEY));
    const c = chain(store, bank);
    await c.commit([item(0), item(1)]);
    mode.fail = 'before';
    await expect(c.commit([item(2)])).rejects.toMatchObject({ code: 'TPM_UNREACHABLE' });
    expect(await covered(store)).toEqual([{ first_seq: 0, size: 2 }]); // entry 2 is stored, unanchored
    mode.fail = 'after';
    await expect(c.commit([item(3)])).rejects.toMatchObject({ code: 'TPM_TIMEOUT' });
    mode.fail = 'none';
    const out = await c.commit([item(4)]);
    expect(out.map((a) => a.record.seq)).toEqual([4]);
    const recs = await store.range('c1');
    expect(recs.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    // entries 2+3 were covered by the extend whose outcome was lost; 4 by a new one
    expect(await covered(store)).toEqual([
      { first_seq: 0, size: 2 },
      { first_seq: 2, size: 2 },
      { first_seq: 4, size: 1 },
    ]);
    expect(toHex((await sim.read(16, ['sha256'])).sha256)).toBe(await replayAll(store));

    // a restarted worker continues the chain (head and prev from the store)
    const again = await chain(store, bank).commit([item(5)]);
    expect(again[0].record.seq).toBe(5);
    expect(toHex((await sim.read(16, ['sha256'])).sha256)).toBe(await replayAll(store));
  });

  it('refuses to fork: a second writer at the same position fails', async () => {
    const store = new TableAuditStore(new MemoryTable('a', AUDIT_KEY));
    const bank = new SimulatedBank(join(tempDir(), 'pcr.json'));
    const a = chain(store, bank);
    const b = chain(store, bank);
    await a.commit([item(0)]);
    await b.commit([item(1)]); // b opened after a's append: it continues at seq 1
    await expect(a.commit([item(2)])).rejects.toMatchObject({ code: 'AUDIT_FORK' });
  });
});
