/**
 * The loopback HTTP front of `local up`: a node:http server that turns each request into the
 * APIGatewayProxyEventV2 (payload format 2.0) a Lambda function URL would deliver, calls the SAME
 * proxy handler the Lambda runs, and writes its structured result back. Bodies are passed to
 * the handler base64-encoded (isBase64Encoded: true), exactly as a function URL does for binary
 * content types. Requests are handled concurrently: a long poll (`?wait=S`, SPEC §8.2) held by
 * the handler blocks nothing else; it is released (answering as it stands) when its client goes
 * away or the server closes.
 *
 * Hostile clients (SPEC §9.1; every bound is an option, defaults in HTTP_FRONT_DEFAULTS):
 * - a body over the limit, declared (Content-Length, or `Expect: 100-continue`) or counted while
 *   it streams (chunked), is answered 413 at once without buffering it; the rest of the body is
 *   then read and discarded, up to `drainBytes` and `drainMs` (past either the connection is
 *   closed), so the client reads the 413 instead of a reset — closing with unread data would make
 *   the kernel reset the connection under the client's feet (a declared body above `drainBytes`,
 *   or one held back for a 100 Continue, gets the 413 with `Connection: close`);
 * - the request head must arrive within `headersTimeoutMs` and the whole request within
 *   `requestTimeoutMs` (slowloris, a chunk size that is never sent): 408, then the connection closes;
 * - more than `maxConnections` open connections: the extra ones are answered 429 and closed; beyond
 *   twice that, new connections are refused outright;
 * - a malformed request line, header or path is 400 (431 for oversized headers), never a 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { APIGatewayProxyEventV2 } from '../service/proxy/apigw.js';
import type { ProxyHandler } from '../service/proxy/handler.js';
import { MAX_SEALED_BYTES } from '../protocol/request.js';
import { corsDecision } from './cors.js';

export interface HttpFrontOptions {
  /** the request head (request line and headers) must arrive within this (ms) */
  headersTimeoutMs?: number;
  /** the whole request, head and body, must arrive within this (ms); not the time to answer */
  requestTimeoutMs?: number;
  /** an idle keep-alive connection is closed after this (ms) */
  keepAliveTimeoutMs?: number;
  /** open connections served; the ones above get 429, above twice this are refused */
  maxConnections?: number;
  /** after an early answer (413, 429): unread body bytes discarded before closing, and for how long */
  drainBytes?: number;
  drainMs?: number;
}

export const HTTP_FRONT_DEFAULTS: Required<HttpFrontOptions> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
  drainBytes: 16 * 1024 * 1024,
  drainMs: 5_000,
};

/** The largest body passed to the handler (the proxy checks its own limit again inside). */
const BODY_LIMIT = MAX_SEALED_BYTES;

export interface RequestStats {
  /** requests seen, by "METHOD /path-prefix" (e.g. "POST /api/analyze", "GET /api/decisions"); anything else is "OTHER" */
  byRoute: Record<string, number>;
  total: number;
  /** answered by the front itself, by status (413, 429, 408, 400, 431 …), without the handler */
  refused: Record<string, number>;
}

export interface LoopbackServer {
  readonly url: string;
  readonly port: number;
  readonly stats: RequestStats;
  close(): Promise<void>;
}

const KNOWN_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);

/** The browser page's paths (src/web/site.ts), counted by name. */
const PAGE_PATHS = new Set(['/', '/index.html', '/app.js', '/app.css']);

/** A bounded set of keys, so that random paths cannot grow the stats without limit. */
function routeKey(method: string, rawPath: string): string {
  const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
  if (rawPath.startsWith('/api/decisions/')) return `${m} /api/decisions`;
  if (rawPath === '/api/keys' || rawPath === '/api/analyze' || rawPath === '/api/patents') return `${m} ${rawPath}`;
  if (PAGE_PATHS.has(rawPath)) return `${m} ${rawPath}`;
  return `${m} OTHER`;
}

/**
 * The request target split as API Gateway does (rawPath, rawQueryString), without a URL parser
 * that could throw: origin-form ("/p?q") as is; absolute-form ("http://h/p?q") from its path; else
 * (authority-form, "*") a path the handler refuses with 400.
 */
