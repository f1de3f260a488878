/**
 * Issue 14, shown against moto_server (DynamoDB, and S3 with versioning and Object Lock in
 * compliance mode): a real chain written by the service's AuditChain with the real checkpoint
 * writer (registration, then a checkpoint after each group commit: sizes 3, 6, 10), then one
 * insider action per test — with DynamoDB write access, with the decision key, with write access
 * to the bucket — each detected and located by `ima-qs audit verify --checkpoints s3://…`
 * (exit 1, chain, seq and kind asserted), and the untouched log verifies.
 */
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client, CreateBucketCommand, PutObjectLockConfigurationCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3CheckpointStore } from '../../../src/aws/checkpoint-store-s3.js';
import { toBase64, utf8 } from '../../../src/crypto/bytes.js';
import { canonicalJson } from '../../../src/crypto/canonical-json.js';
import { signJson } from '../../../src/crypto/signature.js';
import type { BatchStatement } from '../../../src/protocol/batch-statement.js';
import { checkpointKey, encodeStored, registrationKey, type SignedCheckpoint } from '../../../src/protocol/checkpoint.js';
import { parseStrictJson } from '../../../src/protocol/strict-json.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { runCli } from '../../helpers/cli.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { auditKeyFixture, chainWriter, snapshotBank, type AuditKeyFixture } from './checkpoint-fixtures.js';
import { buildChain, dynamoRaw, p, removeDir, tempDir, type Dynalite, type RawStore } from './fixtures.js';

const CHAIN = 'task-0123456789abcdef/0';
const BUCKET = 'ima-checkpoints-test';
const REGION = 'us-east-1';
let moto: Moto;
let s3: S3Client;
let ddb: Dynalite;
let root: string;
let k: AuditKeyFixture;

beforeAll(async () => {
  root = tempDir();
  k = await auditKeyFixture(root);
  moto = await startMoto();
  const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  s3 = new S3Client({ endpoint: moto.endpoint, region: REGION, forcePathStyle: true, credentials: creds });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET, ObjectLockEnabledForBucket: true }));
  await s3.send(new PutObjectLockConfigurationCommand({ Bucket: BUCKET, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } } } }));
  const client = new DynamoDBClient({ endpoint: moto.endpoint, region: REGION, credentials: creds });
  ddb = { url: moto.endpoint, env: moto.env, client, close: async () => client.destroy() };
}, 60_000);

afterAll(async () => {
  await ddb?.close();
  s3?.destroy();
  await moto?.stop();
  if (root) removeDir(root);
});

let n = 0;
interface Case {
  raw: RawStore;
  prefix: string;
  cps: S3CheckpointStore;
  bankFile: string;
  /** the bank right after the first commit (to fork the chain from seq 3) */
  afterFirst: string;
}

/** 10 entries in commits of 3, 3, 4 (seq 0-2, 3-5, 6-9), a checkpoint after each (sizes 3, 6, 10). */
async function fresh(): Promise<Case> {
  const i = ++n;
  const raw = await dynamoRaw(ddb);
  const prefix = `case-${i}`;
  const cps = new S3CheckpointStore(s3, { bucket: BUCKET, prefix: `${prefix}/` });
  const bankFile = join(root, `bank-${i}.json`);
  const afterFirst = join(root, `bank-${i}-after-first.json`);
  const w = await chainWriter(k, raw.store, cps, bankFile, CHAIN);
  await w.commit([3], { checkpointAfter: [0] });
  snapshotBank(bankFile, afterFirst);
  await w.commit([3, 4], { checkpointAfter: [0, 1] });
  return { raw, prefix, cps, bankFile, afterFirst };
}

async function verify(c: Case, ...extra: string[]) {
  const r = await runCli(['audit', 'verify', ...c.raw.flags, '--key', k.dir, '--checkpoints', `s3://${BUCKET}/${c.prefix}`, '--pin', k.pin, '--json', ...extra], {
    env: { ...process.env, ...moto.env, AWS_REGION: REGION },
  });
  return { ...r, doc: r.json() };
}

async function expectProblem(c: Case, chain: string, seq: number, kind: string) {
  const r = await verify(c);
  expect(r.code, r.stdout).toBe(1);
  expect(r.doc.error.details).toEqual({ chain, seq, kind });
  return r;
}

async function statementAt(c: Case, firstSeq: number): Promise<{ st: BatchStatement; signature: string }> {
  const [b] = await c.raw.store.batches(CHAIN, { from: firstSeq, to: firstSeq });
  return { st: parseStrictJson(b.statement) as BatchStatement, signature: b.signature };
}

