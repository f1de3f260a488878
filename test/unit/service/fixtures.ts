/**
 * Shared set-up of the service tests: real keys, real crypto, the signed keys document, and
 * APIGatewayProxyEventV2 events shaped exactly as API Gateway HTTP API (payload 2.0) sends them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { AUDIT_KEY, TableAuditStore, type AuditStore } from '../../../src/audit/audit-store.js';
import { fromBase64, toBase64 } from '../../../src/crypto/bytes.js';
import type { CompositeKemPrivateKey } from '../../../src/crypto/composite-kem.js';
import { openBytes } from '../../../src/crypto/envelope.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPrivateKey, recipientPublicKey, type ServiceKeys } from '../../../src/keys/key-dir.js';
import type { CertificationBlock } from '../../../src/protocol/decision-v2.js';
import type { SignedKeySet } from '../../../src/protocol/keyset.js';
import { testKeySet } from '../../helpers/keyset.js';
import { RulesModel } from '../../../src/service/council/councils.js';
import type { PersonaModel } from '../../../src/protocol/council/types.js';
import type { Logger } from '../../../src/service/log.js';
import type { Clock, Table } from '../../../src/ports.js';
import type { APIGatewayProxyEventV2 } from '../../../src/service/proxy/apigw.js';
import type { PublishedKeys } from '../../../src/service/proxy/handler.js';
import { InlineSigner, type Signer } from '../../../src/crypto/signer.js';
import type { PipelineDeps } from '../../../src/service/worker/pipeline.js';
import type { PcrBank } from '../../../src/tpm/pcr-bank.js';
import type { PcrLock } from '../../../src/tpm/pcr-lock.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { DECISIONS_KEY, REQUESTS_KEY, encodeQueued } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { processBatch } from '../../../src/service/worker/pipeline.js';
import { fromHex } from '../../../src/crypto/bytes.js';

export const p: CryptoProvider = getProvider('node');

export interface ServiceFixture {
  keys: ServiceKeys;
  /** the audit key the fixture's statement certifies (signers.audit) */
  audit: import('../../../src/crypto/provider.js').MlDsaPrivateKey;
  fp: ReturnType<typeof fingerprints>;
  /** the root fingerprint: what clients and verify pin (SPEC §1.4) */
  pin: string;
  root: Uint8Array;
  /** the root's private key (tests certify the next generation with it) */
  rootKey: import('../../../src/crypto/provider.js').MlDsaPrivateKey;
  keyset: SignedKeySet;
  certification: CertificationBlock;
  recipient: Uint8Array;
  recipientKey: CompositeKemPrivateKey;
  published: PublishedKeys;
}

let cached: ServiceFixture | undefined;
export function serviceFixture(): ServiceFixture {
  if (cached) return cached;
  const keys = generateServiceKeys(p);
  const pub = publicKeysOf(keys);
  const fp = fingerprints(pub);
  const ks = testKeySet(p, { keys });
  cached = {
    keys,
    audit: ks.audit,
    fp,
    pin: ks.pin,
    root: ks.root.publicKey,
    rootKey: ks.root,
    keyset: ks.keyset,
    certification: ks.certification,
    recipient: recipientPublicKey(pub),
    recipientKey: recipientPrivateKey(keys),
    published: { document: ks.doc, recipientFingerprint: fromHex(fp.composite) },
  };
  return cached;
}

