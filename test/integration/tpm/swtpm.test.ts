/**
 * The tpm2-tools backend and the tpm commands against a private swtpm (one per file).
 * Each test uses its own PCR so that the order of tests does not matter.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcrAnchor } from '../../../src/tpm/anchor.js';
import { EventLog } from '../../../src/tpm/event-log.js';
import { compareWithActual, replayLog } from '../../../src/tpm/replay.js';
import { SimulatedBank } from '../../../src/tpm/simulated-bank.js';
import { Tpm2ToolsBank } from '../../../src/tpm/tpm2-tools.js';
import { expectNoStack, runCli } from '../../helpers/cli.js';
import { type Swtpm, startSwtpm } from '../../helpers/swtpm.js';

const run = promisify(execFile);
let tpm: Swtpm;
let bank: Tpm2ToolsBank;

beforeAll(async () => {
  tpm = await startSwtpm();
  bank = new Tpm2ToolsBank({ tcti: tpm.tcti, env: process.env });
});
afterAll(async () => {
  await tpm?.stop();
});

const h = (alg: string, a: Buffer, b: Buffer) => createHash(alg).update(Buffer.concat([a, b])).digest();
const cli = (argv: string[]) => runCli([...argv, '--tcti', tpm.tcti], { cwd: tpm.dir });
/** commands that do not talk to a TPM (verify-quote) take no --tcti */
const offline = (argv: string[]) => runCli(argv, { cwd: tpm.dir });

describe('tpm2-tools backend on swtpm', () => {
  it('real extends equal the pure math in sha256 and sha384 (both banks in one call)', async () => {
    let e256 = Buffer.alloc(32);
    let e384 = Buffer.alloc(48);
    const start = await bank.read(11, ['sha256', 'sha384']);
    expect(Buffer.from(start.sha256).equals(e256) && Buffer.from(start.sha384).equals(e384)).toBe(true);
    for (let i = 0; i < 5; i++) {
      const d256 = randomBytes(32);
      const d384 = randomBytes(48);
      await bank.extend(11, { sha256: d256, sha384: d384 });
      e256 = h('sha256', e256, d256);
      e384 = h('sha384', e384, d384);
      const got = await bank.read(11, ['sha256', 'sha384']);
      expect(Buffer.from(got.sha256).toString('hex')).toBe(e256.toString('hex'));
      expect(Buffer.from(got.sha384).toString('hex')).toBe(e384.toString('hex'));
    }
  });

  it('the simulated bank gives the same values as swtpm for the same extends', async () => {
    const sim = new SimulatedBank(join(tpm.dir, 'sim.json'));
    for (let i = 0; i < 6; i++) {
      const d = { sha256: randomBytes(32), sha384: randomBytes(48) };
      await bank.extend(12, d);
      await sim.extend(12, d);
    }
    const [real, simulated] = await Promise.all([bank.read(12, ['sha256', 'sha384']), sim.read(12, ['sha256', 'sha384'])]);
    expect(Buffer.from(simulated.sha256).toString('hex')).toBe(Buffer.from(real.sha256).toString('hex'));
    expect(Buffer.from(simulated.sha384).toString('hex')).toBe(Buffer.from(real.sha384).toString('hex'));
    expect(real.sha256.some((x) => x !== 0)).toBe(true);
  });

  it('group commit: a 64-entry batch is one extend, and the log replays to the TPM value', async () => {
    const log = new EventLog(join(tpm.dir, 'pcr13.log'));
    const anchor = new PcrAnchor(bank, log, { pcr: 13, banks: ['sha256', 'sha384'] });
    await anchor.extendEvent({ type: 'ima-qs/decision', data: Buffer.from('first') });
    const r = await anchor.extendBatch(Array.from({ length: 64 }, (_, i) => ({ type: 'ima-qs/audit', data: Buffer.from(`entry ${i}`) })));
    expect(r.positions).toHaveLength(64);
    const actual = await bank.read(13, ['sha256', 'sha384']);
    expect(Buffer.from(actual.sha384).equals(Buffer.from(r.after.sha384))).toBe(true);
    const lines = await log.readAll();
    const res = compareWithActual(replayLog(lines), actual, lines);
    expect(res.firstDivergence).toBeUndefined();
    expect([res.events, res.batches]).toEqual([65, 1]);
  });

  it('maps the TPM’s own refusals when validation is bypassed (exit 4)', async () => {
    await expect(bank.extend(24, { sha256: randomBytes(32) })).rejects.toMatchObject({ code: 'TPM_PCR_OUT_OF_RANGE', exitCode: 4 });
    await expect(bank.read(24, ['sha256'])).rejects.toMatchObject({ code: 'TPM_PCR_OUT_OF_RANGE', exitCode: 4 });
    await expect(bank.extend(11, { sha256: randomBytes(2) })).rejects.toMatchObject({ code: 'TPM_BAD_DIGEST_SIZE', exitCode: 4 });
    await expect(bank.extend(11, { sha384: randomBytes(32) })).rejects.toMatchObject({ code: 'TPM_BAD_DIGEST_SIZE', exitCode: 4 });
    await expect(bank.tool('tpm2_pcrreset', ['11'])).rejects.toMatchObject({ code: 'TPM_BAD_LOCALITY', exitCode: 4 });
  });
});

