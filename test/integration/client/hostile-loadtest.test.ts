/**
 * `ima-qs loadtest --users 5 --duration 5 --timeout 2` (the built binary, spawned) against the
 * hostile loopback server of issue 19: when the POST stalls mid-body, or the decision poll drips
 * its body one byte per second, every request is a TIMEOUT error at its 2 s deadline (counted,
 * with the step), no request is started after the 5 s, and the run ends within 10 s of the spawn
 * (start-up included) with exit 4 and the errors in its report. When GET /api/keys stalls, no
 * load is sent at all: exit 4 TIMEOUT in step keys at the deadline. The well-behaved calls go to
 * the real local stack (Node 24, child process).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, spawnCli } from '../../helpers/cli.js';
import { forwardTo, type HostileServer, startHostileServer } from '../../helpers/hostile-server.js';
import { startStackChild, type StackChild } from '../../helpers/stack-child.js';
import { tempDir } from '../local/helpers.js';

const tmp = tempDir('ima-hostile-loadtest-');
let stack: StackChild;
let hostile: HostileServer;

beforeAll(async () => {
  stack = await startStackChild(join(tmp.dir, 'state'), tmp.dir);
  hostile = await startHostileServer(forwardTo(stack.endpoint));
}, 90_000);

afterAll(async () => {
  await hostile?.stop();
  await stack?.stop();
  tmp.cleanup();
}, 30_000);

const measured: string[] = [];
afterAll(() => {
  process.stderr.write(`hostile-loadtest (wall ms, spawn to exit): ${measured.join('; ')}\n`);
});

async function loadtest(extra: string[] = ['--json']) {
  const t0 = Date.now();
  const r = await spawnCli(['loadtest', '--endpoint', hostile.url, '--pin', stack.fingerprint, '--users', '5', '--duration', '5', '--timeout', '2', ...extra], { cwd: tmp.dir, timeoutMs: 60_000 });
  return { ...r, wallMs: Date.now() - t0 };
}

describe('ima-qs loadtest against a hostile server (--users 5 --duration 5 --timeout 2)', () => {
  it('a POST that stalls mid-body: every request is a TIMEOUT in step post; the run ends within 10 s', async () => {
    hostile.misbehave('post', 'stall-mid-body');
    const before = hostile.counts.post;
    const r = await loadtest();
    measured.push(`post/stall-mid-body ${r.wallMs}`);
    expect(r.code, r.stderr).toBe(4);
    const j = r.json();
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe('LOADTEST_ERRORS');
    expect(j.requests.ok).toBe(0);
    expect(j.requests.errors).toBe(j.requests.started);
    expect(j.requests.started).toBeGreaterThanOrEqual(5); // each user started at least one
    expect(j.errors).toEqual({ TIMEOUT: j.requests.errors });
    expect(j.timeoutsByStep).toEqual({ post: j.requests.errors });
    expect(hostile.counts.post - before).toBe(j.requests.started);
    expect(j.elapsedSeconds).toBeLessThan(5 + 2 + 1); // duration + one request deadline (+ 1 s)
    expectNoStack(r.stderr);
    expect(r.wallMs).toBeLessThan(10_000); // the criterion, start-up included
  }, 30_000);

  it('a poll that drips its body: TIMEOUT in step poll, reported in the human table; the run ends within 10 s', async () => {
    hostile.misbehave('poll', 'drip-body');
    const r = await loadtest([]);
    measured.push(`poll/drip-body ${r.wallMs}`);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/requests\s+│ 0 ok, (\d+) errors \(\1 started\)/);
    expect(r.stdout).toMatch(/TIMEOUT \(poll ×\d+\)/);
    expect(r.stderr).toMatch(/ima-qs: error: (\d+) of \1 requests failed/);
    expectNoStack(r.stderr);
    expect(r.wallMs).toBeLessThan(10_000);
  }, 30_000);

  it('GET /api/keys stalls: no load is sent, exit 4 TIMEOUT in step keys at the deadline', async () => {
    hostile.misbehave('keys', 'stall-after-status');
    const before = { post: hostile.counts.post, poll: hostile.counts.poll };
    const r = await loadtest();
    measured.push(`keys/stall-after-status ${r.wallMs}`);
    expect(r.code).toBe(4);
    const j = r.json();
    expect(j.error.code).toBe('TIMEOUT');
    expect(j.error.details).toMatchObject({ step: 'keys', limit: 'deadline' });
    expect({ post: hostile.counts.post, poll: hostile.counts.poll }).toEqual(before);
    expect(r.wallMs).toBeLessThan(10_000);
  }, 30_000);
});
