// BlackBoxClient refusals that need no running service, with a scripted fetch serving a real
// signed keys document: a wrong pin stops before any POST; a 202 naming another handle is
// refused; a service refusal carries its code; malformed endpoint/pin are usage errors.
// And the loadtest's nearest-rank percentiles.
import { describe, expect, it } from 'vitest';
import { testKeySet } from '../../helpers/keyset.js';
import { BlackBoxClient, readCapped, type FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { fingerprints, generateServiceKeys, publicKeysOf } from '../../../src/keys/key-dir.js';
import { latencyStats } from '../../../src/commands/loadtest.js';
import { requestHandle } from '../../../src/protocol/request.js';

const p = getProvider('node');
const keys = generateServiceKeys(p);
const pub = publicKeysOf(keys);
// the pin is the root's fingerprint; the document carries the root-signed key-set statement
const { pin, doc } = testKeySet(p, { keys });

function scripted(answers: Record<string, (body?: Uint8Array) => { status: number; body: string }>) {
  const seen: string[] = [];
  const queries: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    queries.push(new URL(url).search);
    const key = `${init?.method ?? 'GET'} ${new URL(url).pathname.replace(/[0-9a-f]{64}$/, 'H')}`;
    seen.push(key);
    const a = answers[key]?.(init?.body) ?? { status: 404, body: '{"error":{"code":"NOT_FOUND","message":"no"}}' };
    // the types SPEC §8.2 gives: JSON everywhere but a decided poll (a sealed, binary response)
    const type = key === 'GET /api/decisions/H' && a.status === 200 ? 'application/octet-stream' : 'application/json';
    return { status: a.status, headers: { get: (h: string) => (h === 'content-type' ? type : null) }, text: async () => a.body, arrayBuffer: async () => new TextEncoder().encode(a.body).buffer };
  };
  return { fetch, seen, queries };
}

