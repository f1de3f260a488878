// CORS on the real loopback front (src/local/http-server.ts + cors.ts; SPEC §9.1): preflights are
// answered without the handler, a refused origin never reaches it, an allowed origin's answers
// (refusals included) carry its grant, and every answer is reported for the access log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackServer, type LoopbackServer } from '../../../src/local/http-server.js';
import type { ProxyHandler } from '../../../src/service/proxy/handler.js';

let server: LoopbackServer;
const seen: string[] = [];
const answered: { route: string; status: number }[] = [];
const handler: ProxyHandler = async (e) => {
  seen.push(`${e.requestContext.http.method} ${e.rawPath}`);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
};

beforeAll(async () => {
  server = await startLoopbackServer(handler, { port: 0, cors: ['http://127.0.0.1:8080'], onAnswer: (a) => answered.push(a) });
});
afterAll(() => server.close());

describe('the loopback front with --cors', () => {
  it('answers an allowed preflight 204 with the grant, without calling the handler', async () => {
    const r = await fetch(`${server.url}/api/analyze`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:8080', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
    expect(r.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    expect(seen).toEqual([]);
  });

  it('refuses a foreign origin 403 before the handler; passes an allowed one with its grant', async () => {
    const bad = await fetch(`${server.url}/api/keys`, { headers: { origin: 'https://evil.example' } });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ error: { code: 'CORS_ORIGIN_REFUSED' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${server.url}/api/analyze`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8080', 'access-control-request-method': 'PUT' } });
    expect(pre.status).toBe(403);
    expect(seen).toEqual([]);
    const ok = await fetch(`${server.url}/api/keys`, { headers: { origin: 'http://127.0.0.1:8080' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
    expect(ok.headers.get('vary')).toBe('Origin');
    expect(seen).toEqual(['GET /api/keys']);
  });

  it("the page's own origin passes; an allowed origin reads a 413 too", async () => {
    const self = await fetch(`${server.url}/api/analyze`, { method: 'POST', headers: { origin: server.url, 'content-type': 'application/octet-stream' }, body: new Uint8Array(8) });
    expect(self.status).toBe(200);
    const big = await fetch(`${server.url}/api/analyze`, { method: 'POST', headers: { origin: 'http://127.0.0.1:8080', 'content-type': 'application/octet-stream' }, body: new Uint8Array(200 * 1024) });
    expect(big.status).toBe(413);
    expect(big.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
  });

  it('reports every answer with its bounded route key (the access log of local up)', () => {
    const routes = answered.map((a) => `${a.route} ${a.status}`);
    expect(routes).toEqual(expect.arrayContaining(['OPTIONS /api/analyze 204', 'GET /api/keys 403', 'GET /api/keys 200', 'POST /api/analyze 200', 'POST /api/analyze 413']));
  });
});
