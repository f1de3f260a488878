/**
 * Set-up for the checkpoint tests (SPEC §8.11): a real audit chain written by the service's
 * AuditChain with the real CheckpointWriter beside it (registration first, a checkpoint after the
 * commits the test asks for), into any AuditStore and any CheckpointStore (moto's S3 with Object
 * Lock, or the write-once folder), and what an insider could do to both.
 */
import { copyFileSync } from 'node:fs';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { payloadPlaintext } from '../../../src/audit/audit-entry.js';
import type { AuditStore } from '../../../src/audit/audit-store.js';
import type { CheckpointStore } from '../../../src/audit/checkpoint-store.js';
import { CheckpointWriter } from '../../../src/audit/checkpoint-writer.js';
import { InlineSigner } from '../../../src/crypto/signer.js';
import { auditSigningKey, generateAuditKey, writeAuditKey, type AuditSigningKey } from '../../../src/keys/audit-key.js';
import { publicKeysOf, recipientPublicKey } from '../../../src/keys/key-dir.js';
import { decisionDigestV2 } from '../../../src/protocol/decision-v2.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import type { CertificationBlock } from '../../../src/protocol/decision-v2.js';
import { testKeySet } from '../../helpers/keyset.js';
import { keyFixture, p, signedDecisionV2, type KeyFixture } from './fixtures.js';

export interface AuditKeyFixture extends KeyFixture {
  audit: AuditSigningKey;
  /** the root fingerprint: all an auditor holds (SPEC §8.11) */
  pin: string;
  /** the root-signed statement certifying the folder's decisions key and its audit key */
  certification: CertificationBlock;
}

/**
 * A key folder with the three service key pairs and the audit key pair, and a root whose
 * statement certifies both signers, valid over the fixed clock of chainWriter (from 2026-01-01).
 */
export async function auditKeyFixture(root: string, name = 'keys'): Promise<AuditKeyFixture> {
  const k = await keyFixture(root, name);
  const key = generateAuditKey(p);
  await writeAuditKey(k.dir, key);
  const ks = testKeySet(p, { keys: k.keys, audit: key, notBefore: new Date(Date.UTC(2025, 11, 1)), validityDays: 90 });
  return { ...k, audit: auditSigningKey(key, k.dir), pin: ks.pin, certification: ks.certification };
}

export interface Writer {
  chain: AuditChain;
  checkpoints: CheckpointWriter;
  /** appends one group commit per size; `checkpointAfter` lists the commits (0-based) after which a checkpoint is written */
  commit(sizes: number[], opts?: { checkpointAfter?: number[]; start?: number }): Promise<void>;
}

/** Registers `chain` and returns a writer for it (pcr 16 of the simulated bank `bankFile`). */
export async function chainWriter(k: AuditKeyFixture, store: AuditStore, cps: CheckpointStore, bankFile: string, chain: string, signWith = k): Promise<Writer> {
  let t = Date.UTC(2026, 0, 1);
  const clock = { now: () => (t += 1000) };
  const checkpoints = new CheckpointWriter(p, { store: cps, audit: store, key: k.audit, certifications: () => [k.certification], clock, everyEntries: 1_000_000, everyMs: 3_600_000 });
  await checkpoints.register(chain, signWith.fp.mldsa);
  const ac = new AuditChain(p, {
    chain,
    store,
    pcrBank: new SimulatedBank(bankFile),
    pcr: 16,
    bank: 'sha256',
    signer: new InlineSigner(p, signWith.keys.mldsa),
    signerFingerprint: signWith.fp.mldsa,
    recipient: recipientPublicKey(publicKeysOf(k.keys)),
    recipientFingerprint: k.fp.composite,
    clock,
    onBatch: (signed, head) => checkpoints.observe(chain, signed, head),
  });
  let i = 0;
  return {
    chain: ac,
    checkpoints,
    async commit(sizes, opts = {}) {
      if (opts.start !== undefined) i = opts.start;
      for (const [n, size] of sizes.entries()) {
        const items = [];
        for (let j = 0; j < size; j++, i++) {
          const d = await signedDecisionV2(signWith, i, i % 2 ? 'patents' : 'analyze');
          items.push({ request_digest: d.decision.request_digest, decision_digest: decisionDigestV2(p, d), plaintext: payloadPlaintext(d) });
        }
        await ac.commit(items);
        if (opts.checkpointAfter?.includes(n)) {
          const r = await checkpoints.flush('count');
          if (r.failed.length) throw new Error(`checkpoint failed: ${JSON.stringify(r.failed)}`);
        }
      }
    },
  };
}

/** A copy of a simulated bank's state file (to fork a chain from an earlier PCR value). */
export function snapshotBank(from: string, to: string): void {
  copyFileSync(from, to);
}
