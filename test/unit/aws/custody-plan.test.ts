/**
 * The custody planner (SPEC §7.2), pure: metadata in (DescribeSecret's version ids and labels),
 * steps out — never a read of a secret value. Upload into an absent, an EMPTY (Terraform) and a
 * current secret; conflicts; the three rotation phases, their order and their waits. And the
 * key-set secret's format (SPEC §7.1): version ids that name the generation, a value that refuses
 * what is not ours (SECRET_MALFORMED, exit 4) without quoting it.
 */
import { describe, expect, it } from 'vitest';
import { ROTATION_WAITS, documentVersionId, planCustody, rotationTag, sameKmsKey, type LocalKeySet, type RemoteSecrets } from '../../../src/aws/key-custody.js';
import { type KmsKeyInfo, assertUsableForSecrets, checkKmsKeyRef } from '../../../src/aws/key-service.js';
import { decodeKeySetSecret, encodeKeySetSecret, keysetVersionId, parseKeysetVersionId } from '../../../src/aws/keyset-secret.js';
import { checkPrefix } from '../../../src/aws/secret-format.js';
import type { SecretDescription } from '../../../src/aws/secret-store.js';
import { encodePrivateKeyPem } from '../../../src/crypto/key-codec.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { createPublicKeysDocument, publicKeysDocumentText } from '../../../src/protocol/keys-document.js';
import { testKeySet } from '../../helpers/keyset.js';

const p = getProvider('node');
const g1 = testKeySet(p);
const g2 = testKeySet(p, { root: g1.root, previous: g1.keyset });
const g3 = testKeySet(p, { root: g1.root, previous: g2.keyset });
const ARN = 'arn:aws:kms:eu-central-1:123456789012:key/0f0e0d0c-1111-2222-3333-444455556666';
const now = new Date('2026-11-28T12:00:00Z');
const vid = (ks: typeof g1) => keysetVersionId(p, ks.keyset);
const local = (ks: typeof g1, previous?: typeof g1): LocalKeySet => ({ root: g1.root.publicKey, keyset: ks.keyset, previous: previous?.keyset, value: () => 'unused' });
const secret = (versions: [string, string[]][], tags: Record<string, string> = {}, extra: Partial<SecretDescription> = {}): SecretDescription => ({
  name: 'ima/quantum/keyset',
  arn: 'arn',
  kmsKeyId: ARN,
  versions: versions.map(([versionId, stages]) => ({ versionId, stages })),
  tags,
  ...extra,
});
const plan = (l: LocalKeySet, remote: RemoteSecrets, mode: 'upload' | 'rotate', o: { at?: Date; immediately?: boolean; expectPhase?: 'publish' } = {}) =>
  planCustody(p, l, remote, { prefix: 'ima/quantum', kmsKeyArn: ARN, mode, now: o.at ?? now, immediately: o.immediately, expectPhase: o.expectPhase });
const kinds = (pl: ReturnType<typeof plan>) => pl.steps.map((s) => `${s.kind}${'stage' in s ? ` ${s.stage}` : ''}${'stages' in s && s.stages ? ` ${s.stages.join(',')}` : ''}`);

