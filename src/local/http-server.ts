/**
 * The loopback HTTP front of `local up`: a node:http server that turns each request into the
 * APIGatewayProxyEventV2 (payload format 2.0) a Lambda function URL would deliver, calls the SAME
 * proxy handler the Lambda runs, and writes its structured result back. Bodies are passed to
 * the handler base64-encoded (isBase64Encoded: true), exactly as a function URL does for binary
 * content types. Bodies above the proxy's limit are cut off early (413) without buffering them.
 * Requests are handled concurrently: a long poll (`?wait=S`, SPEC §8.2) held by the handler blocks
 * nothing else; it is released (answering as it stands) when its client goes away or the server
 * closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from '../service/proxy/apigw.js';
import type { ProxyHandler } from '../service/proxy/handler.js';
import { MAX_SEALED_BYTES } from '../protocol/request.js';

/** Bytes read before the handler decides (its own limit is checked again inside). */
const READ_LIMIT = MAX_SEALED_BYTES + 1024;

export interface RequestStats {
  /** requests seen, by "METHOD /path-prefix" (e.g. "POST /api/analyze", "GET /api/decisions") */
  byRoute: Record<string, number>;
  total: number;
}

export interface LoopbackServer {
  readonly url: string;
  readonly port: number;
  readonly stats: RequestStats;
  close(): Promise<void>;
}

function routeKey(method: string, path: string): string {
  const p = path.startsWith('/api/decisions/') ? '/api/decisions' : path.split('?')[0];
  return `${method} ${p}`;
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > READ_LIMIT) {
        resolve('too-large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function toEvent(req: IncomingMessage, body: Buffer, now: number): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const method = (req.method ?? 'GET').toUpperCase();
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: `local-${now}-${Math.random().toString(16).slice(2, 10)}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length > 0 ? { body: body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0,
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number | boolean>, body: Buffer): void {
  res.writeHead(status, { ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])), 'content-length': body.length });
  res.end(body);
}

/** Starts the server on host:port (port 0 picks a free one). */
export async function startLoopbackServer(handler: ProxyHandler, opts: { host?: string; port?: number; onError?: (err: unknown) => void } = {}): Promise<LoopbackServer> {
  const host = opts.host ?? '127.0.0.1';
  const stats: RequestStats = { byRoute: {}, total: 0 };
  const holds = new Set<AbortController>();
  const server: Server = createServer((req, res) => {
    const key = routeKey((req.method ?? 'GET').toUpperCase(), req.url ?? '/');
    stats.byRoute[key] = (stats.byRoute[key] ?? 0) + 1;
    stats.total++;
    const hold = new AbortController();
    holds.add(hold);
    res.on('close', () => {
      holds.delete(hold);
      hold.abort();
    });
    void (async () => {
      try {
        const body = await readBody(req);
        if (body === 'too-large') {
          send(res, 413, { 'content-type': 'application/json', connection: 'close' }, Buffer.from(JSON.stringify({ error: { code: 'BODY_TOO_LARGE', message: `the request body is larger than ${MAX_SEALED_BYTES} bytes` } })));
          return;
        }
        const out = await handler(toEvent(req, body, Date.now()), { signal: hold.signal });
        const payload = out.body === undefined ? Buffer.alloc(0) : Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8');
        send(res, out.statusCode, out.headers ?? {}, payload);
      } catch (err) {
        opts.onError?.(err);
        if (!res.headersSent) send(res, 500, { 'content-type': 'application/json' }, Buffer.from('{"error":{"code":"INTERNAL","message":"internal error"}}'));
      }
    })();
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const h of holds) h.abort(); // held long polls answer now
        server.closeIdleConnections?.();
        setTimeout(() => server.closeAllConnections?.(), 2000).unref();
      }),
  };
}
