/**
 * The service against real emulators: moto_server (SQS + DynamoDB + Secrets Manager + KMS) and
 * swtpm through tpm2-tools. The proxy and the worker are built by the same wiring as the Lambda
 * and the container (src/service/wiring.ts), from environment variables.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../../../src/aws/config.js';
import { dynamoAuditStore } from '../../../src/aws/audit-store-dynamo.js';
import { DynamoTable } from '../../../src/aws/dynamo-table.js';
import { toHex } from '../../../src/crypto/bytes.js';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { DECISIONS_KEY } from '../../../src/protocol/records.js';
import { sealRequest, type SealedRequest } from '../../../src/protocol/request.js';
import { proxyFromEnv, workerFromEnv } from '../../../src/service/wiring.js';
import { verifyStore } from '../../../src/audit/audit-verify-run.js';
import { Tpm2ToolsBank } from '../../../src/tpm/tpm2-tools.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { startSwtpm, type Swtpm } from '../../helpers/swtpm.js';
import { waitFor } from '../../helpers/wait.js';
import { BAD_CODE, CLEAN_CODE, event, memoryLogger, openDecision, p, serviceFixture } from '../../unit/service/fixtures.js';
import { createAwsResources, PREFIX } from './setup.js';
import type { ProxyHandler } from '../../../src/service/proxy/handler.js';

const PCR = 16;
const VISIBILITY = 2;
let moto: Moto;
let tpm: Swtpm;
let env: Record<string, string>;
let res: Awaited<ReturnType<typeof createAwsResources>>;
let proxy: ProxyHandler;
const f = serviceFixture();

beforeAll(async () => {
  [moto, tpm] = await Promise.all([startMoto(), startSwtpm()]);
});
afterAll(async () => {
  await Promise.all([moto?.stop(), tpm?.stop()]);
});
beforeEach(async () => {
  await moto.reset();
  res = await createAwsResources(moto.env, f, { visibility: VISIBILITY, maxReceiveCount: 5 });
  env = {
    ...moto.env,
    QUEUE_URL: res.queueUrl,
    KEYS_SECRET_PREFIX: PREFIX,
    TPM2TOOLS_TCTI: tpm.tcti,
    PCR_INDEX: String(PCR),
    AUDIT_CHAIN_ID: `worker-${Date.now()}`,
    VISIBILITY_SECONDS: String(VISIBILITY),
    WAIT_SECONDS: '1',
    // one pipeline thread: its chain is <AUDIT_CHAIN_ID>/0 (SPEC §8.7)
    WORKER_PIPELINES: '1',
  };
  proxy = proxyFromEnv(env);
});

const tpmBank = () => new Tpm2ToolsBank({ env: {}, tcti: tpm.tcti });
const readPcr = async () => (await tpmBank().read(PCR, ['sha256'])).sha256;

async function post(route: 'analyze' | 'patents', content: string): Promise<SealedRequest> {
  const r = sealRequest(p, f.recipient, route, { name: 'input.txt', content });
  const out = await proxy(event('POST', `/api/${route}`, { body: r.sealed }));
  expect(out.statusCode).toBe(202);
  return r;
}

async function decided(handle: string) {
  const out = await proxy(event('GET', `/api/decisions/${handle}`));
  return out.statusCode === 200 ? out : undefined;
}

async function queueEmpty(url: string): Promise<boolean> {
  const out = await res.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
  return (out.Messages ?? []).length === 0;
}

/**
 * `audit verify` of the chain against the TPM: every entry, every signed batch statement, every
 * recomputed root, and the chain's end equal to the PCR the TPM holds now; the first batch starts
 * where the PCR was when the test began.
 */
async function verifiedAgainstTpm(start?: Uint8Array) {
  const store = dynamoAuditStore(res.dynamo);
  const value = toHex(await readPcr());
  const run = await verifyStore(p, store, {
    chains: [`${env.AUDIT_CHAIN_ID}/0`],
    trusted: new Map([[f.fp.mldsa, f.keys.mldsa.publicKey]]),
    evidence: async () => ({ source: 'swtpm', values: [{ pcr: PCR, bank: 'sha256', value }] }),
  });
  const r = run.results[0];
  expect(r.verdict.problem).toBeUndefined();
  expect(r.pcr.status).toBe('match');
  expect(r.verdict.pcr).toMatchObject({ ...(start ? { start: toHex(start) } : {}), end: value, simulated: false });
  return r.verdict;
}

