/**
 * The signature checks the rollout delegates to the other parts' code:
 *  - the public-keys document (SPEC §7.3) against the pinned ROOT fingerprint: the protocol's
 *    `verifyPublicKeysDocument` (root key, root-signed key-set statements, the current one valid);
 *  - stored signatures: the decisions in the decisions table are sealed to each client's ephemeral
 *    keys (SPEC §8.2), so the operator cannot read or verify them. What the operator CAN verify is
 *    the audit log: every decision has an audit entry (with the decision digest) covered by a
 *    batch statement signed with ML-DSA-87, context "ima-qs/v2/batch" (SPEC §8.10.4; older
 *    entries are signed one by one, "ima-qs/v1/audit", §8.7). So this check verifies the newest
 *    audit items of each chain under the signers the pinned root certifies (`verifySample`: statements, digests, roots
 *    where the whole batch is in the sample, legacy signatures), and only counts the decisions.
 */
import { anchorLabel } from '../protocol/anchor-label.js';
import { checkRecord, entryDigest, parseCore, type AuditRecord, type BatchRecord } from '../audit/audit-entry.js';
import { verifySample } from '../audit/audit-batch.js';
import { BATCH_PARTITION_SUFFIX } from '../audit/audit-store.js';
import { verifyPublicKeysDocument } from '../protocol/keys-document.js';
import { keysetVersionId } from '../aws/keyset-secret.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { RolloutVerifiers } from './checks.js';

/** Chains (workers) whose newest entries are verified; each worker appends to its own chain. */
const MAX_CHAINS = 20;

/**
 * `localSigners`: the decisions signers the local keyset.json certifies (--keys), trusted only
 * when their root is the pin (the command checks that before passing them).
 */
export function rolloutVerifiers(p: CryptoProvider, now: Date, localSigners: Uint8Array[] = []): RolloutVerifiers {
  const documentVerdict = (text: string, pin: string) => verifyPublicKeysDocument(p, text, { pin, now });
  return {
    async publicKeysDocument(text, pin) {
      const v = documentVerdict(text, pin);
      if (!v.valid) return { ok: false, reason: `${v.code}: ${v.reason}` };
      const c = v.document.current.statement;
      const versionId = keysetVersionId(p, v.document.current);
      return {
        ok: true,
        current: { generation: c.generation, composite: c.kem.fingerprint, decisions: c.signers.decisions.fingerprint, root: c.root, versionId },
        accepted: v.document.accepted.map((a) => a.statement.generation),
      };
    },

    async storedSignatures(probe, res, pin, limit) {
      // The signers the pinned root certifies: the local keyset.json's, else the pinned document's.
      const trusted = new Map<string, Uint8Array>(localSigners.map((k) => [fingerprint('ML-DSA-87', k), k]));
      if (trusted.size === 0) {
        const text = await probe.publicSecretValue(res.secretPublicKeys);
        const v = text === undefined ? undefined : documentVerdict(text, pin);
        if (!v?.valid) {
          return {
            verified: 0,
            failures: [`no signer certified by the pinned root: ${v ? v.reason : `${res.secretPublicKeys} not found`}`],
            what: 'pass --keys DIR with the certified key folder (keyset.json), or publish the public-keys document',
          };
        }
        for (const k of v.keys.signers) trusted.set(fingerprint('ML-DSA-87', k), k);
      }
      const signer = [...trusted.values()][0];
      const items = await probe.newestItems(res.tableAudit, { partition: 'chain', sort: 'seq' }, limit, MAX_CHAINS);
      if (!items) return { verified: 0, failures: [`table ${res.tableAudit} not found`], what: 'audit entries' };
      const batches: BatchRecord[] = [];
      const entries = [];
      for (const it of items) {
        const chain = String(it.chain);
        if (chain.endsWith(BATCH_PARTITION_SUFFIX)) {
          batches.push({ chain: chain.slice(0, -BATCH_PARTITION_SUFFIX.length), first_seq: Number(it.seq), statement: String(it.statement ?? ''), signature: String(it.signature ?? '') });
          continue;
        }
        const rec: AuditRecord = { chain, seq: Number(it.seq), core: String(it.core ?? ''), digest: String(it.digest ?? '') };
        if (it.signature !== undefined) rec.signature = String(it.signature);
        let version = 0;
        let digestOk = false;
        try {
          const core = parseCore(rec);
          version = Number(core.v);
          digestOk = entryDigest(p, core) === rec.digest;
        } catch {
          digestOk = false;
        }
        entries.push({ ...rec, version, digestOk, legacyOk: version !== 3 ? checkRecord(p, rec, signer).ok : undefined });
      }
      const { verified, failures } = verifySample(p, entries, batches, trusted);
      const decisions = await probe.sampleItems(res.tableDecisions, limit);
      const decided = (decisions ?? []).filter((d) => d.status === 'decided').length;
      const chains = new Set(items.map((i) => String(i.chain).replace(BATCH_PARTITION_SUFFIX, ''))).size;
      // SPEC 8.11: what the anchors of the sample amount to, in the one phrase every output uses
      const simulated = batches.some((b) => /"simulated":true/.test(b.statement));
      const anchors = batches.length ? `anchors: ${anchorLabel({ simulated })}; ` : '';
      const what =
        `newest ≤ ${limit} audit entries and batch statements of ${chains} chain(s) in ${res.tableAudit}: ${anchors}entry digests, ` +
        `batch statements (ML-DSA-87, context ima-qs/v2/batch) under the pinned key and the roots of whole batches; ` +
        (decisions
          ? `${decided} sealed decision(s) sampled in ${res.tableDecisions} are encrypted to their clients and not verifiable by the operator`
          : `table ${res.tableDecisions} not found`);
      if (!decisions) failures.push(`table ${res.tableDecisions} not found`);
      return { verified, failures, what };
    },
  };
}
