/** The built binary (dist/, built by `npm test` first): exit codes and JSON of tpm commands. */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoStack, spawnCli } from '../helpers/cli.js';

const dir = mkdtempSync('/tmp/ima-tpmbin-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ima-qs tpm (built binary)', () => {
  it('read --simulated: exit 0, one JSON document labelled simulated', async () => {
    const r = await spawnCli(['tpm', 'read', '--simulated', join(dir, 'pcrs.json'), '--json']);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc).toMatchObject({ ok: true, pcr: 11, simulated: true, backend: { kind: 'simulated', simulated: true } });
    expect(doc.values.sha256).toBe('00'.repeat(32));
    expect(doc.values.sha384).toBe('00'.repeat(48));
  });

  it('extend --simulated then read: the value is H(0…0 ‖ digest) and the table says SIMULATED', async () => {
    const e = await spawnCli(['tpm', 'extend', '--simulated', join(dir, 'pcrs.json'), '--digest', '00'.repeat(32), '--event-log', join(dir, 'ev.log')]);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/SIMULATED/);
    const r = await spawnCli(['tpm', 'read', '--simulated', join(dir, 'pcrs.json'), '--bank', 'sha256', '--json']);
    expect(r.json().values.sha256).toBe('f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b');
    const rp = await spawnCli(['tpm', 'replay', '--simulated', join(dir, 'pcrs.json'), '--event-log', join(dir, 'ev.log'), '--json']);
    expect([rp.code, rp.json().match, rp.json().simulated]).toEqual([0, true, true]);
  });

  it('no tpm: exit 4 with TPM_UNREACHABLE and no stack trace', async () => {
    const r = await spawnCli(['tpm', 'read', '--json'], { env: { ...process.env, TPM2TOOLS_TCTI: `swtpm:path=${join(dir, 'none.sock')}` } });
    expect(r.code).toBe(4);
    expect(r.json()).toMatchObject({ ok: false, error: { code: 'TPM_UNREACHABLE' } });
    expectNoStack(r.stderr);
  });

  it('--help shows examples', async () => {
    const r = await spawnCli(['tpm', 'replay', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n\s+\$ ima-qs tpm replay --event-log/);
  });
});
