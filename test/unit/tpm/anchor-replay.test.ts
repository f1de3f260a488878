import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PcrAnchor, batchDigest } from '../../../src/tpm/anchor.js';
import { EventLog, parseLog } from '../../../src/tpm/event-log.js';
import { compareWithActual, replayLog } from '../../../src/tpm/replay.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ima-anchor-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const h = (alg: string, ...parts: Buffer[]) => createHash(alg).update(Buffer.concat(parts)).digest();
const data = (i: number) => Buffer.from(`decision ${i}`);

function setup(banks: ('sha256' | 'sha384')[] = ['sha256', 'sha384']) {
  const bank = new SimulatedBank(join(dir, 'pcrs.json'));
  const log = new EventLog(join(dir, 'events.log'));
  const anchor = new PcrAnchor(bank, log, { pcr: 11, banks });
  return { bank, log, anchor };
}

async function replayAgainst(bank: SimulatedBank, log: EventLog) {
  const lines = await log.readAll();
  const res = replayLog(lines);
  return compareWithActual(res, await bank.read(11, res.banks), lines);
}

describe('batch digest (SPEC §6.3)', () => {
  it('is H(label || 0x00 || u32be(n) || d1 || … || dn), computed independently', () => {
    const ds = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const n = Buffer.alloc(4);
    n.writeUInt32BE(3);
    const want = h('sha256', Buffer.from('ima-qs/v1/pcr-batch\0'), n, ...ds);
    expect(Buffer.from(batchDigest('sha256', ds)).equals(want)).toBe(true);
  });
});

