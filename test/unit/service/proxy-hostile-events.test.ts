/**
 * The proxy handler (the Lambda adapter) given malformed API Gateway events (SPEC §8.2, issue 12
 * item 9): odd paths, query strings, methods, headers and bodies — also ones API Gateway would
 * not send, as a direct invoker could — are a 4xx with a JSON error code, never a 500; afterwards
 * the same handler still serves a valid request.
 */
import { describe, expect, it } from 'vitest';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import type { APIGatewayProxyEventV2 } from '../../../src/service/proxy/apigw.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { event, memoryLogger, p, serviceFixture } from './fixtures.js';

const f = serviceFixture();
const log = memoryLogger();
const proxy = createProxyHandler({
  p,
  requests: new MemoryTable('r', REQUESTS_KEY),
  decisions: new MemoryTable('d', DECISIONS_KEY),
  queue: new MemoryQueue({ visibilitySeconds: 30 }),
  clock: { now: () => Date.now() },
  keys: async () => f.published,
  log,
});

const H = 'a'.repeat(64);
const withPath = (rawPath: unknown, rawQueryString: unknown = '', method = 'GET') => {
  const e = event(method, '/');
  (e as unknown as Record<string, unknown>).rawPath = rawPath;
  (e as unknown as Record<string, unknown>).rawQueryString = rawQueryString;
  return e;
};
const mutate = (base: APIGatewayProxyEventV2, edit: (e: Record<string, any>) => void) => {
  const e = structuredClone(base) as unknown as Record<string, any>;
  edit(e);
  return e as unknown as APIGatewayProxyEventV2;
};
const sealed = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'x' }).sealed;
const validPost = () => event('POST', '/api/analyze', { body: sealed });

const CASES: [string, number, () => APIGatewayProxyEventV2][] = [
  ['path //[', 404, () => withPath('//[')],
  ['path with a space', 400, () => withPath('/api/ keys')],
  ['path with a NUL', 400, () => withPath('/api/keys\u0000')],
  ['path with a newline', 400, () => withPath('/api/keys\n')],
  ['path with non-ASCII', 400, () => withPath('/api/clés')],
  ['path without a leading slash', 400, () => withPath('api/keys')],
  ['empty path', 400, () => withPath('')],
  ['path a number', 400, () => withPath(42)],
  ['path an object', 400, () => withPath({ toString: 1 })],
  ['path 10 000 characters', 414, () => withPath(`/${'a'.repeat(10_000)}`)],
  ['query a number', 400, () => withPath(`/api/decisions/${H}`, 7)],
  ['query with a newline', 400, () => withPath(`/api/decisions/${H}`, 'wait=1\n')],
  ['query 10 000 characters', 414, () => withPath(`/api/decisions/${H}`, 'x'.repeat(10_000))],
  ['query with a malformed %-escape', 400, () => withPath(`/api/decisions/${H}`, 'wait=%zz')],
  ['wait in queryStringParameters only, a number', 404, () => mutate(event('GET', `/api/decisions/${H}`), (e) => (e.queryStringParameters = { wait: 5 }))],
  ['wait in queryStringParameters only, an object', 400, () => mutate(event('GET', `/api/decisions/${H}`), (e) => (e.queryStringParameters = { wait: { a: 1 } }))],
  ['a lower-case method', 400, () => mutate(event('GET', '/api/keys'), (e) => (e.requestContext.http.method = 'get'))],
  ['a method that is a number', 400, () => mutate(event('GET', '/api/keys'), (e) => (e.requestContext.http.method = 1))],
  ['headers null', 415, () => mutate(validPost(), (e) => (e.headers = null))],
  ['content-type an array', 415, () => mutate(validPost(), (e) => (e.headers['content-type'] = ['application/octet-stream']))],
  ['body a number', 400, () => mutate(validPost(), (e) => (e.body = 12345))],
  ['body an object', 400, () => mutate(validPost(), (e) => (e.body = { a: 1 }))],
  ['body not base64', 400, () => mutate(validPost(), (e) => (e.body = '!!!!'))],
  ['isBase64Encoded a string', 400, () => mutate(validPost(), (e) => (e.isBase64Encoded = 'true'))],
  ['requestContext missing', 200, () => mutate(event('GET', '/api/keys'), (e) => delete e.requestContext)],
  ['an event that is null', 400, () => null as unknown as APIGatewayProxyEventV2],
  ['an event that is a string', 400, () => 'GET /api/keys' as unknown as APIGatewayProxyEventV2],
];

describe('hostile events to the proxy handler', () => {
  it.each(CASES)('%s → %i', async (_what, status, make) => {
    const res = await proxy(make());
    expect(res.statusCode).toBe(status);
    if (status >= 400) expect(JSON.parse(res.body!).error.code).toMatch(/^[A-Z0-9_]+$/);
  });

  it('logged nothing as an internal error, and still decides a valid request afterwards', async () => {
    expect(log.lines.filter((l) => l.includes('INTERNAL'))).toEqual([]);
    const res = await proxy(validPost());
    expect(res.statusCode).toBe(202);
  });
});
