/**
 * A KMS-protocol EMULATOR for tests — not AWS KMS. moto 5.2.1 (the one on this machine) has no
 * ML-DSA key specs, so the KMS signer is tested against this small server instead: the AWS JSON
 * 1.1 protocol (POST /, `X-Amz-Target: TrentService.<Operation>`, base64 blobs in JSON, errors as
 * `{"__type", "message"}` with HTTP 400), spoken to by the real @aws-sdk/client-kms, with real
 * ML-DSA-87 (@noble/post-quantum) underneath. It implements only what ima-qs calls or the tests
 * need: CreateKey (ML_DSA_87 / SIGN_VERIFY), CreateAlias, DescribeKey, GetPublicKey, Sign (RAW and
 * EXTERNAL_MU with ML_DSA_SHAKE_256, as KMS documents them: RAW ≤ 4096 bytes signed with an empty
 * context, EXTERNAL_MU exactly 64 bytes) and Verify. It checks no credentials and signs no
 * requests. Loopback only, one per test file.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';

const SPKI_PREFIX = Uint8Array.from([0x30, 0x82, 0x0a, 0x32, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x13, 0x03, 0x82, 0x0a, 0x21, 0x00]);
const ACCOUNT = '123456789012';

interface EmulatedKey {
  keyId: string;
  arn: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  description: string;
  created: number;
  enabled: boolean;
}

export interface KmsEmulator {
  endpoint: string;
  region: string;
  /** every operation received, in order (X-Amz-Target without the prefix) */
  calls: { op: string; body: Record<string, unknown> }[];
  keys: Map<string, EmulatedKey>;
  /** makes the next Sign answer a corrupted signature (to test the signer's own check) */
  corruptNextSignature(): void;
  /** disables a key (Sign then fails with DisabledException) */
  disable(keyId: string): void;
  close(): Promise<void>;
}

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string') throw new KmsFault('ValidationException', `${what} is required`);
  return new Uint8Array(Buffer.from(s, 'base64'));
};