describe('keys upload plan', () => {
  it('an absent secret is created with the generation as its first (current) version', () => {
    const pl = plan(local(g1), {}, 'upload');
    expect(pl.refused).toBeUndefined();
    expect(pl.items.map((i) => [i.role, i.action])).toEqual([['keyset', 'create'], ['public-keys', 'create']]);
    expect(pl.steps[0]).toMatchObject({ kind: 'create', versionId: vid(g1) });
    expect(pl.expect).toEqual([{ secret: 'ima/quantum/keyset', versionId: vid(g1), stage: 'AWSCURRENT' }, expect.objectContaining({ stage: 'AWSCURRENT' })]);
  });

  it('an EMPTY secret (no version: as the Terraform creates it) gets its first version — not a conflict', () => {
    const pl = plan(local(g1), { keyset: secret([]), document: secret([]) }, 'upload');
    expect(pl.refused).toBeUndefined();
    expect(pl.items.map((i) => i.action)).toEqual(['fill', 'fill']);
    expect(kinds(pl)).toEqual(['put', 'tag', 'put', 'tag']);
    expect(pl.steps[0]).toMatchObject({ kind: 'put', versionId: vid(g1) });
    expect((pl.steps[0] as { stages?: string[] }).stages).toBeUndefined(); // the first version becomes AWSCURRENT
  });

  it('the same generation again is unchanged: no step, no value read', () => {
    const doc = publicKeysDocumentText(createPublicKeysDocument({ root: g1.root.publicKey, current: g1.keyset }));
    const pl = plan(local(g1), { keyset: secret([[vid(g1), ['AWSCURRENT']]]), document: secret([[documentVersionId(doc), ['AWSCURRENT']]]) }, 'upload');
    expect(pl.items.map((i) => i.action)).toEqual(['unchanged', 'unchanged']);
    expect(pl.steps).toEqual([]);
  });

  it('a stale document is republished under its digest', () => {
    const pl = plan(local(g1), { keyset: secret([[vid(g1), ['AWSCURRENT']]]), document: secret([['pk-old', ['AWSCURRENT']]]) }, 'upload');
    expect(pl.items.map((i) => i.action)).toEqual(['unchanged', 'update']);
    expect(pl.steps[0]).toMatchObject({ kind: 'put', role: 'public-keys' });
    expect(pl.documentText).toBeDefined();
    expect((pl.steps[0] as { versionId: string }).versionId).toBe(documentVersionId(pl.documentText!));
  });

  const conflicts: [string, RemoteSecrets, RegExp][] = [
    ['another, older generation', { keyset: secret([[vid(g1), ['AWSCURRENT']]]) }, /holds generation 1; yours is generation 2/],
    ['a newer generation', { keyset: secret([[vid(g3), ['AWSCURRENT']]]) }, /newer than yours/],
    ['a value not written by ima-qs', { keyset: secret([['0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff', ['AWSCURRENT']]]) }, /not written by ima-qs/],
    ['another statement of the same generation', { keyset: secret([[vid(testKeySet(p, { previous: g1.keyset, root: g1.root })), ['AWSCURRENT']]]) }, /another statement of generation 2/],
    ['the generation pending in a rotation', { keyset: secret([[vid(g1), ['AWSCURRENT']], [vid(g2), ['AWSPENDING']]]) }, /pending/],
  ];
  for (const [name, remote, why] of conflicts) {
    it(`refuses (KEY_CONFLICT, nothing written) when custody holds ${name}`, () => {
      const pl = plan(local(g2, g1), remote, 'upload');
      expect(pl.refused).toMatchObject({ code: 'KEY_CONFLICT' });
      expect(pl.refused!.reason).toMatch(why);
      expect(pl.steps).toEqual([]);
    });
  }

  it('a secret scheduled for deletion is blocked', () => {
    expect(plan(local(g1), { keyset: secret([], {}, { deletionDate: new Date() }) }, 'upload').refused).toMatchObject({ code: 'SECRET_PENDING_DELETION' });
  });

  it('a secret under another KMS key is moved to the named key before its version is written', () => {
    const pl = plan(local(g1), { keyset: secret([], {}, { kmsKeyId: 'arn:aws:kms:eu-central-1:123456789012:key/other' }) }, 'upload');
    expect(kinds(pl)[0]).toBe('set-kms');
    expect(sameKmsKey('0f0e0d0c-1111-2222-3333-444455556666', ARN)).toBe(true);
  });
});

