/**
 * Key custody on Secrets Manager (SPEC §7.2): plan → apply → check, on metadata only.
 *
 * Two secrets: `${prefix}/keyset` (one version per generation, keyset-secret.ts) and
 * `${prefix}/public-keys` (the published document, keys-document.ts). Operators never decrypt
 * (the custody rule, infra/custody.tf): the plan reads DescribeSecret only — which version ids
 * exist and which staging labels they hold — and the version ids name what they hold (the
 * generation and the statement digest; the document's digest), so comparing the local key set
 * with custody needs no GetSecretValue. The check after writing is one more DescribeSecret.
 *
 * `keys upload` puts a key set where there is none (a missing secret is created; an EMPTY secret,
 * as Terraform creates them, gets its first version). `keys rotate` runs one phase per call:
 *   publish  the new generation staged AWSPENDING; the document lists it as accepted
 *            (workers reload within a minute and decrypt both; they sign under the newest)
 *   switch   AWSCURRENT moves to it (the old one becomes AWSPREVIOUS); the document's current
 *            is the new generation: clients seal to it
 *   retire   AWSPREVIOUS is removed: the old generation is no longer decrypted
 * each phase only once the previous one has had time to reach every reader (tags record when).
 */
import { createHash } from 'node:crypto';
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import { createPublicKeysDocument, publicKeysDocumentText } from '../protocol/keys-document.js';
import type { SignedKeySet } from '../protocol/keyset.js';
import { type CustodyVersion, custodyVersions, keysetSecretName, keysetVersionId } from './keyset-secret.js';
import { PUBLIC_KEYS_SUFFIX, secretName } from './secret-format.js';
import { STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS, type SecretDescription } from './secret-store.js';

export type CustodyMode = 'upload' | 'rotate';
export type Phase = 'upload' | 'publish' | 'switch' | 'retire' | 'none';
export type CustodyRole = 'keyset' | 'public-keys';
export type PlanAction = 'create' | 'fill' | 'unchanged' | 'publish' | 'switch' | 'retire' | 'update' | 'conflict' | 'blocked';

/** Defaults of the waits between rotation phases (SPEC §7.2). */
export const ROTATION_WAITS = {
  /** publish → switch: every worker reloads (60 s) and every proxy re-reads the document (60 s) */
  publishMs: 2 * 60_000,
  /** switch → retire: clients re-fetch the document (their cache: 5 min) and queued requests drain */
  overlapMs: 15 * 60_000,
} as const;

/** The local side: the generation to put into custody and the one before it (a rotation). */
export interface LocalKeySet {
  root: Uint8Array;
  keyset: SignedKeySet;
  previous?: SignedKeySet;
  /** the secret value of this generation (built only when it is written) */
  value: () => string;
}

export interface PlanItem {
  name: string;
  role: CustodyRole;
  action: PlanAction;
  /** the generation (keyset) or the document version written or kept */
  detail: string;
  versionId?: string;
  remoteCurrent?: string;
  kmsChange?: boolean;
  reason?: string;
}

export type PlanStep =
  | { kind: 'create'; secret: string; role: CustodyRole; versionId: string }
  | { kind: 'put'; secret: string; role: CustodyRole; versionId: string; stages?: string[] }
  | { kind: 'move'; secret: string; stage: string; to: string; from?: string }
  | { kind: 'unstage'; secret: string; stage: string; from: string }
  | { kind: 'set-kms'; secret: string }
  | { kind: 'tag'; secret: string; tags: Record<string, string> };

/** What must hold after the plan ran (checked with DescribeSecret). */
export interface Expectation {
  secret: string;
  versionId: string;
  stage: string;
  /** true: the version must NOT hold the stage (a retired generation) */
  absent?: boolean;
}

