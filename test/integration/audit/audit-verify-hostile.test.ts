/**
 * `ima-qs audit verify` and `audit tail|show` on hostile stored items (in-process, file store and
 * dynalite): text that is not JSON, JSON of the wrong types, lone surrogates, anchors of every
 * wrong shape. Each is a clear "no" (exit 1) or bad input (exit 3), never an internal error (70).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { runCli } from '../../helpers/cli.js';
import { type Dynalite, type KeyFixture, buildChain, createAuditTable, fileRaw, keyFixture, removeDir, startDynalite, tempDir } from './fixtures.js';

const CHAIN = 'worker-1';
let root: string;
let k: KeyFixture;
let dyn: Dynalite;

beforeAll(async () => {
  root = tempDir();
  k = await keyFixture(root, 'keys');
  dyn = await startDynalite();
});
afterAll(async () => {
  await dyn?.close();
  removeDir(root);
});

let n = 0;
async function freshFileChain() {
  const dir = join(root, `case-${++n}`);
  const raw = fileRaw(dir);
  await buildChain(k, raw.store, new SimulatedBank(join(root, `pcrs-${n}.json`)), CHAIN, [2, 2]);
  const base = (seq: number) => join(dir, 'audit', CHAIN, String(seq).padStart(12, '0'));
  return { dir, raw, recs: await raw.store.range(CHAIN), entry: (seq: number) => `${base(seq)}.entry.json`, anchor: (seq: number) => `${base(seq)}.anchor.json` };
}

/** Returns the --json document of `audit verify`. */
async function expectNo(flags: string[], env: NodeJS.ProcessEnv = process.env): Promise<any> {
  let verdict: any;
  for (const cmd of [['audit', 'verify'], ['audit', 'tail', '--chain', CHAIN], ['audit', 'show', '--chain', CHAIN, '--seq', '1']]) {
    const r = await runCli([...cmd, ...flags, '--key', k.dir, '--json'], { env });
    expect(r.code, `${cmd.join(' ')}: ${r.stdout}${r.stderr}`).not.toBe(70);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    if (cmd[1] === 'verify') {
      expect([1, 3], r.stdout + r.stderr).toContain(r.code);
      expect(r.json().ok).toBe(false);
      verdict = r.json();
    }
  }
  return verdict;
}

describe('audit verify on hostile stored items (file store)', () => {
  const cores: [string, (core: string) => string][] = [
    ['a lone surrogate in a string member', (c) => c.replace(/"time":"[^"]*"/, '"time":"\\ud800"')],
    ['a non-finite seq', (c) => c.replace(/"seq":1/, '"seq":1e999')],
    ['a core that is an array', () => '[1,2]'],
    ['a core that is a number', () => '7'],
    ['a core of the wrong types', (c) => c.replace(/"prev":"[^"]*"/, '"prev":{"a":[1]}')],
  ];
  for (const [name, edit] of cores) {
    it(`${name}: exit 1, altered at its seq`, async () => {
      const f = await freshFileChain();
      const rec = f.recs[1];
      writeFileSync(f.entry(1), JSON.stringify({ core: edit(rec.core), digest: rec.digest, signature: rec.signature }));
      const v = await expectNo(['--state', f.dir]);
      expect(v.problem).toMatchObject({ chain: CHAIN, seq: 1, kind: 'altered' });
    });
  }

  const entries: [string, string][] = [
    ['an entry file that is not JSON', 'not json {'],
    ['an entry file that is null', 'null'],
    ['an entry file of the wrong types', '{"core":5,"digest":[],"signature":{"x":1}}'],
  ];
  for (const [name, text] of entries) {
    it(`${name}: exit 1`, async () => {
      const f = await freshFileChain();
      writeFileSync(f.entry(1), text);
      await expectNo(['--state', f.dir]);
    });
  }

  const anchors = ['garbage', 'null', '[]', '7', '"x"', '{"pcr":16,"bank":"sha256","before":5,"after":null,"simulated":"yes","batch":{"id":"0","size":-1,"index":9}}', '{"pcr":16,"bank":"sha256","batch":null}'];
  for (const text of anchors) {
    it(`anchor ${text.slice(0, 40)}: exit 1, pcr-mismatch (a stored anchor of the wrong shape is not "unanchored")`, async () => {
      const f = await freshFileChain();
      writeFileSync(f.anchor(1), text);
      const v = await expectNo(['--state', f.dir]);
      expect(v.problem).toMatchObject({ chain: CHAIN, seq: 1, kind: 'pcr-mismatch' });
    });
  }
});

describe('audit verify on hostile stored items (DynamoDB)', () => {
  it('attributes of the wrong DynamoDB types: exit 1', async () => {
    const name = 'ima-tpm-audit-log-hostile';
    await createAuditTable(dyn.client, name);
    const items = [
      { chain: { S: CHAIN }, seq: { N: '0' }, core: { N: '5' }, digest: { B: new Uint8Array([1]) }, signature: { L: [] }, anchor: { M: { pcr: { N: '1' } } } },
      { chain: { S: CHAIN }, seq: { N: '1' }, core: { S: '{"v":2' }, digest: { NULL: true }, signature: { BOOL: true }, anchor: { S: '{' } },
    ];
    for (const Item of items) await dyn.client.send(new PutItemCommand({ TableName: name, Item }));
    await expectNo(['--table', name, '--endpoint-url', dyn.url, '--region', 'us-east-1'], { ...process.env, ...dyn.env });
  });
});
