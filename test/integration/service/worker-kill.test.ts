/**
 * The REAL worker process (`node dist/service/worker/main.js`, what the container runs) against
 * moto_server, with the persona model behind PERSONA_MODEL_URL (SPEC §8.6) served by the test on
 * loopback, so the test can hold a consultation open and know the worker is mid-request:
 *
 * - kill -9 mid-request: the message is not deleted, no decision and no audit entry exist; the
 *   message comes back after the visibility timeout, a second worker process decides it once,
 *   the decision verifies, the queue and the dead-letter queue are empty, and `audit verify`
 *   accepts the audit table (one chain, one anchored entry, its end matching the PCR);
 * - SIGTERM mid-request: the worker finishes the request in hand, stores and deletes it, and
 *   exits 0 (test/integration/package/bundles.test.ts stops an idle bundled worker).
 *
 * Why the killed worker leaves no audit entry: the pipeline consults the council before it signs
 * and appends the audit entry (src/service/worker/pipeline.ts; src/audit/audit-chain.ts appends
 * only with the signed decision), and the kill lands while the consultation is held open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamoAuditStore } from '../../../src/aws/audit-store-dynamo.js';
import { DynamoTable, fromDynamo } from '../../../src/aws/dynamo-table.js';
import { writeCertifiedKeyDir } from '../../helpers/keyset.js';
import { type DecisionResponse } from '../../../src/protocol/decision.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import type { ProxyHandler } from '../../../src/service/proxy/handler.js';
import { DEFAULT_TABLES, REQUESTS_KEY, requestIdKey } from '../../../src/protocol/records.js';
import { sealRequest, type SealedRequest } from '../../../src/protocol/request.js';
import { proxyFromEnv } from '../../../src/service/wiring.js';
import { expectNoStack, repoRoot, runCli } from '../../helpers/cli.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { exitOf, waitFor } from '../../helpers/wait.js';
import { CLEAN_CODE, event, openDecision, p, serviceFixture } from '../../unit/service/fixtures.js';
import { startPersonaModelServer, type PersonaModelServer } from './persona-model-server.js';
import { createAwsResources, PREFIX, queueCounts } from './setup.js';

const WORKER_MAIN = join(repoRoot, 'dist/service/worker/main.js');
const VISIBILITY = 3;
const PCR = 16;
const f = serviceFixture();
let moto: Moto;
let model: PersonaModelServer;
let res: Awaited<ReturnType<typeof createAwsResources>>;
let proxy: ProxyHandler;
let tmp: string;
let keysDir: string;
let pcrFile: string;
let run = 0;
const children: ChildProcess[] = [];

/** DEBUG_SVC=1 prints what the workers and the audit check saw (as test/integration/service/service-aws.test.ts does). */
function debug(what: string, value: unknown): void {
  if (process.env.DEBUG_SVC) console.error(`-- ${what}:`, typeof value === 'string' ? value : JSON.stringify(value, null, 1));
}

/** A worker process and its structured log (one JSON object per stdout line). */
interface Worker {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  /** everything it wrote, for failure messages and the no-stack check */
  text(): string;
}

function startWorker(chain: string, extraEnv: Record<string, string> = {}): Worker {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmp,
    ...moto.env,
    // what infra/ecs.tf sets (SPEC §8.8), with short timeouts and the labelled simulated bank
    QUEUE_URL: res.queueUrl,
    REQUESTS_TABLE: DEFAULT_TABLES.requests,
    DECISIONS_TABLE: DEFAULT_TABLES.decisions,
    AUDIT_TABLE: DEFAULT_TABLES.audit,
    KEYS_SECRET_PREFIX: PREFIX,
    IMA_QS_PCR_ANCHOR: `simulated:${pcrFile}`,
    PCR_INDEX: String(PCR),
    // one chain per task, as the hostname default gives in ECS
    AUDIT_CHAIN_ID: chain,
    VISIBILITY_SECONDS: String(VISIBILITY),
    WAIT_SECONDS: '1',
    WORKER_PIPELINES: '1',
    PERSONA_MODEL_URL: model.url,
    HEARTBEAT_FILE: join(tmp, `${chain}.heartbeat`),
    ...extraEnv,
  };
  const child = spawn(process.execPath, [WORKER_MAIN], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    raw += line + '\n';
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ msg: `(not json) ${line}` });
    }
  });
  child.stderr!.on('data', (d) => (raw += String(d)));
  return { child, lines, text: () => raw };
}