describe('keys rotate: publish → switch → retire', () => {
  /** the document secret as a previous phase left it (another version current) */
  const DOC = secret([['pk-previous-phase', ['AWSCURRENT']]]);
  /** the document a publish of generation 2 writes (current 1, accepted 2) */
  const PUBLISHED = secret([[documentVersionId(publicKeysDocumentText(createPublicKeysDocument({ root: g1.root.publicKey, current: g1.keyset, accepted: [g2.keyset] }))), ['AWSCURRENT']]]);

  it('a publish that stopped after staging the key set finishes its document before any switch', () => {
    const pl = plan(local(g2, g1), { keyset: secret([[vid(g1), ['AWSCURRENT']], [vid(g2), ['AWSPENDING']]], { rotation: rotationTag('publish', 2, now) }), document: DOC }, 'rotate');
    expect(pl.phase).toBe('publish');
    expect(kinds(pl)).toEqual(['tag', 'put', 'tag']);
    expect(JSON.parse(pl.documentText!).accepted.map((a: any) => a.statement.generation)).toEqual([2]);
  });
  const at = (ms: number) => new Date(now.getTime() + ms);
  it('publish: the new generation is staged AWSPENDING; the document keeps the old current and accepts the new', () => {
    const pl = plan(local(g2, g1), { keyset: secret([[vid(g1), ['AWSCURRENT']]]), document: DOC }, 'rotate');
    expect(pl.phase).toBe('publish');
    expect(kinds(pl)).toEqual(['put AWSPENDING', 'tag', 'put', 'tag']);
    const doc = JSON.parse(pl.documentText!);
    expect([doc.current.statement.generation, doc.accepted.map((a: any) => a.statement.generation)]).toEqual([1, [2]]);
    expect((pl.steps[1] as { tags: Record<string, string> }).tags.rotation).toBe(rotationTag('publish', 2, now));
  });

  it('switch: due only after the publish wait (or --immediately); AWSCURRENT moves, AWSPENDING goes; the document seals to the new and still accepts the old', () => {
    const remote = { keyset: secret([[vid(g1), ['AWSCURRENT']], [vid(g2), ['AWSPENDING']]], { rotation: rotationTag('publish', 2, now) }), document: PUBLISHED };
    const early = plan(local(g2, g1), remote, 'rotate', { at: at(ROTATION_WAITS.publishMs - 1000) });
    expect(early.phase).toBe('switch');
    expect(early.notBefore?.getTime()).toBe(now.getTime() + ROTATION_WAITS.publishMs);
    expect(plan(local(g2, g1), remote, 'rotate', { at: at(1000), immediately: true }).notBefore).toBeUndefined();
    const pl = plan(local(g2, g1), remote, 'rotate', { at: at(ROTATION_WAITS.publishMs) });
    expect(pl.notBefore).toBeUndefined();
    expect(kinds(pl)).toEqual(['move AWSCURRENT', 'unstage AWSPENDING', 'tag', 'put', 'tag']);
    expect(pl.steps[0]).toMatchObject({ to: vid(g2), from: vid(g1) });
    const doc = JSON.parse(pl.documentText!);
    expect([doc.current.statement.generation, doc.accepted.map((a: any) => a.statement.generation)]).toEqual([2, [1]]);
    expect(pl.expect).toContainEqual({ secret: 'ima/quantum/keyset', versionId: vid(g1), stage: 'AWSPREVIOUS' });
  });

  it('a switch without a recorded publish time waits forever unless --immediately', () => {
    const remote = { keyset: secret([[vid(g1), ['AWSCURRENT']], [vid(g2), ['AWSPENDING']]]), document: PUBLISHED };
    expect(plan(local(g2, g1), remote, 'rotate', { at: at(86_400_000) }).notBefore!.getTime()).toBeGreaterThan(8e15);
  });

  it('retire: due after the overlap; AWSPREVIOUS is removed; the document lists the new generation alone', () => {
    const remote = { keyset: secret([[vid(g1), ['AWSPREVIOUS']], [vid(g2), ['AWSCURRENT']]], { rotation: rotationTag('switch', 2, now) }), document: DOC };
    expect(plan(local(g2, g1), remote, 'rotate', { at: at(ROTATION_WAITS.overlapMs - 1) }).notBefore).toBeDefined();
    const pl = plan(local(g2, g1), remote, 'rotate', { at: at(ROTATION_WAITS.overlapMs) });
    expect(pl.phase).toBe('retire');
    expect(kinds(pl)).toEqual(['unstage AWSPREVIOUS', 'tag', 'put', 'tag']);
    expect(JSON.parse(pl.documentText!).accepted).toEqual([]);
    expect(pl.expect).toContainEqual({ secret: 'ima/quantum/keyset', versionId: vid(g1), stage: 'AWSPREVIOUS', absent: true });
  });

  it('after retire there is nothing to do', () => {
    const pl = plan(local(g2, g1), { keyset: secret([[vid(g1), []], [vid(g2), ['AWSCURRENT']]]) }, 'rotate');
    expect(pl.phase).toBe('none');
    expect(pl.items[0].action).toBe('unchanged');
  });

  it('refuses out of order: a folder without its previous statement, a custody current that is not its previous, --phase that is not next, an unretired previous', () => {
    expect(plan(local(g2), { keyset: secret([[vid(g1), ['AWSCURRENT']]]) }, 'rotate').refused?.code).toBe('ROTATE_NEEDS_PREVIOUS');
    expect(plan(local(g3, g2), { keyset: secret([[vid(g1), ['AWSCURRENT']]]) }, 'rotate').refused?.code).toBe('KEY_CONFLICT');
    expect(plan(local(g2, g1), { keyset: secret([[vid(g1), ['AWSCURRENT']], [vid(g2), ['AWSPENDING']]]), document: PUBLISHED }, 'rotate', { expectPhase: 'publish' }).refused?.code).toBe('PHASE_OUT_OF_ORDER');
    expect(plan(local(g3, g2), { keyset: secret([[vid(g1), ['AWSPREVIOUS']], [vid(g2), ['AWSCURRENT']]]) }, 'rotate').refused?.code).toBe('ROTATION_IN_PROGRESS');
    expect(plan(local(g2, g1), {}, 'rotate').refused?.code).toBe('KEY_CONFLICT');
  });
});

