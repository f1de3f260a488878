/**
 * Issues 13 and 14 together (SPEC §8.11, §9): `local up` with two pipeline threads registers both
 * chains (local/0, local/1) before their first entry, and the checkpoint writer on the main thread
 * checkpoints each chain from the statements the threads post to it; `audit verify --state` then
 * finds every entry of both chains covered by their final checkpoints. Deleting the newest
 * statement-covered entries of one chain is found through that chain's checkpoint.
 */
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_KEY, TableAuditStore } from '../../../src/audit/audit-store.js';
import { DynamoTable, toDynamo } from '../../../src/aws/dynamo-table.js';
import { BlackBoxClient } from '../../../src/client/black-box-client.js';
import { startLocalStack } from '../../../src/local/local-stack.js';
import { DEFAULT_TABLES } from '../../../src/protocol/records.js';
import { runCli } from '../../helpers/cli.js';
import { p, removeDir, tempDir } from './fixtures.js';

const CHAINS = ['local/0', 'local/1'];
let root: string;
let state: string;

beforeAll(async () => {
  root = tempDir();
  state = join(root, 'state');
  const stack = await startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 2, metrics: false, checkpoints: { everyEntries: 2, everyMs: 3_600_000 } });
  try {
    expect(stack.chains).toEqual(CHAINS);
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: p, timeoutMs: 60_000 });
    // two rounds of six at once: both pipelines get work (the consumer hands a batch to a free one)
    for (let round = 0; round < 2; round++) {
      const rs = await Promise.all(
        Array.from({ length: 6 }, (_, i) => client.request('analyze', { name: `f${round}-${i}.ts`, content: `export const x${i} = ${round};\ntest('x', () => {});\n` })),
      );
      for (const r of rs) expect(r.checks.every((c) => c.ok)).toBe(true);
    }
  } finally {
    await stack.stop(); // the final checkpoint of each chain
  }
}, 180_000);

afterAll(() => {
  if (root) removeDir(root);
});

async function verify(dir: string) {
  const r = await runCli(['audit', 'verify', '--state', dir, '--json']);
  return { ...r, doc: r.json() };
}

type ChainDoc = { chain: string; entries: number; checkpoints?: { registered: boolean; latest?: { size: number } } };

describe('local up --workers 2: every pipeline chain registered and checkpointed', () => {
  it('both chains are registered; audit verify covers all 12 entries with the final checkpoints', async () => {
    const registry = readdirSync(join(state, 'checkpoints', 'registry')).sort();
    expect(registry).toEqual(CHAINS.map((c) => `${encodeURIComponent(c)}.json`));
    const r = await verify(state);
    expect(r.code, r.stdout).toBe(0);
    const chains = (r.doc.chains as ChainDoc[]).filter((c) => CHAINS.includes(c.chain));
    expect(chains.map((c) => c.chain).sort()).toEqual(CHAINS);
    expect(chains.reduce((n, c) => n + c.entries, 0)).toBe(12);
    for (const c of chains) {
      expect(c.checkpoints?.registered, c.chain).toBe(true);
      if (c.entries > 0) expect(c.checkpoints?.latest?.size, c.chain).toBe(c.entries);
    }
  });

  it("one chain's checkpointed tail deleted (its statements left): found as missing in that chain", async () => {
    const dir = join(root, 'copy');
    cpSync(state, dir, { recursive: true });
    rmSync(join(dir, 'tpm-sim.json'), { force: true });
    const server: Server = dynalite({ path: join(dir, 'db'), createTableMs: 0 });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    const c = new DynamoDBClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    let victim: { chain: string; seq: number };
    try {
      const store = new TableAuditStore(new DynamoTable(c, DEFAULT_TABLES.audit, AUDIT_KEY));
      const heads = await Promise.all(CHAINS.map(async (chain) => ({ chain, head: (await store.range(chain, { descending: true, limit: 1 }))[0]?.seq })));
      const h = heads.find((x) => x.head !== undefined)!;
      victim = { chain: h.chain, seq: h.head! };
      await c.send(new DeleteItemCommand({ TableName: DEFAULT_TABLES.audit, Key: toDynamo({ chain: victim.chain, seq: victim.seq }) }));
    } finally {
      c.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
    const r = await verify(dir);
    expect(r.code, r.stdout).toBe(1);
    expect(r.doc.error.details).toMatchObject({ chain: victim.chain, seq: victim.seq, kind: 'missing' });
  });
});
