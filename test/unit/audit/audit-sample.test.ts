/**
 * `verifySample` (what `rollout day 3` checks in the audit table): on the newest items of a v3
 * chain — entries plus signed batch statements — every statement verifies, every entry's digest is
 * its core's, covered entries count, and a whole batch in the sample has its root recomputed; a
 * tampered statement, a re-digested entry, or a statement under another key fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { verifySample } from '../../../src/audit/audit-batch.js';
import { canonicalCore, entryDigest, parseCore, type AuditRecord } from '../../../src/audit/audit-entry.js';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { toBase64 } from '../../../src/crypto/bytes.js';
import { signJson } from '../../../src/crypto/signature.js';
import type { AuditCoreV3 } from '../../../src/protocol/audit-core.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { type KeyFixture, buildChain, keyFixture, p, removeDir, tempDir } from '../../integration/audit/fixtures.js';

let root: string;
let k: KeyFixture;
let other: KeyFixture;
beforeAll(async () => {
  root = tempDir();
  k = await keyFixture(root);
  other = await keyFixture(root, 'other');
});
afterAll(() => removeDir(root));

const sample = (recs: AuditRecord[]) => recs.map((r) => ({ ...r, version: Number(parseCore(r).v), digestOk: entryDigest(p, parseCore(r)) === r.digest }));

async function chain() {
  const store = new TableAuditStore(new MemoryTable('a', AUDIT_KEY));
  await buildChain(k, store, new SimulatedBank(join(root, `pcr-${Math.random()}.json`)), 'w', [2, 3]);
  return { recs: await store.range('w'), batches: await store.batches('w') };
}

describe('verifySample (rollout day 3)', () => {
  it('a good sample: 2 statements and 5 covered entries verify', async () => {
    const { recs, batches } = await chain();
    expect(verifySample(p, sample(recs), batches, new Map([[k.fp.mldsa, k.keys.mldsa.publicKey]]))).toEqual({ verified: 7, failures: [] });
  });

  it('a re-digested entry breaks its batch root; a flipped statement or another signer fails its statement', async () => {
    const { recs, batches } = await chain();
    const trusted = new Map([[k.fp.mldsa, k.keys.mldsa.publicKey]]);
    const c = { ...(parseCore(recs[3]) as AuditCoreV3), request_digest: 'f'.repeat(64) };
    const canon = canonicalCore(p, c);
    const edited = [...recs];
    edited[3] = { ...recs[3], core: canon.text, digest: canon.digest };
    expect(verifySample(p, sample(edited), batches, trusted).failures.join('\n')).toMatch(/entries 2-4 do not give the signed entries_root/);

    const st = JSON.parse(batches[1].statement);
    st.pcr.simulated = false;
    const flipped = [batches[0], { ...batches[1], statement: JSON.stringify(st) }];
    expect(verifySample(p, sample(recs), flipped, trusted).failures.join('\n')).toMatch(/batch statement w\/2: altered/);

    const foreign = { ...JSON.parse(batches[0].statement), signer: other.fp.mldsa };
    const forged = [{ ...batches[0], statement: JSON.stringify(foreign), signature: toBase64(signJson(p, other.keys.mldsa, 'batch', foreign)) }, batches[1]];
    const r = verifySample(p, sample(recs), forged, trusted);
    expect(r.failures.join('\n')).toMatch(/batch statement w\/0: inserted/);
    expect(r.failures.join('\n')).toMatch(/audit entry w\/0: no verified batch statement covers it/);
  });
});