describe('the key-set secret (SPEC §7.1)', () => {
  it('version ids name generation and statement digest; other ids are not ours', () => {
    expect(vid(g2)).toMatch(/^ks-g000000002-[0-9a-f]{48}$/);
    expect(vid(g2).length).toBeLessThanOrEqual(64);
    expect(parseKeysetVersionId(vid(g2))).toEqual({ generation: 2, digest: vid(g2).slice(-48) });
    expect(parseKeysetVersionId('0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff')).toBeUndefined();
    expect(documentVersionId('x')).toMatch(/^pk-[0-9a-f]{61}$/);
  });

  it('round-trips: the private keys of every role, the statement, the root', () => {
    const text = encodeKeySetSecret({ root: g1.root.publicKey, keyset: g1.keyset, keys: { mlkem: g1.keys.mlkem, ecdh: g1.keys.ecdh, mldsa: g1.keys.mldsa, audit: g1.audit }, created: now });
    const v = decodeKeySetSecret(p, text, 'secret s');
    expect(v.generation).toBe(1);
    expect(Object.keys(v.pems)).toEqual(['mlkem', 'ecdh', 'mldsa', 'audit']);
    expect(encodePrivateKeyPem(v.keys.audit)).toBe(encodePrivateKeyPem(g1.audit));
    expect(encodePrivateKeyPem(v.keys.mldsa!)).toBe(encodePrivateKeyPem(g1.keys.mldsa));
    // without the signer (a KMS-held one): the set holds the KEM keys only
    const kms = decodeKeySetSecret(p, encodeKeySetSecret({ root: g1.root.publicKey, keyset: g1.keyset, keys: { mlkem: g1.keys.mlkem, ecdh: g1.keys.ecdh, audit: g1.audit }, created: now }), 's');
    expect(kms.keys.mldsa).toBeUndefined();
  });

  const good = () => JSON.parse(encodeKeySetSecret({ root: g1.root.publicKey, keyset: g1.keyset, keys: { mlkem: g1.keys.mlkem, ecdh: g1.keys.ecdh, audit: g1.audit }, created: now }));
  const bad: [string, () => unknown, string][] = [
    ['not JSON', () => 'pem: -----BEGIN PRIVATE KEY-----', 'SECRET_MALFORMED'],
    ['another format', () => ({ ...good(), format: 'ima-qs-secret/v1' }), 'SECRET_MALFORMED'],
    ['a generation that is not the statement\'s', () => ({ ...good(), generation: 2 }), 'SECRET_MALFORMED'],
    ['an unknown key role', () => ({ ...good(), keys: { ...good().keys, votes: good().keys.ecdh } }), 'SECRET_MALFORMED'],
    ['no ML-KEM key', () => ({ ...good(), keys: { ecdh: good().keys.ecdh, audit: good().keys.audit } }), 'SECRET_MALFORMED'],
    ['no audit key (every set holds its audit signer, SPEC 7.1)', () => ({ ...good(), keys: { mlkem: good().keys.mlkem, ecdh: good().keys.ecdh } }), 'SECRET_MALFORMED'],
    ['a PEM cut short', () => ({ ...good(), keys: { ...good().keys, mlkem: good().keys.mlkem.slice(0, 80) } }), 'SECRET_MALFORMED'],
    ['an ECDH key where ML-KEM belongs', () => ({ ...good(), keys: { ...good().keys, mlkem: good().keys.ecdh } }), 'SECRET_WRONG_KEY'],
  ];
  for (const [name, make, code] of bad) {
    it(`refuses ${name} as ${code} (exit 4), without the value in the message`, () => {
      const v = make();
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      let err: any;
      try {
        decodeKeySetSecret(p, text, 'secret ima/quantum/keyset');
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code, exitCode: 4 });
      expect(err.message).not.toMatch(/BEGIN|[A-Za-z0-9+/]{60}/);
    });
  }
});

