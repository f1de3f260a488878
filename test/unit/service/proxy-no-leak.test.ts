/**
 * The proxy's answers never carry internals (SPEC §8.2): a remote failure (AWS error text, an
 * ARN) is a bare 503, a bug (an Error with a file path and a stack) a bare 500; the detail goes to
 * the log only.
 */
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../../../src/protocol/records.js';
import { sealRequest } from '../../../src/protocol/request.js';
import { event, memoryLogger, p, serviceFixture } from './fixtures.js';

const AWS_TEXT = 'User: arn:aws:sts::123456789012:assumed-role/ima-proxy is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-central-1:123456789012:table/ima-quantum-requests';

function failingTable(err: () => Error): MemoryTable {
  const t = new MemoryTable('ima-quantum-requests', REQUESTS_KEY);
  t.put = async () => {
    throw err();
  };
  return t;
}

describe('proxy refusals carry no internals', () => {
  const f = serviceFixture();
  const cases: [string, () => Error, number, string][] = [
    ['an AWS failure', () => new RemoteError('AWS_ACCESS_DENIED', AWS_TEXT), 503, 'SERVICE_UNAVAILABLE'],
    ['a bug', () => new TypeError("Cannot read properties of undefined (reading 'id') at /var/task/index.mjs:12:7"), 500, 'INTERNAL'],
  ];
  for (const [what, err, status, code] of cases) {
    it(`${what}: ${status} ${code}, the detail only in the log`, async () => {
      const log = memoryLogger();
      const proxy = createProxyHandler({
        p,
        requests: failingTable(err),
        decisions: new MemoryTable('ima-quantum-decisions', DECISIONS_KEY),
        queue: new MemoryQueue({ visibilitySeconds: 30 }),
        clock: { now: () => Date.now() },
        keys: async () => f.published,
        log,
      });
      const r = sealRequest(p, f.recipient, 'analyze', { name: 'a.ts', content: 'x' });
      const res = await proxy(event('POST', '/api/analyze', { body: r.sealed }));
      expect(res.statusCode).toBe(status);
      const body = JSON.parse(res.body!);
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error.code).toBe(code);
      expect(res.body).not.toMatch(/arn:|\/var\/task|at \/|TypeError|not authorized/);
      expect(log.lines.join('\n')).toMatch(/not authorized|Cannot read properties/);
    });
  }
});
