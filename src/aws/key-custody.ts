/**
 * Key custody on Secrets Manager (SPEC §7): plan → apply → read back.
 *
 * The plan is pure (`decideKey`, `decideDocument`) over what was read from the store; apply writes
 * only what the plan says, in two phases so that readers never see a half-rotated key set:
 *   1. create missing secrets; put every replaced value as a new version staged AWSPENDING;
 *   2. move AWSCURRENT to each staged version (Secrets Manager then marks the old one AWSPREVIOUS)
 *      and drop the AWSPENDING label.
 * A failure stops at once and the error lists what was written, what was only staged and what
 * was not written (CUSTODY_INCOMPLETE): nothing half-written goes unreported.
 * The private keys are written first and the public-keys document last, so /api/keys never
 * advertises keys whose private halves are not current.
 */
import { RemoteError } from '../errors.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { type KeysDocumentVerdict, verifyPublicKeysDocument } from '../protocol/keys-document.js';
import { AUDIT_KEY_SECRET, KEY_SECRETS, type KeyRole, PUBLIC_KEYS_SUFFIX, parseKeySecret, secretName } from './secret-format.js';
import { STAGE_CURRENT, STAGE_PENDING, type SecretDescription, type SecretStore } from './secret-store.js';
import { readKeySecret } from './service-keys.js';

export type CustodyRole = KeyRole | 'audit' | 'public-keys';
export type PlanAction = 'create' | 'unchanged' | 'conflict' | 'rotate' | 'update' | 'blocked';

/** What the store holds for one secret name, as far as planning needs it (never the value). */
export interface RemoteSecret {
  exists: boolean;
  deletionDate?: Date;
  kmsKeyId?: string;
  currentVersionId?: string;
  /** the fingerprint stated by the AWSCURRENT value (key secrets) */
  fingerprint?: string;
  /** why the AWSCURRENT value is not one of ours */
  foreign?: string;
  /** public-keys document: the verdict on the AWSCURRENT value against the local keys */
  documentMatches?: boolean;
  documentReason?: string;
}

export interface PlanItem {
  name: string;
  role: CustodyRole;
  algorithm: string;
  action: PlanAction;
  /** local fingerprint (public-keys: the composite key's) */
  fingerprint: string;
  remoteFingerprint?: string;
  currentVersionId?: string;
  /** the remote KMS key differs from the requested one */
  kmsChange?: boolean;
  reason?: string;
}

export interface CustodyPlan {
  prefix: string;
  kmsKeyArn: string;
  items: PlanItem[];
}

/** The plan for one private-key secret (pure). */
export function decideKey(localFingerprint: string, remote: RemoteSecret, allowRotate: boolean): { action: PlanAction; reason?: string } {
  if (!remote.exists) return { action: 'create' };
  if (remote.deletionDate) {
    return { action: 'blocked', reason: `scheduled for deletion on ${remote.deletionDate.toISOString().slice(0, 10)}; restore it first (aws secretsmanager restore-secret)` };
  }
  if (remote.foreign) return allowRotate ? { action: 'rotate', reason: `replaces a value that ${remote.foreign}` } : { action: 'conflict', reason: remote.foreign };
  if (remote.fingerprint === localFingerprint) return { action: 'unchanged' };
  return allowRotate ? { action: 'rotate' } : { action: 'conflict', reason: 'holds a different key' };
}

/** The plan for the public-keys document (pure): it is derived data, replaced whenever stale. */
export function decideDocument(remote: RemoteSecret): { action: PlanAction; reason?: string } {
  if (!remote.exists) return { action: 'create' };
  if (remote.deletionDate) return { action: 'blocked', reason: 'scheduled for deletion; restore it first (aws secretsmanager restore-secret)' };
  if (remote.documentMatches) return { action: 'unchanged' };
  return { action: 'update', reason: remote.documentReason };
}

/** The items that stop the plan from being applied. */
export function refusedItems(plan: CustodyPlan): PlanItem[] {
  return plan.items.filter((i) => i.action === 'conflict' || i.action === 'blocked');
}

export function writesIn(plan: CustodyPlan): PlanItem[] {
  return plan.items.filter((i) => i.action === 'create' || i.action === 'rotate' || i.action === 'update');
}

function currentVersion(d: SecretDescription): string | undefined {
  return d.versions.find((v) => v.stages.includes(STAGE_CURRENT))?.versionId;
}

/** Local facts the plan compares against: fingerprints of the key files. */
export interface LocalFingerprints {
  mlkem: string;
  mldsa: string;
  ecdh: string;
  composite: string;
  /** the audit key's (SPEC §7.1 fourth secret), when the key folder has one */
  audit?: string;
}

/**
 * Reads the store and plans the upload (or rotation with `allowRotate`). Reads each secret's
 * metadata and AWSCURRENT value (the stated fingerprint / the document), never prints either.
 */