export async function startKmsEmulator(region = 'eu-central-1'): Promise<KmsEmulator> {
  const keys = new Map<string, EmulatedKey>();
  const aliases = new Map<string, string>();
  const calls: KmsEmulator['calls'] = [];
  let corrupt = false;

  const find = (ref: unknown): EmulatedKey => {
    if (typeof ref !== 'string' || !ref) throw new KmsFault('ValidationException', 'KeyId is required');
    let id = ref;
    if (ref.startsWith('alias/')) id = aliases.get(ref) ?? '';
    const m = /^arn:aws:kms:[a-z0-9-]+:\d{12}:(key\/(.+)|alias\/.+)$/.exec(ref);
    if (m) id = m[2] ?? aliases.get(ref.slice(ref.indexOf('alias/'))) ?? '';
    const k = keys.get(id);
    if (!k) throw new KmsFault('NotFoundException', `Key '${ref}' does not exist`);
    return k;
  };
  const metadata = (k: EmulatedKey) => ({
    AWSAccountId: ACCOUNT,
    KeyId: k.keyId,
    Arn: k.arn,
    CreationDate: k.created,
    Enabled: k.enabled,
    Description: k.description,
    KeyUsage: 'SIGN_VERIFY',
    KeyState: k.enabled ? 'Enabled' : 'Disabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    KeySpec: 'ML_DSA_87',
    CustomerMasterKeySpec: 'ML_DSA_87',
    SigningAlgorithms: ['ML_DSA_SHAKE_256'],
    MultiRegion: false,
  });
  const checkSigning = (body: Record<string, unknown>): { k: EmulatedKey; message: Uint8Array; type: string } => {
    const k = find(body.KeyId);
    if (!k.enabled) throw new KmsFault('DisabledException', `${k.arn} is disabled.`);
    if (body.SigningAlgorithm !== 'ML_DSA_SHAKE_256') throw new KmsFault('InvalidKeyUsageException', `Signing algorithm ${String(body.SigningAlgorithm)} is not supported by ML_DSA_87 keys`);
    const type = (body.MessageType as string | undefined) ?? 'RAW';
    const message = unb64(body.Message, 'Message');
    if (type === 'RAW' && (message.length < 1 || message.length > 4096)) throw new KmsFault('ValidationException', 'Message must be 1 to 4096 bytes');
    if (type === 'EXTERNAL_MU' && message.length !== 64) throw new KmsFault('ValidationException', 'An EXTERNAL_MU message must be 64 bytes');
    if (type !== 'RAW' && type !== 'EXTERNAL_MU') throw new KmsFault('ValidationException', `MessageType ${type} is not supported for ML_DSA_SHAKE_256`);
    return { k, message, type };
  };

  const ops: Record<string, (body: Record<string, unknown>) => unknown> = {
    CreateKey(body) {
      if (body.KeySpec !== 'ML_DSA_87' || body.KeyUsage !== 'SIGN_VERIFY') {
        throw new KmsFault('UnsupportedOperationException', `this emulator creates ML_DSA_87 / SIGN_VERIFY keys only, not ${String(body.KeySpec)} / ${String(body.KeyUsage)}`);
      }
      const keyId = randomUUID();
      const { secretKey, publicKey } = ml_dsa87.keygen();
      const k: EmulatedKey = { keyId, arn: `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`, secretKey, publicKey, description: String(body.Description ?? ''), created: Math.floor(Date.now() / 1000), enabled: true };
      keys.set(keyId, k);
      return { KeyMetadata: metadata(k) };
    },
    CreateAlias(body) {
      const k = find(body.TargetKeyId);
      const name = String(body.AliasName ?? '');
      if (!/^alias\/[A-Za-z0-9/_-]+$/.test(name) || name.startsWith('alias/aws/')) throw new KmsFault('ValidationException', 'bad alias name');
      if (aliases.has(name)) throw new KmsFault('AlreadyExistsException', `An alias with the name ${name} already exists`);
      aliases.set(name, k.keyId);
      return {};
    },
    DescribeKey: (body) => ({ KeyMetadata: metadata(find(body.KeyId)) }),
    GetPublicKey(body) {
      const k = find(body.KeyId);
      const spki = new Uint8Array(SPKI_PREFIX.length + k.publicKey.length);
      spki.set(SPKI_PREFIX);
      spki.set(k.publicKey, SPKI_PREFIX.length);
      return { KeyId: k.arn, PublicKey: b64(spki), KeySpec: 'ML_DSA_87', CustomerMasterKeySpec: 'ML_DSA_87', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ML_DSA_SHAKE_256'] };
    },
    Sign(body) {
      const { k, message, type } = checkSigning(body);
      // RAW: KMS formats M' itself, with an empty context; EXTERNAL_MU: the caller's μ is signed
      const sig = type === 'RAW' ? ml_dsa87.sign(message, k.secretKey) : ml_dsa87.internal.sign(message, k.secretKey, { externalMu: true });
      if (corrupt) {
        corrupt = false;
        sig[10] ^= 1;
      }
      return { KeyId: k.arn, Signature: b64(sig), SigningAlgorithm: 'ML_DSA_SHAKE_256' };
    },
    Verify(body) {
      const { k, message, type } = checkSigning(body);
      const sig = unb64(body.Signature, 'Signature');
      const ok = type === 'RAW' ? ml_dsa87.verify(sig, message, k.publicKey) : ml_dsa87.internal.verify(sig, message, k.publicKey, { externalMu: true });
      if (!ok) throw new KmsFault('KMSInvalidSignatureException', 'the signature does not verify');
      return { KeyId: k.arn, SignatureValid: true, SigningAlgorithm: 'ML_DSA_SHAKE_256' };
    },
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
      const send = (status: number, doc: unknown, type?: string) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), ...(type ? { 'x-amzn-errortype': type } : {}) });
        res.end(JSON.stringify(doc));
      };
      try {
        if (req.method !== 'POST' || !ops[op]) throw new KmsFault('UnknownOperationException', `unknown operation ${target.slice(0, 60)}`);
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        calls.push({ op, body });
        send(200, ops[op](body));
      } catch (err) {
        const fault = err instanceof KmsFault ? err : new KmsFault('KMSInternalException', String((err as Error)?.message ?? err));
        send(fault.type === 'KMSInternalException' ? 500 : 400, { __type: fault.type, message: fault.message }, fault.type);
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    calls,
    keys,
    corruptNextSignature: () => {
      corrupt = true;
    },
    disable: (keyId: string) => {
      const k = find(keyId);
      k.enabled = false;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