/** Waits for a log line of the worker; fails early (with its output) if the worker has exited. */
function logged(w: Worker, msg: string, ms = 30_000): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const line = w.lines.find((l) => l.msg === msg);
    if (!line && w.child.exitCode !== null) throw new Error(`worker exited ${w.child.exitCode} before "${msg}":\n${w.text()}`);
    return line;
  }, `worker log "${msg}"`, ms);
}

/** Ends a worker gracefully and returns its exit. */
async function terminate(w: Worker) {
  w.child.kill('SIGTERM');
  return exitOf(w.child);
}

async function post(content: string): Promise<SealedRequest> {
  const r = sealRequest(p, f.recipient, 'analyze', { name: 'add.ts', content });
  const out = await proxy(event('POST', '/api/analyze', { body: r.sealed }));
  expect(out.statusCode).toBe(202);
  return r;
}

/** The opened decision once the proxy serves it (200), for a worker that must still be running. */
function decision(w: Worker, r: SealedRequest): Promise<DecisionResponse> {
  return waitFor(async () => {
    if (w.child.exitCode !== null) throw new Error(`worker exited ${w.child.exitCode}:\n${w.text()}`);
    const out = await proxy(event('GET', `/api/decisions/${r.handle}`));
    return out.statusCode === 200 ? (openDecision(out.body!, r.replyKey) as DecisionResponse) : undefined;
  }, 'the decision', 40_000);
}

/** Every item of the decisions table (a scan: the table is fresh for each test). */
async function allDecisions() {
  const out = await res.dynamo.send(new ScanCommand({ TableName: DEFAULT_TABLES.decisions }));
  return (out.Items ?? []).map(fromDynamo);
}

const drained = () =>
  waitFor(async () => {
    const [q, dlq] = await Promise.all([queueCounts(res.sqs, res.queueUrl), queueCounts(res.sqs, res.dlqUrl)]);
    return q.visible + q.inFlight + dlq.visible + dlq.inFlight === 0 ? true : undefined;
  }, 'the queue and the dead-letter queue to be empty', 20_000);

/** `ima-qs audit verify` over every chain of the audit table, against the simulated PCR file. */
async function auditVerify() {
  const r = await runCli(['audit', 'verify', '--table', DEFAULT_TABLES.audit, '--key', keysDir, '--simulated', pcrFile, '--json'], {
    env: { ...process.env, ...moto.env },
  });
  return { code: r.code, stderr: r.stderr, doc: r.json() };
}

beforeAll(async () => {
  if (!existsSync(WORKER_MAIN)) {
    throw new Error(`${WORKER_MAIN} is missing: build first (node node_modules/typescript/bin/tsc -p tsconfig.build.json; npm test does it)`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'ima-worker-kill-'));
  keysDir = join(tmp, 'keys');
  // a certified folder (the fixture's keys, its root and statement): the worker's KEYS_DIR
  await writeCertifiedKeyDir(p, keysDir, join(tmp, 'keys_root'), { keys: f.keys, root: f.rootKey });
  [moto, model] = await Promise.all([startMoto(), startPersonaModelServer()]);
});

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exitOf(c);
    }
  }
  await Promise.all([model?.stop(), moto?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  await moto.reset();
  res = await createAwsResources(moto.env, f, { visibility: VISIBILITY, maxReceiveCount: 5 });
  proxy = proxyFromEnv({ ...moto.env, QUEUE_URL: res.queueUrl, KEYS_SECRET_PREFIX: PREFIX });
  model.release();
  model.mode = 'answer';
  model.calls.length = 0;
  pcrFile = join(tmp, `pcr-${++run}.json`);
});

