/**
 * Shared set-up of the audit tests: real service keys on disk, real signed decisions, real chains
 * written by the service's own append code (AuditChain: signatures, conditional appends, group
 * commit into a PCR bank), and raw access to the stored records for the tampering an attacker
 * with write access to the store could do (file edits, or DynamoDB PutItem/DeleteItem).
 */
import { CreateTableCommand, DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { AuditChain } from '../../../src/audit/audit-chain.js';
import { payloadPlaintext, type AuditRecord } from '../../../src/audit/audit-entry.js';
import { FileAuditStore } from '../../../src/audit/audit-store-file.js';
import { AUDIT_KEY, TableAuditStore, type AuditStore } from '../../../src/audit/audit-store.js';
import { toDynamo } from '../../../src/aws/dynamo-table.js';
import { DynamoTable } from '../../../src/aws/dynamo-table.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { fingerprints, generateServiceKeys, publicKeysOf, recipientPublicKey, writeKeyDir, type ServiceKeys } from '../../../src/keys/key-dir.js';
import { decisionDigest, signDecision, type SignedDecision } from '../../../src/protocol/decision.js';
import { decisionDigestV2, signDecisionV2, type SignedDecisionV2 } from '../../../src/protocol/decision-v2.js';
import { legacyCommit } from './legacy-chain.js';
import { InlineSigner } from '../../../src/crypto/signer.js';
import type { PersonaVote } from '../../../src/protocol/council/types.js';
import { councilFor } from '../../../src/protocol/council/rosters.js';
import type { PcrBank } from '../../../src/tpm/pcr-bank.js';

export const p: CryptoProvider = getProvider('node');

export interface KeyFixture {
  keys: ServiceKeys;
  dir: string;
  fp: ReturnType<typeof fingerprints>;
}

export async function keyFixture(root: string, name = 'keys'): Promise<KeyFixture> {
  const keys = generateServiceKeys(p);
  const dir = join(root, name);
  await writeKeyDir(dir, keys);
  return { keys, dir, fp: fingerprints(publicKeysOf(keys)) };
}

export function tempDir(prefix = 'ima-audit-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A few real personas of each council (the decisions here carry 3 votes, enough for the audit code). */
export const personasFor = (route: 'analyze' | 'patents'): string[] => councilFor(route).personas.slice(0, 3).map((x) => x.id);
export const PERSONAS = [...personasFor('analyze'), ...personasFor('patents')];

/** A real signed version 2 decision (one signature; the votes are bound by their Merkle root). */
export async function signedDecisionV2(k: KeyFixture, i: number, route: 'analyze' | 'patents' = 'analyze'): Promise<SignedDecisionV2> {
  const votes: PersonaVote[] = personasFor(route).map((persona, j) => ({
    persona,
    vote: (i + j) % 3 === 0 ? 'reject' : 'approve',
    confidence: 700 + j,
    rationale: `rule ${persona} on request ${i}`,
  }));
  return signDecisionV2(p, new InlineSigner(p, k.keys.mldsa), {
    request_digest: hex64(i, 'a'),
    request_id: `0b0b0b0b-0b0b-4b0b-8b0b-${i.toString(16).padStart(12, '0')}`,
    route,
    council: route === 'analyze' ? 'code-analysis' : 'legal-documents',
    model: 'rules/v1',
    payload_digest: hex64(i, 'c'),
    votes,
    issuedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    signerFingerprint: k.fp.mldsa,
  });
}

/** A real signed version 1 decision (every vote signed: the format before v2, for legacy chains). */
export async function signedDecision(k: KeyFixture, i: number, route: 'analyze' | 'patents' = 'analyze'): Promise<SignedDecision> {
  const votes: PersonaVote[] = personasFor(route).map((persona, j) => ({
    persona,
    vote: (i + j) % 3 === 0 ? 'reject' : 'approve',
    confidence: 700 + j,
    rationale: `rule ${persona} on request ${i}`,
  }));
  return signDecision(p, new InlineSigner(p, k.keys.mldsa), {
    request_digest: hex64(i, 'a'),
    request_id: `req-${i}`,
    route,
    council: route === 'analyze' ? 'code-analysis' : 'legal-documents',
    model: 'rules/v1',
    votes,
    issuedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    signerFingerprint: k.fp.mldsa,
  });
}

function hex64(i: number, fill: string): string {
  return i.toString(16).padStart(64, fill);
}

/**
 * Appends `batches` group commits (sizes) to `chain` with the service's AuditChain (v3 entries,
 * signed batch statements), or with `legacy` the writer of before response v2 (v2 entries, each
 * signed, per-entry anchors: legacy-chain.ts).
 */
export async function buildChain(
  k: KeyFixture,
  store: AuditStore,
  bank: PcrBank,
  chain: string,
  batches: number[],
  opts: { pcr?: number; start?: number; legacy?: boolean } = {},
): Promise<{ decisions: (SignedDecision | SignedDecisionV2)[] }> {
  let t = Date.UTC(2026, 0, 1);
  if (opts.legacy) {
    const decisions: SignedDecision[] = [];
    let i = opts.start ?? 0;
    for (const size of batches) {
      const items = [];
      for (let j = 0; j < size; j++, i++) {
        const d = await signedDecision(k, i, i % 2 ? 'patents' : 'analyze');
        decisions.push(d);
        items.push({ request_digest: d.decision.request_digest, decision_digest: decisionDigest(p, d), plaintext: payloadPlaintext(d) });
      }
      const common = { chain, store, pcrBank: bank, pcr: opts.pcr ?? 16, key: k.keys.mldsa, signerFingerprint: k.fp.mldsa };
      await legacyCommit(p, { ...common, recipient: recipientPublicKey(publicKeysOf(k.keys)), recipientFingerprint: k.fp.composite, time: new Date((t += 1000)).toISOString() }, items);
    }
    return { decisions };
  }
  const ac = new AuditChain(p, {
    chain,
    store,
    pcrBank: bank,
    pcr: opts.pcr ?? 16,
    bank: 'sha256',
    signer: new InlineSigner(p, k.keys.mldsa),
    signerFingerprint: k.fp.mldsa,
    recipient: recipientPublicKey(publicKeysOf(k.keys)),
    recipientFingerprint: k.fp.composite,
    clock: { now: () => (t += 1000) },
  });
  const decisions: SignedDecisionV2[] = [];
  let i = opts.start ?? 0;
  for (const size of batches) {
    const items = [];
    for (let j = 0; j < size; j++, i++) {
      const d = await signedDecisionV2(k, i, i % 2 ? 'patents' : 'analyze');
      decisions.push(d);
      items.push({ request_digest: d.decision.request_digest, decision_digest: decisionDigestV2(p, d), plaintext: payloadPlaintext(d) });
    }
    await ac.commit(items);
  }
  return { decisions };
}

/** Raw write access to a store's records, as an attacker with access to the storage would have. */
export interface RawStore {
  store: AuditStore;
  /** the CLI flags that read this store */
  flags: string[];
  put(rec: AuditRecord): Promise<void>;
  remove(chain: string, seq: number): Promise<void>;
  /** overwrite or (undefined) delete the batch statement stored at first_seq */
  putBatch(chain: string, firstSeq: number, b: { statement: string; signature: string } | undefined): Promise<void>;
}

export function fileRaw(stateDir: string): RawStore {
  const store = FileAuditStore.forState(stateDir);
  const base = (chain: string, seq: number) => join(stateDir, 'audit', encodeURIComponent(chain), String(seq).padStart(12, '0'));
  return {
    store,
    flags: ['--state', stateDir],
    async put(rec) {
      writeFileSync(`${base(rec.chain, rec.seq)}.entry.json`, JSON.stringify({ chain: rec.chain, seq: rec.seq, core: rec.core, digest: rec.digest, signature: rec.signature, payload: rec.payload }));
      const a = `${base(rec.chain, rec.seq)}.anchor.json`;
      if (rec.anchor) writeFileSync(a, JSON.stringify(rec.anchor));
      else rmSync(a, { force: true });
    },
    async remove(chain, seq) {
      unlinkSync(`${base(chain, seq)}.entry.json`);
      rmSync(`${base(chain, seq)}.anchor.json`, { force: true });
    },
    async putBatch(chain, firstSeq, b) {
      const f = `${base(chain, firstSeq)}.batch.json`;
      if (b) writeFileSync(f, JSON.stringify(b));
      else rmSync(f, { force: true });
    },
  };
}

export interface Dynalite {
  url: string;
  env: Record<string, string>;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const server: Server = dynalite({ createTableMs: 0 });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' };
  const client = new DynamoDBClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  return {
    url,
    env,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

export async function createAuditTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'chain', AttributeType: 'S' }, { AttributeName: 'seq', AttributeType: 'N' }],
      KeySchema: [{ AttributeName: 'chain', KeyType: 'HASH' }, { AttributeName: 'seq', KeyType: 'RANGE' }],
    }),
  );
}

