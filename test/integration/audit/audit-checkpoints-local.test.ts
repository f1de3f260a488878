/**
 * Issue 14 against `local up` (SPEC §8.11, §9): the stack registers its chain and writes signed
 * checkpoints to STATE/checkpoints (every 3 entries here, and at stop); eight real requests go
 * through the client; then, on copies of the stopped stack's state folder, the tampering kinds of
 * the moto test — each found and located by `ima-qs audit verify --state COPY`. The copies also
 * lose STATE/tpm-sim.json (an insider with the folder can delete the simulated bank): what is left
 * to find the tampering is the checkpoints.
 */
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { chmodSync, cpSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { toDynamo, DynamoTable } from '../../../src/aws/dynamo-table.js';
import { BlackBoxClient } from '../../../src/client/black-box-client.js';
import { toBase64 } from '../../../src/crypto/bytes.js';
import { canonicalJson } from '../../../src/crypto/canonical-json.js';
import { signJson } from '../../../src/crypto/signature.js';
import { loadAuditKey } from '../../../src/keys/audit-key.js';
import { fingerprints, loadPrivateKeys, publicKeysOf } from '../../../src/keys/key-dir.js';
import { startLocalStack } from '../../../src/local/local-stack.js';
import type { BatchStatement } from '../../../src/protocol/batch-statement.js';
import { checkpointKey, encodeStored, type SignedCheckpoint } from '../../../src/protocol/checkpoint.js';
import { DEFAULT_TABLES } from '../../../src/protocol/records.js';
import { parseStrictJson } from '../../../src/protocol/strict-json.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { runCli } from '../../helpers/cli.js';
import { buildChain, p, removeDir, tempDir } from './fixtures.js';

/** `--workers 0`: one pipeline on the main thread, its chain local/0 (SPEC §9) */
const CHAIN = 'local/0';
let root: string;
let state: string;

beforeAll(async () => {
  root = tempDir();
  state = join(root, 'state');
  const stack = await startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 0, checkpoints: { everyEntries: 3, everyMs: 3_600_000 } });
  try {
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: p, timeoutMs: 30_000 });
    for (let i = 0; i < 8; i++) {
      const r = await client.request('analyze', { name: `f${i}.ts`, content: `export const x${i} = ${i};\ntest('x', () => {});\n` });
      expect(r.checks.every((c) => c.ok)).toBe(true);
    }
  } finally {
    await stack.stop(); // the final checkpoint
  }
}, 120_000);

afterAll(() => {
  if (root) removeDir(root);
});

let n = 0;
/** A copy of the stopped stack's state, without its simulated bank. */
function copy(): string {
  const dir = join(root, `copy-${++n}`);
  cpSync(state, dir, { recursive: true });
  rmSync(join(dir, 'tpm-sim.json'), { force: true });
  return dir;
}