export function splitTarget(target: string): { rawPath: string; rawQueryString: string } {
  let t = target;
  const abs = /^https?:\/\/[^/?#]*/i.exec(t);
  if (abs) t = t.slice(abs[0].length) || '/';
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  const q = t.indexOf('?');
  return q < 0 ? { rawPath: t, rawQueryString: '' } : { rawPath: t.slice(0, q), rawQueryString: t.slice(q + 1) };
}

function queryParameters(raw: string): Record<string, string> | undefined {
  if (!raw) return undefined;
  const out: Record<string, string> = {};
  // URLSearchParams never throws: a malformed %-escape stays as it is
  for (const [k, v] of new URLSearchParams(raw)) out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  return out;
}

export function toEvent(req: IncomingMessage, body: Buffer, now: number): APIGatewayProxyEventV2 {
  const { rawPath, rawQueryString } = splitTarget(req.url ?? '/');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const method = (req.method ?? 'GET').toUpperCase();
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  const query = queryParameters(rawQueryString);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method, path: rawPath, protocol: `HTTP/${req.httpVersion}`, sourceIp, userAgent: headers['user-agent'] ?? '' },
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

const errorBody = (code: string, message: string) => Buffer.from(JSON.stringify({ error: { code, message } }));
const TOO_LARGE_MESSAGE = `the request body is larger than ${BODY_LIMIT} bytes`;

function send(res: ServerResponse, status: number, headers: Record<string, string | number | boolean>, body: Buffer): void {
  if (res.headersSent || res.destroyed || !res.socket || res.socket.destroyed) return;
  res.writeHead(status, { ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])), 'content-length': body.length });
  res.end(body);
}

/** Node's own refusals (request line, headers, timeouts) as JSON like every other answer. */
const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'the request did not arrive in time'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'BODY_TOO_LARGE', 'chunk extensions are too large'],
};

