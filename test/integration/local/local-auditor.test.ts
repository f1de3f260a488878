// A separate auditor key (issue 7 §1, SPEC §8.7/§8.8/§9): `local up --audit-recipient DIR` seals
// every audit payload to the auditor's composite key instead of STATE/keys. Through the program,
// in-process, on the simulated bank: the recipient is in the ready line, the stop summary and
// STATE/stack.json; `audit tail --decrypt --identity AUDITOR` shows the decisions; the service's
// own keys (explicit or the --state default) are refused with AUDIT_WRONG_RECIPIENT; without
// --decrypt nothing of the payloads appears (the entry holds no route); `audit verify` passes
// without any private key. A bad --audit-recipient stops the start (exit 3) before keys exist.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBanner } from '../../../src/commands/local.js';
import type { LocalStack } from '../../../src/local/local-stack.js';
import { fingerprints, generateServiceKeys, publicKeysOf, writeKeyDir } from '../../../src/keys/key-dir.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { runCli, type CliRun } from '../../helpers/cli.js';
import { tempDir, writeSamples } from './helpers.js';

const p = getProvider('node');
const tmp = tempDir('ima-auditor-');
const state = join(tmp.dir, 'st');
const auditorDir = join(tmp.dir, 'auditor_keys');
const auditorKeys = generateServiceKeys(p);
const auditorFp = fingerprints(publicKeysOf(auditorKeys)).composite;
/** what only the sealed payloads hold: the routes and councils, the persona votes */
const SEALED_WORDS = ['analyze', 'patents', 'code-analysis', 'legal-documents', 'security-auditor', 'rationale'];

type Ready = { endpoint: string; fingerprint: string; auditRecipient: { fingerprint: string; source: string; auditor: boolean } };
const stop = new AbortController();
let running: Promise<CliRun>;
let info: Ready;

beforeAll(async () => {
  await writeKeyDir(auditorDir, auditorKeys);
  let err = '';
  const ready = new Promise<Ready>((resolve) => {
    const stderr = {
      isTTY: false,
      write(s: string) {
        err += s;
        const line = err.split('\n').find((l) => l.includes('"event":"ready"'));
        if (line) resolve(JSON.parse(line));
        return true;
      },
    };
    // relative --audit-recipient: taken from the command's working directory
    running = runCli(['local', 'up', '--port', '0', '--state', state, '--simulated', '--workers', '0', '--audit-recipient', 'auditor_keys', '--json'], {
      stderr,
      cwd: tmp.dir,
      stopSignal: () => stop.signal,
    });
  });
  info = await Promise.race([ready, running!.then((r) => Promise.reject(new Error(`local up ended early (${r.code}): ${err}${r.stdout}`)))]);
  const files = writeSamples(tmp.dir);
  for (const [route, file] of [['analyze', files.code], ['patents', files.claims]] as const) {
    const r = await runCli(['request', route, file, '--endpoint', info.endpoint, '--pin', info.fingerprint, '--json']);
    expect(r.code, r.stderr).toBe(0);
  }
}, 120_000);

afterAll(async () => {
  stop.abort();
  await running?.catch(() => undefined);
  tmp.cleanup();
});

const tail = (...extra: string[]) => runCli(['audit', 'tail', '--state', state, '--json', ...extra]);