/** Raw access to a copy's tables (its dynalite LevelDB, opened by the test and closed again). */
async function withDb<T>(dir: string, fn: (c: DynamoDBClient, store: TableAuditStore) => Promise<T>): Promise<T> {
  const server: Server = dynalite({ path: join(dir, 'db'), createTableMs: 0 });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  try {
    return await fn(client, new TableAuditStore(new DynamoTable(client, DEFAULT_TABLES.audit, AUDIT_KEY)));
  } finally {
    client.destroy();
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

const del = (c: DynamoDBClient, chain: string, seq: number) => c.send(new DeleteItemCommand({ TableName: DEFAULT_TABLES.audit, Key: toDynamo({ chain, seq }) }));
const putStatement = (c: DynamoDBClient, seq: number, statement: string, signature: string) =>
  c.send(new PutItemCommand({ TableName: DEFAULT_TABLES.audit, Item: toDynamo({ chain: `${CHAIN}#batches`, seq, statement, signature }) }));

async function verify(dir: string) {
  const r = await runCli(['audit', 'verify', '--state', dir, '--json']);
  return { ...r, doc: r.json() };
}

async function expectProblem(dir: string, seq: number, kind: string) {
  const r = await verify(dir);
  expect(r.code, r.stdout).toBe(1);
  expect(r.doc.error.details).toEqual({ chain: CHAIN, seq, kind });
  return r;
}

describe('local up writes STATE/checkpoints; audit verify --state finds the tampering', () => {
  it('the untouched state verifies: registered, the final checkpoint covers all 8 entries, labelled honestly', async () => {
    const names = readdirSync(join(state, 'checkpoints', 'checkpoints', encodeURIComponent(CHAIN)));
    expect(names.length).toBeGreaterThanOrEqual(3); // at 3, at 6, and at stop (8)
    const r = await verify(copy());
    expect(r.code, r.stdout).toBe(0);
    expect(r.doc.chains[0]).toMatchObject({ chain: CHAIN, entries: 8, anchor: 'signed hash chain with checkpoints; no hardware anchor' });
    expect(r.doc.chains[0].checkpoints).toMatchObject({ registered: true, latest: { size: 8 } });
    expect(r.doc.checkpointStore.location).toContain('checkpoints');
    const tail = await runCli(['audit', 'tail', '--state', state, '-n', '1']);
    expect(tail.stdout).toContain('yes (signed hash chain with checkpoints; no hardware anchor)');
    expect(tail.stdout).not.toMatch(/\bTPM\b/);
  });

  it('the tail truncated at a batch boundary, with its statements: missing at 6', async () => {
    const dir = copy();
    await withDb(dir, async (c, store) => {
      const sts = await store.batches(CHAIN, { from: 6 });
      for (const s of [6, 7]) await del(c, CHAIN, s);
      for (const b of sts) await del(c, `${CHAIN}#batches`, b.first_seq);
    });
    const r = await expectProblem(dir, 6, 'missing');
    expect(r.doc.error.message).toContain('checkpoint');
  });

  it('an entry deleted in the middle: missing at 4', async () => {
    const dir = copy();
    await withDb(dir, (c) => del(c, CHAIN, 4));
    await expectProblem(dir, 4, 'missing');
  });

  it('the whole chain deleted: missing at 0', async () => {
    const dir = copy();
    await withDb(dir, async (c, store) => {
      const sts = await store.batches(CHAIN);
      for (let s = 0; s < 8; s++) await del(c, CHAIN, s);
      for (const b of sts) await del(c, `${CHAIN}#batches`, b.first_seq);
    });
    await expectProblem(dir, 0, 'missing');
  });

  it('simulated flipped in the statement covering seq 3, re-signed with the decision key of STATE/keys: altered at 3', async () => {
    const dir = copy();
    const keys = await loadPrivateKeys(p, join(dir, 'keys'));
    const first = await withDb(dir, async (c, store) => {
      const [b] = await store.batches(CHAIN, { to: 3, descending: true, limit: 1 });
      const st = parseStrictJson(b.statement) as BatchStatement;
      const flipped = { ...st, pcr: { ...st.pcr, simulated: false } };
      await putStatement(c, b.first_seq, canonicalJson(flipped), toBase64(signJson(p, keys.mldsa, 'batch', flipped)));
      return b.first_seq;
    });
    await expectProblem(dir, first, 'altered');
  });

  it('the whole history rewritten and re-signed with the decision key: altered at 0', async () => {
    const dir = copy();
    const keys = await loadPrivateKeys(p, join(dir, 'keys'));
    const k = { keys, dir: join(dir, 'keys'), fp: fingerprints(publicKeysOf(keys)) };
    await withDb(dir, async (c, store) => {
      const sts = await store.batches(CHAIN);
      for (let s = 0; s < 8; s++) await del(c, CHAIN, s);
      for (const b of sts) await del(c, `${CHAIN}#batches`, b.first_seq);
      await buildChain(k, store, new SimulatedBank(join(root, `forged-${n}.json`)), CHAIN, [3, 3, 2], { pcr: 11, start: 100 });
    });
    await expectProblem(dir, 0, 'altered');
  });

  it('a checkpoint file deleted between two others, or rewritten (even with the audit key of STATE/keys): found by the links', async () => {
    const removed = copy();
    const dirOf = (d: string) => join(d, 'checkpoints', 'checkpoints', encodeURIComponent(CHAIN));
    const cp1 = checkpointKey(CHAIN, 1).split('/').pop()!;
    unlinkSync(join(dirOf(removed), cp1));
    const r1 = await expectProblem(removed, 3, 'checkpoint');
    expect(r1.doc.error.message).toContain(`checkpoint 1 of chain ${CHAIN} is missing`);

    const rewritten = copy();
    const file = join(dirOf(rewritten), cp1);
    const audit = await loadAuditKey(p, join(rewritten, 'keys'));
    const have = parseStrictJson(readFileSync(file, 'utf8')) as unknown as SignedCheckpoint;
    // re-signed by the certified audit key itself, at a time inside its statement's validity
    const cp = { ...have.checkpoint, reason: have.checkpoint.reason === 'stop' ? ('count' as const) : ('stop' as const) };
    chmodSync(file, 0o644);
    writeFileSync(file, encodeStored({ checkpoint: cp, signature: toBase64(signJson(p, audit.key, 'checkpoint', cp)) }));
    await expectProblem(rewritten, 6, 'forked');
  });
});