describe('boundaries', () => {
  it('checks prefixes and KMS key references', () => {
    for (const ok of ['ima/quantum', 'prod/ima-qs', 'a', 'x_y+z=w.v@u-1']) expect(checkPrefix(ok)).toBe(ok);
    for (const no of ['', '/ima', 'ima/', 'ima//q', 'ima quantum', 'ima/ü']) expect(() => checkPrefix(no)).toThrow(expect.objectContaining({ code: 'BAD_PREFIX', exitCode: 3 }));
    for (const ok of ['alias/ima-qs', '0f0e0d0c-1111-2222-3333-444455556666', 'mrk-0123456789abcdef0123456789abcdef', ARN, 'arn:aws:kms:eu-central-1:123456789012:alias/ima']) expect(checkKmsKeyRef(ok)).toBe(ok);
    for (const no of ['ima', 'alias/', 'arn:aws:s3:::bucket', 'alias/with space']) expect(() => checkKmsKeyRef(no)).toThrow(expect.objectContaining({ code: 'BAD_KMS_KEY', exitCode: 3 }));
  });

  it('accepts only enabled symmetric encryption keys for the secrets', () => {
    const info: KmsKeyInfo = { keyId: 'k', arn: 'arn', state: 'Enabled', enabled: true, keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', manager: 'CUSTOMER' };
    expect(() => assertUsableForSecrets('k', info)).not.toThrow();
    const codeOf = (i: Partial<KmsKeyInfo>) => {
      try {
        assertUsableForSecrets('k', { ...info, ...i });
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(codeOf({ state: 'Disabled', enabled: false })).toBe('KMS_KEY_DISABLED');
    expect(codeOf({ state: 'PendingDeletion', enabled: false })).toBe('KMS_KEY_PENDING_DELETION');
    expect(codeOf({ keySpec: 'ML_DSA_87', keyUsage: 'SIGN_VERIFY' })).toBe('KMS_KEY_UNSUITABLE');
  });
});