export async function planCustody(
  p: CryptoProvider,
  store: SecretStore,
  opts: { prefix: string; kmsKeyArn: string; local: LocalFingerprints; allowRotate: boolean; now: Date },
): Promise<CustodyPlan> {
  const items: PlanItem[] = [];
  for (const spec of KEY_SECRETS) {
    const name = secretName(opts.prefix, spec.suffix);
    const remote = await readRemote(store, name, async (value) => {
      const parsed = parseKeySecret(value, spec.algorithm);
      return parsed.ok ? { fingerprint: parsed.secret.fingerprint } : { foreign: `is not an ima-qs ${spec.algorithm} key secret (${parsed.reason})` };
    });
    const local = opts.local[spec.role];
    items.push(item(name, spec.role, spec.algorithm, local, remote, decideKey(local, remote, opts.allowRotate), opts.kmsKeyArn));
  }
  const docName = secretName(opts.prefix, PUBLIC_KEYS_SUFFIX);
  const remoteDoc = await readRemote(store, docName, async (value) => {
    const v: KeysDocumentVerdict = verifyPublicKeysDocument(p, value, { pin: opts.local.mldsa, now: opts.now });
    if (!v.valid) return { documentMatches: false, documentReason: v.reason };
    const same = v.fingerprints.mlkem === opts.local.mlkem && v.fingerprints.ecdh === opts.local.ecdh;
    return { documentMatches: same, fingerprint: v.fingerprints.composite, documentReason: same ? undefined : 'lists other encryption keys' };
  });
  items.push(item(docName, 'public-keys', 'signed public keys', opts.local.composite, remoteDoc, decideDocument(remoteDoc), opts.kmsKeyArn));
  // the audit key (SPEC §7.1, §8.11): planned like the others when the folder has one, last (it is not in the public-keys document)
  if (opts.local.audit !== undefined) {
    const name = secretName(opts.prefix, AUDIT_KEY_SECRET.suffix);
    const remote = await readRemote(store, name, async (value) => {
      const parsed = parseKeySecret(value, AUDIT_KEY_SECRET.algorithm);
      return parsed.ok ? { fingerprint: parsed.secret.fingerprint } : { foreign: `is not an ima-qs ML-DSA-87 key secret (${parsed.reason})` };
    });
    items.push(item(name, 'audit', AUDIT_KEY_SECRET.algorithm, opts.local.audit, remote, decideKey(opts.local.audit, remote, opts.allowRotate), opts.kmsKeyArn));
  }
  return { prefix: opts.prefix, kmsKeyArn: opts.kmsKeyArn, items };
}

function item(name: string, role: CustodyRole, algorithm: string, local: string, remote: RemoteSecret, d: { action: PlanAction; reason?: string }, kmsKeyArn: string): PlanItem {
  return {
    name,
    role,
    algorithm,
    action: d.action,
    fingerprint: local,
    ...(remote.fingerprint ? { remoteFingerprint: remote.fingerprint } : {}),
    ...(remote.currentVersionId ? { currentVersionId: remote.currentVersionId } : {}),
    ...(remote.exists && remote.kmsKeyId !== undefined && !sameKmsKey(remote.kmsKeyId, kmsKeyArn) ? { kmsChange: true } : {}),
    ...(d.reason ? { reason: d.reason } : {}),
  };
}

/** A secret's KmsKeyId may be the ARN, the bare key id, or (set by other tools) an alias. */
export function sameKmsKey(remote: string, arn: string): boolean {
  return remote === arn || arn.endsWith(`:key/${remote}`);
}

async function readRemote(store: SecretStore, name: string, inspect: (value: string) => Promise<Partial<RemoteSecret>>): Promise<RemoteSecret> {
  const d = await store.describe(name);
  if (!d) return { exists: false };
  const base: RemoteSecret = { exists: true, kmsKeyId: d.kmsKeyId, currentVersionId: currentVersion(d) };
  if (d.deletionDate) return { ...base, deletionDate: d.deletionDate };
  if (!base.currentVersionId) return { ...base, foreign: 'has no AWSCURRENT version' };
  const value = await store.get(name, STAGE_CURRENT);
  return { ...base, ...(await inspect(value.value)) };
}

export type ItemOutcome = 'created' | 'staged' | 'promoted' | 'unchanged' | 'not-written';

export interface AppliedItem {
  name: string;
  action: PlanAction;
  outcome: ItemOutcome;
  versionId?: string;
}

/**
 * Applies a plan that has no refused items. `values` holds the SecretString for every secret that
 * the plan writes; `tags(item)` the tags for it.
 */