export interface CustodyPlan {
  prefix: string;
  kmsKeyArn: string;
  mode: CustodyMode;
  phase: Phase;
  generation: number;
  items: PlanItem[];
  steps: PlanStep[];
  expect: Expectation[];
  /** why nothing may be written (a conflict: exit 5) */
  refused?: { code: string; reason: string; hint?: string };
  /** set when the phase would run but its wait has not passed */
  notBefore?: Date;
  /** the document text the plan publishes (when it writes one) */
  documentText?: string;
}

export interface RemoteSecrets {
  keyset?: SecretDescription;
  document?: SecretDescription;
}

/** The document version id: its digest (the text is canonical JSON, so equal documents have equal ids). */
export function documentVersionId(text: string): string {
  return `pk-${createHash('sha3-256').update(text, 'utf8').digest('hex').slice(0, 61)}`;
}

function stageHolder(versions: CustodyVersion[], stage: string): CustodyVersion | undefined {
  return versions.find((v) => v.stages.includes(stage));
}

function describeVersion(v: CustodyVersion | undefined): string {
  if (!v) return 'none';
  return v.generation !== undefined ? `generation ${v.generation}` : `a version not written by ima-qs (${v.versionId.slice(0, 24)})`;
}

/** A secret's KmsKeyId may be the ARN, the bare key id, or (set by other tools) an alias. */
export function sameKmsKey(remote: string, arn: string): boolean {
  return remote === arn || arn.endsWith(`:key/${remote}`);
}

