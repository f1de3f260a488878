// `local up` flags that map to service settings are checked like the SPEC §8.8 variables (issue 12
// item 7): the HTTP front's bounds (SPEC §9.1), the TCTI from --tcti or TPM2TOOLS_TCTI. A bad value
// is exit 2 with a code, before anything starts.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpFrontFlags } from '../../src/commands/local.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../integration/local/helpers.js';

const tmp = tempDir('ima-localup-flags-');
afterAll(() => tmp.cleanup());
const never = () => new AbortController().signal;

describe('local up flags', () => {
  it('map to the HTTP front bounds in milliseconds', () => {
    expect(httpFrontFlags({})).toEqual({});
    expect(httpFrontFlags({ headersTimeout: '5', requestTimeout: '15', maxConnections: '64' })).toEqual({ headersTimeoutMs: 5000, requestTimeoutMs: 15000, maxConnections: 64 });
  });

  it.each([
    ['--headers-timeout', '0'],
    ['--headers-timeout', '10s'],
    ['--request-timeout', '1.5'],
    ['--request-timeout', '3601'],
    ['--max-connections', '0'],
    ['--max-connections', 'many'],
  ])('%s %s → exit 2 BAD_OPTION', async (flag, value) => {
    const r = await runCli(['local', 'up', '--simulated', '--state', join(tmp.dir, 's'), flag, value, '--json'], { stopSignal: never });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('BAD_OPTION');
  });

  it.each(['*', 'http://app.example.com', 'https://app.example.com/path'])('--cors %s → exit 2 BAD_CORS_ORIGIN, nothing started', async (origin) => {
    const r = await runCli(['local', 'up', '--simulated', '--state', join(tmp.dir, 'cors'), '--cors', 'http://127.0.0.1:8080', '--cors', origin, '--json'], { stopSignal: never });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('BAD_CORS_ORIGIN');
  });

  it('--request-timeout below --headers-timeout is refused', async () => {
    const r = await runCli(['local', 'up', '--simulated', '--state', join(tmp.dir, 's'), '--headers-timeout', '20', '--request-timeout', '10', '--json'], { stopSignal: never });
    expect(r.json().error.code).toBe('BAD_OPTION');
  });

  it('a malformed --tcti is BAD_TCTI; a malformed TPM2TOOLS_TCTI is CONFIG_INVALID naming it', async () => {
    const a = await runCli(['local', 'up', '--tcti', 'swtpm path', '--state', join(tmp.dir, 's'), '--json'], { stopSignal: never });
    expect(a.code).toBe(2);
    expect(a.json().error.code).toBe('BAD_TCTI');
    const b = await runCli(['local', 'up', '--state', join(tmp.dir, 's'), '--json'], { stopSignal: never, env: { ...process.env, TPM2TOOLS_TCTI: 'swtpm:path=/x\n' } });
    expect(b.code).toBe(2);
    expect(b.json().error).toMatchObject({ code: 'CONFIG_INVALID', details: { variables: ['TPM2TOOLS_TCTI'] } });
  });
});