describe('local up --audit-recipient (a separate auditor key)', () => {
  it('names the auditor key in the ready line and STATE/stack.json, and it is not the service key', async () => {
    expect(info.auditRecipient).toEqual({ fingerprint: auditorFp, source: auditorDir, auditor: true });
    const stack = JSON.parse(readFileSync(join(state, 'stack.json'), 'utf8'));
    expect(stack.auditRecipient).toEqual(info.auditRecipient);
    const keys = await runCli(['keys', 'show', join(state, 'keys'), '--json']);
    expect(keys.code).toBe(0);
    expect(keys.stdout).not.toContain(auditorFp);
  });

  it('the stored entries name the auditor as recipient and hold no route', async () => {
    const r = await runCli(['audit', 'show', '0', '--state', state, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const core = r.json().entry.core;
    expect(core).toMatchObject({ v: 3, chain: 'local/0', recipient: auditorFp });
    expect(core).not.toHaveProperty('route');
  });

  it('audit tail --decrypt --identity AUDITOR shows the decisions', async () => {
    const r = await tail('--decrypt', '--identity', auditorDir);
    expect(r.code, r.stderr).toBe(0);
    const entries = r.json().entries as { route: string; decision: string; payload: string; signature: string }[];
    expect(entries.map((e) => e.route)).toEqual(['analyze', 'patents']);
    for (const e of entries) {
      expect(e.payload).toBe('opened');
      expect(e.signature).toBe('batch'); // v3: signed by its batch statement
      expect(e.decision).toMatch(/^(approve|reject|inconclusive) \d+\/\d+\/\d+$/);
    }
    const show = await runCli(['audit', 'show', '1', '--state', state, '--decrypt', '--identity', auditorDir, '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.json().payload).toMatchObject({ decision: { route: 'patents', council: 'legal-documents' }, digestOk: true, decisionSignatureOk: true, votesOk: 21 });
  });

  it('the service keys are refused: AUDIT_WRONG_RECIPIENT (exit 1), explicit or as the --state default, nothing of the payload shown', async () => {
    for (const r of [await tail('--decrypt', '--identity', join(state, 'keys')), await tail('--decrypt')]) {
      expect(r.code).toBe(1);
      const doc = r.json();
      expect(doc.error).toMatchObject({ code: 'AUDIT_WRONG_RECIPIENT', details: { recipients: [auditorFp] } });
      expect(doc.entries.map((e: { payload: string }) => e.payload)).toEqual(['other-recipient', 'other-recipient']);
      for (const w of SEALED_WORDS) expect(r.stdout).not.toContain(w);
    }
    const show = await runCli(['audit', 'show', '0', '--state', state, '--decrypt', '--identity', join(state, 'keys'), '--json']);
    expect(show.code).toBe(1);
    expect(show.json().error.code).toBe('AUDIT_WRONG_RECIPIENT');
    expect(show.json().payload).toEqual({ status: 'other-recipient' });
    const human = await runCli(['audit', 'tail', '--state', state, '--decrypt']);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('sealed to another audit recipient');
  });

  it('without --decrypt nothing of the payloads appears', async () => {
    for (const r of [await tail(), await runCli(['audit', 'tail', '--state', state]), await runCli(['audit', 'show', '0', '--state', state])]) {
      expect(r.code, r.stderr).toBe(0);
      for (const w of SEALED_WORDS) expect(r.stdout).not.toContain(w);
    }
    expect((await tail()).json().entries.map((e: { route: string; payload: string }) => [e.route, e.payload])).toEqual([
      ['sealed', 'sealed'],
      ['sealed', 'sealed'],
    ]);
  });

  it('audit verify passes with no private key at all', async () => {
    const r = await runCli(['audit', 'verify', '--state', state, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json().chains[0]).toMatchObject({ chain: 'local/0', ok: true, entries: 2 });
  });

  it('the start-up table says who reads the audit payloads', () => {
    const base = { endpoint: 'http://127.0.0.1:1', fingerprint: 'f'.repeat(64), signerFingerprint: 'e'.repeat(64), ring: { sets: [{ generation: 1, stage: 'current' }] }, stateDir: state, keysCreated: false, anchor: { kind: 'simulated', simulated: true, pcr: 11, stateFile: 'x' }, workers: 0, chains: ['local/0'] };
    const row = (s: object) => startBanner(s as LocalStack).find(([k]) => k === 'audit recipient')?.[1];
    expect(row({ ...base, auditRecipient: info.auditRecipient })).toBe(`${auditorFp} (auditor key ${auditorDir})`);
    expect(row({ ...base, auditRecipient: { fingerprint: 'ab'.repeat(32), source: 'STATE/keys', auditor: false } })).toBe(`${'ab'.repeat(32)} (the service key, STATE/keys)`);
  });
});

describe('local up --audit-recipient that cannot be used', () => {
  it.each([
    ['a missing folder', 'no_such_keys', 'FILE_NOT_FOUND'],
    ['a signing key file', 'auditor_keys/ml_dsa_87_public.key', 'KEY_WRONG_ALGORITHM'],
  ])('%s: exit 3 AUDIT_RECIPIENT_INVALID, before any key is generated', async (_what, arg, cause) => {
    const dir = join(tmp.dir, `bad-${cause}`);
    const r = await runCli(['local', 'up', '--port', '0', '--state', dir, '--simulated', '--workers', '0', '--audit-recipient', arg, '--json'], {
      cwd: tmp.dir,
      stopSignal: () => new AbortController().signal,
    });
    expect(r.code).toBe(3);
    expect(r.json().error).toMatchObject({ code: 'AUDIT_RECIPIENT_INVALID', details: { cause } });
    expect(existsSync(join(dir, 'keys'))).toBe(false);
    expect(existsSync(join(dir, 'local.lock'))).toBe(false);
  });
});