/** A log sink that keeps the lines (and lets tests check that no secret went in). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log(level, msg, fields = {}) {
      lines.push(JSON.stringify({ level, msg, ...fields }));
    },
  };
}

export function event(method: string, path: string, opts: { body?: Uint8Array | string; contentType?: string; base64?: boolean } = {}): APIGatewayProxyEventV2 {
  const now = Date.now();
  const isBin = opts.body instanceof Uint8Array;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {
      accept: '*/*',
      'content-length': String(opts.body ? (isBin ? (opts.body as Uint8Array).length : (opts.body as string).length) : 0),
      ...(opts.contentType !== undefined ? { 'content-type': opts.contentType } : isBin ? { 'content-type': 'application/octet-stream' } : {}),
      host: 'abcdef1234.execute-api.eu-central-1.amazonaws.com',
      'user-agent': 'ima-qs-test',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      domainName: 'abcdef1234.execute-api.eu-central-1.amazonaws.com',
      domainPrefix: 'abcdef1234',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'ima-qs-test' },
      requestId: `req-${now}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(opts.body !== undefined ? { body: isBin ? toBase64(opts.body as Uint8Array) : (opts.body as string) } : {}),
    isBase64Encoded: opts.base64 ?? isBin,
  };
}

export function pipelineDeps(opts: {
  requests: Table;
  decisions: Table;
  auditStore: AuditStore;
  pcrBank: PcrBank;
  pcr?: number;
  clock?: Clock;
  log: Logger;
  signer?: Signer;
  /** with `signer`: its fingerprint and the certification a response carries (default: the fixture's) */
  signerFingerprint?: string;
  certification?: CertificationBlock;
  model?: PersonaModel;
  chain?: string;
  pcrLock?: PcrLock;
}): PipelineDeps {
  const f = serviceFixture();
  const clock = opts.clock ?? { now: () => Date.now() };
  const signer = opts.signer ?? new InlineSigner(p, f.keys.mldsa);
  return {
    p,
    recipientKey: f.recipientKey,
    signer,
    signerFingerprint: opts.signerFingerprint ?? f.fp.mldsa,
    certification: () => opts.certification ?? f.certification,
    model: opts.model ?? new RulesModel(),
    requests: opts.requests,
    decisions: opts.decisions,
    clock,
    log: opts.log,
    audit: new AuditChain(p, {
      chain: opts.chain ?? 'worker-1',
      store: opts.auditStore,
      pcrBank: opts.pcrBank,
      pcr: opts.pcr ?? 16,
      signer,
      signerFingerprint: opts.signerFingerprint ?? f.fp.mldsa,
      recipient: f.recipient,
      recipientFingerprint: f.fp.composite,
      clock,
      ...(opts.pcrLock ? { pcrLock: opts.pcrLock } : {}),
    }),
  };
}

export function tempDir(prefix = 'ima-svc-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Opens a 200 answer of GET /api/decisions/{h} with the client's reply key. */
export function openDecision(body: string, replyKey: CompositeKemPrivateKey): unknown {
  return JSON.parse(new TextDecoder().decode(openBytes(p, replyKey, fromBase64(body))));
}

/**
 * One real response: a clean code-analysis request through the in-memory pipeline (simulated
 * bank), in one group commit with two other requests (so its audit proof has a path), opened with
 * the client's reply key, and the handle it answers.
 */
export async function decidedResponse(): Promise<{ response: any; handle: string }> {
  const f = serviceFixture();
  const decisions = new MemoryTable('d', DECISIONS_KEY);
  const deps = pipelineDeps({
    requests: new MemoryTable('r', REQUESTS_KEY),
    decisions,
    auditStore: new TableAuditStore(new MemoryTable('a', AUDIT_KEY)),
    pcrBank: new SimulatedBank(join(tempDir(), 'pcr.json')),
    log: memoryLogger(),
  });
  const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: CLEAN_CODE });
  const others = [sealRequest(p, f.recipient, 'analyze', { name: 'b.py', content: BAD_CODE }), sealRequest(p, f.recipient, 'patents', { name: 'c.txt', content: 'A method.' })];
  await processBatch(deps, [r, ...others].map((x, i) => encodeQueued(x.handle, i === 2 ? 'patents' : 'analyze', Date.now(), x.sealed)));
  const item = await decisions.get({ id: r.handle });
  return { response: openDecision(toBase64(item!.sealed as Uint8Array), r.replyKey), handle: r.handle };
}

export const CLEAN_CODE = `// adds two numbers
export function add(a: number, b: number): number {
  return a + b;
}
test('add', () => { expect(add(1, 2)).toBe(3); });
`;

export const BAD_CODE = `import pickle, os
password = "hunter2hunter2"
def run(cmd):
    os.system(cmd)  # TODO sanitize
    data = pickle.loads(open('/tmp/x','rb').read())
    eval(cmd)
    q = "SELECT * FROM users WHERE name = '" + cmd + "'"
    try:
        pass
    except:
        pass
    url = "http://example.com/api"
    print("token", password)
    while True:
        md5 = 1
`;