describe('tpm commands on swtpm', () => {
  it('read, extend with an event log, replay: match, then a tampered log diverges at the edited event', async () => {
    const read = await cli(['tpm', 'read', '--pcr', '15', '--json']);
    expect(read.code).toBe(0);
    expect(read.json()).toMatchObject({ ok: true, pcr: 15, simulated: false, backend: { kind: 'tpm2-tools' } });
    writeFileSync(join(tpm.dir, 'd.bin'), 'decision');
    for (const [i, args] of [['--data', 'd.bin'], ['--digest', 'ab'.repeat(32)], ['--data', 'd.bin']].entries()) {
      const r = await cli(['tpm', 'extend', '--pcr', '15', ...args, '--type', `t${i}`, '--event-log', 'pcr15.log', '--json']);
      expect(r.code).toBe(0);
    }
    const ok = await cli(['tpm', 'replay', '--pcr', '15', '--event-log', 'pcr15.log', '--json']);
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ ok: true, match: true, events: 3 });

    const path = join(tpm.dir, 'pcr15.log');
    const lines = readFileSync(path, 'utf8').split('\n');
    const rec = JSON.parse(lines[2]);
    rec.digests.sha256 = 'cd'.repeat(32);
    lines[2] = JSON.stringify(rec);
    writeFileSync(path, lines.join('\n'));
    const bad = await cli(['tpm', 'replay', '--event-log', 'pcr15.log', '--json']);
    expect(bad.code).toBe(1);
    expect(bad.json()).toMatchObject({ ok: false, error: { code: 'REPLAY_MISMATCH' }, match: false, firstDivergence: { seq: 2, type: 't1', reason: 'value-mismatch' } });
    const human = await cli(['tpm', 'replay', '--event-log', 'pcr15.log']);
    expect(human.stdout).toMatch(/first divergence: seq 2 .*event t1/);
  });

  it('a user-given pcr 24 or wrong-length digest is refused before the tools (exit 3)', async () => {
    const r24 = await cli(['tpm', 'extend', '--pcr', '24', '--digest', 'ab'.repeat(32), '--json']);
    expect([r24.code, r24.json().error.code]).toEqual([3, 'BAD_PCR_INDEX']);
    const short = await cli(['tpm', 'extend', '--digest', 'abcd', '--json']);
    expect([short.code, short.json().error.code]).toEqual([3, 'BAD_DIGEST_LENGTH']);
    expectNoStack(r24.stderr + short.stderr);
  });

  it('quote: verified by our code and by tpm2_checkquote; a wrong nonce fails both; replay against the quote', async () => {
    writeFileSync(join(tpm.dir, 'q.bin'), 'quoted decision');
    expect((await cli(['tpm', 'extend', '--pcr', '16', '--bank', 'sha256,sha384', '--data', 'q.bin', '--event-log', 'pcr16.log'])).code).toBe(0);
    const nonce = randomBytes(32).toString('hex');
    const q = await cli(['tpm', 'quote', '--pcr', '16', '--bank', 'sha256,sha384', '--nonce', nonce, '-o', 'quote.json', '--json']);
    expect(q.code).toBe(0);
    const doc = JSON.parse(readFileSync(join(tpm.dir, 'quote.json'), 'utf8'));
    expect(doc).toMatchObject({ format: 'ima-qs/tpm-quote/v1', simulated: false, pcr: 16, banks: ['sha256', 'sha384'], nonce });
    writeFileSync(join(tpm.dir, 'ak.pem'), doc.akPem);

    const v = await offline(['tpm', 'verify-quote', 'quote.json', '--nonce', nonce, '--ak', 'ak.pem', '--json']);
    expect(v.code).toBe(0);
    expect(v.json().checks.every((c: { ok: boolean }) => c.ok)).toBe(true);

    // tpm2_checkquote on the same bytes
    writeFileSync(join(tpm.dir, 'q.msg'), Buffer.from(doc.message, 'hex'));
    writeFileSync(join(tpm.dir, 'q.sig'), Buffer.from(doc.signature, 'hex'));
    writeFileSync(join(tpm.dir, 'q.pcrs'), Buffer.from(doc.toolsPcrs, 'hex'));
    const check = (n: string) =>
      run('tpm2_checkquote', ['-u', 'ak.pem', '-m', 'q.msg', '-s', 'q.sig', '-f', 'q.pcrs', '-g', 'sha256', '-q', n], { cwd: tpm.dir, timeout: 10_000 }).then(
        () => 0,
        (e) => (typeof e.code === 'number' ? e.code : -1),
      );
    expect(await check(nonce)).toBe(0);
    const wrong = randomBytes(32).toString('hex');
    expect(await check(wrong)).not.toBe(0);
    const vw = await offline(['tpm', 'verify-quote', 'quote.json', '--nonce', wrong, '--ak', 'ak.pem', '--json']);
    expect(vw.code).toBe(1);
    expect(vw.json()).toMatchObject({ ok: false, error: { code: 'QUOTE_INVALID' } });
    expect(vw.json().checks.filter((c: { ok: boolean }) => !c.ok).map((c: { check: string }) => c.check)).toEqual(['nonce']);

    // the AK persists: a second quote reuses it
    const q2 = await cli(['tpm', 'quote', '--pcr', '16', '--nonce', nonce, '-o', 'quote2.json', '--json']);
    expect(q2.json()).toMatchObject({ akCreated: false, akFingerprint: doc.akFingerprint });

    const rq = await cli(['tpm', 'replay', '--event-log', 'pcr16.log', '--quote', 'quote.json', '--nonce', nonce, '--ak', 'ak.pem', '--json']);
    expect(rq.code).toBe(0);
    expect(rq.json()).toMatchObject({ match: true, against: { quote: 'quote.json' } });

    // the quote file is not overwritten without --force
    const again = await cli(['tpm', 'quote', '--pcr', '16', '--nonce', nonce, '-o', 'quote.json', '--json']);
    expect([again.code, again.json().error.code]).toEqual([3, 'FILE_EXISTS']);
  });

  it('the simulated bank cannot quote', async () => {
    const r = await runCli(['tpm', 'quote', '--simulated', join(tpm.dir, 's.json'), '--nonce', '00'.repeat(16), '-o', 'x.json', '--json'], { cwd: tpm.dir });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('SIMULATED_CANNOT_QUOTE');
  });

  it('doctor passes the tpm rows on swtpm', async () => {
    const r = await cli(['tpm', 'doctor', '--pcr', '17', '--json']);
    expect(r.code).toBe(0);
    const rows = r.json().rows as { check: string; status: string }[];
    expect(rows.find((x) => x.check === 'tpm reachable')?.status).toBe('pass');
    expect(rows.find((x) => x.check === 'pcr banks')?.status).toBe('pass');
    expect(rows.find((x) => x.check === 'tpm2-tools')?.status).toBe('pass');
  });
});