/** Starts the server on host:port (port 0 picks a free one). */
export async function startLoopbackServer(
  handler: ProxyHandler,
  opts: {
    host?: string;
    port?: number;
    onError?: (err: unknown) => void;
    /** browser origins allowed to call (local up --cors; src/local/cors.ts); others with an Origin are refused */
    cors?: readonly string[];
    /** every answered request, for the access log: the bounded route key, never the path or query */
    onAnswer?: (a: { route: string; status: number; ms: number }) => void;
  } & HttpFrontOptions = {},
): Promise<LoopbackServer> {
  const o = { ...HTTP_FRONT_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<HttpFrontOptions>;
  const host = opts.host ?? '127.0.0.1';
  const stats: RequestStats = { byRoute: {}, total: 0, refused: {} };
  const holds = new Set<AbortController>();
  /** sockets over the connection cap (answered 429), and sockets whose answer went out before their body was read */
  const overCap = new WeakSet<Socket>();
  const answeredEarly = new WeakSet<Socket>();
  let open = 0;
  /** the port listened on (known once listening; requests arrive only then) */
  let boundPort = 0;

  const refuse = (res: ServerResponse, status: number, code: string, message: string, close: boolean, extra: Record<string, string> = {}) => {
    stats.refused[status] = (stats.refused[status] ?? 0) + 1;
    send(res, status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra, ...(close ? { connection: 'close' } : {}) }, errorBody(code, message));
  };

  /** After an early answer: discard the rest of the body, bounded in bytes and time, then close. */
  const drain = (req: IncomingMessage) => {
    answeredEarly.add(req.socket);
    let n = 0;
    const timer = setTimeout(() => req.socket.destroy(), o.drainMs);
    timer.unref();
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > o.drainBytes) {
        clearTimeout(timer);
        req.socket.destroy();
      }
    });
    req.once('end', () => {
      clearTimeout(timer);
      answeredEarly.delete(req.socket); // drained: the connection may carry another request
    });
    req.once('close', () => clearTimeout(timer));
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const { rawPath } = splitTarget(req.url ?? '/');
    const key = routeKey(method, rawPath);
    stats.byRoute[key] = (stats.byRoute[key] ?? 0) + 1;
    stats.total++;
    const t0 = performance.now();
    res.once('finish', () => opts.onAnswer?.({ route: key, status: res.statusCode, ms: Math.round(performance.now() - t0) }));
    const one = (h: string | string[] | undefined) => (Array.isArray(h) ? h.join(',') : h);
    const cors = corsDecision(
      {
        method,
        origin: one(req.headers.origin),
        host: one(req.headers.host),
        requestMethod: one(req.headers['access-control-request-method']),
        requestHeaders: one(req.headers['access-control-request-headers']),
      },
      opts.cors ?? [],
      boundPort,
    );
    // an allowed origin reads every answer, refusals included (its page shows the code)
    const granted = cors.kind === 'pass' ? cors.headers : {};
    if (cors.kind === 'refuse') {
      refuse(res, 403, cors.code, cors.message, false);
      return drain(req);
    }
    if (cors.kind === 'preflight') {
      send(res, 204, { ...cors.headers, 'cache-control': 'no-store' }, Buffer.alloc(0));
      return drain(req);
    }
    if (overCap.has(req.socket)) {
      refuse(res, 429, 'TOO_MANY_CONNECTIONS', `more than ${o.maxConnections} connections are open; retry later`, true, granted);
      return drain(req);
    }
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared !== undefined && declared > BODY_LIMIT) {
      // 413 before reading any of it; the client reads it while still sending (SPEC §8.2)
      // (a body larger than we would drain, or one the client holds back for a 100 Continue: close after)
      refuse(res, 413, 'BODY_TOO_LARGE', TOO_LARGE_MESSAGE, declared > o.drainBytes || req.headers.expect !== undefined, granted);
      return drain(req);
    }
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
          refuse(res, 413, 'BODY_TOO_LARGE', TOO_LARGE_MESSAGE, false, granted);
          return;
        }
        if (body === 'aborted') return; // the client went away, or the request timed out (408 sent)
        const out = await handler(toEvent(req, body, Date.now()), { signal: hold.signal });
        const payload = out.body === undefined ? Buffer.alloc(0) : Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8');
        send(res, out.statusCode, { ...(out.headers ?? {}), ...granted }, payload);
      } catch (err) {
        opts.onError?.(err);
        send(res, 500, { 'content-type': 'application/json', ...granted }, errorBody('INTERNAL', 'internal error'));
      }
    })();
  };

  /** The body up to the limit; past it, stops buffering, and the caller answers 413 while the rest drains. */
  const readBody = (req: IncomingMessage): Promise<Buffer | 'too-large' | 'aborted'> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let done = false;
      const onData = (c: Buffer) => {
        n += c.length;
        if (n > BODY_LIMIT) {
          done = true;
          req.off('data', onData);
          drain(req);
          resolve('too-large');
          return;
        }
        chunks.push(c);
      };
      req.on('data', onData);
      req.once('end', () => !done && ((done = true), resolve(Buffer.concat(chunks))));
      req.once('close', () => !done && ((done = true), resolve('aborted')));
      req.once('error', () => !done && ((done = true), resolve('aborted')));
    });

  const server: Server = createServer(
    {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: Math.max(o.requestTimeoutMs, o.headersTimeoutMs),
      keepAliveTimeout: o.keepAliveTimeoutMs,
      // how often Node checks the two timeouts above (its default, 30 s, would let them overrun)
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(o.headersTimeoutMs / 4))),
    },
    onRequest,
  );
  // Expect: 100-continue — refuse a declared oversize body before the client sends any of it
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (!overCap.has(req.socket) && !(declared > BODY_LIMIT)) res.writeContinue();
    onRequest(req, res);
  });
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    if (open > o.maxConnections) overCap.add(socket);
  });
  // beyond twice the cap, Node closes new connections at accept
  server.maxConnections = o.maxConnections * 2;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const known = CLIENT_ERRORS[err.code ?? ''];
    // an answer already went out on this connection (or it is gone): nothing more to say on it
    if (!socket.writable || answeredEarly.has(socket) || err.code === 'ECONNRESET') return void socket.destroy();
    const [status, reason, code, message] = known ?? [400, 'Bad Request', 'BAD_REQUEST', 'the request is not valid HTTP/1.1'];
    stats.refused[status] = (stats.refused[status] ?? 0) + 1;
    const body = errorBody(code, message);
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  boundPort = port;
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
