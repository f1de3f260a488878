/**
 * A real AWS API emulator for integration tests: moto_server (moto 5.2.1, see
 * ../shared/notes/aws-emulation.md) on a free loopback port, one per test file.
 *
 *   const moto = await startMoto();        // in beforeAll
 *   await moto.reset();                    // in beforeEach (POST /moto-api/reset — cheaper than a restart)
 *   moto.env                               // environment for the SDK (endpoint, region, dummy keys)
 *   await moto.stop();                     // in afterAll: kills the process group, leaves nothing running
 *
 * The port is picked by binding port 0 and closing it; if another process takes it before moto
 * binds (it exits with "Address already in use"), we pick another one and retry.
 *
 * IAM enforcement (`startMoto({ iam: true })`): moto checks every request against the caller's
 * IAM policies once INITIAL_NO_AUTH_ACTION_COUNT requests have passed unchecked. The server starts
 * with that count set high (set-up calls: tables, roles, users, all unchecked), and `enforceIam()`
 * turns checking on for every later request (POST /moto-api/reset-auth 0). It runs through
 * test/helpers/moto_iam_server.py, which tells moto the resource ARN of DynamoDB, Secrets Manager
 * and KMS requests (moto matches Resource only for SQS, IAM and STS by itself). What moto 5.2.1
 * then evaluates, measured: test/integration/iam/iam-enforcement.test.ts, infra/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Moto {
  readonly port: number;
  readonly endpoint: string;
  /** env for an SDK client or the ima-qs binary pointed at this emulator */
  readonly env: Record<string, string>;
  reset(): Promise<void>;
  /** from now on every request is checked against the caller's IAM policies (started with `iam: true`) */
  enforceIam(): Promise<void>;
  stop(): Promise<void>;
}

/** The wrapper that gives moto's IAM check the resource ARNs (see the header). */
const IAM_SERVER = new URL('./moto_iam_server.py', import.meta.url).pathname;
/** Requests that pass unchecked until enforceIam(): more than any set-up makes. */
const SETUP_REQUESTS = '1000000';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(child: ChildProcess, endpoint: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      /* not listening yet */
    }
    await sleep(150);
  }
  return false;
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      // moto_server runs under a pyenv shim: kill the whole group we created (detached), by its id
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

export async function startMoto(opts: { attempts?: number; readyTimeoutMs?: number; iam?: boolean } = {}): Promise<Moto> {
  const attempts = opts.attempts ?? 4;
  let lastErr = '';
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const args = ['-H', '127.0.0.1', '-p', String(port)];
    // python3 must be the interpreter moto is installed in (the same one moto_server runs on)
    const child = spawn(opts.iam ? 'python3' : 'moto_server', opts.iam ? [IAM_SERVER, ...args] : args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      env: { ...process.env, PYTHONUNBUFFERED: '1', ...(opts.iam ? { INITIAL_NO_AUTH_ACTION_COUNT: SETUP_REQUESTS } : {}) },
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      if (stderr.length < 8192) stderr += String(d);
    });
    const spawnError = new Promise<boolean>((resolve) => child.once('error', () => resolve(false)));
    const ready = await Promise.race([waitReady(child, endpoint, opts.readyTimeoutMs ?? 30_000), spawnError]);
    if (ready) {
      child.stderr!.resume();
      return {
        port,
        endpoint,
        env: {
          AWS_ENDPOINT_URL: endpoint,
          AWS_REGION: 'eu-central-1',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        async reset() {
          const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
          if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
        },
        async enforceIam() {
          if (!opts.iam) throw new Error('enforceIam() needs startMoto({ iam: true })');
          const res = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
          if (!res.ok) throw new Error(`moto reset-auth failed: HTTP ${res.status}`);
        },
        stop: () => kill(child),
      };
    }
    lastErr = stderr.slice(-2000);
    await kill(child);
    if (!/address already in use/i.test(stderr)) break; // not a port collision: retrying will not help
  }
  throw new Error(`moto_server did not start: ${lastErr || `no output (is ${opts.iam ? 'python3 with moto' : 'moto_server'} on PATH?)`}`);
}
