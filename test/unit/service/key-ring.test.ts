// The worker's key ring (src/keys/key-ring.ts) over a folder of generations (key-set-dir-source.ts):
// what it holds per stage, newest first; the certification of a decision (the newest generation
// valid at issued_at that certifies the signer); a reload on an unknown recipient, rate-limited;
// a source that mixes roots or keys is refused; and the worker started on such a folder tells
// when the newest generation certifies another signer (the container then restarts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../../src/crypto/key-codec.js';
import { generateServiceKeys } from '../../../src/keys/key-dir.js';
import { KeyRing } from '../../../src/keys/key-ring.js';
import { DirKeySetSource, initStages, publishGeneration, retireGeneration, switchGeneration } from '../../../src/keys/key-set-dir-source.js';
import { workerFromEnv } from '../../../src/service/wiring.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { memoryLogger, p, tempDir } from './fixtures.js';

async function generations() {
  const dir = tempDir('ima-ring-');
  const g1 = await writeCertifiedKeyDir(p, join(dir, 'keys'), join(dir, 'root'), { notBefore: new Date(Date.now() - 120_000) });
  // generation 2: new KEM keys, the same signer; generation 3 elsewhere: a new signer
  const g2 = await writeCertifiedKeyDir(p, join(dir, 'keys-g2'), join(dir, 'unused'), { keys: { ...generateServiceKeys(p), mldsa: g1.keys.mldsa }, root: g1.root, previous: g1.keyset, notBefore: new Date(Date.now() - 10_000) });
  await initStages(dir, 'keys');
  return { dir, g1, g2 };
}

describe('KeyRing over a folder of generations', () => {
  it('holds the labelled generations, newest first; certifies with the newest valid one; reloads a missing recipient', async () => {
    const { dir, g1, g2 } = await generations();
    let now = Date.now();
    const ring = await KeyRing.open(p, new DirKeySetSource(p, dir), { reloadMs: 0, minReloadGapMs: 5_000, now: () => now });
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['current:1']);
    expect(ring.certificationFor(g1.keys.mldsa.publicKey, Date.now()).keyset.statement.generation).toBe(1);
    expect(() => ring.certificationFor(generateServiceKeys(p).mldsa.publicKey, Date.now())).toThrow(expect.objectContaining({ code: 'SIGNER_NOT_CERTIFIED', exitCode: 4 }));

    await publishGeneration(p, dir, 'keys-g2');
    const g2fp = g2.keyset.statement.kem.fingerprint;
    // within the gap: no reload, the recipient is unknown (the request will be retried)
    expect(await ring.recipientFor(g2fp)).toBeUndefined();
    now += 5_000;
    expect(await ring.recipientFor(g2fp)).toBeDefined();
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['pending:2', 'current:1']);
    // the newest generation valid at issued_at certifies the (unchanged) signer
    expect(ring.certificationFor(g1.keys.mldsa.publicKey, Date.now()).keyset.statement.generation).toBe(2);
    // …but a decision issued before generation 2 was valid is certified by generation 1
    expect(ring.certificationFor(g1.keys.mldsa.publicKey, Date.parse(g1.keyset.statement.not_before) + 1).keyset.statement.generation).toBe(1);

    await switchGeneration(dir);
    await ring.reload();
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['current:2', 'previous:1']);
    await retireGeneration(dir);
    await ring.reload();
    expect(ring.sets.map((s) => `${s.stage}:${s.generation}`)).toEqual(['current:2']);
    expect(await ring.recipientFor(g1.keyset.statement.kem.fingerprint)).toBeUndefined();
    ring.stop();
  });

  it('refuses a source whose generations have different roots, or keys that are not the certified ones', async () => {
    const { dir } = await generations();
    await writeCertifiedKeyDir(p, join(dir, 'stranger'), join(dir, 'stranger_root'));
    writeFileSync(join(dir, 'stages.json'), JSON.stringify({ current: 'keys', pending: 'stranger' }));
    await expect(KeyRing.open(p, new DirKeySetSource(p, dir), { reloadMs: 0 })).rejects.toMatchObject({ code: 'KEYSET_ROOTS_DIFFER' });
    writeFileSync(join(dir, 'stages.json'), JSON.stringify({ current: 'keys' }));
    // a key folder whose ML-KEM pair was replaced after certification
    const other = generateServiceKeys(p);
    const d2 = join(dir, 'swapped');
    await writeCertifiedKeyDir(p, d2, join(dir, 'unused2'), { root: (await generations()).g1.root });
    const { writeKeyDir } = await import('../../../src/keys/key-dir.js');
    await writeKeyDir(d2, { ...other }, { force: true });
    await expect(new DirKeySetSource(p, d2).load()).rejects.toMatchObject({ code: 'KEYSET_MISMATCH' });
    writeFileSync(join(dir, 'stages.json'), '{"current":"../etc"}');
    await expect(new DirKeySetSource(p, dir).load()).rejects.toMatchObject({ code: 'STAGES_MALFORMED' });
  });

  it('the worker on KEYS_DIR: generations loaded, and a newer generation with another signer is reported (the task restarts)', async () => {
    const { dir, g1 } = await generations();
    const rotated: { generation: number; fingerprint: string; purpose: string }[] = [];
    const env = { QUEUE_URL: 'http://127.0.0.1:9/000000000000/q', IMA_QS_PCR_ANCHOR: `simulated:${join(dir, 'pcr.json')}`, KEYS_DIR: dir, AWS_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' };
    const w = await workerFromEnv(env, memoryLogger(), { p, reloadMs: 0, inline: true, onSignerRotated: (i) => rotated.push(i) });
    expect(w.deps![0].signerFingerprint).toBe(fingerprint('ML-DSA-87', g1.keys.mldsa.publicKey));
    expect(w.deps![0].certification(Date.now(), w.signer.publicKey).keyset.statement.generation).toBe(1);
    // generation 3's folder: a NEW signing key (a Secrets Manager signer rotated)
    const g3 = await writeCertifiedKeyDir(p, join(dir, 'keys-g3'), join(dir, 'unused3'), { root: g1.root, previous: g1.keyset });
    await publishGeneration(p, dir, 'keys-g3');
    await w.ring.reload();
    expect(rotated).toEqual([{ generation: g3.keyset.statement.generation, fingerprint: fingerprint('ML-DSA-87', g3.keys.mldsa.publicKey), purpose: 'decisions' }]);
    // both signers are known by fingerprint (a decision rebuilt from generation 1's entry names its signer)
    expect(w.ring.decisionsKeyOf(fingerprint('ML-DSA-87', g1.keys.mldsa.publicKey))).toEqual(g1.keys.mldsa.publicKey);
    expect(w.ring.decisionsKeyOf(fingerprint('ML-DSA-87', g3.keys.mldsa.publicKey))).toEqual(g3.keys.mldsa.publicKey);
    expect(w.ring.decisionsKeyOf('0'.repeat(64))).toBeUndefined();
    // until it restarts, this worker still certifies its decisions with the generation that certifies its signer
    expect(w.deps![0].certification(Date.now(), w.signer.publicKey).keyset.statement.generation).toBe(1);
    await w.close();
  });
});
