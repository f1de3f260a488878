// health.mjs (HEALTH_SCRIPT) and the heartbeat writer (src/service/worker/heartbeat.ts), run for
// real: the script written to a temp folder and executed with node against heartbeat files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEALTH_SCRIPT, startHeartbeat } from '../../../src/service/worker/heartbeat.js';

const dir = mkdtempSync(join(tmpdir(), 'ima-health-'));
const script = join(dir, 'health.mjs');
writeFileSync(script, HEALTH_SCRIPT);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(heartbeat: unknown, env: Record<string, string> = {}) {
  const file = join(dir, `hb-${Math.random().toString(16).slice(2)}`);
  if (heartbeat !== undefined) writeFileSync(file, typeof heartbeat === 'string' ? heartbeat : JSON.stringify(heartbeat));
  const r = spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', HEARTBEAT_FILE: file, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('health.mjs', () => {
  const now = Date.now();
  it('is healthy with a fresh heartbeat and a recent receive', () => {
    const r = check({ v: 1, pid: 1, last_poll: now - 3_000, written_at: now - 1_000 });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^healthy/);
  });
  it.each([
    ['no heartbeat file', undefined, /no readable heartbeat/],
    ['not JSON', 'garbage', /no readable heartbeat/],
    ['another version', { v: 2, pid: 1, last_poll: now, written_at: now }, /not a version 1 heartbeat/],
    ['never received', { v: 1, pid: 1, last_poll: 0, written_at: now }, /has not completed a receive/],
    ['receive too old', { v: 1, pid: 1, last_poll: now - 300_000, written_at: now }, /last successful receive \d+ s ago/],
    ['file not rewritten (event loop stuck)', { v: 1, pid: 1, last_poll: now, written_at: now - 300_000 }, /event loop is stuck/],
  ])('is unhealthy (exit 1): %s', (_what, hb, msg) => {
    const r = check(hb);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(msg);
  });
  it('honours HEALTH_MAX_AGE_SECONDS', () => {
    const hb = { v: 1, pid: 1, last_poll: now - 30_000, written_at: now };
    expect(check(hb, { HEALTH_MAX_AGE_SECONDS: '60' }).code).toBe(0);
    expect(check(hb, { HEALTH_MAX_AGE_SECONDS: '10' }).code).toBe(1);
    expect(check(hb, { HEALTH_MAX_AGE_SECONDS: 'x' }).code).toBe(1);
  });
});

describe('startHeartbeat', () => {
  it('writes the last poll time at once and on every interval, atomically, until stopped', async () => {
    const file = join(dir, 'worker.heartbeat');
    let last = 1000;
    let clock = 5000;
    const hb = startHeartbeat(file, () => last, { intervalMs: 20, now: () => clock });
    try {
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ v: 1, pid: process.pid, last_poll: 1000, written_at: 5000 });
      last = 2000;
      clock = 6000;
      await new Promise((r) => setTimeout(r, 100));
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ last_poll: 2000, written_at: 6000 });
    } finally {
      hb.stop();
    }
    last = 3000;
    await new Promise((r) => setTimeout(r, 60));
    expect(JSON.parse(readFileSync(file, 'utf8')).last_poll).toBe(2000);
  });
});