let tableCount = 0;
export async function dynamoRaw(d: Dynalite): Promise<RawStore> {
  const name = `ima-tpm-audit-log-${++tableCount}`;
  await createAuditTable(d.client, name);
  const store = new TableAuditStore(new DynamoTable(d.client, name, AUDIT_KEY));
  return {
    store,
    flags: ['--table', name, '--endpoint-url', d.url, '--region', 'us-east-1'],
    async put(rec) {
      const item: Record<string, string | number> = { chain: rec.chain, seq: rec.seq, core: rec.core, digest: rec.digest };
      if (rec.signature !== undefined) item.signature = rec.signature;
      if (rec.payload !== undefined) item.payload = rec.payload;
      if (rec.anchor) item.anchor = JSON.stringify(rec.anchor);
      await d.client.send(new PutItemCommand({ TableName: name, Item: toDynamo(item) }));
    },
    async remove(chain, seq) {
      await d.client.send(new DeleteItemCommand({ TableName: name, Key: toDynamo({ chain, seq }) }));
    },
    async putBatch(chain, firstSeq, b) {
      const key = { chain: `${chain}#batches`, seq: firstSeq };
      if (b) await d.client.send(new PutItemCommand({ TableName: name, Item: toDynamo({ ...key, statement: b.statement, signature: b.signature }) }));
      else await d.client.send(new DeleteItemCommand({ TableName: name, Key: toDynamo(key) }));
    },
  };
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
