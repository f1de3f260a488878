/**
 * The loopback HTTP front of `local up` under hostile clients (SPEC §8.2 / §9, issue 12 item 9,
 * issue 18 §8.2). The real local stack (same handler as the Lambda) with short, configured
 * bounds; traffic to 127.0.0.1 only:
 * - oversize bodies get a 413 the client actually reads: real clients (node:http, fetch, curl)
 *   sending 10 MB declared, chunked and with Expect: 100-continue, and bodies just over the limit;
 * - slow headers, slow bodies and a chunk size that is never sent end with 408 within the
 *   configured timeouts; too many connections get 429; malformed request lines, headers, paths
 *   and queries get 400/404/414/431, never a 500;
 * - a barrage of ≥ 500 such requests gets only 4xx answers (or a close), none hangs past its
 *   deadline, and afterwards a valid request is decided and verifies (BlackBoxClient).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlackBoxClient, type FetchLike } from '../../../src/client/black-box-client.js';
import { getProvider } from '../../../src/crypto/providers.js';
import { compositeGenerate } from '../../../src/crypto/composite-kem.js';
import { startLocalStack, type LocalStack } from '../../../src/local/local-stack.js';
import { MAX_SEALED_BYTES, sealRequest } from '../../../src/protocol/request.js';
import { tempDir } from './helpers.js';
import { head, rawExchange, type RawResult, type Step } from './raw-http.js';

const p = getProvider('node');
const tmp = tempDir('ima-hostile-');
const BOUNDS = { headersTimeoutMs: 1000, requestTimeoutMs: 2500, keepAliveTimeoutMs: 1000, maxConnections: 40, drainMs: 2000 };
/** a client gives up after this: every timeout above, plus Node's check interval, plus slack */
const DEADLINE = BOUNDS.requestTimeoutMs + 4000;
let stack: LocalStack;
let port = 0;
const TEN_MB = Buffer.alloc(10 * 1024 * 1024, 0x41);

beforeAll(async () => {
  stack = await startLocalStack({ stateDir: join(tmp.dir, 'state'), anchor: { kind: 'simulated' }, port: 0, workers: 0, http: BOUNDS, drainMs: 1000 });
  port = stack.port;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  tmp.cleanup();
});

const raw = (steps: Step[]) => rawExchange(port, steps, { deadlineMs: DEADLINE });
const post = (path: string, headers: Record<string, string | number>) => head(`POST ${path} HTTP/1.1`, { host: 'x', ...headers });

/** node:http, the way an ordinary client sends a big body: the status it read, or its error. */
function nodeClient(body: Buffer, opts: { chunked?: boolean; expectContinue?: boolean }): Promise<{ status?: number; code?: string; error?: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (!opts.chunked) headers['content-length'] = body.length;
    if (opts.expectContinue) headers.expect = '100-continue';
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/analyze', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, code: JSON.parse(text).error?.code }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    const write = () => {
      if (opts.chunked) {
        for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536));
        req.end();
      } else req.end(body);
    };
    if (opts.expectContinue) req.on('continue', write);
    else write();
  });
}

