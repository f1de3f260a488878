/**
 * `ima-qs audit tail` and `audit show`: nothing of a sealed payload appears without the audit
 * recipient key; with `--decrypt --identity DIR` the decisions (and, in show, the votes) do, and
 * their signatures are checked. `tail --follow` streams entries appended while it runs, and stops
 * at --for. One run goes through the built binary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decisionDigest } from '../../../src/protocol/decision.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { repoRoot, runCli, spawnCli } from '../../helpers/cli.js';
import { PERSONAS, personasFor, type Dynalite, type KeyFixture, type RawStore, buildChain, dynamoRaw, fileRaw, keyFixture, p, removeDir, startDynalite, tempDir } from './fixtures.js';

let root: string;
let k: KeyFixture;
let other: KeyFixture;
let dyn: Dynalite;
let stores: Record<'file' | 'dynamo', RawStore>;
let decisions: Record<'file' | 'dynamo', Awaited<ReturnType<typeof buildChain>>['decisions']>;

beforeAll(async () => {
  root = tempDir();
  k = await keyFixture(root, 'keys');
  other = await keyFixture(root, 'other-keys');
  dyn = await startDynalite();
  stores = { file: fileRaw(join(root, 'state')), dynamo: await dynamoRaw(dyn) };
  decisions = {
    file: (await buildChain(k, stores.file.store, new SimulatedBank(join(root, 'pcr-file.json')), 'worker-1', [2, 3])).decisions,
    dynamo: (await buildChain(k, stores.dynamo.store, new SimulatedBank(join(root, 'pcr-dynamo.json')), 'worker-1', [2, 3])).decisions,
  };
});
afterAll(async () => {
  await dyn?.close();
  removeDir(root);
});

const env = () => ({ env: { ...process.env, ...dyn.env } });
/** words that only the sealed payload holds */
const SECRET_WORDS = [...PERSONAS, 'rule ', '0b0b0b0b-0b0b-4b0b-8b0b-', 'inconclusive', 'code-analysis', 'legal-documents'];