/** `rotation` tag value: phase:generation:time. */
export function rotationTag(phase: 'publish' | 'switch' | 'done', generation: number, at: Date): string {
  return `${phase}:${generation}:${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

export function parseRotationTag(v: string | undefined): { phase: string; generation: number; at: number } | undefined {
  const m = /^(publish|switch|done):(\d{1,15}):(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$/.exec(v ?? '');
  return m ? { phase: m[1], generation: Number(m[2]), at: Date.parse(m[3]) } : undefined;
}

export interface PlanOptions {
  prefix: string;
  kmsKeyArn: string;
  mode: CustodyMode;
  now: Date;
  /** skip the waits between rotation phases (an emergency: a leaked key retired at once) */
  immediately?: boolean;
  waits?: { publishMs: number; overlapMs: number };
  /** `keys rotate --phase`: refuse unless this is the next phase */
  expectPhase?: Phase;
}

/** Plans an upload or the next rotation phase (pure: metadata in, steps out). */
export function planCustody(p: CryptoProvider, local: LocalKeySet, remote: RemoteSecrets, o: PlanOptions): CustodyPlan {
  const ksName = keysetSecretName(o.prefix);
  const docName = secretName(o.prefix, PUBLIC_KEYS_SUFFIX);
  const gen = local.keyset.statement.generation;
  const vid = keysetVersionId(p, local.keyset);
  const plan: CustodyPlan = { prefix: o.prefix, kmsKeyArn: o.kmsKeyArn, mode: o.mode, phase: 'none', generation: gen, items: [], steps: [], expect: [] };
  const refuse = (code: string, reason: string, hint?: string): CustodyPlan => {
    plan.refused = { code, reason, ...(hint ? { hint } : {}) };
    plan.items = [{ name: ksName, role: 'keyset', action: code === 'SECRET_PENDING_DELETION' ? 'blocked' : 'conflict', detail: `generation ${gen}`, reason }];
    plan.steps = [];
    plan.expect = [];
    return plan;
  };
  const ks = remote.keyset;
  if (ks?.deletionDate) return refuse('SECRET_PENDING_DELETION', `${ksName} is scheduled for deletion`, 'restore it (aws secretsmanager restore-secret --secret-id NAME), then run again');
  const versions = custodyVersions(ks);
  const cur = stageHolder(versions, STAGE_CURRENT);
  const pend = stageHolder(versions, STAGE_PENDING);
  const prev = stageHolder(versions, STAGE_PREVIOUS);
  const kmsChange = ks?.kmsKeyId !== undefined && !sameKmsKey(ks.kmsKeyId, o.kmsKeyArn);
  const root = fingerprint('ML-DSA-87', local.root);
  const ksItem = (action: PlanAction, reason?: string): PlanItem => ({
    name: ksName,
    role: 'keyset',
    action,
    detail: `generation ${gen}`,
    versionId: vid,
    ...(cur ? { remoteCurrent: describeVersion(cur) } : {}),
    ...(kmsChange && action !== 'unchanged' ? { kmsChange: true } : {}),
    ...(reason ? { reason } : {}),
  });
  const setKms = () => (kmsChange ? [{ kind: 'set-kms', secret: ksName } as PlanStep] : []);
  const tags = (current: SignedKeySet, rotation?: string) => ({
    project: 'ima-qs',
    kind: 'keyset',
    generation: String(current.statement.generation),
    fingerprint: current.statement.kem.fingerprint,
    signer: current.statement.signers.decisions.fingerprint,
    root,
    ...(rotation ? { rotation } : {}),
  });
  const waitFor = (phase: 'publish' | 'switch', ms: number): Date | undefined => {
    if (o.immediately) return undefined;
    const t = parseRotationTag(ks?.tags.rotation);
    if (!t || t.phase !== phase || t.generation !== gen) return new Date(8.64e15); // unknown: never without --immediately
    return o.now.getTime() < t.at + ms ? new Date(t.at + ms) : undefined;
  };
  const waits = o.waits ?? ROTATION_WAITS;
  let docCurrent: SignedKeySet = local.keyset;
  let docAccepted: SignedKeySet[] = [];
  let writeDocument = true;

  if (o.mode === 'upload') {
    plan.phase = 'upload';
    if (!ks) {
      plan.items.push(ksItem('create'));
      plan.steps.push({ kind: 'create', secret: ksName, role: 'keyset', versionId: vid });
    } else if (versions.length === 0) {
      // an empty secret (Terraform creates the containers): its first version becomes AWSCURRENT
      plan.items.push(ksItem('fill'));
      plan.steps.push(...setKms(), { kind: 'put', secret: ksName, role: 'keyset', versionId: vid }, { kind: 'tag', secret: ksName, tags: tags(local.keyset) });
    } else if (cur?.versionId === vid) {
      plan.items.push(ksItem('unchanged'));
      if (pend || prev) writeDocument = false; // a rotation is under way: keys rotate manages the document
    } else if (pend?.versionId === vid) {
      return refuse('KEY_CONFLICT', `generation ${gen} is pending in ${ksName} (a rotation is under way)`, 'continue it with ima-qs keys rotate --keys DIR');
    } else if (cur?.generation === undefined) {
      return refuse('KEY_CONFLICT', `${ksName} holds ${describeVersion(cur)}`, 'it was not written by ima-qs keys upload: check what it is before replacing it');
    } else if (cur.generation < gen) {
      return refuse('KEY_CONFLICT', `${ksName} holds generation ${cur.generation}; yours is generation ${gen}`, 'rotate to it: ima-qs keys rotate --keys DIR (publish → switch → retire)');
    } else if (cur.generation > gen) {
      return refuse('KEY_CONFLICT', `${ksName} holds generation ${cur.generation}, newer than yours (${gen})`, 'an older generation is never put back into custody');
    } else {
      return refuse('KEY_CONFLICT', `${ksName} holds another statement of generation ${gen} (another root, or keys certified twice)`, 'compare ima-qs keys status with your keyset.json');
    }
    if (!ks || versions.length === 0) plan.expect.push({ secret: ksName, versionId: vid, stage: STAGE_CURRENT });
  } else {
    const previous = local.previous;
    if (!previous) return refuse('ROTATE_NEEDS_PREVIOUS', `the key folder of generation ${gen} has no previous_keyset.json`, 'a rotation goes from generation N-1 to N: create the folder with ima-qs keys generate --root ROOT --previous OLD/keyset.json');
    const prevVid = keysetVersionId(p, previous);
    if (!cur) return refuse('KEY_CONFLICT', `${ksName} holds no current key set: there is nothing to rotate from`, 'upload the current generation first: ima-qs keys upload');
    if (cur.versionId === prevVid) {
      if (prev) return refuse('ROTATION_IN_PROGRESS', `${describeVersion(prev)} is still AWSPREVIOUS in ${ksName}`, 'retire it first: ima-qs keys rotate --keys THAT_GENERATION_DIR');
      if (!pend) {
        plan.phase = 'publish';
        plan.items.push(ksItem('publish'));
        const exists = versions.some((v) => v.versionId === vid);
        plan.steps.push(
          ...setKms(),
          exists ? { kind: 'move', secret: ksName, stage: STAGE_PENDING, to: vid } : { kind: 'put', secret: ksName, role: 'keyset', versionId: vid, stages: [STAGE_PENDING] },
          { kind: 'tag', secret: ksName, tags: tags(previous, rotationTag('publish', gen, o.now)) },
        );
        plan.expect.push({ secret: ksName, versionId: vid, stage: STAGE_PENDING }, { secret: ksName, versionId: prevVid, stage: STAGE_CURRENT });
        docCurrent = previous;
        docAccepted = [local.keyset];
      } else if (pend.versionId === vid && !publishedDocument(p, local, previous, remote.document)) {
        // a publish that stopped after staging the key set: its document is written before any switch
        plan.phase = 'publish';
        plan.items.push(ksItem('publish', 'finishes a publish that stopped before the document was written'));
        plan.steps.push({ kind: 'tag', secret: ksName, tags: tags(previous, rotationTag('publish', gen, o.now)) });
        plan.expect.push({ secret: ksName, versionId: vid, stage: STAGE_PENDING }, { secret: ksName, versionId: prevVid, stage: STAGE_CURRENT });
        docCurrent = previous;
        docAccepted = [local.keyset];
      } else if (pend.versionId === vid) {
        plan.phase = 'switch';
        plan.notBefore = waitFor('publish', waits.publishMs);
        plan.items.push(ksItem('switch'));
        plan.steps.push(
          { kind: 'move', secret: ksName, stage: STAGE_CURRENT, to: vid, from: prevVid },
          { kind: 'unstage', secret: ksName, stage: STAGE_PENDING, from: vid },
          { kind: 'tag', secret: ksName, tags: tags(local.keyset, rotationTag('switch', gen, o.now)) },
        );
        plan.expect.push({ secret: ksName, versionId: vid, stage: STAGE_CURRENT }, { secret: ksName, versionId: prevVid, stage: STAGE_PREVIOUS }, { secret: ksName, versionId: vid, stage: STAGE_PENDING, absent: true });
        docAccepted = [previous];
      } else {
        return refuse('ROTATION_IN_PROGRESS', `${describeVersion(pend)} is already pending in ${ksName}`, 'finish or undo that rotation first (ima-qs keys status)');
      }
    } else if (cur.versionId === vid) {
      if (pend?.versionId === vid) {
        plan.phase = 'switch'; // a switch that stopped after moving AWSCURRENT: finish it
        plan.items.push(ksItem('switch'));
        plan.steps.push({ kind: 'unstage', secret: ksName, stage: STAGE_PENDING, from: vid }, { kind: 'tag', secret: ksName, tags: tags(local.keyset, rotationTag('switch', gen, o.now)) });
        plan.expect.push({ secret: ksName, versionId: vid, stage: STAGE_PENDING, absent: true });
        docAccepted = [previous];
      } else if (prev?.versionId === prevVid) {
        plan.phase = 'retire';
        plan.notBefore = waitFor('switch', waits.overlapMs);
        plan.items.push(ksItem('retire'));
        plan.steps.push({ kind: 'unstage', secret: ksName, stage: STAGE_PREVIOUS, from: prevVid }, { kind: 'tag', secret: ksName, tags: tags(local.keyset, rotationTag('done', gen, o.now)) });
        plan.expect.push({ secret: ksName, versionId: vid, stage: STAGE_CURRENT }, { secret: ksName, versionId: prevVid, stage: STAGE_PREVIOUS, absent: true });
      } else if (prev) {
        return refuse('ROTATION_IN_PROGRESS', `${describeVersion(prev)} is AWSPREVIOUS in ${ksName}, not generation ${previous.statement.generation}`, 'retire it with the key folder of the generation after it');
      } else {
        plan.phase = 'none';
        plan.items.push(ksItem('unchanged', `generation ${gen} is current and the rotation is complete`));
      }
    } else {
      return refuse('KEY_CONFLICT', `${ksName} holds ${describeVersion(cur)} as current; this folder rotates from generation ${previous.statement.generation} to ${gen}`, 'ima-qs keys status shows what custody holds');
    }
  }
  if (o.expectPhase && o.expectPhase !== plan.phase) {
    return refuse('PHASE_OUT_OF_ORDER', `the next step for generation ${gen} is ${plan.phase === 'none' ? 'nothing' : plan.phase}, not ${o.expectPhase}`);
  }

  // the document: its version id is its digest, so "unchanged" is a metadata comparison
  if (writeDocument) {
    const doc = remote.document;
    const text = publicKeysDocumentText(createPublicKeysDocument({ root: local.root, current: docCurrent, accepted: docAccepted }));
    const dvid = documentVersionId(text);
    const dversions = custodyVersions(doc);
    const dcur = stageHolder(dversions, STAGE_CURRENT);
    const item = (action: PlanAction, reason?: string): PlanItem => ({
      name: docName,
      role: 'public-keys',
      action,
      detail: `current generation ${docCurrent.statement.generation}${docAccepted.length ? `, accepted ${docAccepted.map((s) => s.statement.generation).join(', ')}` : ''}`,
      versionId: dvid,
      ...(reason ? { reason } : {}),
    });
    if (doc?.deletionDate) return refuse('SECRET_PENDING_DELETION', `${docName} is scheduled for deletion`, 'restore it (aws secretsmanager restore-secret --secret-id NAME), then run again');
    const dtags = { project: 'ima-qs', kind: 'public-keys', generation: String(docCurrent.statement.generation), root };
    if (dcur?.versionId === dvid) plan.items.push(item('unchanged'));
    else {
      plan.documentText = text;
      if (!doc) {
        plan.items.push(item('create'));
        plan.steps.push({ kind: 'create', secret: docName, role: 'public-keys', versionId: dvid });
      } else {
        const docKmsChange = doc.kmsKeyId !== undefined && !sameKmsKey(doc.kmsKeyId, o.kmsKeyArn);
        plan.items.push({ ...item(dversions.length === 0 ? 'fill' : 'update'), ...(docKmsChange ? { kmsChange: true } : {}) });
        if (docKmsChange) plan.steps.push({ kind: 'set-kms', secret: docName });
        plan.steps.push(
          dversions.some((v) => v.versionId === dvid)
            ? { kind: 'move', secret: docName, stage: STAGE_CURRENT, to: dvid, ...(dcur ? { from: dcur.versionId } : {}) }
            : { kind: 'put', secret: docName, role: 'public-keys', versionId: dvid },
          { kind: 'tag', secret: docName, tags: dtags },
        );
      }
      plan.expect.push({ secret: docName, versionId: dvid, stage: STAGE_CURRENT });
    }
  }
  return plan;
}

/** True when the document custody serves is the one a publish of `local` writes (current: previous, accepted: local). */
function publishedDocument(p: CryptoProvider, local: LocalKeySet, previous: SignedKeySet, doc: SecretDescription | undefined): boolean {
  const text = publicKeysDocumentText(createPublicKeysDocument({ root: local.root, current: previous, accepted: [local.keyset] }));
  const id = documentVersionId(text);
  return custodyVersions(doc).some((v) => v.versionId === id && v.stages.includes(STAGE_CURRENT));
}
