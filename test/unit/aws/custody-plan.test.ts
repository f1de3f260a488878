import { describe, expect, it } from 'vitest';
import { type CustodyPlan, type RemoteSecret, decideDocument, decideKey, refusedItems, sameKmsKey, writesIn } from '../../../src/aws/key-custody.js';
import { checkKmsKeyRef, assertUsableForSecrets, type KmsKeyInfo } from '../../../src/aws/key-service.js';
import { checkPrefix, encodeKeySecret, parseKeySecret, secretTags } from '../../../src/aws/secret-format.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('plan decisions (pure)', () => {
  const table: [string, RemoteSecret, boolean, string][] = [
    ['missing', { exists: false }, false, 'create'],
    ['same key', { exists: true, fingerprint: A, currentVersionId: 'v1' }, false, 'unchanged'],
    ['same key, rotating', { exists: true, fingerprint: A, currentVersionId: 'v1' }, true, 'unchanged'],
    ['different key', { exists: true, fingerprint: B, currentVersionId: 'v1' }, false, 'conflict'],
    ['different key, rotating', { exists: true, fingerprint: B, currentVersionId: 'v1' }, true, 'rotate'],
    ['not ours', { exists: true, foreign: 'is not JSON', currentVersionId: 'v1' }, false, 'conflict'],
    ['not ours, rotating', { exists: true, foreign: 'is not JSON', currentVersionId: 'v1' }, true, 'rotate'],
    ['pending deletion', { exists: true, deletionDate: new Date('2026-12-01T00:00:00Z') }, true, 'blocked'],
  ];
  for (const [name, remote, rotate, action] of table) {
    it(`key secret ${name}${rotate ? ' (rotate)' : ''} → ${action}`, () => {
      expect(decideKey(A, remote, rotate).action).toBe(action);
    });
  }

  it('the document is created, kept, replaced when stale, blocked when pending deletion', () => {
    expect(decideDocument({ exists: false }).action).toBe('create');
    expect(decideDocument({ exists: true, documentMatches: true }).action).toBe('unchanged');
    expect(decideDocument({ exists: true, documentMatches: false, documentReason: 'expired' })).toEqual({ action: 'update', reason: 'expired' });
    expect(decideDocument({ exists: true, deletionDate: new Date() }).action).toBe('blocked');
  });

  it('refused items stop the plan; writes are creates, rotations and updates', () => {
    const item = (action: any) => ({ name: action, role: 'mlkem' as const, algorithm: 'ML-KEM-768', action, fingerprint: A });
    const plan: CustodyPlan = { prefix: 'p', kmsKeyArn: 'arn', items: ['create', 'unchanged', 'conflict', 'rotate', 'update', 'blocked'].map(item) };
    expect(refusedItems(plan).map((i) => i.action)).toEqual(['conflict', 'blocked']);
    expect(writesIn(plan).map((i) => i.action)).toEqual(['create', 'rotate', 'update']);
  });

  it('compares KMS keys given as ARN or bare id', () => {
    const arn = 'arn:aws:kms:eu-central-1:123456789012:key/0f0e0d0c-1111-2222-3333-444455556666';
    expect(sameKmsKey(arn, arn)).toBe(true);
    expect(sameKmsKey('0f0e0d0c-1111-2222-3333-444455556666', arn)).toBe(true);
    expect(sameKmsKey('alias/other', arn)).toBe(false);
  });
});

describe('secret format (SPEC §7.1)', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMDQCAQAwCwYJYIZIAWUDBAMTBCKAIA==\n-----END PRIVATE KEY-----\n';
  const good = encodeKeySecret({ algorithm: 'ML-DSA-87', fingerprint: A, pem, created: '2026-11-28T12:00:00Z' });

  it('round-trips', () => {
    expect(JSON.parse(good)).toEqual({ format: 'ima-qs-secret/v1', algorithm: 'ML-DSA-87', fingerprint: A, pem, created: '2026-11-28T12:00:00Z' });
    expect(parseKeySecret(good, 'ML-DSA-87')).toMatchObject({ ok: true, secret: { fingerprint: A } });
  });

  const bad: [string, string][] = [
    ['not JSON', 'hunter2'],
    ['an array', '[]'],
    ['another format', good.replace('ima-qs-secret/v1', 'ima-qs-secret/v2')],
    ['upper-case fingerprint', good.replace(A, A.toUpperCase())],
    ['short fingerprint', good.replace(A, A.slice(2))],
    ['no pem', JSON.stringify({ ...JSON.parse(good), pem: 42 })],
    ['bad date', JSON.stringify({ ...JSON.parse(good), created: 'yesterday' })],
    ['an unknown member', JSON.stringify({ ...JSON.parse(good), expanded: 'x' })],
  ];
  for (const [name, text] of bad) {
    it(`says why it is not ours: ${name}`, () => {
      const r = parseKeySecret(text, 'ML-DSA-87');
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBeTruthy();
        expect(r.reason).not.toContain('hunter2'); // never the value
      }
    });
  }
  it('another algorithm is not this secret', () => {
    expect(parseKeySecret(good, 'ML-KEM-768').ok).toBe(false);
  });

  it('checks prefixes and KMS key references at the boundary', () => {
    for (const ok of ['ima/quantum', 'prod/ima-qs', 'a', 'x_y+z=w.v@u-1']) expect(checkPrefix(ok)).toBe(ok);
    for (const no of ['', '/ima', 'ima/', 'ima//q', 'ima quantum', 'ima/ü']) {
      expect(() => checkPrefix(no)).toThrow(expect.objectContaining({ code: 'BAD_PREFIX', exitCode: 3 }));
    }
    for (const ok of ['alias/ima-qs', '0f0e0d0c-1111-2222-3333-444455556666', 'mrk-0123456789abcdef0123456789abcdef', 'arn:aws:kms:eu-central-1:123456789012:key/0f0e0d0c-1111-2222-3333-444455556666', 'arn:aws:kms:eu-central-1:123456789012:alias/ima']) {
      expect(checkKmsKeyRef(ok)).toBe(ok);
    }
    for (const no of ['ima', 'alias/', 'arn:aws:s3:::bucket', 'alias/with space']) {
      expect(() => checkKmsKeyRef(no)).toThrow(expect.objectContaining({ code: 'BAD_KMS_KEY', exitCode: 3 }));
    }
    expect(secretTags('P-384', A)).toEqual({ project: 'ima-qs', algorithm: 'P-384', fingerprint: A });
  });

  it('accepts only enabled symmetric encryption keys', () => {
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
    expect(codeOf({ state: 'PendingImport', enabled: false })).toBe('KMS_KEY_DISABLED');
    expect(codeOf({ keySpec: 'ECC_NIST_P384', keyUsage: 'SIGN_VERIFY' })).toBe('KMS_KEY_UNSUITABLE');
  });
});
