// Under Node 24 (OpenSSL 3.5): a signature made through the KMS EMULATOR (test/helpers/
// kms-emulator.ts; the real @aws-sdk/client-kms, Sign with MessageType EXTERNAL_MU over the μ the
// worker computes) verifies with native crypto.verify(null, M, {key, context}) for each of our
// context strings — and not under another context, nor without one.
import * as nc from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsSigner, KmsSigningKey } from '../../src/aws/kms-signer.js';
import { utf8 } from '../../src/crypto/bytes.js';
import { encodePublicKeyPem } from '../../src/crypto/key-codec.js';
import { getProvider } from '../../src/crypto/providers.js';
import { SIGNATURE_CONTEXTS, type SignaturePurpose } from '../../src/crypto/signature.js';
import { startKmsEmulator, type KmsEmulator } from '../helpers/kms-emulator.js';
import { nativePq, nativePresenceTest, skipReason } from './native.js';

const pq = nc as unknown as { verify(alg: null, data: Uint8Array, key: { key: KeyObject; context?: Uint8Array }, sig: Uint8Array): boolean };
let emu: KmsEmulator;
let client: KMSClient;

beforeAll(async () => {
  emu = await startKmsEmulator();
  client = new KMSClient({ region: emu.region, endpoint: emu.endpoint, credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' }, maxAttempts: 1 });
});
afterAll(async () => {
  client?.destroy();
  await emu?.close();
});

describe('OpenSSL 3.5 verifies KMS (emulator) EXTERNAL_MU signatures with our contexts', () => {
  nativePresenceTest();

  it.skipIf(!nativePq)(`crypto.verify with each context (skipped when ${skipReason})`, async () => {
    const kms = new KmsSigningKey(client);
    const arn = await kms.create({ description: 'interop', tags: {} });
    const signer = await KmsSigner.open(getProvider('node'), kms, arn);
    const key = nc.createPublicKey(encodePublicKeyPem('ML-DSA-87', signer.publicKey));
    const purposes = Object.keys(SIGNATURE_CONTEXTS) as SignaturePurpose[];
    const msg = utf8('{"decision":{"outcome":"approve"}}');
    const sigs = await signer.signAll(purposes.map((purpose) => ({ purpose, bytes: msg })));
    purposes.forEach((purpose, i) => {
      expect(pq.verify(null, msg, { key, context: utf8(SIGNATURE_CONTEXTS[purpose]) }, sigs[i]), purpose).toBe(true);
      const other = purposes[(i + 1) % purposes.length];
      expect(pq.verify(null, msg, { key, context: utf8(SIGNATURE_CONTEXTS[other]) }, sigs[i]), `${purpose} under ${other}`).toBe(false);
      expect(pq.verify(null, msg, { key }, sigs[i]), `${purpose} without a context`).toBe(false);
    });
  });
});
