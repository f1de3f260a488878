// `ima-qs local up` through the program, in-process: it prints the ready line (endpoint + pin),
// (--workers 1: one pipeline thread, loaded from dist/ — built by `npm test` first; Node 20 cannot load a .ts worker.)
// serves a request until its stop signal aborts, then prints one JSON summary and exits 0.
// Usage errors: no anchor chosen, both anchors, a bad port.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir, writeSamples } from '../integration/local/helpers.js';

const tmp = tempDir('ima-localup-');
afterAll(() => tmp.cleanup());

describe('local up', () => {
  it('serves until stopped, then reports what it did (--json)', async () => {
    const stop = new AbortController();
    let err = '';
    let running!: ReturnType<typeof runCli>;
    const ready = new Promise<{ endpoint: string; fingerprint: string; anchor: { simulated: boolean }; callerAuthentication: string; page: string; cors: string[] }>((resolve) => {
      const stderr = {
        isTTY: false,
        write(s: string) {
          err += s;
          const line = err.split('\n').find((l) => l.includes('"event":"ready"'));
          if (line) resolve(JSON.parse(line));
          return true;
        },
      };
      running = runCli(['local', 'up', '--port', '0', '--state', join(tmp.dir, 'st'), '--simulated', '--workers', '1', '--json'], {
        stderr,
        cwd: tmp.dir,
        stopSignal: () => stop.signal,
      });
    });
    // if the command ends before it is ready, fail with what it said
    const info = await Promise.race([ready, running.then((r) => Promise.reject(new Error(`local up ended early (${r.code}): ${err}${r.stdout}`)))]);
    expect(info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(info.anchor.simulated).toBe(true);
    // open on loopback, and it says so (issue 12 item 10): one notice line on stderr, a field in --json
    expect(info.callerAuthentication).toBe('none (loopback only)');
    expect(err.split('\n').filter((l) => l.startsWith('ima-qs: open on loopback with no caller authentication'))).toHaveLength(1);

    // the browser page (issue 16): its link carries the pin in the fragment; served at /
    expect(info.page).toBe(`${info.endpoint}/#pin=${info.fingerprint}`);
    expect(info.cors).toEqual([]);
    const page = await fetch(`${info.endpoint}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);

    const files = writeSamples(tmp.dir);
    const req = await runCli(['request', 'patents', files.claims, '--endpoint', info.endpoint, '--pin', info.fingerprint, '--json']);
    expect(req.code).toBe(0);

    stop.abort();
    const r = await running;
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.ok).toBe(true);
    expect(j.fingerprint).toBe(info.fingerprint);
    expect(j.callerAuthentication).toBe('none (loopback only)');
    expect(j.worker.decided).toBe(1);
    expect(j.http.byRoute['POST /api/patents']).toBe(1);
    expect(j.http.byRoute['GET /']).toBe(1);
    // the endpoint is closed after stop
    await expect(fetch(`${info.endpoint}/api/keys`)).rejects.toThrow();
  }, 60_000);

  it('needs an explicit anchor (never a silent software fallback)', async () => {
    const env = { ...process.env };
    delete env.TPM2TOOLS_TCTI;
    const r = await runCli(['local', 'up', '--state', join(tmp.dir, 'x'), '--json'], { env, stopSignal: () => new AbortController().signal });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('NO_PCR_ANCHOR');
  });

  it('refuses --tcti with --simulated, and a bad port', async () => {
    const a = await runCli(['local', 'up', '--simulated', '--tcti', 'swtpm:path=/x', '--json']);
    expect(a.json().error.code).toBe('CONFLICTING_OPTIONS');
    const b = await runCli(['local', 'up', '--simulated', '--port', '70000', '--json']);
    expect(b.code).toBe(2);
    expect(b.json().error.code).toBe('BAD_PORT');
  });

  it('request: usage errors are exit 2 with codes', async () => {
    const files = writeSamples(tmp.dir);
    const a = await runCli(['request', 'analyze', files.code, '--pin', 'ab'.repeat(32), '--json']);
    expect(a.code).toBe(2);
    expect(a.json().error.code).toBe('MISSING_OPTION');
    const b = await runCli(['request', 'analyze', files.code, '--endpoint', 'http://127.0.0.1:1', '--pin', 'xyz', '--json']);
    expect(b.code).toBe(2);
    expect(b.json().error.code).toBe('BAD_PIN');
    const c = await runCli(['request', 'analyze', files.code, '--endpoint', 'http://127.0.0.1:1', '--pin', 'ab'.repeat(32), '--json']);
    expect(c.code).toBe(4);
    expect(c.json().error.code).toBe('ENDPOINT_UNREACHABLE');
  });
});