describe('PcrAnchor on the simulated bank', () => {
  it('single events and a batch extend as the pure math says, and replay matches', async () => {
    const { bank, log, anchor } = setup();
    const r1 = await anchor.extendEvent({ type: 'ima-qs/decision', data: data(0) });
    const entries = Array.from({ length: 5 }, (_, i) => ({ type: 'ima-qs/decision', data: data(i + 1) }));
    const r2 = await anchor.extendBatch(entries);
    expect(r2.batch).toEqual({ id: r1.positions[0].seq + 1, size: 5 });
    expect(r2.positions.map((p) => p.index)).toEqual([0, 1, 2, 3, 4]);

    // independent recomputation of sha384 from zero
    let v = Buffer.alloc(48);
    v = h('sha384', v, h('sha384', data(0)));
    const n = Buffer.alloc(4);
    n.writeUInt32BE(5);
    const b = h('sha384', Buffer.from('ima-qs/v1/pcr-batch\0'), n, ...entries.map((e) => h('sha384', e.data)));
    v = h('sha384', v, b);
    const actual = await bank.read(11, ['sha384']);
    expect(Buffer.from(actual.sha384).equals(v)).toBe(true);
    expect(Buffer.from(r2.after.sha384).equals(v)).toBe(true);

    const res = await replayAgainst(bank, log);
    expect(res.firstDivergence).toBeUndefined();
    expect(res.events).toBe(6);
    expect(res.batches).toBe(1);
    expect(r2.simulated).toBe(true);
  });

  it('a second writer continues the log without an open record when the pcr agrees', async () => {
    const { bank, log, anchor } = setup();
    await anchor.extendEvent({ type: 't', data: data(1) });
    const again = new PcrAnchor(bank, log, { pcr: 11, banks: ['sha256', 'sha384'] });
    await again.extendEvent({ type: 't', data: data(2) });
    const kinds = (await log.readAll()).map((l) => l.record.kind);
    expect(kinds).toEqual(['open', 'event', 'event']);
    expect((await replayAgainst(bank, log)).firstDivergence).toBeUndefined();
  });

  it('an edited event digest is the first divergence (value-mismatch, names the event)', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    for (let i = 0; i < 4; i++) await anchor.extendEvent({ type: `t${i}`, data: data(i) });
    const lines = readFileSync(log.path, 'utf8').split('\n');
    const rec = JSON.parse(lines[2]);
    rec.digests.sha256 = h('sha256', Buffer.from('forged')).toString('hex');
    lines[2] = JSON.stringify(rec);
    writeFileSync(log.path, lines.join('\n'));
    const res = await replayAgainst(bank, log);
    expect(res.firstDivergence).toMatchObject({ seq: 2, line: 3, reason: 'value-mismatch', type: 't1' });
  });

  it('an edited line whose value was also fixed up breaks the chain at the next line', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    for (let i = 0; i < 4; i++) await anchor.extendEvent({ type: `t${i}`, data: data(i) });
    const lines = readFileSync(log.path, 'utf8').split('\n');
    const rec = JSON.parse(lines[1]);
    rec.type = 'forged';
    lines[1] = JSON.stringify(rec);
    writeFileSync(log.path, lines.join('\n'));
    expect((await replayAgainst(bank, log)).firstDivergence).toMatchObject({ line: 3, reason: 'chain-broken' });
  });

  it('a removed line breaks the chain', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    for (let i = 0; i < 3; i++) await anchor.extendEvent({ type: 't', data: data(i) });
    const lines = readFileSync(log.path, 'utf8').split('\n');
    lines.splice(2, 1);
    writeFileSync(log.path, lines.join('\n'));
    expect((await replayAgainst(bank, log)).firstDivergence?.reason).toBe('chain-broken');
  });

  it('a truncated log (last event removed) is caught against the pcr: tpm-differs', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    for (let i = 0; i < 3; i++) await anchor.extendEvent({ type: 't', data: data(i) });
    const lines = readFileSync(log.path, 'utf8').split('\n').filter(Boolean);
    writeFileSync(log.path, lines.slice(0, -1).join('\n') + '\n');
    const res = await replayAgainst(bank, log);
    expect(res.firstDivergence).toMatchObject({ seq: 2, reason: 'tpm-differs' });
  });

  it('a torn last line is EVENT_LOG_TORN', async () => {
    const { log, anchor } = setup(['sha256']);
    await anchor.extendEvent({ type: 't', data: data(0) });
    writeFileSync(log.path, readFileSync(log.path, 'utf8') + '{"v":1,"seq"');
    await expect(log.readAll()).rejects.toMatchObject({ code: 'EVENT_LOG_TORN', exitCode: 3 });
  });

  it('an extend outside the log shows up as pcr-changed-outside-log at the next writer’s open record', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    await anchor.extendEvent({ type: 't', data: data(0) });
    await bank.extend(11, { sha256: randomBytes(32) }); // someone else
    await new PcrAnchor(bank, log, { pcr: 11, banks: ['sha256'] }).extendEvent({ type: 't', data: data(1) });
    const res = await replayAgainst(bank, log);
    expect(res.firstDivergence).toMatchObject({ seq: 2, reason: 'pcr-changed-outside-log' });
  });

  it('extend then failed append: TPM_LOG_DIVERGED (exit 4), and replay detects it', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    await anchor.extendEvent({ type: 't', data: data(0) });
    const saved = readFileSync(log.path);
    rmSync(log.path);
    mkdirSync(log.path); // the append now fails (EISDIR)
    await expect(anchor.extendEvent({ type: 't', data: data(1) })).rejects.toMatchObject({ code: 'TPM_LOG_DIVERGED', exitCode: 4 });
    rmSync(log.path, { recursive: true });
    writeFileSync(log.path, saved);
    // the pcr holds one extend more than the log
    expect((await replayAgainst(bank, log)).firstDivergence).toMatchObject({ reason: 'tpm-differs' });
    // the anchor re-syncs on its next call and records the unexplained value: replay names that record
    await anchor.extendEvent({ type: 't', data: data(2) });
    expect((await replayAgainst(bank, log)).firstDivergence).toMatchObject({ seq: 2, reason: 'pcr-changed-outside-log' });
  });

  it('an incomplete batch is reported at its first entry', async () => {
    const { bank, log, anchor } = setup(['sha256']);
    await anchor.extendBatch([0, 1, 2].map((i) => ({ type: 'b', data: data(i) })));
    const lines = readFileSync(log.path, 'utf8').split('\n').filter(Boolean);
    writeFileSync(log.path, lines.slice(0, -1).join('\n') + '\n');
    const res = await replayAgainst(bank, log);
    expect(res.firstDivergence).toMatchObject({ seq: 1, reason: 'incomplete-batch' });
  });

  it('rejects bad events before touching the pcr', async () => {
    const { bank, anchor } = setup(['sha256']);
    await expect(anchor.extendEvent({ type: 'bad type with spaces', data: data(0) })).rejects.toMatchObject({ code: 'BAD_EVENT_TYPE' });
    await expect(anchor.extendEvent({ type: 't', digests: { sha256: new Uint8Array(31) } })).rejects.toMatchObject({ code: 'BAD_DIGEST_LENGTH' });
    await expect(anchor.extendBatch([])).rejects.toMatchObject({ code: 'BAD_BATCH_SIZE' });
    expect((await bank.read(11, ['sha256'])).sha256.every((x) => x === 0)).toBe(true);
  });
});

