/**
 * The worker's audit recipient from its environment (SPEC §8.8 AUDIT_RECIPIENT): unset → the
 * service's own composite key; a key folder or a composite public key file → that auditor key;
 * anything unusable → AUDIT_RECIPIENT_INVALID (exit 3) at start, never the service key instead.
 * workerFromEnv makes no network call before the consumer starts, so this runs without AWS.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAuditRecipient } from '../../../src/audit/audit-recipient.js';
import { encodePrivateKeyPem, encodePublicKeyPem } from '../../../src/crypto/key-codec.js';
import { ImaError } from '../../../src/errors.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPrivateKey, recipientPublicKey, writeKeyDir } from '../../../src/keys/key-dir.js';
import { workerFromEnv } from '../../../src/service/wiring.js';
import { memoryLogger, p, tempDir } from './fixtures.js';

const root = tempDir('ima-auditor-');
const service = generateServiceKeys(p);
const auditor = generateServiceKeys(p);
const serviceFp = fingerprints(publicKeysOf(service));
const auditorFp = fingerprints(publicKeysOf(auditor));
const paths = {
  keys: join(root, 'service-keys'),
  auditor: join(root, 'auditor-keys'),
  auditorPub: join(root, 'auditor.pub.pem'),
  mldsaPub: join(root, 'auditor-keys', 'ml_dsa_87_public.key'),
  compositePrivate: join(root, 'auditor.key.pem'),
  garbage: join(root, 'garbage.pem'),
  privateOnly: join(root, 'private-only'),
};

beforeAll(async () => {
  await writeCertifiedKeyDir(p, paths.keys, join(root, 'keys_root'), { keys: service });
  await writeKeyDir(paths.auditor, auditor);
  writeFileSync(paths.auditorPub, encodePublicKeyPem('MLKEM768-P384', recipientPublicKey(publicKeysOf(auditor))));
  writeFileSync(paths.compositePrivate, encodePrivateKeyPem(recipientPrivateKey(auditor)), { mode: 0o600 });
  writeFileSync(paths.garbage, '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n');
  await writeKeyDir(paths.privateOnly, auditor);
  for (const f of ['ml_kem_768_public.key', 'ecdh_p384_public.key']) rmSync(join(paths.privateOnly, f));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const baseEnv = () => ({
  QUEUE_URL: 'http://127.0.0.1:9/000000000000/ima-quantum-requests',
  IMA_QS_PCR_ANCHOR: `simulated:${join(root, 'pcr.json')}`,
  KEYS_DIR: paths.keys,
  AUDIT_CHAIN_ID: 'worker-test',
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
});

async function refusal(promise: Promise<unknown>): Promise<ImaError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImaError);
  return err as ImaError;
}

describe('worker AUDIT_RECIPIENT', () => {
  it('unset (or empty): payloads are sealed to the service’s own composite key', async () => {
    for (const extra of [{}, { AUDIT_RECIPIENT: '' }]) {
      const w = await workerFromEnv({ ...baseEnv(), ...extra }, memoryLogger(), { inline: true });
      expect(w.auditRecipient).toEqual({ fingerprint: serviceFp.composite, source: 'service key', auditor: false });
      expect(w.deps![0].audit.recipientFingerprint).toBe(serviceFp.composite);
    }
  });

  it('a key folder or a composite public key file: payloads are sealed to the auditor key', async () => {
    for (const path of [paths.auditor, paths.auditorPub]) {
      const w = await workerFromEnv({ ...baseEnv(), AUDIT_RECIPIENT: path }, memoryLogger(), { inline: true });
      expect(w.auditRecipient).toEqual({ fingerprint: auditorFp.composite, source: path, auditor: true });
      expect(w.deps![0].audit.recipientFingerprint).toBe(auditorFp.composite);
      // the service still opens requests with its own key: only the audit recipient changed
      expect(w.deps![0].signerFingerprint).toBe(serviceFp.mldsa);
    }
    expect(auditorFp.composite).not.toBe(serviceFp.composite);
  });

  it.each([
    ['a missing path', () => join(root, 'nothing-here'), 'FILE_NOT_FOUND'],
    ['an ML-DSA-87 public key file', () => paths.mldsaPub, 'KEY_WRONG_ALGORITHM'],
    ['a composite PRIVATE key file', () => paths.compositePrivate, 'KEY_NOT_PUBLIC'],
    ['a file that is not a key', () => paths.garbage, 'KEY_MALFORMED'],
    ['a folder without the public key files', () => paths.privateOnly, 'FILE_NOT_FOUND'],
  ])('%s fails the start with AUDIT_RECIPIENT_INVALID (exit 3), no fallback', async (_what, path, cause) => {
    const e = await refusal(workerFromEnv({ ...baseEnv(), AUDIT_RECIPIENT: path() }, memoryLogger()));
    expect(e.code).toBe('AUDIT_RECIPIENT_INVALID');
    expect(e.exitCode).toBe(3);
    expect(e.details).toEqual({ cause });
    expect(e.message).toContain('AUDIT_RECIPIENT=');
    expect(e.hint).toContain('does not fall back');
  });

  it('is checked before the service keys are read (a bad setting names itself first)', async () => {
    const e = await refusal(workerFromEnv({ ...baseEnv(), KEYS_DIR: join(root, 'no-keys'), AUDIT_RECIPIENT: join(root, 'nothing-here') }, memoryLogger()));
    expect(e.code).toBe('AUDIT_RECIPIENT_INVALID');
  });

  it('loadAuditRecipient resolves a relative path against the given folder and refuses an empty one', async () => {
    expect((await loadAuditRecipient(p, 'auditor-keys', '--audit-recipient', root)).fingerprint).toBe(auditorFp.composite);
    const e = await refusal(loadAuditRecipient(p, '  ', '--audit-recipient'));
    expect(e.code).toBe('AUDIT_RECIPIENT_INVALID');
  });
});