describe('oversize bodies: a 413 the client reads (SPEC §8.2)', () => {
  it('node:http sending 10 MB with Content-Length reads 413', async () => {
    expect(await nodeClient(TEN_MB, {})).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
  });

  it('node:http sending 10 MB chunked (no length) reads 413', async () => {
    expect(await nodeClient(TEN_MB, { chunked: true })).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
  });

  it('node:http with Expect: 100-continue gets 413 without sending the body', async () => {
    expect(await nodeClient(TEN_MB, { expectContinue: true })).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
  });

  it('fetch sending 10 MB reads 413', async () => {
    const res = await fetch(`${stack.endpoint}/api/analyze`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: TEN_MB });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('BODY_TOO_LARGE');
  });

  it('curl --data-binary @10MB reads 413', async () => {
    const file = join(tmp.dir, 'ten.bin');
    writeFileSync(file, TEN_MB);
    const out = await new Promise<string>((resolve) => {
      const c = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`, `${stack.endpoint}/api/analyze`]);
      let s = '';
      c.stdout.on('data', (d) => (s += d));
      c.on('close', () => resolve(s));
    });
    expect(out).toBe('413');
  });

  it.each([1, 1024, 1025, 4096, 200_000])('the limit + %i bytes, declared and chunked: 413 (not a dropped connection)', async (over) => {
    const size = MAX_SEALED_BYTES + over;
    const declared = await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': size }), { repeat: Buffer.alloc(8192, 1), bytes: size }]);
    expect(declared).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', hung: false });
    const chunk = Buffer.concat([Buffer.from('2000\r\n'), Buffer.alloc(0x2000, 2), Buffer.from('\r\n')]);
    const chunked = await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), { repeat: chunk, bytes: size + 2048 }]);
    expect(chunked).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', hung: false });
  });

  it('the largest accepted body still reaches the handler (a 400 about its content, not a 413)', async () => {
    const r = await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': MAX_SEALED_BYTES }), Buffer.alloc(MAX_SEALED_BYTES, 7)]);
    expect(r).toMatchObject({ status: 400, code: 'NOT_AN_ENVELOPE' });
  });
});

describe('slow and stalled clients end within the configured timeouts', () => {
  it('slow headers (a head never finished) → 408', async () => {
    expect(await raw(['GET /api/keys HTTP/1.1\r\nHost: x\r\n'])).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT', hung: false });
  });

  it('a connection that sends nothing is closed', async () => {
    const r = await raw([]);
    expect(r.hung).toBe(false);
    expect(r.status === 408 || r.closed).toBe(true);
  });

  it('a slow body (Content-Length never reached) → 408', async () => {
    expect(await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 5000 }), 'x'.repeat(100)])).toMatchObject({ status: 408, hung: false });
  });

  it('a huge declared chunk that is never sent → 408', async () => {
    const r = await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), 'fffffffffff\r\nabc']);
    expect(r).toMatchObject({ status: 408, hung: false });
  });

  it('a chunk size beyond 64 bits → 400', async () => {
    const r = await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), 'ffffffffffffffffffffffff\r\nabc']);
    expect(r).toMatchObject({ status: 400, hung: false });
  });
});

describe('malformed requests are 4xx, never 500', () => {
  const cases: [string, number, Step[]][] = [
    ['path //[', 404, [head('GET //[ HTTP/1.1', { host: 'x' })]],
    ['path /%', 404, [head('GET /% HTTP/1.1', { host: 'x' })]],
    ['path /%zz/../api/keys', 404, [head('GET /%zz/../api/keys HTTP/1.1', { host: 'x' })]],
    ['handle not hex', 400, [head('GET /api/decisions/zz HTTP/1.1', { host: 'x' })]],
    ['handle upper case', 400, [head(`GET /api/decisions/${'A'.repeat(64)} HTTP/1.1`, { host: 'x' })]],
    ['wait not a number', 400, [head(`GET /api/decisions/${'a'.repeat(64)}?wait=x HTTP/1.1`, { host: 'x' })]],
    ['wait twice', 400, [head(`GET /api/decisions/${'a'.repeat(64)}?wait=1&wait=2 HTTP/1.1`, { host: 'x' })]],
    ['malformed %-escape in the query', 400, [head(`GET /api/decisions/${'a'.repeat(64)}?wait=%zz HTTP/1.1`, { host: 'x' })]],
    ['unknown handle', 404, [head(`GET /api/decisions/${'a'.repeat(64)} HTTP/1.1`, { host: 'x' })]],
    ['asterisk form', 400, [head('OPTIONS * HTTP/1.1', { host: 'x' })]],
    ['absolute form, bad handle', 400, [head('GET http://x/api/decisions/zz HTTP/1.1', { host: 'x' })]],
    ['a 5000-character path', 414, [head(`GET /${'a'.repeat(5000)} HTTP/1.1`, { host: 'x' })]],
    ['a 20 KiB header', 431, [head('GET /api/keys HTTP/1.1', { host: 'x', 'x-big': 'a'.repeat(20 * 1024) })]],
    ['a garbage request line', 400, ['GARBAGE\r\n\r\n']],
    ['an invalid header name', 400, ['GET /api/keys HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n']],
    ['an HTTP/2 preface', 400, ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n']],
    ['both Content-Length and chunked', 400, [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 5, 'transfer-encoding': 'chunked' }), '0\r\n\r\n']],
    ['two Content-Lengths', 400, [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 5 }).replace('\r\n\r\n', '\r\ncontent-length: 6\r\n\r\n'), 'hello']],
    ['a JSON body', 415, [post('/api/analyze', { 'content-type': 'application/json', 'content-length': 6 }), '{"a":1']],
    ['JSON text as octet-stream', 400, [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 7 }), '{"v":1}']],
    ['no body', 400, [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 0 })]],
    ['wrong method on a route', 405, [head('GET /api/analyze HTTP/1.1', { host: 'x' })]],
    ['POST to the keys', 405, [post('/api/keys', { 'content-length': 0 })]],
    ['DELETE a decision', 405, [head(`DELETE /api/decisions/${'a'.repeat(64)} HTTP/1.1`, { host: 'x' })]],
    ['a made-up method', 400, [head('BREW /api/keys HTTP/1.1', { host: 'x' })]],
  ];
  it.each(cases)('%s → %i', async (_what, status, steps) => {
    const r = await raw(steps);
    expect(r.hung).toBe(false);
    expect(r.status).toBe(status);
  });
});

describe('too many connections', () => {
  it('the ones over the cap get 429, past twice the cap they are refused; then a valid request is served', async () => {
    const { connect } = await import('node:net');
    // connections refused at accept close before a request is written: remember that from the start
    const closedEarly = new WeakSet<import('node:net').Socket>();
    const sockets = await Promise.all(
      Array.from({ length: BOUNDS.maxConnections * 2 + 20 }, () => new Promise<import('node:net').Socket>((r) => {
        const s = connect(port, '127.0.0.1', () => r(s));
        s.on('error', () => undefined);
        s.once('close', () => (closedEarly.add(s), r(s)));
      })),
    );
    await new Promise((r) => setTimeout(r, 100));
    const results = await Promise.all(
      sockets.map(
        (s) =>
          new Promise<RawResult>((resolve) => {
            if (closedEarly.has(s)) return resolve({ closed: true, hung: false, written: 0 });
            let buf = '';
            const timer = setTimeout(() => (s.destroy(), resolve({ hung: true, closed: false, written: 0 })), DEADLINE);
            s.on('data', (d) => {
              buf += d;
              const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
              if (m && buf.includes('\r\n\r\n')) (clearTimeout(timer), s.destroy(), resolve({ status: Number(m[1]), closed: false, hung: false, written: 0 }));
            });
            s.on('close', () => (clearTimeout(timer), resolve({ closed: true, hung: false, written: 0 })));
            if (!s.destroyed) s.write(head(`GET /api/decisions/${'b'.repeat(64)} HTTP/1.1`, { host: 'x' }));
          }),
      ),
    );
    const statuses = results.map((r) => r.status ?? (r.hung ? 'hung' : 'closed'));
    if (process.env.DEBUG_HOSTILE) console.error(statuses.join(' '));
    expect(results.filter((r) => r.hung)).toEqual([]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThanOrEqual(BOUNDS.maxConnections - 5);
    expect(statuses.every((s) => s === 'closed' || (typeof s === 'number' && s >= 400 && s < 500))).toBe(true);
    const res = await fetch(`${stack.endpoint}/api/keys`);
    expect(res.status).toBe(200);
  });
});

describe('a barrage of hostile requests, then a valid one', () => {
  it('≥ 500 hostile requests get only 4xx answers (or a close), none hangs; a valid request is decided afterwards', async () => {
    const keysDoc = JSON.parse(await (await fetch(`${stack.endpoint}/api/keys`)).text());
    const composite = Buffer.from(keysDoc.current.statement.kem.public_key, 'base64');
    const other = compositeGenerate(p).publicKey;
    const valid = sealRequest(p, composite, 'analyze', { name: 'once.py', content: 'x = 1\n' });
    const first = await raw([post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': valid.sealed.length }), Buffer.from(valid.sealed)]);
    expect(first.status).toBe(202);
    const wrongKey = sealRequest(p, other, 'analyze', { name: 'a', content: 'b' }).sealed;
    const badVersion = Buffer.from(valid.sealed);
    badVersion[6] = 9;
    const octet = (body: Buffer | Uint8Array, path = '/api/analyze') => [post(path, { 'content-type': 'application/octet-stream', 'content-length': body.length }), Buffer.from(body)];
    const fast: Step[][] = [
      [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 10_000_000 }), { repeat: Buffer.alloc(16384), bytes: 400_000 }],
      [post('/api/patents', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), { repeat: Buffer.concat([Buffer.from('4000\r\n'), Buffer.alloc(0x4000), Buffer.from('\r\n')]), bytes: 300_000 }],
      [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 20_000_000, expect: '100-continue' })],
      [post('/api/analyze', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), 'fffffffffffffffffffffff\r\nabc'],
      octet(valid.sealed), // a replay
      octet(valid.sealed, '/api/patents'), // the same body on the other route
      octet(wrongKey),
      octet(badVersion),
      octet(Buffer.from('{"v":1,"request_id":"x"}')),
      octet(Buffer.alloc(2000, 0xff)),
      [post('/api/analyze', { 'content-type': 'application/json', 'content-length': 9 }), '{"v":1,"x'],
      [post('/api/analyze', { 'content-type': 'text/plain', 'content-length': 5 }), 'hello'],
      [post('/api/analyze', { 'content-length': 5 }), 'hello'],
      [head('GET //[ HTTP/1.1', { host: 'x' })],
      [head('GET /api/decisions/%00 HTTP/1.1', { host: 'x' })],
      [head(`GET /api/decisions/${'c'.repeat(64)}?wait=99 HTTP/1.1`, { host: 'x' })],
      [head(`GET /api/decisions/${'c'.repeat(64)}?wait=-1 HTTP/1.1`, { host: 'x' })],
      [head(`GET /api/decisions/${'c'.repeat(65)} HTTP/1.1`, { host: 'x' })],
      [head('GET /api/keys/../keys HTTP/1.1', { host: 'x' })],
      [head('PUT /api/keys HTTP/1.1', { host: 'x', 'content-length': 0 })],
      ['GET /api/keys HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
      ['GET /api/keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n'],
      ['\r\n\r\n\r\n'],
      [Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])], // a TLS ClientHello
      [head(`GET /${'%'.repeat(3000)} HTTP/1.1`, { host: 'x' })],
    ];
    const slow: Step[][] = [
      ['GET /api/keys HTTP/1.1\r\nHo'],
      [post('/api/analyze', { 'content-type': 'application/octet-stream', 'content-length': 3000 }), 'a'.repeat(10)],
      [post('/api/analyze', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), 'ffffffff\r\n', { waitMs: 200 }, 'abc'],
    ];
    const plans: Step[][] = [];
    for (let round = 0; round < 22; round++) plans.push(...fast);
    for (let round = 0; round < 6; round++) plans.push(...slow);
    expect(plans.length).toBeGreaterThanOrEqual(500);

    const results: RawResult[] = [];
    let next = 0;
    // 24 at a time: below the connection cap, so these are answered, not turned away
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < plans.length) results.push(await raw(plans[next++]));
      }),
    );
    expect(results).toHaveLength(plans.length);
    expect(results.filter((r) => r.hung)).toEqual([]);
    const answered = results.filter((r) => r.status !== undefined);
    const outside = answered.filter((r) => r.status! < 400 || r.status! >= 500);
    expect(outside).toEqual([]);
    // almost all got an HTTP answer; a close without one only where the bytes are not HTTP at all
    expect(answered.length).toBeGreaterThanOrEqual(plans.length - 30);
    const byStatus: Record<number, number> = {};
    for (const r of answered) byStatus[r.status!] = (byStatus[r.status!] ?? 0) + 1;
    for (const s of [400, 404, 408, 409, 413, 415]) expect(byStatus[s] ?? 0, `status ${s}`).toBeGreaterThan(0);
    if (process.env.DEBUG_HOSTILE) console.error({ byStatus, closedWithoutAnswer: results.length - answered.length, refusedByFront: stack.http.refused });

    // the valid request sent first is decided; and a new one goes through the full client
    const client = new BlackBoxClient({ endpoint: stack.endpoint, pin: stack.fingerprint, provider: p, fetch: fetch as unknown as FetchLike, timeoutMs: 30_000 });
    const r = await client.request('analyze', { name: 'after.py', content: 'def f(x: int) -> int:\n    return x\n' });
    expect(r.checks.every((c) => c.ok)).toBe(true);
    const firstDecided = await fetch(`${stack.endpoint}/api/decisions/${valid.handle}?wait=10`);
    expect(firstDecided.status).toBe(200);
  }, 180_000);
});

describe('a held long poll is not a slow request', () => {
  it('a poll held longer than the request timeout answers 202, not 408 (last: it stops the worker)', async () => {
    await stack.consumer.stop(); // nothing is decided from here on: the poll stays pending
    const keysDoc = JSON.parse(await (await fetch(`${stack.endpoint}/api/keys`)).text());
    const r = sealRequest(p, Buffer.from(keysDoc.current.statement.kem.public_key, 'base64'), 'analyze', { name: 'held.py', content: 'x = 2\n' });
    const queued = await fetch(`${stack.endpoint}/api/analyze`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(r.sealed) });
    expect(queued.status).toBe(202);
    const waitS = Math.ceil(BOUNDS.requestTimeoutMs / 1000) + 2;
    const t0 = Date.now();
    const res = await raw([head(`GET /api/decisions/${r.handle}?wait=${waitS} HTTP/1.1`, { host: 'x' })]);
    // held for its wait (the contract of ?wait), past the request timeout, and answered as pending
    expect(Date.now() - t0).toBeGreaterThanOrEqual(BOUNDS.requestTimeoutMs);
    expect(res).toMatchObject({ status: 202, hung: false });
  }, 30_000);
});
