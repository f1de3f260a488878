/**
 * The browser page from the proxy handler (issue 16 §1): GET /, /index.html, /app.js and /app.css
 * with the page's security headers when the handler has a page; otherwise (and for any other method
 * or path) the proxy's own JSON answers, as before.
 */
import { describe, expect, it } from 'vitest';
import { MemoryQueue } from '../../../src/service/memory/memory-queue.js';
import { MemoryTable } from '../../../src/service/memory/memory-table.js';
import { createProxyHandler } from '../../../src/service/proxy/handler.js';
import { DECISIONS_KEY, REQUESTS_KEY } from '../../../src/protocol/records.js';
import { pageCsp } from '../../../src/web/html.js';
import { servedPage } from '../../../src/web/site.js';
import { event, p, serviceFixture } from './fixtures.js';

describe('proxy: the browser page', () => {
  const f = serviceFixture();
  const enc = (s: string) => new TextEncoder().encode(s);
  const page = servedPage({ script: enc('console.log("page")'), style: enc('body{color:red}') }, { auth: 'jwt' });
  const handler = (withPage: boolean) =>
    createProxyHandler({
      p,
      requests: new MemoryTable('r', REQUESTS_KEY),
      decisions: new MemoryTable('d', DECISIONS_KEY),
      queue: new MemoryQueue({ visibilitySeconds: 30 }),
      clock: { now: () => Date.now() },
      keys: async () => f.published,
      ...(withPage ? { page } : {}),
    });

  it('answers GET / and the bundle with the page and its security headers', async () => {
    const h = handler(true);
    for (const path of ['/', '/index.html']) {
      const r = await h(event('GET', path));
      expect(r.statusCode).toBe(200);
      expect(r.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'content-security-policy': pageCsp({}), 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
      expect(r.body).toContain('<meta name="ima-qs-auth" content="jwt">');
    }
    const js = await h(event('GET', '/app.js'));
    expect(js).toMatchObject({ statusCode: 200, body: 'console.log("page")' });
    expect(js.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await h(event('GET', '/app.css'))).body).toBe('body{color:red}');
    // the API beside it is unchanged
    expect((await h(event('GET', '/api/keys'))).statusCode).toBe(200);
  });

  it('GET only; unknown paths (and prototype names) are 404; no page configured: / is 404', async () => {
    const h = handler(true);
    expect((await h(event('POST', '/', { body: new Uint8Array(4) }))).statusCode).toBe(405);
    for (const path of ['/app.js.map', '/constructor', '/__proto__', '/toString', '/web/app.js']) {
      const r = await h(event('GET', path));
      expect(r.statusCode, path).toBe(404);
      expect(JSON.parse(r.body!)).toEqual({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } });
    }
    expect((await handler(false)(event('GET', '/'))).statusCode).toBe(404);
  });
});