describe('parseLog', () => {
  it.each([
    ['not JSON', 'nope\n'],
    ['wrong version', '{"v":2}\n'],
    ['unknown kind', `{"v":1,"seq":0,"time":"t","pcr":11,"prev":"${'0'.repeat(64)}","kind":"x"}\n`],
    ['bad bank value', `{"v":1,"seq":0,"time":"t","pcr":11,"prev":"${'0'.repeat(64)}","kind":"open","values":{"sha256":"00"},"simulated":true}\n`],
  ])('%s → BAD_EVENT_LOG', (_n, text) => {
    expect(() => parseLog(text)).toThrow(expect.objectContaining({ code: 'BAD_EVENT_LOG' }));
  });
});

describe('SimulatedBank state file', () => {
  it('rejects a state file that is not one', async () => {
    writeFileSync(join(dir, 'bad.json'), '{"format":"other"}');
    await expect(new SimulatedBank(join(dir, 'bad.json')).read(11, ['sha256'])).rejects.toMatchObject({ code: 'BAD_SIMULATED_STATE' });
  });
  it('refuses pcr 24 and wrong digest sizes with the same codes as the tools backend', async () => {
    const b = new SimulatedBank(join(dir, 's.json'));
    await expect(b.extend(24, { sha256: new Uint8Array(32) })).rejects.toMatchObject({ code: 'TPM_PCR_OUT_OF_RANGE', exitCode: 4 });
    await expect(b.extend(11, { sha256: new Uint8Array(2) })).rejects.toMatchObject({ code: 'TPM_BAD_DIGEST_SIZE', exitCode: 4 });
    await expect(b.quote()).rejects.toMatchObject({ code: 'SIMULATED_CANNOT_QUOTE' });
    expect(b.describe()).toEqual({ kind: 'simulated', stateFile: join(dir, 's.json'), simulated: true });
  });
});

describe('PcrAnchor after a failed extend', () => {
  it('re-reads the pcr before its next commit (the extend may have happened)', async () => {
    const { bank, log } = setup(['sha256']);
    let fail = false;
    const flaky = {
      describe: () => bank.describe(),
      read: bank.read.bind(bank),
      quote: bank.quote.bind(bank),
      // extends, then reports a failure: like a TPM that answered after the timeout
      extend: async (pcr: number, d: Parameters<typeof bank.extend>[1]) => {
        await bank.extend(pcr, d);
        if (fail) throw Object.assign(new Error('late'), { code: 'TPM_TIMEOUT' });
      },
    };
    const anchor = new PcrAnchor(flaky, log, { pcr: 11, banks: ['sha256'] });
    await anchor.extendEvent({ type: 't', data: data(0) });
    fail = true;
    await expect(anchor.extendBatch([{ type: 't', data: data(1) }])).rejects.toMatchObject({ code: 'TPM_TIMEOUT' });
    fail = false;
    await anchor.extendEvent({ type: 't', data: data(2) });
    // the log records the unexplained extend as an open record, and replay names it
    const res = await replayAgainst(bank, log);
    expect(res.firstDivergence).toMatchObject({ reason: 'pcr-changed-outside-log' });
  });
});