describe('BlackBoxClient', () => {
  it('refuses a keys document signed by another key before sending anything', async () => {
    const s = scripted({ 'GET /api/keys': () => ({ status: 200, body: doc }) });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin: 'ab'.repeat(32), fetch: s.fetch, provider: p });
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'KEYS_DOC_PIN_MISMATCH', errorClass: 'verify' });
    expect(s.seen).toEqual(['GET /api/keys']);
  });

  it('refuses a 202 that names another handle than the digest of what was sent', async () => {
    const s = scripted({
      'GET /api/keys': () => ({ status: 200, body: doc }),
      'POST /api/analyze': () => ({ status: 202, body: JSON.stringify({ handle: 'cd'.repeat(32), status: 'queued' }) }),
    });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test/', pin, fetch: s.fetch, provider: p });
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'HANDLE_MISMATCH' });
    expect(s.seen).toEqual(['GET /api/keys', 'POST /api/analyze']);
  });

  it('without long polling (waitSeconds 0), waits the first poll delay after the 202 before its first poll', async () => {
    const times: Record<string, number> = {};
    const s = scripted({
      'GET /api/keys': () => ({ status: 200, body: doc }),
      'POST /api/analyze': (body) => ((times.post = performance.now()), { status: 202, body: JSON.stringify({ handle: requestHandle(p, body!), status: 'queued' }) }),
      'GET /api/decisions/H': () => ((times.poll ??= performance.now()), { status: 404, body: '{"error":{"code":"UNKNOWN_HANDLE","message":"no"}}' }),
    });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: s.fetch, provider: p, pollMs: 80, waitSeconds: 0 });
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'SERVICE_REFUSED' });
    expect(s.seen).toEqual(['GET /api/keys', 'POST /api/analyze', 'GET /api/decisions/H']);
    expect(s.queries[2]).toBe('');
    expect(times.poll - times.post).toBeGreaterThanOrEqual(75);
  });

  it('long-polls with ?wait (default 10 s, clamped by the timeout) and falls back to polling when a server answers 202 at once', async () => {
    let polls = 0;
    const s = scripted({
      'GET /api/keys': () => ({ status: 200, body: doc }),
      'POST /api/analyze': (body) => ({ status: 202, body: JSON.stringify({ handle: requestHandle(p, body!), status: 'queued' }) }),
      // an older proxy: ignores `wait`, answers pending at once twice, then a refusal nobody signed
      'GET /api/decisions/H': () =>
        ++polls < 3 ? { status: 202, body: '{"status":"pending"}' } : { status: 422, body: '{"error":{"code":"STALE_REQUEST","message":"too old"}}' },
    });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: s.fetch, provider: p, pollMs: 5 });
    // an unsigned 422 is a forged refusal (SPEC §8.10.5): exit 1, not the service's word
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'REFUSAL_FORGED', exitCode: 1, details: { serviceCode: 'STALE_REQUEST' } });
    expect(s.seen.slice(2)).toEqual(['GET /api/decisions/H', 'GET /api/decisions/H', 'GET /api/decisions/H']);
    expect(s.queries.slice(2)).toEqual(['?wait=10', '?wait=10', '?wait=10']);

    const short = scripted({
      'GET /api/keys': () => ({ status: 200, body: doc }),
      'POST /api/analyze': (body) => ({ status: 202, body: JSON.stringify({ handle: requestHandle(p, body!), status: 'queued' }) }),
      'GET /api/decisions/H': () => ({ status: 404, body: '{"error":{"code":"UNKNOWN_HANDLE","message":"no"}}' }),
    });
    const c2 = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: short.fetch, provider: p, timeoutMs: 3600_000, waitSeconds: 50 });
    await expect(c2.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'SERVICE_REFUSED' });
    expect(short.queries[2]).toBe('?wait=20'); // the protocol's maximum
    const c3 = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: short.fetch, provider: p, timeoutMs: 2500 });
    await expect(c3.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'SERVICE_REFUSED' });
    expect(short.queries.at(-1)).toBe('?wait=2'); // what is left of the overall timeout
  });

  it('pins the ROOT: a document pinned to the online signer\'s fingerprint is refused before anything is sent', async () => {
    const s = scripted({ 'GET /api/keys': () => ({ status: 200, body: doc }) });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin: fingerprints(pub).mldsa, fetch: s.fetch, provider: p });
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'KEYS_DOC_PIN_MISMATCH' });
    expect(s.seen).toEqual(['GET /api/keys']);
  });

  it('remembers the highest generation seen: an older keys document is a rollback, refused before anything is sent', async () => {
    const g1 = testKeySet(p, { keys });
    const g2 = testKeySet(p, { root: g1.root, previous: g1.keyset });
    let served = g2.doc;
    const s = scripted({
      'GET /api/keys': () => ({ status: 200, body: served }),
      'POST /api/analyze': (body) => ({ status: 409, body: JSON.stringify({ error: { code: 'REPLAYED_REQUEST', message: 'x' }, handle: requestHandle(p, body!) }) }),
    });
    const seen: number[] = [];
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin: g1.pin, fetch: s.fetch, provider: p, keysCacheMs: 0, onGeneration: (g) => seen.push(g) });
    expect((await c.keys()).generation).toBe(2);
    expect(c.generation).toBe(2);
    expect(seen).toEqual([2]);
    served = g1.doc; // an attacker replays the document of a rotated key set
    await expect(c.request('analyze', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'KEYS_DOC_ROLLBACK', exitCode: 1 });
    expect(s.seen).toEqual(['GET /api/keys', 'GET /api/keys']);
    // the floor given by the caller (the CLI's state file) counts the same
    const fresh = new BlackBoxClient({ endpoint: 'http://svc.test', pin: g1.pin, fetch: s.fetch, provider: p, minGeneration: 2 });
    await expect(fresh.keys()).rejects.toMatchObject({ code: 'KEYS_DOC_ROLLBACK' });
    // a newer one is taken (generation 2 after 1)
    served = g2.doc;
    expect((await fresh.keys()).generation).toBe(2);
  });

  it("carries the service's refusal code (e.g. a replay, 409)", async () => {
    const s = scripted({
      'GET /api/keys': () => ({ status: 200, body: doc }),
      'POST /api/patents': () => ({ status: 409, body: '{"error":{"code":"REPLAYED_REQUEST","message":"this sealed request was already received"}}' }),
    });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: s.fetch, provider: p });
    await expect(c.request('patents', { name: 'a', content: 'x' })).rejects.toMatchObject({ code: 'SERVICE_REFUSED', errorClass: 'remote', details: { status: 409, serviceCode: 'REPLAYED_REQUEST' } });
  });

  it("a hostile server's error message reaches the terminal without control or bidi characters", async () => {
    const evil = '\u001b[2J\u001b]0;pwned\u0007 owned\u202e txt.exe \r\n fake prompt $ ';
    const s = scripted({
      'GET /api/keys': () => ({ status: 200, body: doc }),
      'POST /api/analyze': () => ({ status: 400, body: JSON.stringify({ error: { code: 'NOT_AN_ENVELOPE', message: evil } }) }),
    });
    const c = new BlackBoxClient({ endpoint: 'http://svc.test', pin, fetch: s.fetch, provider: p });
    const err = await c.request('analyze', { name: 'a', content: 'x' }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'SERVICE_REFUSED' });
    expect((err as Error).message).toContain('owned');
    expect((err as Error).message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  });

  it('stops reading an answer at its cap, whether or not Content-Length says so', async () => {
    let pulled = 0;
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(ctl) {
          pulled++;
          ctl.enqueue(new Uint8Array(64 * 1024));
        },
      });
    const answer = (len: string | null) => ({
      status: 200,
      headers: { get: (h: string) => (h === 'content-length' ? len : null) },
      text: async () => '',
      arrayBuffer: async () => new ArrayBuffer(0),
      body: endless(),
    });
    await expect(readCapped(answer(null), 1 << 20, 'GET /x')).rejects.toMatchObject({ code: 'ANSWER_TOO_LARGE' });
    expect(pulled).toBeLessThan(40); // stopped just past 1 MiB of an endless body
    pulled = 0;
    await expect(readCapped(answer(String(5 << 20)), 1 << 20, 'GET /x')).rejects.toMatchObject({ code: 'ANSWER_TOO_LARGE' });
    expect(pulled).toBeLessThanOrEqual(1); // refused from the header, before reading (a stream may prefetch one chunk)
  });

  it('rejects a malformed endpoint or pin up front', () => {
    expect(() => new BlackBoxClient({ endpoint: 'not a url', pin })).toThrow(expect.objectContaining({ code: 'BAD_ENDPOINT' }));
    expect(() => new BlackBoxClient({ endpoint: 'ftp://x', pin })).toThrow(expect.objectContaining({ code: 'BAD_ENDPOINT' }));
    expect(() => new BlackBoxClient({ endpoint: 'http://x', pin: pin.slice(1) })).toThrow(expect.objectContaining({ code: 'BAD_PIN' }));
  });
});

describe('latencyStats (nearest rank)', () => {
  it('computes p50/p95/p99 of 1..100 ms', () => {
    const s = latencyStats(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(s).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
  });
  it('is all zero for no samples', () => {
    expect(latencyStats([])).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 });
  });
});
