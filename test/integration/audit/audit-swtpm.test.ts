/**
 * Audit chains anchored in a real (software) TPM: swtpm + tpm2-tools. `audit verify --tcti` reads
 * the PCR, `audit verify --quote` uses a signed TPM2_Quote (made by `ima-qs tpm quote`); a truncated
 * tail and an extend made outside the chain are detected against both, and located. A quote is
 * only evidence with a nonce and an attestation key given from outside (issue 14 item 5), and a
 * TPM reset between two quotes (swtpm_ioctl --init: a power cycle) is refused.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Tpm2ToolsBank } from '../../../src/tpm/tpm2-tools.js';
import { type Swtpm, startSwtpm } from '../../helpers/swtpm.js';
import { runCli } from '../../helpers/cli.js';
import { type KeyFixture, buildChain, fileRaw, keyFixture, removeDir, tempDir } from './fixtures.js';

let tpm: Swtpm;
let root: string;
let k: KeyFixture;
const NONCE = '00112233445566778899aabbccddeeff';

beforeAll(async () => {
  tpm = await startSwtpm();
  root = tempDir();
  k = await keyFixture(root);
});
afterAll(async () => {
  await tpm?.stop();
  removeDir(root);
});

/** The attestation key as an operator pins it: its SPKI PEM, kept outside the quote (here: read once, from the first quote). */
function akFile(quotePath: string): string {
  const out = `${quotePath}.ak.pem`;
  writeFileSync(out, (JSON.parse(readFileSync(quotePath, 'utf8')) as { akPem: string }).akPem);
  return out;
}

async function quote(name: string): Promise<string> {
  const out = join(root, name);
  const q = await runCli(['tpm', 'quote', '--tcti', tpm.tcti, '--pcr', String(PCR), '--bank', 'sha256', '--nonce', NONCE, '-o', out, '--json']);
  expect(q.code, q.stderr).toBe(0);
  return out;
}

let PCR = 16;

