/**
 * Enqueue and replay guard agree, on moto_server (SPEC §8.2, issue 12 item 6): the proxy built by
 * the Lambda's wiring (proxyFromEnv) sends to an SQS queue that does not exist yet, so the real
 * SendMessage fails; the answer is 503, the req#<handle> item is gone from the real DynamoDB
 * table (DynamoTable.deleteIf with its condition), and once the queue exists the same body is
 * accepted and queued exactly once.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../../../src/aws/config.js';
import { DynamoTable } from '../../../src/aws/dynamo-table.js';
import { REQUESTS_KEY, decodeQueued, requestKey } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { SecretsManagerStore } from '../../../src/aws/secret-store.js';
import { proxyFromEnv } from '../../../src/service/wiring.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { event, p, serviceFixture } from '../../unit/service/fixtures.js';
import { createAwsResources, PREFIX } from './setup.js';

let moto: Moto;
const f = serviceFixture();

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

describe('a failed SQS send on moto_server', () => {
  it('503, no guard left in DynamoDB, and the same body is queued once when sent again', async () => {
    await moto.reset();
    const res = await createAwsResources(moto.env, f, { visibility: 30, maxReceiveCount: 5 });
    const missingQueue = res.queueUrl.replace(/ima-quantum-requests$/, 'ima-quantum-requests-later');
    expect(missingQueue).not.toBe(res.queueUrl);
    const env = { ...moto.env, AWS_MAX_ATTEMPTS: '1', QUEUE_URL: missingQueue, KEYS_SECRET_PREFIX: PREFIX };
    const proxy = proxyFromEnv(env);
    const requests = new DynamoTable(new DynamoDBClient(awsClientConfig('DYNAMODB', {}, moto.env)), 'ima-quantum-requests', REQUESTS_KEY);

    const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'export const x = 1;\n' });
    const post = () => proxy(event('POST', '/api/analyze', { body: r.sealed }));
    const first = await post();
    expect(first.statusCode).toBe(503);
    expect(JSON.parse(first.body!).error.code).toBe('SERVICE_UNAVAILABLE');
    expect(await requests.get({ id: requestKey(r.handle) })).toBeUndefined();
    expect((await proxy(event('GET', `/api/decisions/${r.handle}`))).statusCode).toBe(404);

    // the queue appears (the outage ends): the same body is accepted now
    const sqs = new SQSClient(awsClientConfig('SQS', {}, moto.env));
    const created = await sqs.send(new CreateQueueCommand({ QueueName: 'ima-quantum-requests-later' }));
    expect(created.QueueUrl).toBe(missingQueue);
    const again = await post();
    expect(again.statusCode).toBe(202);
    const guard = await requests.get({ id: requestKey(r.handle) });
    expect(guard?.attempt).toMatch(/^[0-9a-f]{32}$/);
    expect((await post()).statusCode).toBe(409);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: missingQueue, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    expect((got.Messages ?? []).map((m) => decodeQueued(m.Body!).msg.handle)).toEqual([r.handle]);
  });

  it('DynamoTable.deleteIf: deletes only on a matching attribute (conditional delete in DynamoDB)', async () => {
    await moto.reset();
    await createAwsResources(moto.env, f, { visibility: 30, maxReceiveCount: 5 });
    const t = new DynamoTable(new DynamoDBClient(awsClientConfig('DYNAMODB', {}, moto.env)), 'ima-quantum-requests', REQUESTS_KEY);
    await t.put({ id: 'req#x', attempt: 'a1', ttl: 1 });
    expect(await t.deleteIf({ id: 'req#missing' }, { attempt: 'a1' })).toBe(false);
    expect(await t.deleteIf({ id: 'req#x' }, { attempt: 'a2' })).toBe(false);
    expect(await t.get({ id: 'req#x' })).toMatchObject({ attempt: 'a1' });
    expect(await t.deleteIf({ id: 'req#x' }, { attempt: 'a1', ttl: 1 })).toBe(true);
    expect(await t.get({ id: 'req#x' })).toBeUndefined();
  });

  it('a public-keys secret that is not a keys document is a 503 (an operator problem), not a 500', async () => {
    await moto.reset();
    await createAwsResources(moto.env, f, { visibility: 30, maxReceiveCount: 5 });
    const store = SecretsManagerStore.fromOptions({}, moto.env);
    await store.putVersion(`${PREFIX}/public-keys`, 'this is not json');
    const proxy = proxyFromEnv({ ...moto.env, AWS_MAX_ATTEMPTS: '1', QUEUE_URL: `${moto.endpoint}/000000000000/q`, KEYS_SECRET_PREFIX: PREFIX });
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'x' });
    const res = await proxy(event('POST', '/api/analyze', { body: r.sealed }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error.code).toBe('SERVICE_UNAVAILABLE');
  });
});
