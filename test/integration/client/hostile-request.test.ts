/**
 * `ima-qs request analyze FILE --endpoint … --pin … --timeout 2 -o out.json` (the built binary,
 * spawned) against a hostile loopback server (issue 19): for each of the three calls (GET
 * /api/keys, the POST, the decision poll) the server stalls after the status line, stalls mid-
 * headers, stalls mid-body, drips the headers or the body one byte per second, answers 3xx to
 * itself or to another port, closes mid-body, or sends a wrong content type. Every case ends with
 * exit 4, one JSON error naming what went wrong (TIMEOUT naming the step), no out.json, and within
 * the deadline + 1 s (the criterion) of the request's start.
 *
 * The request's start is MEASURED per run, not guessed: the moment the hostile server sees the
 * process's first connection (GET /api/keys). Before it is the CLI's own start-up (node, imports,
 * reading FILE), which this loaded 2-core machine stretches unpredictably; so the assertion is
 * exit − first connection < deadline + 1 s, and the start-up of each run is reported beside it.
 * The well-behaved run (forwarded to the real local stack, on Node 24 in a child process) reports
 * the same split, with its in-process totalMs.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, spawnCli } from '../../helpers/cli.js';
import { forwardTo, HOSTILE_MODES, type HostileMode, type HostileServer, STALLING, startHostileServer } from '../../helpers/hostile-server.js';
import { startStackChild, type StackChild } from '../../helpers/stack-child.js';
import { tempDir } from '../local/helpers.js';

const tmp = tempDir('ima-hostile-request-');
let stack: StackChild;
let hostile: HostileServer;
let file: string;
const DEADLINE_S = 2;

beforeAll(async () => {
  stack = await startStackChild(join(tmp.dir, 'state'), tmp.dir);
  hostile = await startHostileServer(forwardTo(stack.endpoint));
  file = join(tmp.dir, 'app.py');
  writeFileSync(file, 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    return a + b\n');
}, 90_000);

afterAll(async () => {
  await hostile?.stop();
  await stack?.stop();
  tmp.cleanup();
}, 30_000);

/** Spawns the request; wall time, and the start-up: spawn → the first connection the server saw. */
async function request(timeoutS: number, out: string) {
  const t0 = Date.now();
  const r = await spawnCli(['request', 'analyze', file, '--endpoint', hostile.url, '--pin', stack.fingerprint, '--timeout', String(timeoutS), '-o', out, '--json'], { cwd: tmp.dir, timeoutMs: 60_000 });
  const wallMs = Date.now() - t0;
  const first = Math.min(...hostile.connections.filter((c) => c.openedAt >= t0).map((c) => c.openedAt));
  return { ...r, wallMs, startupMs: first - t0 };
}

const expected: Record<HostileMode, string> = {
  'stall-after-status': 'TIMEOUT',
  'stall-mid-headers': 'TIMEOUT',
  'stall-mid-body': 'TIMEOUT',
  'drip-headers': 'TIMEOUT',
  'drip-body': 'TIMEOUT',
  'redirect-self': 'REDIRECT_REFUSED',
  'redirect-other': 'REDIRECT_REFUSED',
  'close-mid-body': 'ANSWER_TRUNCATED',
  'wrong-type': 'BAD_CONTENT_TYPE',
};

const measured: string[] = [];
afterAll(() => {
  // the numbers behind the bound, for the report (stderr: vitest shows it)
  process.stderr.write(`hostile-request (ms: wall = start-up + request and exit): ${measured.join('; ')}\n`);
});

describe('ima-qs request against a hostile server (built binary, --timeout 2)', () => {
  it('the well-behaved server: the request succeeds and writes out.json', async () => {
    hostile.misbehave();
    const out = join(tmp.dir, 'ok.json');
    const r = await request(30, out);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = r.json();
    expect(j.ok).toBe(true);
    expect(j.verified).toBe(true);
    expect(j.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    expect(existsSync(out)).toBe(true);
    measured.push(`ok: wall ${r.wallMs} = start-up ${r.startupMs} + ${r.wallMs - r.startupMs} (request totalMs ${j.totalMs})`);
  }, 60_000);

  for (const call of ['keys', 'post', 'poll'] as const) {
    for (const mode of HOSTILE_MODES) {
      it(`${call}: ${mode} → exit 4 ${expected[mode]}, no output file`, async () => {
        hostile.misbehave(call, mode);
        const out = join(tmp.dir, `out-${call}-${mode}.json`);
        const r = await request(DEADLINE_S, out);
        measured.push(`${call}/${mode}: ${r.wallMs} = ${r.startupMs} + ${r.wallMs - r.startupMs}`);
        expect(r.code, r.stdout + r.stderr).toBe(4);
        const j = r.json();
        expect(j.ok).toBe(false);
        expect(j.error.code).toBe(expected[mode]);
        if (STALLING.has(mode)) {
          expect(j.error.details).toMatchObject({ step: call, limit: 'deadline' });
          expect(j.error.message).toContain(`step ${call}`);
        }
        if (mode === 'redirect-other') expect(hostile.otherRequests).toEqual([]);
        expectNoStack(r.stderr);
        expect(existsSync(out)).toBe(false);
        expect(readdirSync(tmp.dir).filter((f) => f.startsWith(`out-${call}-${mode}`))).toEqual([]); // no temp file either
        // the criterion: ended within the deadline + 1 s of the request's start (the
        // first connection; the CLI's start-up before it is measured per run, see the header)
        expect(r.startupMs).toBeGreaterThanOrEqual(0);
        expect(r.wallMs - r.startupMs).toBeLessThan(DEADLINE_S * 1000 + 1000);
      }, 30_000);
    }
  }
});
