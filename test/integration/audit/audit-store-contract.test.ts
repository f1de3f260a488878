/**
 * The `AuditStore` contract (issue 7 §2), run unchanged against the file store of a state folder
 * and the DynamoDB store on dynalite: append, conditional append refuses a fork, anchors set once,
 * get, ranges (ascending, descending, bounded, limited), newest N, list chains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditAnchor, AuditRecord } from '../../../src/audit/audit-entry.js';
import type { AuditStore } from '../../../src/audit/audit-store.js';
import { ImaError } from '../../../src/errors.js';
import { type Dynalite, dynamoRaw, fileRaw, removeDir, startDynalite, tempDir } from './fixtures.js';

function rec(chain: string, seq: number, tag = 'a'): AuditRecord {
  return { chain, seq, core: `{"chain":"${chain}","seq":${seq},"tag":"${tag}"}`, digest: `${tag}${seq}`.padEnd(64, '0'), signature: `sig-${tag}-${seq}` };
}

const anchor = (after: string): AuditAnchor => ({ pcr: 16, bank: 'sha256', before: '0'.repeat(64), after, simulated: true, batch: { id: 0, size: 1, index: 0 } });

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ImaError);
  expect((err as ImaError).code).toBe(code);
}

const dirs: string[] = [];
let dyn: Dynalite;
beforeAll(async () => {
  dyn = await startDynalite();
});
afterAll(async () => {
  await dyn.close();
  for (const d of dirs) removeDir(d);
});

const backends: [string, () => Promise<AuditStore>][] = [
  ['file store (STATE/audit)', async () => {
    const d = tempDir();
    dirs.push(d);
    return fileRaw(d).store;
  }],
  ['DynamoDB store on dynalite', async () => (await dynamoRaw(dyn)).store],
];

describe.each(backends)('AuditStore contract: %s', (_name, make) => {
  it('appends and reads back exactly what was written', async () => {
    const s = await make();
    await s.append(rec('w-1', 0));
    expect(await s.get('w-1', 0)).toEqual(rec('w-1', 0));
    expect(await s.get('w-1', 1)).toBeUndefined();
    expect(await s.get('other', 0)).toBeUndefined();
  });

  it('refuses a second entry at the same position (no fork) and keeps the first', async () => {
    const s = await make();
    await s.append(rec('w-1', 0, 'a'));
    await expectCode(s.append(rec('w-1', 0, 'b')), 'AUDIT_FORK');
    expect((await s.get('w-1', 0))?.signature).toBe('sig-a-0');
    // two writers racing for the same position: exactly one wins
    const results = await Promise.allSettled([s.append(rec('w-1', 1, 'x')), s.append(rec('w-1', 1, 'y'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(['sig-x-1', 'sig-y-1']).toContain((await s.get('w-1', 1))?.signature);
  });

  it('sets an anchor once: the same again is fine, a different one conflicts, a missing entry conflicts', async () => {
    const s = await make();
    await s.append(rec('w-1', 0));
    await s.setAnchor('w-1', 0, anchor('1'.repeat(64)));
    await s.setAnchor('w-1', 0, anchor('1'.repeat(64)));
    await expectCode(s.setAnchor('w-1', 0, anchor('2'.repeat(64))), 'AUDIT_ANCHOR_CONFLICT');
    await expectCode(s.setAnchor('w-1', 5, anchor('1'.repeat(64))), 'AUDIT_ANCHOR_CONFLICT');
    expect((await s.get('w-1', 0))?.anchor).toEqual(anchor('1'.repeat(64)));
  });

  it('reads ranges in order, bounded and limited, ascending and descending (newest N)', async () => {
    const s = await make();
    for (const seq of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) await s.append(rec('w-1', seq));
    await s.append(rec('w-2', 0));
    const seqs = (rs: AuditRecord[]) => rs.map((r) => r.seq);
    expect(seqs(await s.range('w-1'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(seqs(await s.range('w-1', { from: 3, to: 5 }))).toEqual([3, 4, 5]);
    expect(seqs(await s.range('w-1', { from: 9 }))).toEqual([9, 10, 11]);
    expect(seqs(await s.range('w-1', { to: 1 }))).toEqual([0, 1]);
    expect(seqs(await s.range('w-1', { from: 2, limit: 3 }))).toEqual([2, 3, 4]);
    expect(seqs(await s.range('w-1', { descending: true, limit: 3 }))).toEqual([11, 10, 9]);
    expect(seqs(await s.range('w-1', { descending: true, to: 4, limit: 2 }))).toEqual([4, 3]);
    expect(await s.range('nothing-here')).toEqual([]);
  });

  it('lists the chains', async () => {
    const s = await make();
    expect(await s.chains()).toEqual([]);
    for (const c of ['worker-b', 'worker-a', 'host:1/w'] as const) await s.append(rec(c, 0));
    await s.append(rec('worker-a', 1));
    expect(await s.chains()).toEqual(['host:1/w', 'worker-a', 'worker-b']);
  });
});