describe('the worker process (dist/service/worker/main.js) on moto_server', () => {
  it('killed with SIGKILL mid-request: the message comes back and a second worker decides it once', async () => {
    const r = await post(CLEAN_CODE);
    model.mode = 'hold';
    const first = startWorker('task-1');
    // the worker has opened the request, claimed its id, and is waiting for the council's votes
    await waitFor(async () => {
      if (first.child.exitCode !== null) throw new Error(`worker 1 exited ${first.child.exitCode}:\n${first.text()}`);
      return model.held() === 1 ? true : undefined;
    }, 'worker 1 to consult the persona model', 30_000);
    expect(model.calls).toEqual([{ council: 'code-analysis', route: 'analyze', request_digest: r.handle, personas: 21 }]);

    first.child.kill('SIGKILL'); // kill -9: no handler runs, nothing is released or settled
    expect(await exitOf(first.child)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(first.lines.map((l) => l.msg)).not.toContain('stopping');
    expect(first.lines.map((l) => l.msg)).not.toContain('decision stored');

    // not deleted: the message is still in the queue (in flight until its visibility ends)
    const after = await queueCounts(res.sqs, res.queueUrl);
    debug('queue right after the kill', after);
    expect(after.visible + after.inFlight).toBe(1);
    // no decision, and the killed worker wrote no audit entry (it died before signing)
    expect(await allDecisions()).toEqual([]);
    expect((await proxy(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(202);
    expect(await dynamoAuditStore(res.dynamo).chains()).toEqual([]);
    // what it did store before dying: the claim of the inner request id (for this same request)
    const claim = await new DynamoTable(res.dynamo, DEFAULT_TABLES.requests, REQUESTS_KEY).get({ id: requestIdKey(r.inner.request_id) });
    expect(claim?.handle).toBe(r.handle);

    // the message comes back by itself once the visibility timeout ends
    await waitFor(async () => ((await queueCounts(res.sqs, res.queueUrl)).visible === 1 ? true : undefined), 'the message to become visible again', 30_000);

    model.mode = 'answer';
    const second = startWorker('task-2');
    const response = await decision(second, r);
    const v = verifyResponse(p, response, f.pin, { requestDigest: r.handle });
    expect(v.checks.filter((c) => !c.ok)).toEqual([]);
    expect(response.decision).toMatchObject({ request_id: r.inner.request_id, model: 'http', outcome: 'approve' });
    expect(response.audit).toMatchObject({ entry: { chain: 'task-2/0', seq: 0 }, proof: { index: 0, size: 1 }, batch: { statement: { chain: 'task-2/0', size: 1, pcr: { index: PCR, simulated: true } } } });

    await drained();
    const stored = await allDecisions();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id: r.handle, status: 'decided' });
    // each worker consulted the model once for this request: the second one redid the work
    expect(model.calls.map((c) => c.request_digest)).toEqual([r.handle, r.handle]);

    // the audit table: one chain (task-2/0: the one pipeline of task-2), one anchored entry, verified and matching the PCR
    const recs = await dynamoAuditStore(res.dynamo).range('task-2/0');
    expect(recs).toHaveLength(1);
    const [batch] = await dynamoAuditStore(res.dynamo).batches('task-2/0');
    expect(JSON.parse(batch.statement)).toMatchObject({ first_seq: 0, size: 1, pcr: { index: PCR, simulated: true } });
    const audit = await auditVerify();
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.doc.chains).toHaveLength(1);
    expect(audit.doc.chains[0]).toMatchObject({ chain: 'task-2/0', ok: true, entries: 1, first: 0, last: 0, batches: 1, signers: [f.fp.mldsa], problem: null });
    expect(audit.doc.chains[0].compared.status).toBe('match');

    debug('audit verify', audit.doc);
    expect(await terminate(second)).toEqual({ code: 0, signal: null });
    debug('worker 1 log', first.text());
    debug('worker 2 log', second.text());
    expect(second.lines.find((l) => l.msg === 'worker stopped')).toMatchObject({ decided: 1, duplicate: 0, rejected: 0, poison: 0, released: 0 });
    // CloudWatch EMF on stdout (Powertools; SPEC §8.8 metrics): the contract the alarms are written against
    const emf = second.lines.filter((l) => '_aws' in l) as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] }; [k: string]: unknown }[];
    const metric = (name: string, dims: Record<string, string> = {}) =>
      emf.filter((l) => l._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === name) && Object.entries(dims).every(([k, v]) => l[k] === v));
    for (const l of emf) {
      expect(l._aws.CloudWatchMetrics[0].Namespace).toBe('ima-qs');
      expect(l.service).toBe('worker');
      expect(typeof (l._aws as { Timestamp?: unknown }).Timestamp).toBe('number');
    }
    expect(metric('Decisions')).toHaveLength(1);
    expect(metric('Decisions')[0].Decisions).toBe(1);
    for (const stage of ['open', 'council', 'sign', 'audit', 'seal', 'store', 'total']) {
      const [l] = metric('StageLatency', { stage });
      expect(l, stage).toBeDefined();
      expect(l._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'stage']]);
      expect(l._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'StageLatency', Unit: 'Milliseconds' }]);
    }
    // picked up after the visibility timeout of the killed worker: the age counts from the proxy's received_at
    expect(Number(metric('QueueAgeAtPickup')[0].QueueAgeAtPickup)).toBeGreaterThanOrEqual(VISIBILITY * 1000);
    expect(metric('UnanchoredEntries')[0].UnanchoredEntries).toBe(0);
    expectNoStack(first.text() + second.text());
  });

  it('SIGTERM mid-request: the worker finishes the request in hand, deletes it, and exits 0', async () => {
    const r = await post(CLEAN_CODE);
    model.mode = 'hold';
    const w = startWorker('task-3');
    await waitFor(async () => {
      if (w.child.exitCode !== null) throw new Error(`worker exited ${w.child.exitCode}:\n${w.text()}`);
      return model.held() === 1 ? true : undefined;
    }, 'the worker to consult the persona model', 30_000);

    w.child.kill('SIGTERM');
    expect(await logged(w, 'stopping')).toMatchObject({ signal: 'SIGTERM' });
    // it has stopped polling but still holds the request: nothing decided yet, process alive
    expect(await allDecisions()).toEqual([]);
    expect(w.child.exitCode).toBeNull();

    model.release(); // the council answers: the worker completes the pipeline before it exits
    expect(await exitOf(w.child)).toEqual({ code: 0, signal: null });
    expect(w.lines.find((l) => l.msg === 'worker stopped')).toMatchObject({ decided: 1, released: 0 });
    expect(w.lines.find((l) => l.msg === 'decision stored')).toMatchObject({ handle: r.handle });

    const response = await (async () => {
      const out = await proxy(event('GET', `/api/decisions/${r.handle}`));
      expect(out.statusCode).toBe(200);
      return openDecision(out.body!, r.replyKey) as DecisionResponse;
    })();
    expect(verifyResponse(p, response, f.pin, { requestDigest: r.handle }).checks.filter((c) => !c.ok)).toEqual([]);
    await drained();
    const audit = await auditVerify();
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.doc.chains).toMatchObject([{ chain: 'task-3/0', ok: true, entries: 1, compared: { status: 'match' } }]);
    expectNoStack(w.text());
  });
  it('SIGTERM past the grace period: the request in hand is released, the worker exits 0, another decides it once', async () => {
    const r = await post(CLEAN_CODE);
    model.mode = 'hold';
    const w = startWorker('task-4', { STOP_GRACE_SECONDS: '1' });
    await waitFor(async () => {
      if (w.child.exitCode !== null) throw new Error(`worker exited ${w.child.exitCode}:\n${w.text()}`);
      return model.held() === 1 ? true : undefined;
    }, 'the worker to consult the persona model', 30_000);

    w.child.kill('SIGTERM');
    // the consultation never answers: after 1 s the message is released, and the process ends
    // at once instead of finishing a pipeline another worker will now run
    expect(await exitOf(w.child)).toEqual({ code: 0, signal: null });
    expect(w.lines.find((l) => l.msg === 'worker stopped')).toMatchObject({ decided: 0, released: 1 });
    expect(await allDecisions()).toEqual([]);
    // released means visible again now, not after the 3 s visibility timeout
    expect(await queueCounts(res.sqs, res.queueUrl)).toMatchObject({ visible: 1, inFlight: 0 });

    model.mode = 'answer';
    model.release();
    const w2 = startWorker('task-5');
    const response = await decision(w2, r);
    expect(verifyResponse(p, response, f.pin, { requestDigest: r.handle }).checks.filter((c) => !c.ok)).toEqual([]);
    expect(await allDecisions()).toHaveLength(1);
    expect(await terminate(w2)).toEqual({ code: 0, signal: null });
    await drained();
    expectNoStack(w.text());
  });
});