describe('service on moto_server + swtpm', () => {
  it('request in → decision out: signatures valid, PCR advanced by exactly the audit entries, message deleted', async () => {
    const start = await readPcr();
    const reqs = [await post('analyze', CLEAN_CODE), await post('analyze', BAD_CODE), await post('patents', 'Title: x\n')];
    const log = memoryLogger();
    const w = await workerFromEnv(env, log);
    w.consumer.start();
    try {
      for (const r of reqs) {
        const out = await waitFor(() => decided(r.handle), 'a decision');
        const v = verifyResponse(p, openDecision(out.body!, r.replyKey), f.pin, { requestDigest: r.handle });
        expect(v.checks.filter((c) => !c.ok)).toEqual([]);
      }
    } finally {
      await w.consumer.stop();
      await w.close();
      if (process.env.DEBUG_SVC) console.error(log.lines.join('\n'));
    }
    const recs = await dynamoAuditStore(res.dynamo).range(`${env.AUDIT_CHAIN_ID}/0`);
    expect(recs).toHaveLength(3);
    expect((await verifiedAgainstTpm(start)).entries).toBe(3);
    expect(await queueEmpty(res.queueUrl)).toBe(true);
  });

  it('a replayed request is refused with 409 (conditional write in DynamoDB)', async () => {
    const r = await post('analyze', CLEAN_CODE);
    const again = await proxy(event('POST', '/api/analyze', { body: r.sealed }));
    expect(again.statusCode).toBe(409);
    expect(JSON.parse(again.body!).error.code).toBe('REPLAYED_REQUEST');
  });

  it('oversized, malformed and wrongly typed bodies are refused before any crypto', async () => {
    const big = await proxy(event('POST', '/api/analyze', { body: new Uint8Array(200 * 1024) }));
    expect(big.statusCode).toBe(413);
    const notEnvelope = await proxy(event('POST', '/api/analyze', { body: new Uint8Array(2000) }));
    expect(JSON.parse(notEnvelope.body!).error.code).toBe('NOT_AN_ENVELOPE');
    const json = await proxy(event('POST', '/api/analyze', { body: '{}', contentType: 'application/json' }));
    expect(json.statusCode).toBe(415);
    for (const r of [big, notEnvelope, json]) expect(r.body).not.toMatch(/at .*\.ts:\d+/);
  });

  it('a message delivered twice gives one decision', async () => {
    const r = await post('analyze', CLEAN_CODE);
    // the same queued body a second time (SQS at-least-once delivery)
    const [m] = (await res.sqs.send(new ReceiveMessageCommand({ QueueUrl: res.queueUrl, MaxNumberOfMessages: 1 }))).Messages!;
    await res.sqs.send(new SendMessageCommand({ QueueUrl: res.queueUrl, MessageBody: m.Body! }));
    const w = await workerFromEnv(env, memoryLogger());
    w.consumer.start();
    try {
      await waitFor(() => decided(r.handle), 'the decision');
      await waitFor(async () => (w.consumer.stats.decided + w.consumer.stats.duplicate >= 2 ? true : undefined), 'both deliveries settled');
    } finally {
      await w.consumer.stop();
      await w.close();
    }
    expect(await dynamoAuditStore(res.dynamo).range(`${env.AUDIT_CHAIN_ID}/0`)).toHaveLength(1);
    expect({ decided: w.consumer.stats.decided, duplicate: w.consumer.stats.duplicate }).toEqual({ decided: 1, duplicate: 1 });
    expect(await queueEmpty(res.queueUrl)).toBe(true);
  });

  it('a receiver that never settles (a dead worker, in-process): the message comes back after the visibility timeout and is processed once', async () => {
    const r = await post('analyze', CLEAN_CODE);
    // the dead worker: it received the message and never settled it (a real kill -9 of the worker
    // process mid-request: worker-kill.test.ts)
    const got = await res.sqs.send(new ReceiveMessageCommand({ QueueUrl: res.queueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: VISIBILITY }));
    expect(got.Messages).toHaveLength(1);
    const w = await workerFromEnv(env, memoryLogger());
    w.consumer.start();
    try {
      await waitFor(() => decided(r.handle), 'the decision after redelivery');
    } finally {
      await w.consumer.stop();
      await w.close();
    }
    expect(w.consumer.stats.decided).toBe(1);
    expect(await dynamoAuditStore(res.dynamo).range(`${env.AUDIT_CHAIN_ID}/0`)).toHaveLength(1);
    expect(await queueEmpty(res.queueUrl)).toBe(true);
  });

  it('TPM unreachable: no decision is released, the message comes back and is decided once the TPM is back', async () => {
    const r = await post('analyze', CLEAN_CODE);
    const dead = await workerFromEnv({ ...env, TPM2TOOLS_TCTI: `swtpm:path=${tpm.dir}/nothing.sock` }, memoryLogger());
    dead.consumer.start();
    await waitFor(async () => (dead.consumer.stats.retry > 0 ? true : undefined), 'a failed attempt');
    await dead.consumer.stop();
      await dead.close();
    expect((await proxy(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(202);
    const w = await workerFromEnv(env, memoryLogger());
    w.consumer.start();
    try {
      await waitFor(() => decided(r.handle), 'the decision once the TPM is back');
    } finally {
      await w.consumer.stop();
      await w.close();
    }
    // the failed attempt's entry is the request's one entry (SPEC §8.7 once per request): the
    // retry anchored it with its extend and answered from it; the PCR still replays exactly
    const recs = await dynamoAuditStore(res.dynamo).range(`${env.AUDIT_CHAIN_ID}/0`);
    expect(recs).toHaveLength(1);
    expect(JSON.parse(recs[0].core).request_digest).toBe(r.handle);
    await verifiedAgainstTpm();
  });

  it('a poison message goes to the dead-letter queue after maxReceiveCount receives', async () => {
    await res.sqs.send(new SendMessageCommand({ QueueUrl: res.queueUrl, MessageBody: 'not a request' }));
    const w = await workerFromEnv(env, memoryLogger());
    w.consumer.start();
    try {
      const dl = await waitFor(async () => {
        const out = await res.sqs.send(new ReceiveMessageCommand({ QueueUrl: res.dlqUrl, MaxNumberOfMessages: 1 }));
        return out.Messages?.[0];
      }, 'the dead-letter queue');
      expect(dl.Body).toBe('not a request');
    } finally {
      await w.consumer.stop();
      await w.close();
    }
    expect(w.consumer.stats.poison).toBeGreaterThanOrEqual(5);
  });

  it('DynamoDB throttling is retried (ProvisionedThroughputExceededException injected in the SDK middleware stack)', async () => {
    let injected = 0;
    let attempts = 0;
    const dynamo = new DynamoDBClient(awsClientConfig('DYNAMODB', {}, env));
    // a deserialize-step middleware runs inside the SDK retry loop: every other attempt (the 1st,
    // 3rd, …) is throttled, so every call is throttled once and must succeed on its retry
    dynamo.middlewareStack.add(
      (next) => async (args) => {
        if (attempts++ % 2 === 0 && injected < 40) {
          injected++;
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
            name: 'ProvisionedThroughputExceededException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'deserialize', name: 'injectThrottling' },
    );
    const r = await post('analyze', CLEAN_CODE);
    const w = await workerFromEnv(env, memoryLogger(), { dynamo, inline: true });
    w.consumer.start();
    try {
      await waitFor(() => decided(r.handle), 'the decision despite throttling');
    } finally {
      await w.consumer.stop();
      await w.close();
    }
    expect(injected).toBeGreaterThan(0);
    const stored = await new DynamoTable(res.dynamo, 'ima-quantum-decisions', DECISIONS_KEY).get({ id: r.handle });
    expect(stored?.status).toBe('decided');
  });
});
