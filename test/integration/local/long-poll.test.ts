// Long polling on the local stack (SPEC §8.2 `?wait=S`): the proxy's held poll is woken by the
// worker's store of the decision, so a client request completes with exactly ONE decisions GET
// (counted at the loopback server). A client talking as to an older server (the query string
// dropped) still gets its decision by polling. Several held polls do not block the server.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlackBoxClient, type FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { startLocalStack, type LocalStack } from '../../../src/local/local-stack.js';
import { tempDir } from './helpers.js';

const p = getProvider('node');
const tmp = tempDir('ima-longpoll-');
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ stateDir: join(tmp.dir, 'state'), anchor: { kind: 'simulated' }, port: 0, workers: 1 });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  tmp.cleanup();
});

const decisionGets = () => stack.http.byRoute['GET /api/decisions'] ?? 0;
/** the global fetch as the client's FetchLike (a Uint8Array body is a valid fetch body) */
const netFetch = fetch as unknown as FetchLike;
const payload = (n: number) => ({ name: `m${n}.py`, content: `def f${n}(x: int) -> int:\n    return x + ${n}\n` });

describe('local stack: long polling', () => {
  it('a request completes with exactly one decisions GET', async () => {
    const urls: string[] = [];
    const counting: FetchLike = (url, init) => (urls.push(url), netFetch(url, init));
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: p, fetch: counting, timeoutMs: 30_000 });
    const before = decisionGets();
    const r = await client.request('analyze', payload(1));
    expect(r.checks.every((c) => c.ok)).toBe(true);
    expect(r.polls).toBe(1);
    expect(decisionGets() - before).toBe(1);
    expect(urls.filter((u) => u.includes('/api/decisions/'))).toEqual([`${stack.endpoint}/api/decisions/${r.handle}?wait=10`]);
  }, 30_000);

  it('concurrent requests are each held and answered (the server is not blocked)', async () => {
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: p, timeoutMs: 30_000 });
    const before = decisionGets();
    const results = await Promise.all([2, 3, 4, 5].map((n) => client.request(n % 2 ? 'analyze' : 'patents', payload(n))));
    expect(results.map((r) => r.polls)).toEqual([1, 1, 1, 1]);
    expect(decisionGets() - before).toBe(4);
  }, 30_000);

  it('a client whose wait never reaches the server (an older proxy) falls back to polling', async () => {
    const stripped: FetchLike = (url, init) => netFetch(url.replace(/\?wait=\d+$/, ''), init);
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: p, fetch: stripped, timeoutMs: 30_000, pollMs: 10, maxPollMs: 50 });
    const r = await client.request('patents', { name: 'c.txt', content: 'What is claimed is:\n1. A widget comprising a lever.\n' });
    expect(r.checks.every((c) => c.ok)).toBe(true);
    expect(r.polls).toBeGreaterThan(1);
  }, 30_000);

  it('an out-of-range wait is refused with 400 BAD_WAIT', async () => {
    const res = await fetch(`${stack.endpoint}/api/decisions/${'ab'.repeat(32)}?wait=21`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_WAIT');
  });
});
