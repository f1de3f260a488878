// The local stack anchored in a real (software) TPM: swtpm on a unix socket, tpm2-tools via
// --tcti. Both routes through `request`; the responses name a non-simulated anchor; the TPM's
// PCR now holds exactly the last anchor's `after` value; response.json verifies offline and a
// tampered anchor is refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlackBoxClient } from '../../../src/client/black-box-client.js';
import { toHex } from '../../../src/crypto/bytes.js';
import { defaultProvider } from '../../../src/crypto/providers.js';
import { startLocalStack, type LocalStack } from '../../../src/local/local-stack.js';
import { Tpm2ToolsBank } from '../../../src/tpm/tpm2-tools.js';
import { runCli } from '../../helpers/cli.js';
import { startSwtpm, type Swtpm } from '../../helpers/swtpm.js';
import { tempDir, verifyJson, writeSamples } from './helpers.js';

const tmp = tempDir('ima-local-tpm-');
let tpm: Swtpm;
let stack: LocalStack;

beforeAll(async () => {
  tpm = await startSwtpm();
  stack = await startLocalStack({ stateDir: join(tmp.dir, 'state'), anchor: { kind: 'tpm', tcti: tpm.tcti }, port: 0, workers: 1, env: {} });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await tpm?.stop();
  tmp.cleanup();
});

describe('local stack on swtpm (--tcti)', () => {
  it('anchors both routes in the TPM PCR, and the responses verify', async () => {
    expect(stack.anchor).toMatchObject({ kind: 'tpm2-tools', simulated: false, tcti: tpm.tcti, pcr: 11 });
    const files = writeSamples(tmp.dir);
    let last: { pcr: { after: string; simulated: boolean } } | undefined;
    for (const [route, file] of [['analyze', files.code], ['patents', files.claims]] as const) {
      const out = join(tmp.dir, `r-${route}.json`);
      const r = await runCli(['request', route, file, '--endpoint', stack.endpoint, '--pin', stack.fingerprint, '-o', out, '--json']);
      expect(r.code).toBe(0);
      const j = r.json();
      expect(j.anchor).toBe('tpm');
      expect(j.audit.batch.statement.pcr.simulated).toBe(false);
      last = j.audit.batch.statement;
      expect((await verifyJson(out, { pin: stack.fingerprint, requestDigest: j.handle }, tmp.dir)).code).toBe(0);
    }
    // the PCR in the TPM is the value the last anchor says it became
    const now = await new Tpm2ToolsBank({ env: {}, tcti: tpm.tcti }).read(11, ['sha256']);
    expect(toHex(now.sha256)).toBe(last!.pcr.after);

    const doc = JSON.parse(readFileSync(join(tmp.dir, 'r-patents.json'), 'utf8'));
    doc.audit.batch.statement.pcr.before = doc.audit.batch.statement.pcr.after;
    writeFileSync(join(tmp.dir, 'bad.json'), JSON.stringify(doc));
    const v = await verifyJson(join(tmp.dir, 'bad.json'), { pin: stack.fingerprint }, tmp.dir);
    expect(v.code).toBe(1);
    expect(v.doc.failed).toEqual(['batch signature', 'pcr anchor']);
  }, 60_000);

  it('refuses to start when the TPM does not answer', async () => {
    const dead = tempDir('ima-local-dead-');
    try {
      await expect(
        startLocalStack({ stateDir: join(dead.dir, 's'), anchor: { kind: 'tpm', tcti: `swtpm:path=${dead.dir}/none.sock` }, port: 0, workers: 1, env: {} }),
      ).rejects.toMatchObject({ errorClass: 'remote' });
    } finally {
      dead.cleanup();
    }
  }, 30_000);
});

describe('one PCR, many writers (issue 13.2)', () => {
  it('4 pipelines against one swtpm: every chain verifies against the TPM (audit verify --tcti)', async () => {
    const tpm4 = await startSwtpm();
    const dir = tempDir('ima-local-tpm4-');
    const state = join(dir.dir, 'state');
    let s: LocalStack | undefined;
    try {
      s = await startLocalStack({ stateDir: state, anchor: { kind: 'tpm', tcti: tpm4.tcti }, port: 0, workers: 4, env: {} });
      expect(s.chains).toEqual(['local/0', 'local/1', 'local/2', 'local/3']);
      const client = new BlackBoxClient({ endpoint: s.endpoint, pin: s.fingerprint, provider: defaultProvider(), timeoutMs: 60_000 });
      // enough at once that every pipeline commits batches while the others extend the same PCR
      const out = await Promise.all(Array.from({ length: 32 }, (_, i) => client.request(i % 2 ? 'analyze' : 'patents', { name: `f${i}.txt`, content: `item ${i}\n` })));
      const chainsUsed = new Set(out.map((r) => (r.response.audit as { entry: { chain: string } }).entry.chain));
      expect(chainsUsed.size).toBeGreaterThanOrEqual(2);
      await s.stop();
      s = undefined;
      const r = await runCli(['audit', 'verify', '--state', state, '--tcti', tpm4.tcti, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const doc = r.json();
      const withEntries = doc.chains.filter((c: { entries: number }) => c.entries > 0);
      expect(withEntries.map((c: { chain: string }) => c.chain).sort()).toEqual([...chainsUsed].sort());
      expect(withEntries.reduce((n: number, c: { entries: number }) => n + c.entries, 0)).toBe(32);
      for (const c of doc.chains) {
        expect(c).toMatchObject({ ok: true, problem: null });
        // each chain's statements are consistent with the TPM: the other chains' extends explain every gap
        if (c.entries > 0) expect(c.compared.status).toBe('match');
      }
    } finally {
      await s?.stop();
      await tpm4.stop();
      dir.cleanup();
    }
  }, 120_000);
});
