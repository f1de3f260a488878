/**
 * The REAL worker process (`node dist/service/worker/main.js`, what the container runs) with a bad
 * configuration (SPEC §8.8, issue 12 item 7): it exits 2 with one JSON log line whose code is
 * CONFIG_INVALID and which names the variables, and its AWS endpoint — a loopback listener
 * counting connections — is never contacted. The same environment with the values corrected
 * does contact it, so the listener would have seen a call.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, expectNoStack } from '../../helpers/cli.js';
import { tempDir } from '../../unit/service/fixtures.js';

const WORKER_MAIN = join(repoRoot, 'dist/service/worker/main.js');
const tmp = tempDir('ima-worker-config-');
let listener: Server;
let connections = 0;
let endpoint = '';

beforeAll(async () => {
  if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: build first (npm run build; npm test does it)`);
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((ok) => listener.listen(0, '127.0.0.1', () => ok()));
  endpoint = `http://127.0.0.1:${(listener.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((ok) => listener.close(() => ok()));
});

function runWorker(extra: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'eu-central-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1',
    QUEUE_URL: `${endpoint}/000000000000/ima-quantum-requests`,
    KEYS_SECRET_PREFIX: 'ima/test',
    IMA_QS_PCR_ANCHOR: `simulated:${join(tmp, 'pcr.json')}`,
    AUDIT_CHAIN_ID: 'config-test',
    HEARTBEAT_FILE: join(tmp, 'hb'),
    ...extra,
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [WORKER_MAIN], { env, cwd: tmp, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('the worker process refuses a bad configuration before any AWS call', () => {
  it('MAX_SKEW_SECONDS=300s and PCR_BANK=sha265: exit 2, CONFIG_INVALID naming both, no connection', async () => {
    const before = connections;
    const r = await runWorker({ MAX_SKEW_SECONDS: '300s', PCR_BANK: 'sha265' });
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'worker failed to start', code: 'CONFIG_INVALID', variables: ['PCR_BANK', 'MAX_SKEW_SECONDS'] });
    expect(String(lines[0].error)).toMatch(/MAX_SKEW_SECONDS is "300s"/);
    expectNoStack(r.stdout + r.stderr);
    expect(connections).toBe(before);
  });

  it('the corrected values start far enough to call AWS (the listener sees it), then fail as a remote error', async () => {
    const before = connections;
    const r = await runWorker({ MAX_SKEW_SECONDS: '300', PCR_BANK: 'sha256' });
    expect(r.code).toBe(4);
    expect(connections).toBeGreaterThan(before);
  });
});