describe('audit verify with checkpoints in S3 with Object Lock (moto_server)', () => {
  it('the untouched log verifies: registered, checkpointed to 10, nothing pending; entries after the last checkpoint are reported', async () => {
    const c = await fresh();
    const r = await verify(c);
    expect(r.code, r.stdout).toBe(0);
    const chain = r.doc.chains.find((x: { chain: string }) => x.chain === CHAIN);
    expect(chain.checkpoints).toMatchObject({ registered: true, latest: { index: 2, size: 10 } });
    expect(chain.checkpoints.notYetCheckpointed).toBeUndefined();
    expect(chain.anchor).toBe('signed hash chain with checkpoints; no hardware anchor');
    // two more entries, no checkpoint yet: still ok, counted, with their age
    const w = await chainWriter(k, c.raw.store, c.cps, c.bankFile, CHAIN);
    await w.commit([2], { start: 10 });
    const later = await verify(c);
    expect(later.code, later.stdout).toBe(0);
    const ch = later.doc.chains.find((x: { chain: string }) => x.chain === CHAIN);
    expect(ch.checkpoints.notYetCheckpointed).toMatchObject({ count: 2 });
    expect(ch.checkpoints.notYetCheckpointed.ageSeconds).toBeGreaterThanOrEqual(0);
    const human = await runCli(['audit', 'verify', ...c.raw.flags, '--key', k.dir, '--checkpoints', `s3://${BUCKET}/${c.prefix}`, '--pin', k.pin], { env: { ...process.env, ...moto.env } });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${CHAIN}: 2 entries not yet checkpointed`);
  });

  it('tail truncation at a batch boundary, its statement deleted too: missing at 6 (the checkpoint covers it)', async () => {
    const c = await fresh();
    for (const s of [6, 7, 8, 9]) await c.raw.remove(CHAIN, s);
    await c.raw.putBatch(CHAIN, 6, undefined);
    const r = await expectProblem(c, CHAIN, 6, 'missing');
    expect(r.doc.error.message).toContain('checkpoint 2');
    // without the checkpoints the same table passes (what they are for)
    const blind = await runCli(['audit', 'verify', ...c.raw.flags, '--key', k.dir, '--json'], { env: { ...process.env, ...moto.env } });
    expect(blind.code).toBe(0);
  });

  it('an entry deleted in the middle: missing at 4', async () => {
    const c = await fresh();
    await c.raw.remove(CHAIN, 4);
    await expectProblem(c, CHAIN, 4, 'missing');
  });

  it('a whole chain deleted (entries and statements): the registry still lists it, missing at 0', async () => {
    const c = await fresh();
    for (let s = 0; s < 10; s++) await c.raw.remove(CHAIN, s);
    for (const b of [0, 3, 6]) await c.raw.putBatch(CHAIN, b, undefined);
    const r = await expectProblem(c, CHAIN, 0, 'missing');
    expect(r.doc.error.message).toContain('the chain was deleted');
  });

  it('simulated flipped in a batch statement: altered at 3 (without a key the signature breaks; re-signed with the decision key the checkpoint does)', async () => {
    const c = await fresh();
    const { st, signature } = await statementAt(c, 3);
    const flipped = { ...st, pcr: { ...st.pcr, simulated: !st.pcr.simulated } };
    await c.raw.putBatch(CHAIN, 3, { statement: canonicalJson(flipped), signature });
    await expectProblem(c, CHAIN, 3, 'altered');
    await c.raw.putBatch(CHAIN, 3, { statement: canonicalJson(flipped), signature: toBase64(signJson(p, k.keys.mldsa, 'batch', flipped)) });
    const r = await expectProblem(c, CHAIN, 3, 'altered');
    expect(r.doc.error.message).toContain('is not the one checkpoint 1');
  });

  it('the history rewritten from seq 3 and re-signed with the decision key: the chain is consistent, the checkpoints locate it at 3', async () => {
    const c = await fresh();
    // the insider's copy: entries 0-2 as they are, then other decisions from seq 3, from the pcr value after seq 2
    const scratch = await dynamoRaw(ddb);
    for (const rec of await c.raw.store.range(CHAIN, { to: 2 })) await scratch.put(rec);
    const [b0] = await c.raw.store.batches(CHAIN, { from: 0, to: 0 });
    await scratch.putBatch(CHAIN, 0, { statement: b0.statement, signature: b0.signature });
    const forgedBank = join(root, `forged-${n}.json`);
    snapshotBank(c.afterFirst, forgedBank);
    await buildChain(k, scratch.store, new SimulatedBank(forgedBank), CHAIN, [3, 4], { start: 500 });
    for (const rec of await scratch.store.range(CHAIN, { from: 3 })) await c.raw.put(rec);
    for (const b of await scratch.store.batches(CHAIN, { from: 3 })) await c.raw.putBatch(CHAIN, b.first_seq, { statement: b.statement, signature: b.signature });
    // the table alone verifies: every link, root and signature holds
    const blind = await runCli(['audit', 'verify', ...c.raw.flags, '--key', k.dir, '--json'], { env: { ...process.env, ...moto.env } });
    expect(blind.code, blind.stdout).toBe(0);
    await expectProblem(c, CHAIN, 3, 'altered');
  });

  it('the whole history re-signed with the decision key: altered at 0', async () => {
    const c = await fresh();
    const scratch = await dynamoRaw(ddb);
    await buildChain(k, scratch.store, new SimulatedBank(join(root, `whole-${n}.json`)), CHAIN, [3, 3, 4], { start: 900 });
    for (const rec of await scratch.store.range(CHAIN)) await c.raw.put(rec);
    for (const b of await scratch.store.batches(CHAIN)) await c.raw.putBatch(CHAIN, b.first_seq, { statement: b.statement, signature: b.signature });
    await expectProblem(c, CHAIN, 0, 'altered');
  });

  it('a chain appended without a registration (the decision key writing a chain of its own): unregistered', async () => {
    const c = await fresh();
    await buildChain(k, c.raw.store, new SimulatedBank(join(root, `rogue-${n}.json`)), 'rogue', [2], { start: 700 });
    await expectProblem(c, 'rogue', 0, 'unregistered');
  });

  it('a checkpoint overwritten (even re-signed with the audit key) is a second version: forked at 3; a version cannot be deleted', async () => {
    const c = await fresh();
    const key = `${c.prefix}/${checkpointKey(CHAIN, 1)}`;
    const have = parseStrictJson(Buffer.from((await c.cps.get(checkpointKey(CHAIN, 1)))!).toString()) as unknown as SignedCheckpoint;
    const cp = { ...have.checkpoint, time: '2026-01-01T00:00:00.000Z' };
    const forged: SignedCheckpoint = { checkpoint: cp, signature: toBase64(signJson(p, k.audit.key, 'checkpoint', cp)) };
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: encodeStored(forged) }));
    const r = await expectProblem(c, CHAIN, 3, 'forked');
    expect(r.doc.error.message).toContain('2 different versions');
    // object lock (compliance): no version can be deleted, not the first, not the forged one
    const versions = (await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: key }))).Versions ?? [];
    expect(versions).toHaveLength(2);
    for (const v of versions) {
      await expect(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: v.VersionId }))).rejects.toMatchObject({ name: 'AccessDenied' });
    }
  });

  it('a checkpoint deleted: the version is refused deletion, a delete marker is reported (checkpoint at 6)', async () => {
    const c = await fresh();
    const key = `${c.prefix}/${checkpointKey(CHAIN, 2)}`;
    const [v] = (await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: key }))).Versions ?? [];
    await expect(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: v.VersionId }))).rejects.toMatchObject({ name: 'AccessDenied' });
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    const r = await expectProblem(c, CHAIN, 6, 'checkpoint');
    expect(r.doc.error.message).toContain('was deleted');
  });

  it('a registration deleted (delete marker): reported at 0', async () => {
    const c = await fresh();
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${c.prefix}/${registrationKey(CHAIN)}` }));
    await expectProblem(c, CHAIN, 0, 'checkpoint');
  });

  it('a checkpoint signed with the decision key (an insider without the audit key) is not trusted, although the root certifies that key (as the decisions signer)', async () => {
    const c = await fresh();
    const have = parseStrictJson(Buffer.from((await c.cps.get(checkpointKey(CHAIN, 2)))!).toString()) as unknown as SignedCheckpoint;
    const cp = { ...have.checkpoint, index: 3, prev: '0'.repeat(64), signer: k.fp.mldsa };
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${c.prefix}/${checkpointKey(CHAIN, 3)}`, Body: utf8(canonicalJson({ checkpoint: cp, signature: toBase64(signJson(p, k.keys.mldsa, 'checkpoint', cp)) })) }));
    const r = await expectProblem(c, CHAIN, 6, 'checkpoint');
    expect(r.doc.error.message).toMatch(/which no statement of root [0-9a-f]{16}… certifies as its audit signer/);
  });
});
