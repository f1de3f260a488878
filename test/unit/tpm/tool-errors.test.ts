import { describe, expect, it } from 'vitest';
import { lastErrorLine, mapToolFailure } from '../../../src/tpm/tool-runner.js';

// stderr texts captured from tpm2-tools 5.4 / tss 3.2.1 against swtpm 0.7.1 (see notes/swtpm.md)
const base = { tool: 'tpm2_x', rc: 1, timedOut: false, timeoutMs: 1000, tcti: 'swtpm:path=/x' };
const cases: [string, Partial<Parameters<typeof mapToolFailure>[0]>, string][] = [
  ['not installed', { spawnCode: 'ENOENT', rc: null }, 'TPM_TOOLS_MISSING'],
  ['timed out', { timedOut: true, rc: null }, 'TPM_TIMEOUT'],
  [
    'no tpm',
    { stderr: 'ERROR:tcti:src/tss2-tcti/tctildr.c:428:Tss2_TctiLdr_Initialize_Ex() Failed to instantiate TCTI \nERROR: Could not load tcti, got: "swtpm:path=/x"\n' },
    'TPM_UNREACHABLE',
  ],
  [
    'bad locality',
    { stderr: 'ERROR: Esys_PCR_Reset(0x907) - tpm:warn(2.0): bad locality\nERROR: Could not reset PCR index: 11\nERROR: Unable to run tpm2_pcrreset\n' },
    'TPM_BAD_LOCALITY',
  ],
  ['wrong digest size', { stderr: 'ERROR: Algorithm "sha256" expects a size of 32 bytes, got: 2\n' }, 'TPM_BAD_DIGEST_SIZE'],
  [
    'pcr out of range',
    { stderr: 'ERROR: Esys_PCR_Extend(0x184) - tpm:handle(1):value is out of range or is not correct for the context\nERROR: Could not extend pcr index: 0x18\n' },
    'TPM_PCR_OUT_OF_RANGE',
  ],
  ['anything else', { stderr: 'ERROR: Esys_Something(0x902) - tpm:warn(2.0): out of memory for object contexts\nERROR: Unable to run tpm2_x\n' }, 'TPM_ERROR'],
];

describe('mapToolFailure', () => {
  it.each(cases)('%s → %s, exit 4', (_n, over, code) => {
    const e = mapToolFailure({ ...base, stderr: '', ...over });
    expect(e.code).toBe(code);
    expect(e.exitCode).toBe(4);
    expect(e.message).not.toMatch(/\n/);
  });
  it('TPM_ERROR carries the rc and the last real error line, not "Unable to run"', () => {
    const e = mapToolFailure({ ...base, rc: 3, stderr: cases[6][1].stderr! });
    expect(e.message).toMatch(/rc 3/);
    expect(e.message).toMatch(/out of memory for object contexts/);
    expect(e.details).toMatchObject({ rc: 3, tool: 'tpm2_x' });
  });
  it('lastErrorLine bounds its output', () => {
    expect(lastErrorLine('ERROR: ' + 'x'.repeat(1000)).length).toBe(200);
    expect(lastErrorLine('')).toBe('no error message');
  });
});