export async function applyPlan(
  store: SecretStore,
  plan: CustodyPlan,
  values: ReadonlyMap<string, string>,
  tags: (item: PlanItem) => Record<string, string>,
  onProgress?: (done: number, total: number) => void,
): Promise<AppliedItem[]> {
  if (refusedItems(plan).length) throw new Error('applyPlan: the plan has refused items'); // precondition, a bug if hit
  const results: AppliedItem[] = plan.items.map((i) => ({ name: i.name, action: i.action, outcome: i.action === 'unchanged' ? 'unchanged' : 'not-written' }));
  const step = async (idx: number, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      throw incomplete(plan.items[idx], results, err);
    }
  };
  const total = writesIn(plan).length * 2;
  let done = 0;
  const tick = () => onProgress?.(++done, total);
  // Phase 1: create, or stage as AWSPENDING (readers still see the old AWSCURRENT).
  for (let i = 0; i < plan.items.length; i++) {
    const it = plan.items[i];
    if (it.action === 'unchanged') continue;
    const value = values.get(it.name);
    if (value === undefined) throw new Error(`applyPlan: no value for ${it.name}`);
    await step(i, async () => {
      if (it.action === 'create') {
        const out = await store.create(it.name, { value, kmsKeyId: plan.kmsKeyArn, tags: tags(it), description: describeSecret(it) });
        results[i] = { ...results[i], outcome: 'created', versionId: out.versionId };
        done++; // a created secret has no second phase
        tick();
        return;
      }
      if (it.kmsChange) await store.setKmsKey(it.name, plan.kmsKeyArn);
      const out = await store.putVersion(it.name, value, [STAGE_PENDING]);
      results[i] = { ...results[i], outcome: 'staged', versionId: out.versionId };
      tick();
    });
  }
  // Phase 2: promote every staged version (AWSPREVIOUS follows automatically), then retag.
  for (let i = 0; i < plan.items.length; i++) {
    const it = plan.items[i];
    if (results[i].outcome !== 'staged') continue;
    await step(i, async () => {
      await store.moveStage(it.name, STAGE_CURRENT, results[i].versionId!, it.currentVersionId);
      results[i] = { ...results[i], outcome: 'promoted' };
      await store.removeStage(it.name, STAGE_PENDING, results[i].versionId!);
      await store.tag(it.name, tags(it));
      tick();
    });
  }
  return results;
}

function describeSecret(it: PlanItem): string {
  if (it.role === 'audit') return 'ima-qs audit key: signs audit checkpoints only (SPEC 7.1, 8.11)';
  return it.role === 'public-keys'
    ? 'ima-qs signed public-keys document (SPEC 7.3), served at /api/keys'
    : `ima-qs ${it.algorithm} private key (SPEC 7.1)`;
}

function incomplete(failed: PlanItem, results: AppliedItem[], cause: unknown): RemoteError {
  const by = (o: ItemOutcome) => results.filter((r) => r.outcome === o).map((r) => r.name);
  const written = [...by('created'), ...by('promoted')];
  const staged = by('staged');
  const notWritten = results.filter((r) => r.outcome === 'not-written').map((r) => r.name);
  const causeCode = (cause as { code?: string })?.code ?? 'AWS_ERROR';
  const gone = causeCode === 'AWS_NOT_FOUND' ? ' (it was deleted after the plan was made)' : '';
  const parts = [
    `written: ${written.length ? written.join(', ') : 'none'}`,
    ...(staged.length ? [`staged as AWSPENDING only (not current): ${staged.join(', ')}`] : []),
    `not written: ${notWritten.length ? notWritten.join(', ') : 'none'}`,
  ];
  return new RemoteError('CUSTODY_INCOMPLETE', `writing ${failed.name} failed${gone}; ${parts.join('; ')}`, {
    hint: 'run ima-qs keys status to see the state, then run the same command again: unchanged secrets are skipped',
    cause,
    details: { failed: failed.name, causeCode, written, staged, notWritten, outcomes: results },
  });
}

export interface ReadBack {
  name: string;
  ok: boolean;
  fingerprint?: string;
  reason?: string;
}

/**
 * Reads every secret of the plan back (AWSCURRENT) and checks it holds the local key: the PEM is
 * decoded and its public key fingerprinted, the document verified against the local ML-DSA key.
 */
export async function readBack(p: CryptoProvider, store: SecretStore, plan: CustodyPlan, local: LocalFingerprints, now: Date): Promise<ReadBack[]> {
  const out: ReadBack[] = [];
  for (const it of plan.items) {
    try {
      if (it.role === 'public-keys') {
        const got = await store.get(it.name, STAGE_CURRENT);
        const v = verifyPublicKeysDocument(p, got.value, { pin: local.mldsa, now });
        const ok = v.valid && v.fingerprints.composite === local.composite;
        out.push({ name: it.name, ok, ...(v.valid ? { fingerprint: v.fingerprints.composite } : {}), ...(ok ? {} : { reason: v.valid ? 'lists other keys' : v.reason }) });
        continue;
      }
      const spec = it.role === 'audit' ? AUDIT_KEY_SECRET : KEY_SECRETS.find((s) => s.role === it.role)!;
      const r = await readKeySecret(p, store, plan.prefix, spec);
      const ok = r.fingerprint === (spec.role === 'audit' ? local.audit : local[spec.role as KeyRole]);
      out.push({ name: it.name, ok, fingerprint: r.fingerprint, ...(ok ? {} : { reason: 'holds a different key' }) });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      out.push({ name: it.name, ok: false, reason: e.code ? `${e.code}: ${e.message}` : 'unreadable' });
    }
  }
  return out;
}