describe('audit verify against swtpm', () => {
  it('matches the TPM and its quote; a truncated tail is missing against both', async () => {
    PCR = 16;
    const dir = join(root, 'a');
    const raw = fileRaw(dir);
    const bank = new Tpm2ToolsBank({ tcti: tpm.tcti, env: process.env });
    await buildChain(k, raw.store, bank, 'host-1', [2, 3], { pcr: PCR });
    const flags = ['audit', 'verify', '--state', dir, '--key', k.dir, '--json'];

    const live = await runCli([...flags, '--tcti', tpm.tcti]);
    expect(live.code, live.stderr).toBe(0);
    expect(live.json().chains[0]).toMatchObject({ entries: 5, batches: 2, pcr: { index: PCR, bank: 'sha256', simulated: false } });
    expect(live.json().chains[0].compared).toMatchObject({ status: 'match' });

    const q = await quote('q1.json');
    const ak = akFile(q);
    // the nonce and the key inside the quote are never trusted: both must be given
    for (const missing of [['--nonce', NONCE], ['--ak', ak], []]) {
      const r = await runCli([...flags, '--quote', q, ...missing]);
      expect(r.code).toBe(2);
      expect(r.json().error.code).toBe('QUOTE_INPUTS_REQUIRED');
    }
    const quoted = await runCli([...flags, '--quote', q, '--nonce', NONCE, '--ak', ak]);
    expect(quoted.code, quoted.stderr).toBe(0);
    expect(quoted.json().chains[0].compared.status).toBe('match');
    expect(quoted.json().chains[0].compared.source).toContain('quote');
    expect(quoted.json().chains[0].anchor).toBe('TPM PCR anchor');

    // a quote with the wrong nonce, or pinned to another key, is refused before anything is compared
    const stale = await runCli([...flags, '--quote', q, '--nonce', 'ffeeddccbbaa99887766554433221100', '--ak', ak]);
    expect(stale.code).toBe(1);
    expect(stale.json().error.code).toBe('QUOTE_INVALID');
    const otherAk = join(root, 'other-ak.pem');
    writeFileSync(otherAk, execFileSync('openssl', ['pkey', '-pubout'], { input: execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']) }));
    const foreign = await runCli([...flags, '--quote', q, '--nonce', NONCE, '--ak', otherAk]);
    expect(foreign.code).toBe(1);
    expect(foreign.json().error.code).toBe('QUOTE_INVALID');
    // a later quote of the same boot: no reset, no restart
    const q2 = await quote('q1b.json');
    const same = await runCli([...flags, '--quote', q2, '--nonce', NONCE, '--ak', ak, '--previous-quote', q]);
    expect(same.code, same.stdout).toBe(0);
    expect(same.json().evidence.source).toContain('no reset or restart since');

    for (const s of [2, 3, 4]) await raw.remove('host-1', s);
    // the batch statement of the deleted entries still says they exist
    const told = await runCli(flags);
    expect(told.code).toBe(1);
    expect(told.json().error.details).toEqual({ chain: 'host-1', seq: 2, kind: 'missing' });
    await raw.putBatch('host-1', 2, undefined);
    const blind = await runCli(flags);
    expect(blind.code).toBe(0); // statement gone too: nothing to compare with, the shortened chain is consistent in itself
    for (const evidence of [['--tcti', tpm.tcti], ['--quote', q, '--nonce', NONCE, '--ak', ak]]) {
      const r = await runCli([...flags, ...evidence]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.json().error.details).toEqual({ chain: 'host-1', seq: 2, kind: 'missing' });
    }
  });

  it('an extend of the PCR outside the chain is located (between batches: pcr-mismatch; after the end: against the TPM)', async () => {
    PCR = 23;
    const dir = join(root, 'b');
    const raw = fileRaw(dir);
    const bank = new Tpm2ToolsBank({ tcti: tpm.tcti, env: process.env });
    await buildChain(k, raw.store, bank, 'host-2', [2], { pcr: PCR });
    const ext = await runCli(['tpm', 'extend', '--tcti', tpm.tcti, '--pcr', String(PCR), '--digest', '22'.repeat(32), '--json']);
    expect(ext.code, ext.stderr).toBe(0);
    const flags = ['audit', 'verify', '--state', dir, '--key', k.dir, '--json'];
    const after = await runCli([...flags, '--tcti', tpm.tcti]);
    expect(after.code).toBe(1);
    expect(after.json().error.details).toEqual({ chain: 'host-2', seq: 2, kind: 'missing' });
    expect(after.json().problem.detail).toContain('extended outside');

    await buildChain(k, raw.store, bank, 'host-2', [2], { pcr: PCR, start: 2 });
    const r = await runCli([...flags, '--tcti', tpm.tcti]);
    expect(r.code).toBe(1);
    expect(r.json().error.details).toEqual({ chain: 'host-2', seq: 2, kind: 'pcr-mismatch' });
  });

  it('a TPM reset between two quotes (resetCount moved) is refused with --previous-quote', async () => {
    PCR = 16;
    const before = await quote('before-reset.json');
    const ak = akFile(before);
    // a power cycle of the software TPM, then TPM2_Startup(CLEAR): resetCount + 1, PCRs zeroed
    execFileSync('swtpm_ioctl', ['--unix', `${tpm.sock}.ctrl`, '-i'], { timeout: 10_000 });
    execFileSync('tpm2_startup', ['-c', '-T', tpm.tcti], { timeout: 10_000 });
    const dir = join(root, 'reset');
    const raw = fileRaw(dir);
    await buildChain(k, raw.store, new Tpm2ToolsBank({ tcti: tpm.tcti, env: process.env }), 'host-3', [1], { pcr: PCR });
    const after = await quote('after-reset.json');
    const flags = ['audit', 'verify', '--state', dir, '--key', k.dir, '--json', '--quote', after, '--nonce', NONCE, '--ak', ak];
    expect((await runCli(flags)).code).toBe(0);
    const r = await runCli([...flags, '--previous-quote', before]);
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('QUOTE_TPM_RESET');
    expect(r.json().error.message).toContain('reset (resetCount');
  });
});