describe.each(['file', 'dynamo'] as const)('audit tail and show (%s store)', (kind) => {
  it('tail without --decrypt shows the newest entries, and nothing of the payloads', async () => {
    const s = stores[kind];
    const r = await runCli(['audit', 'tail', ...s.flags, '-n', '3', '--key', k.dir, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.entries.map((e: { seq: number }) => e.seq)).toEqual([2, 3, 4]);
    // v3 entries are signed through their batch statement (audit verify checks it), not one by one
    for (const e of doc.entries) expect(e).toMatchObject({ chain: 'worker-1', route: 'sealed', decision: 'sealed', signature: 'batch', anchored: true, simulated: true });
    const human = await runCli(['audit', 'tail', ...s.flags, '--key', k.dir], env());
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('sealed');
    for (const w of SECRET_WORDS) {
      expect(r.stdout).not.toContain(w);
      expect(human.stdout).not.toContain(w);
    }
  });

  it('tail --decrypt --identity shows route and decision, checked against the entry', async () => {
    const s = stores[kind];
    const r = await runCli(['audit', 'tail', ...s.flags, '-n', '2', '--key', k.dir, '--decrypt', '--identity', k.dir, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.decrypted).toBe(true);
    const want = [decisions[kind][3], decisions[kind][4]].map(({ decision: d }) => [d.route, `${d.outcome} ${d.tally.approve}/${d.tally.reject}/${d.tally.abstain}`]);
    expect(want.map((w) => w[0])).toEqual(['patents', 'analyze']);
    expect(doc.entries.map((e: { route: string; decision: string }) => [e.route, e.decision])).toEqual(want);
    expect(doc.entries.map((e: { payload: string }) => e.payload)).toEqual(['opened', 'opened']);
    // another key folder cannot read them: decryption says no (exit 1), nothing of the payload shows
    const wrong = await runCli(['audit', 'tail', ...s.flags, '-n', '1', '--key', k.dir, '--decrypt', '--identity', other.dir, '--json'], env());
    expect(wrong.code).toBe(1);
    expect(wrong.json().error).toMatchObject({ code: 'AUDIT_WRONG_RECIPIENT', details: { identity: other.fp.composite, recipients: [k.fp.composite] } });
    expect(wrong.json().entries[0]).toMatchObject({ route: 'sealed', decision: 'sealed (other recipient)', payload: 'other-recipient' });
    for (const w of SECRET_WORDS) expect(wrong.stdout).not.toContain(w);
  });

  it('show SEQ --decrypt gives the decision with its votes, signatures checked; by decision id too', async () => {
    const s = stores[kind];
    const r = await runCli(['audit', 'show', '1', ...s.flags, '--key', k.dir, '--decrypt', '--identity', k.dir, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.entry).toMatchObject({ chain: 'worker-1', seq: 1 });
    expect(doc.signature).toBe('batch');
    // its batch, checked whole: the statement verifies and the stored entries give its root
    expect(doc.batch).toMatchObject({ status: 'ok', statement: { first_seq: 0, size: 2, pcr: { simulated: true } } });
    expect(doc.payload.decision.request_id).toBe('0b0b0b0b-0b0b-4b0b-8b0b-000000000001');
    expect(doc.payload.votes.map((v: { persona: string }) => v.persona)).toEqual(personasFor('patents')); // entry 1: a patents decision
    expect(doc.payload).toMatchObject({ digestOk: true, decisionSignatureOk: true, votesOk: 3 });
    const id = decisionDigest(p, decisions[kind][3] as never).slice(0, 12);
    const byId = await runCli(['audit', 'show', id, ...s.flags, '--key', k.dir, '--decrypt', '--identity', k.dir], env());
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toContain('0b0b0b0b-0b0b-4b0b-8b0b-000000000003');
    expect(byId.stdout).toContain('statement signature and root ok');
    for (const persona of personasFor('patents')) expect(byId.stdout).toContain(persona);
    const sealed = await runCli(['audit', 'show', '1', ...s.flags, '--json'], env());
    expect(sealed.code).toBe(0);
    expect(sealed.json().payload).toBeUndefined();
    for (const w of SECRET_WORDS) expect(sealed.stdout).not.toContain(w);
  });

  it('show of an unknown entry is exit 3 with a code', async () => {
    const s = stores[kind];
    const r = await runCli(['audit', 'show', '99', ...s.flags, '--json'], env());
    expect(r.code).toBe(3);
    expect(r.json().error.code).toBe('AUDIT_ENTRY_NOT_FOUND');
    const bad = await runCli(['audit', 'show', 'xyz', ...s.flags, '--json'], env());
    expect(bad.code).toBe(3);
    expect(bad.json().error.code).toBe('BAD_AUDIT_ID');
  });
});

describe('audit tail --follow', () => {
  it('streams entries appended while it runs, and stops at --for', async () => {
    const dir = join(root, 'follow');
    const raw = fileRaw(dir);
    const bank = new SimulatedBank(join(root, 'follow-pcr.json'));
    await buildChain(k, raw.store, bank, 'w', [1]);
    let out = '';
    let started!: () => void;
    const ready = new Promise<void>((r) => (started = r));
    const sink = { isTTY: false, write: (s: string) => ((out += s), out.includes('chain') && started(), true) };
    const run = runCli(['audit', 'tail', '--state', dir, '--key', k.dir, '--decrypt', '--identity', k.dir, '--follow', '--interval', '0.1', '--for', '4'], { stdout: sink });
    await Promise.race([ready, run.then((r) => Promise.reject(new Error(`tail ended early: ${r.code} ${r.stderr}`)))]); // the table of what exists is out: what comes now is new
    await buildChain(k, raw.store, bank, 'w', [2], { start: 1 });
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const lines = out.split('\n').filter((l) => /^w {2}\d+ {2}/.test(l));
    expect(lines.map((l) => Number(l.split('  ')[1]))).toEqual([1, 2]);
    expect(lines[0]).toContain('via batch');
    expect(out).toContain('(2 new entries while following)');
  });

  it('refuses --follow with --json (one JSON document)', async () => {
    const r = await runCli(['audit', 'tail', '--state', join(root, 'state'), '--follow', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('USAGE');
  });
});

describe('the built binary', () => {
  it('audit verify exits 0 on a good chain and 1 naming the bad entry', async () => {
    expect(existsSync(join(repoRoot, 'dist/main.js')), 'build first: npx tsc -p tsconfig.build.json').toBe(true);
    const dir = join(root, 'bin');
    const raw = fileRaw(dir);
    const sim = join(root, 'bin-pcr.json');
    await buildChain(k, raw.store, new SimulatedBank(sim), 'w', [2, 2]);
    const good = await spawnCli(['audit', 'verify', '--state', dir, '--key', k.dir, '--simulated', sim, '--json']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.json().chains[0]).toMatchObject({ chain: 'w', entries: 4 });
    await raw.remove('w', 3);
    const bad = await spawnCli(['audit', 'verify', '--state', dir, '--key', k.dir, '--simulated', sim, '--json']);
    expect(bad.code).toBe(1);
    expect(bad.json().error.details).toEqual({ chain: 'w', seq: 3, kind: 'missing' });
    const human = await spawnCli(['audit', 'verify', '--state', dir, '--key', k.dir, '--simulated', sim]);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('ima-qs: error: audit chain w, entry 3: missing');
  });
});
