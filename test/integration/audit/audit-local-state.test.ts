/**
 * `audit … --state DIR` on the local stack's own state folder (SPEC §9): while `local up` runs
 * (its dynalite, found through STATE/stack.json) and after it stopped (STATE/db opened by the
 * command itself). The chain is appended to the stack's audit store with the service's AuditChain,
 * anchored in the stack's simulated bank, which verify then uses by default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../../src/local/local-stack.js';
import { loadPrivateKeys, fingerprints, publicKeysOf } from '../../../src/keys/key-dir.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { runCli } from '../../helpers/cli.js';
import { buildChain, p, removeDir, tempDir } from './fixtures.js';

let root: string;
let stack: LocalStack | undefined;

beforeAll(() => {
  root = tempDir();
});
afterAll(async () => {
  await stack?.stop();
  removeDir(root);
});

describe('audit --state on the local stack', () => {
  it('reads and verifies the running stack, and the stopped one', async () => {
    const state = join(root, 'state');
    stack = await startLocalStack({ stateDir: state, anchor: { kind: 'simulated' }, port: 0, workers: 0 });
    const keys = await loadPrivateKeys(p, join(state, 'keys'));
    const k = { keys, dir: join(state, 'keys'), fp: fingerprints(publicKeysOf(keys)) };
    await buildChain(k, stack.audit, new SimulatedBank(join(state, 'tpm-sim.json')), stack.chains[0], [2, 1], { pcr: 11 });

    const running = await runCli(['audit', 'verify', '--state', state, '--json']);
    expect(running.code, running.stderr).toBe(0);
    const doc = running.json();
    expect(doc.source).toContain('running stack');
    expect(doc.chains[0]).toMatchObject({ chain: 'local/0', entries: 3, batches: 2 });
    expect(doc.chains[0].compared).toMatchObject({ status: 'match' }); // the stack's simulated bank, by default
    expect(doc.evidence.source).toContain('SIMULATED');

    const tail = await runCli(['audit', 'tail', '--state', state, '--decrypt', '--json']);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.json().entries.map((e: { seq: number; route: string; signature: string }) => [e.seq, e.route, e.signature])).toEqual([
      [0, 'analyze', 'batch'],
      [1, 'patents', 'batch'],
      [2, 'analyze', 'batch'],
    ]);

    await stack.stop();
    stack = undefined;
    const stopped = await runCli(['audit', 'verify', '--state', state, '--json']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.json().source).not.toContain('running');
    expect(stopped.json().chains[0]).toMatchObject({ chain: 'local/0', entries: 3 });
  });
});
