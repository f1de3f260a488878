// CORS of the loopback front (src/local/cors.ts): a table of requests and what each gets.
import { describe, expect, it } from 'vitest';
import { checkCorsOrigins, corsDecision } from '../../../src/local/cors.js';

const ALLOWED = ['http://127.0.0.1:8080', 'https://app.example.com'];
const PORT = 8787;
const d = (r: Parameters<typeof corsDecision>[0]) => corsDecision(r, ALLOWED, PORT);

describe('local up --cors', () => {
  it('passes requests without an Origin and same-origin ones on a loopback Host', () => {
    expect(d({ method: 'POST', host: '127.0.0.1:8787' })).toEqual({ kind: 'pass', headers: {} });
    expect(d({ method: 'POST', origin: 'http://127.0.0.1:8787', host: '127.0.0.1:8787' })).toEqual({ kind: 'pass', headers: {} });
    expect(d({ method: 'POST', origin: 'http://localhost:8787', host: 'localhost:8787' })).toEqual({ kind: 'pass', headers: {} });
  });

  it('refuses a foreign origin, and a rebound host name that calls itself same-origin', () => {
    expect(d({ method: 'GET', origin: 'https://evil.example', host: '127.0.0.1:8787' })).toMatchObject({ kind: 'refuse', code: 'CORS_ORIGIN_REFUSED' });
    expect(d({ method: 'POST', origin: 'http://evil.example:8787', host: 'evil.example:8787' })).toMatchObject({ kind: 'refuse', code: 'CORS_ORIGIN_REFUSED' });
    expect(d({ method: 'POST', origin: 'http://127.0.0.1:9999', host: '127.0.0.1:9999' })).toMatchObject({ kind: 'refuse' }); // not this port
    expect(d({ method: 'GET', origin: 'null', host: '127.0.0.1:8787' })).toMatchObject({ kind: 'refuse' });
  });

  it('answers the preflight of an allowed origin for GET/POST with authorization and content-type only', () => {
    const ok = d({ method: 'OPTIONS', origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8787', requestMethod: 'POST', requestHeaders: 'Content-Type, Authorization' });
    expect(ok).toEqual({
      kind: 'preflight',
      headers: {
        'access-control-allow-origin': 'http://127.0.0.1:8080',
        vary: 'Origin',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '3600',
      },
    });
    expect(d({ method: 'OPTIONS', origin: 'https://app.example.com', requestMethod: 'DELETE' })).toMatchObject({ kind: 'refuse', code: 'CORS_PREFLIGHT_REFUSED' });
    expect(d({ method: 'OPTIONS', origin: 'https://app.example.com', requestMethod: 'POST', requestHeaders: 'x-custom' })).toMatchObject({ kind: 'refuse', code: 'CORS_PREFLIGHT_REFUSED' });
    // an allowed origin's ordinary request passes and is granted (never with credentials)
    const pass = d({ method: 'GET', origin: 'https://app.example.com' });
    expect(pass).toEqual({ kind: 'pass', headers: { 'access-control-allow-origin': 'https://app.example.com', vary: 'Origin' } });
    expect(JSON.stringify(pass)).not.toContain('credentials');
  });

  it('takes only origins of the Terraform rule: no path, no wildcard, plain http only on loopback', () => {
    expect(checkCorsOrigins(['http://127.0.0.1:8080', 'https://App.Example.com'])).toEqual(['http://127.0.0.1:8080', 'https://app.example.com']);
    for (const bad of ['*', 'http://app.example.com', 'https://app.example.com/', 'https://app.example.com/x', 'ftp://x', 'https://*.example.com', 'null']) {
      expect(() => checkCorsOrigins([bad]), bad).toThrow(expect.objectContaining({ code: 'BAD_CORS_ORIGIN' }));
    }
  });
});
