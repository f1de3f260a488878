/**
 * `keys status` (SPEC §7.4): the state of each custody secret from its metadata alone
 * (DescribeSecret: existence, version stages, KMS key, tags, last change). It needs no decrypt
 * permission and reads no key material; the fingerprint shown is the `fingerprint` tag that
 * ima-qs writes with every current version (upload and fetch check the values themselves).
 */
import { AUDIT_KEY_SECRET, KEY_SECRETS, PUBLIC_KEYS_SUFFIX, secretName } from './secret-format.js';
import { STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS, type SecretStore } from './secret-store.js';
import type { CustodyRole, LocalFingerprints } from './key-custody.js';

export interface SecretStatus {
  name: string;
  role: CustodyRole;
  exists: boolean;
  deletionDate?: string;
  kmsKeyId?: string;
  lastChanged?: string;
  /** version id per stage */
  stages: { AWSCURRENT?: string; AWSPENDING?: string; AWSPREVIOUS?: string };
  fingerprint?: string;
  /** the local key files hold this key: true/false, undefined when no local files were given */
  matchesLocal?: boolean;
  /** a rotation staged but not promoted, or similar */
  note?: string;
}

export async function custodyStatus(store: SecretStore, prefix: string, local?: LocalFingerprints): Promise<SecretStatus[]> {
  const targets: { name: string; role: CustodyRole }[] = [
    ...KEY_SECRETS.map((s) => ({ name: secretName(prefix, s.suffix), role: s.role as CustodyRole })),
    { name: secretName(prefix, PUBLIC_KEYS_SUFFIX), role: 'public-keys' },
    // SPEC §7.1: the audit key, last (a deployment from before it has none)
    { name: secretName(prefix, AUDIT_KEY_SECRET.suffix), role: 'audit' },
  ];
  const described = await Promise.all(targets.map((t) => store.describe(t.name)));
  return targets.map((t, i) => {
    const d = described[i];
    const want = local ? (t.role === 'public-keys' ? local.composite : local[t.role]) : undefined;
    if (!d) return { name: t.name, role: t.role, exists: false, stages: {}, ...(want !== undefined ? { matchesLocal: false } : {}) };
    const stages: SecretStatus['stages'] = {};
    for (const v of d.versions) {
      for (const s of [STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS] as const) if (v.stages.includes(s)) stages[s] = v.versionId;
    }
    const fp = d.tags.fingerprint && /^[0-9a-f]{64}$/.test(d.tags.fingerprint) ? d.tags.fingerprint : undefined;
    const expected = want;
    const notes: string[] = [];
    if (d.deletionDate) notes.push('scheduled for deletion');
    if (stages.AWSPENDING && stages.AWSPENDING !== stages.AWSCURRENT) notes.push('a new version is staged (AWSPENDING) but not current');
    if (t.role === 'public-keys' && local && d.tags.signer && d.tags.signer !== local.mldsa) notes.push('signed by another ML-DSA-87 key');
    return {
      name: t.name,
      role: t.role,
      exists: true,
      ...(d.deletionDate ? { deletionDate: d.deletionDate.toISOString() } : {}),
      ...(d.kmsKeyId ? { kmsKeyId: d.kmsKeyId } : {}),
      ...(d.lastChanged ? { lastChanged: d.lastChanged.toISOString() } : {}),
      stages,
      ...(fp ? { fingerprint: fp } : {}),
      ...(expected !== undefined ? { matchesLocal: fp === expected && (t.role !== 'public-keys' || !d.tags.signer || d.tags.signer === local!.mldsa) } : {}),
      ...(notes.length ? { note: notes.join('; ') } : {}),
    };
  });
}
