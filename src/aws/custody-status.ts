/**
 * `keys status` (SPEC §7.2): what custody holds, from metadata alone (DescribeSecret of the key-set
 * secret and of the public-keys document: versions, staging labels, KMS key, tags, last change).
 * It needs no decrypt permission and reads no key material: a key-set version's id names its
 * generation and statement digest (keyset-secret.ts), so the generations are read off the ids.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { SignedKeySet } from '../protocol/keyset.js';
import { parseRotationTag } from './key-custody.js';
import { custodyVersions, keysetSecretName, keysetVersionId } from './keyset-secret.js';
import { PUBLIC_KEYS_SUFFIX, secretName } from './secret-format.js';
import { STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS, type SecretStore } from './secret-store.js';

export interface GenerationStatus {
  versionId: string;
  /** undefined: a version not written by ima-qs */
  generation?: number;
  digest?: string;
  stages: string[];
  /** the local key folder's generation */
  local?: boolean;
}

export interface CustodyStatus {
  keyset: {
    name: string;
    exists: boolean;
    deletionDate?: string;
    kmsKeyId?: string;
    lastChanged?: string;
    generations: GenerationStatus[];
    current?: number;
    pending?: number;
    previous?: number;
    /** the rotation phase last run: publish | switch | done, its generation and time */
    rotation?: { phase: string; generation: number; at: string };
    root?: string;
  };
  document: { name: string; exists: boolean; deletionDate?: string; currentVersionId?: string; generation?: number; lastChanged?: string };
  /** with a local key folder: where its generation stands in custody */
  local?: { generation: number; versionId: string; stages: string[]; state: 'absent' | 'current' | 'pending' | 'previous' | 'retired' };
  notes: string[];
}

export async function custodyStatus(p: CryptoProvider, store: Pick<SecretStore, 'describe'>, prefix: string, local?: SignedKeySet): Promise<CustodyStatus> {
  const ksName = keysetSecretName(prefix);
  const docName = secretName(prefix, PUBLIC_KEYS_SUFFIX);
  const [ks, doc] = await Promise.all([store.describe(ksName), store.describe(docName)]);
  const localVid = local ? keysetVersionId(p, local) : undefined;
  const versions = custodyVersions(ks);
  const generations: GenerationStatus[] = versions
    .map((v) => ({ ...v, ...(localVid === v.versionId ? { local: true } : {}) }))
    .sort((a, b) => (b.generation ?? -1) - (a.generation ?? -1));
  const holder = (stage: string) => versions.find((v) => v.stages.includes(stage))?.generation;
  const notes: string[] = [];
  if (ks && versions.length === 0) notes.push(`${ksName} is empty: upload a key set (ima-qs keys upload)`);
  if (ks?.deletionDate) notes.push(`${ksName} is scheduled for deletion`);
  if (versions.some((v) => v.generation === undefined && v.stages.length)) notes.push(`${ksName} has a labelled version not written by ima-qs`);
  const pending = holder(STAGE_PENDING);
  if (pending !== undefined) notes.push(`generation ${pending} is published (AWSPENDING): next, ima-qs keys rotate switches clients to it`);
  const previous = holder(STAGE_PREVIOUS);
  if (previous !== undefined) notes.push(`generation ${previous} is still decrypted (AWSPREVIOUS): after the overlap, ima-qs keys rotate retires it`);
  const rot = parseRotationTag(ks?.tags.rotation);
  const dversions = custodyVersions(doc);
  const dcur = dversions.find((v) => v.stages.includes(STAGE_CURRENT));
  if (doc && !dcur) notes.push(`${docName} has no current version: /api/keys has nothing to serve`);
  const docGen = doc?.tags.generation && /^\d{1,15}$/.test(doc.tags.generation) ? Number(doc.tags.generation) : undefined;
  let localState: CustodyStatus['local'];
  if (local && localVid) {
    const v = versions.find((x) => x.versionId === localVid);
    const stages = v?.stages ?? [];
    const state = !v ? 'absent' : stages.includes(STAGE_CURRENT) ? 'current' : stages.includes(STAGE_PENDING) ? 'pending' : stages.includes(STAGE_PREVIOUS) ? 'previous' : 'retired';
    localState = { generation: local.statement.generation, versionId: localVid, stages, state };
  }
  return {
    keyset: {
      name: ksName,
      exists: ks !== undefined,
      ...(ks?.deletionDate ? { deletionDate: ks.deletionDate.toISOString() } : {}),
      ...(ks?.kmsKeyId ? { kmsKeyId: ks.kmsKeyId } : {}),
      ...(ks?.lastChanged ? { lastChanged: ks.lastChanged.toISOString() } : {}),
      generations,
      ...(holder(STAGE_CURRENT) !== undefined ? { current: holder(STAGE_CURRENT) } : {}),
      ...(pending !== undefined ? { pending } : {}),
      ...(previous !== undefined ? { previous } : {}),
      ...(rot ? { rotation: { phase: rot.phase, generation: rot.generation, at: new Date(rot.at).toISOString() } } : {}),
      ...(ks?.tags.root && /^[0-9a-f]{64}$/.test(ks.tags.root) ? { root: ks.tags.root } : {}),
    },
    document: {
      name: docName,
      exists: doc !== undefined,
      ...(doc?.deletionDate ? { deletionDate: doc.deletionDate.toISOString() } : {}),
      ...(dcur ? { currentVersionId: dcur.versionId } : {}),
      ...(docGen !== undefined ? { generation: docGen } : {}),
      ...(doc?.lastChanged ? { lastChanged: doc.lastChanged.toISOString() } : {}),
    },
    ...(localState ? { local: localState } : {}),
    notes,
  };
}
