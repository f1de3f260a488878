/**
 * The audit writer of ima-qs before response format v2 (version 2 cores, one ML-DSA-87 signature
 * per entry, context ima-qs/v1/audit, a per-entry `anchor` set after each group commit's extend
 * with the §6.3 batch digest over the entry digests). Kept for tests only: chains written that way
 * must still verify (SPEC §8.7), and their tampering must still be detected and located.
 */
import { fromHex, toBase64, toHex } from '../../../src/crypto/bytes.js';
import { sealBytes } from '../../../src/crypto/envelope.js';
import { signJson } from '../../../src/crypto/signature.js';
import { GENESIS_PREV, canonicalCore, toRecord, type AuditAnchor, type LegacyCore } from '../../../src/audit/audit-entry.js';
import type { AuditStore } from '../../../src/audit/audit-store.js';
import { pcrBatchDigest, pcrExtend } from '../../../src/protocol/anchor-math.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../../../src/crypto/provider.js';
import type { PcrBank } from '../../../src/tpm/pcr-bank.js';

export interface LegacyItem {
  request_digest: string;
  decision_digest: string;
  plaintext: Uint8Array;
}

export async function legacyCommit(
  p: CryptoProvider,
  o: { chain: string; store: AuditStore; pcrBank: PcrBank; pcr: number; key: MlDsaPrivateKey; signerFingerprint: string; recipient: Uint8Array; recipientFingerprint: string; time: string },
  items: LegacyItem[],
): Promise<void> {
  const [head] = await o.store.range(o.chain, { descending: true, limit: 1 });
  let seq = head ? head.seq + 1 : 0;
  let prev = head ? head.digest : GENESIS_PREV;
  const recs = [];
  for (const it of items) {
    const core: LegacyCore = {
      v: 2,
      chain: o.chain,
      seq,
      prev,
      time: o.time,
      request_digest: it.request_digest,
      decision_digest: it.decision_digest,
      signer: o.signerFingerprint,
      recipient: o.recipientFingerprint,
      payload: toBase64(sealBytes(p, o.recipient, it.plaintext)),
    };
    const c = canonicalCore(p, core);
    const rec = toRecord(p, core, signJson(p, o.key, 'audit', core), c);
    await o.store.append(rec);
    recs.push(rec);
    prev = c.digest;
    seq++;
  }
  const before = toHex((await o.pcrBank.read(o.pcr, ['sha256'])).sha256);
  const B = pcrBatchDigest('sha256', recs.map((r) => fromHex(r.digest)));
  await o.pcrBank.extend(o.pcr, { sha256: B });
  const after = toHex(pcrExtend('sha256', fromHex(before), B));
  const simulated = o.pcrBank.describe().simulated;
  for (const [index, r] of recs.entries()) {
    const anchor: AuditAnchor = { pcr: o.pcr, bank: 'sha256', before, after, simulated, batch: { id: recs[0].seq, size: recs.length, index } };
    await o.store.setAnchor(r.chain, r.seq, anchor);
  }
}
