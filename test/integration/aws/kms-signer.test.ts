/**
 * The online decisions signer held in AWS KMS (SPEC §7.4, §8.8 SIGNER=kms:<arn>), against a
 * KMS-protocol EMULATOR (test/helpers/kms-emulator.ts) — not AWS: moto 5.2.1 has no ML-DSA key
 * specs. The real @aws-sdk/client-kms speaks the AWS JSON 1.1 protocol to it; real ML-DSA-87
 * (noble) signs underneath. Shown here:
 *   - Sign with MessageType RAW signs M' with an EMPTY context; EXTERNAL_MU signs our μ — which
 *     makes an ordinary ML-DSA-87 signature under our context strings (noble and our providers
 *     verify it; node:crypto under Node 24 in test/interop/kms-external-mu.test.ts);
 *   - KmsSigner (the Signer port) signs every purpose; a wrong answer never leaves it;
 *   - a decision signed through KMS by a key the offline root certified verifies with
 *     `ima-qs verify --pin ROOT` alone; the same response pinned to anything else fails `signer key`;
 *   - `keys signer create --kms` creates the key and writes its public key; `keys certify
 *     --kms-signer` certifies it; the worker's configuration takes SIGNER=kms:<key arn> only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand, VerifyCommand } from '@aws-sdk/client-kms';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsSigner, KmsSigningKey } from '../../../src/aws/kms-signer.js';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { toBase64, utf8 } from '../../../src/crypto/bytes.js';
import { decodeKeyDer, fingerprint } from '../../../src/crypto/key-codec.js';
import { externalMu } from '../../../src/crypto/mldsa-mu.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { SIGNATURE_CONTEXTS, verifyBytes, type SignaturePurpose } from '../../../src/crypto/signature.js';
import { readKeySetFile } from '../../../src/keys/key-set-files.js';
import { certifyKeySet } from '../../../src/protocol/keyset.js';
import { DECISIONS_KEY, REQUESTS_KEY, encodeQueued } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { workerConfig } from '../../../src/service/config.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { processBatch } from '../../../src/service/worker/pipeline.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { recipientPublicKey, publicKeysOf } from '../../../src/keys/key-dir.js';
import { runCli } from '../../helpers/cli.js';
import { startKmsEmulator, type KmsEmulator } from '../../helpers/kms-emulator.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { CLEAN_CODE, memoryLogger, openDecision, pipelineDeps, serviceFixture, tempDir } from '../../unit/service/fixtures.js';

const PURPOSES = Object.keys(SIGNATURE_CONTEXTS) as SignaturePurpose[];
let emu: KmsEmulator;
let client: KMSClient;
let kms: KmsSigningKey;
const dir = tempDir('ima-kms-');

beforeAll(async () => {
  emu = await startKmsEmulator();
  client = new KMSClient({ region: emu.region, endpoint: emu.endpoint, credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' }, maxAttempts: 1 });
  kms = new KmsSigningKey(client);
});
afterAll(async () => {
  client?.destroy();
  await emu?.close();
});

describe('KMS ML-DSA-87 through the real SDK (emulator)', () => {
  it('GetPublicKey gives an SPKI our decoder reads; RAW signs with the empty context, EXTERNAL_MU signs our μ', async () => {
    const p = getProvider('noble');
    const arn = await kms.create({ description: 'test', tags: { project: 'ima-qs' } });
    expect(arn).toMatch(/^arn:aws:kms:eu-central-1:\d{12}:key\/[0-9a-f-]{36}$/);
    const out = await client.send(new GetPublicKeyCommand({ KeyId: arn }));
    expect(out).toMatchObject({ KeySpec: 'ML_DSA_87', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ML_DSA_SHAKE_256'] });
    const pk = decodeKeyDer(p, new Uint8Array(out.PublicKey!), 'public', 'kms').publicKey;
    expect(pk.length).toBe(2592);

    const m = utf8('{"decision":"approve"}');
    const raw = await client.send(new SignCommand({ KeyId: arn, Message: m, MessageType: 'RAW', SigningAlgorithm: 'ML_DSA_SHAKE_256' }));
    const rawSig = new Uint8Array(raw.Signature!);
    expect(ml_dsa87.verify(rawSig, m, pk)).toBe(true); // M' with an empty context
    expect(verifyBytes(p, pk, 'decision2', m, rawSig)).toBe(false); // not under ours: why RAW cannot serve

    for (const purpose of PURPOSES) {
      const ctx = utf8(SIGNATURE_CONTEXTS[purpose]);
      const mu = externalMu(pk, ctx, m);
      const sig = new Uint8Array((await client.send(new SignCommand({ KeyId: arn, Message: mu, MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).Signature!);
      expect(sig.length, purpose).toBe(4627);
      expect(ml_dsa87.verify(sig, m, pk, { context: ctx }), purpose).toBe(true);
      for (const q of [getProvider('noble'), getProvider('node')]) expect(verifyBytes(q, pk, purpose, m, sig), `${purpose} ${q.name}`).toBe(true);
      // a signature for one purpose never verifies for another
      const other = PURPOSES.find((x) => x !== purpose)!;
      expect(verifyBytes(p, pk, other, m, sig)).toBe(false);
      // KMS Verify over μ agrees
      const v = await client.send(new VerifyCommand({ KeyId: arn, Message: mu, MessageType: 'EXTERNAL_MU', Signature: sig, SigningAlgorithm: 'ML_DSA_SHAKE_256' }));
      expect(v.SignatureValid).toBe(true);
    }
    // the emulator refuses what KMS refuses: an EXTERNAL_MU message that is not 64 bytes
    await expect(client.send(new SignCommand({ KeyId: arn, Message: m, MessageType: 'EXTERNAL_MU', SigningAlgorithm: 'ML_DSA_SHAKE_256' }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('KmsSigner signs every purpose in order; a corrupted answer is KMS_BAD_SIGNATURE; a disabled key is refused (exit 4)', async () => {
    const p = getProvider('node');
    const arn = await kms.create({ description: 'test', tags: {} });
    const signer = await KmsSigner.open(p, kms, arn, { concurrency: 3 });
    expect(signer.fingerprint).toBe(fingerprint('ML-DSA-87', signer.publicKey));
    const items = PURPOSES.map((purpose, i) => ({ purpose, value: { i, purpose } }));
    const sigs = await signer.signAll(items);
    sigs.forEach((sig, i) => expect(verifyBytes(p, signer.publicKey, items[i].purpose, utf8(JSON.stringify({ i, purpose: items[i].purpose })), sig), items[i].purpose).toBe(true));
    const signs = emu.calls.filter((c) => c.op === 'Sign' && c.body.KeyId === arn);
    expect(signs.length).toBe(PURPOSES.length);
    expect(signs.every((c) => c.body.MessageType === 'EXTERNAL_MU' && c.body.SigningAlgorithm === 'ML_DSA_SHAKE_256')).toBe(true);

    emu.corruptNextSignature();
    await expect(signer.signAll([{ purpose: 'batch', value: { x: 1 } }])).rejects.toMatchObject({ code: 'KMS_BAD_SIGNATURE', exitCode: 4 });
    emu.disable(arn);
    await expect(signer.signAll([{ purpose: 'batch', value: { x: 1 } }])).rejects.toMatchObject({ exitCode: 4 });
    await expect(KmsSigner.open(p, kms, 'arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({ code: 'AWS_NOT_FOUND' });
  });

  it('a decision signed through KMS by a key the root certifies verifies with the root pin alone', async () => {
    const p = getProvider('node');
    const f = serviceFixture();
    const arn = await kms.create({ description: 'decisions signer', tags: {} });
    const signer = await KmsSigner.open(p, kms, arn);
    // the offline root certifies the KMS key as the decisions signer of a generation
    const root = p.mldsa87.fromSeed();
    const keyset = certifyKeySet(p, root, { kem: recipientPublicKey(publicKeysOf(f.keys)), decisions: signer.publicKey, audit: f.audit.publicKey, notBefore: new Date(Date.now() - 60_000) });
    const certification = { root: toBase64(root.publicKey), keyset };
    const decisions = new MemoryTable('d', DECISIONS_KEY);
    const deps = pipelineDeps({
      requests: new MemoryTable('r', REQUESTS_KEY),
      decisions,
      auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)),
      pcrBank: new SimulatedBank(join(dir, 'pcr.json')),
      log: memoryLogger(),
      signer,
      signerFingerprint: signer.fingerprint,
      certification,
    });
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: CLEAN_CODE });
    const [out] = await processBatch(deps, [encodeQueued(r.handle, 'analyze', Date.now(), r.sealed)]);
    expect(out).toMatchObject({ status: 'decided' });
    const item = await decisions.get({ id: r.handle });
    const response = openDecision(toBase64(item!.sealed as Uint8Array), r.replyKey) as any;
    expect(response.signer.fingerprint).toBe(signer.fingerprint);
    const pin = fingerprint('ML-DSA-87', root.publicKey);
    expect(verifyResponse(p, response, pin, { requestDigest: r.handle }).checks.filter((c) => !c.ok)).toEqual([]);
    const file = join(dir, 'kms-response.json');
    writeFileSync(file, JSON.stringify(response));
    const ok = await runCli(['verify', file, '--pin', pin, '--json']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.json().generation).toBe(1);
    // pinned to the KMS key itself (the online key), or to another root: `signer key` fails
    for (const wrong of [signer.fingerprint, fingerprint('ML-DSA-87', f.root)]) {
      const no = await runCli(['verify', file, '--pin', wrong, '--json']);
      expect(no.code).toBe(1);
      expect(no.json().error.details.failed).toContain('signer key');
    }
  });

  it('keys signer create --kms writes the public key; keys certify --kms-signer certifies it; SIGNER=kms:<arn> is validated', async () => {
    const env = { ...process.env, AWS_ENDPOINT_URL_KMS: emu.endpoint, AWS_REGION: emu.region, AWS_ACCESS_KEY_ID: 'emulator', AWS_SECRET_ACCESS_KEY: 'emulator', AWS_EC2_METADATA_DISABLED: 'true' };
    const out = join(dir, 'kms_signer_public.key');
    const c = await runCli(['keys', 'signer', 'create', '--kms', '--out', out, '--alias', 'alias/ima-qs-signer', '--json'], { env });
    expect(c.code, c.stdout + c.stderr).toBe(0);
    const created = c.json();
    expect(created.signer).toBe(`kms:${created.keyArn}`);
    expect(emu.calls.some((x) => x.op === 'CreateAlias' && x.body.AliasName === 'alias/ima-qs-signer')).toBe(true);
    const p = getProvider('node');
    const keysDir = join(dir, 'kms-keys');
    const k = await writeCertifiedKeyDir(p, keysDir, join(dir, 'kms-root'));
    const cert = await runCli(['keys', 'certify', '--root', join(dir, 'kms-root'), '--keys', keysDir, '--kms-signer', out, '--previous', join(keysDir, 'keyset.json'), '--force', '--json']);
    expect(cert.code, cert.stdout).toBe(0);
    expect(cert.json()).toMatchObject({ generation: 2, root: k.pin, signers: { decisions: created.fingerprint } });
    expect((await readKeySetFile(join(keysDir, 'keyset.json'))).statement.signers.decisions.fingerprint).toBe(created.fingerprint);
    // the worker takes a key ARN only (IAM grants kms:Sign on it; an alias can be re-pointed)
    const base = { QUEUE_URL: 'http://127.0.0.1:1/q', IMA_QS_PCR_ANCHOR: '/x' };
    expect(workerConfig({ ...base, IMA_QS_PCR_ANCHOR: 'simulated:/tmp/x.json', SIGNER: `kms:${created.keyArn}` }).signer).toEqual({ kind: 'kms', keyArn: created.keyArn });
    expect(workerConfig({ ...base, IMA_QS_PCR_ANCHOR: 'simulated:/tmp/x.json' }).signer).toEqual({ kind: 'keyset' });
    for (const bad of ['kms:alias/ima-qs-signer', 'kms:', 'hsm:x', `kms:${created.keyArn} `]) {
      expect(() => workerConfig({ ...base, IMA_QS_PCR_ANCHOR: 'simulated:/tmp/x.json', SIGNER: bad })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', details: { variables: ['SIGNER'] } }));
    }
  });
});
