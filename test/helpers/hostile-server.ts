/**
 * A hostile loopback HTTP server for the client's deadline tests (issue 19), on raw node:net
 * sockets so that the test decides exactly which bytes go out and when. It answers the three calls
 * of a client request — `keys` (GET /api/keys), `post` (POST /api/analyze|patents) and `poll`
 * (GET /api/decisions/…) — either well (forwarded to an upstream: the real service, or a scripted
 * one) or, for the one call chosen with `misbehave`, in one of the hostile modes below. Every
 * answer says `connection: close`: one request per connection, so each socket is one call and
 * the log says whether the CLIENT closed it (the proof that an abort really drops the socket).
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

export type HostileCall = 'keys' | 'post' | 'poll';

export const HOSTILE_MODES = [
  'stall-after-status',
  'stall-mid-headers',
  'stall-mid-body',
  'drip-headers',
  'drip-body',
  'redirect-self',
  'redirect-other',
  'close-mid-body',
  'wrong-type',
] as const;
export type HostileMode = (typeof HOSTILE_MODES)[number];

/** Modes in which the answer never completes: only a deadline ends them. */
export const STALLING: ReadonlySet<HostileMode> = new Set(['stall-after-status', 'stall-mid-headers', 'stall-mid-body', 'drip-headers', 'drip-body']);

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawAnswer {
  status: number;
  type: string;
  body: Buffer;
}

export type Upstream = (req: RawRequest) => Promise<RawAnswer>;

export interface ConnectionLog {
  call?: HostileCall;
  mode?: HostileMode | 'ok';
  openedAt: number;
  /** when the socket closed, and whether this server ended it (else the client did) */
  closedAt?: number;
  closedByServer: boolean;
}

export interface HostileServer {
  url: string;
  port: number;
  /** the other port a `redirect-other` answer points to, and what it was sent (must stay empty) */
  otherUrl: string;
  otherRequests: string[];
  connections: ConnectionLog[];
  /** requests per call (well-behaved or not) */
  counts: Record<HostileCall, number>;
  misbehave(call?: HostileCall, mode?: HostileMode): void;
  stop(): Promise<void>;
}

const REASON: Record<number, string> = { 200: 'OK', 202: 'Accepted', 307: 'Temporary Redirect', 308: 'Permanent Redirect' };

function callOf(method: string, path: string): HostileCall | undefined {
  if (method === 'GET' && path === '/api/keys') return 'keys';
  if (method === 'POST' && /^\/api\/(analyze|patents)$/.test(path)) return 'post';
  if (method === 'GET' && path.startsWith('/api/decisions/')) return 'poll';
  return undefined;
}

/** Forwards a request to a real HTTP service (the local stack) and collects its whole answer. */
export function forwardTo(endpoint: string): Upstream {
  const t = new URL(endpoint);
  return (req) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-length': String(req.body.length) };
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.path, headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      up.on('error', reject);
      up.end(req.body);
    });
}

/**
 * What the misbehaving call is answered with before the mode mangles it: no upstream is asked
 * (a stalled POST must not enqueue work), except for the keys document, which is the real one.
 */
async function hostileAnswer(call: HostileCall, mode: HostileMode, req: RawRequest, upstream: Upstream): Promise<RawAnswer> {
  if (mode === 'wrong-type') {
    if (call === 'poll') return { status: 200, type: 'application/json', body: Buffer.from('{"status":"decided","outcome":"approve"}') };
    return { status: call === 'post' ? 202 : 200, type: 'text/html; charset=utf-8', body: Buffer.from('<!doctype html><title>sign in</title><p>please sign in</p>') };
  }
  if (call === 'keys') return upstream(req);
  if (call === 'post') {
    const handle = createHash('sha3-256').update(req.body).digest('hex');
    return { status: 202, type: 'application/json', body: Buffer.from(JSON.stringify({ handle, status: 'queued', poll: `/api/decisions/${handle}` })) };
  }
  return { status: 200, type: 'application/octet-stream', body: randomBytes(4096) };
}

function head(a: RawAnswer, extra: string[] = []): string {
  return [`HTTP/1.1 ${a.status} ${REASON[a.status] ?? 'Status'}`, `content-type: ${a.type}`, `content-length: ${a.body.length}`, 'connection: close', ...extra, '', ''].join('\r\n');
}

export async function startHostileServer(upstream: Upstream): Promise<HostileServer> {
  let bad: { call: HostileCall; mode: HostileMode } | undefined;
  const connections: ConnectionLog[] = [];
  const counts: Record<HostileCall, number> = { keys: 0, post: 0, poll: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const otherRequests: string[] = [];

  // the "another port" of redirect-other: records whatever reaches it, answers nothing useful
  const other: Server = createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => otherRequests.push(d.toString('latin1').split('\r\n')[0]));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  const otherPort = (other.address() as { port: number }).port;

  let port = 0;
  const server: Server = createServer((s) => {
    sockets.add(s);
    const log: ConnectionLog = { openedAt: Date.now(), closedByServer: false };
    connections.push(log);
    s.on('error', () => undefined);
    s.on('close', () => {
      log.closedAt = Date.now();
      sockets.delete(s);
    });
    const end = () => {
      log.closedByServer = true;
      s.end();
    };
    const drip = (bytes: Buffer) => {
      let i = 0;
      const t = setInterval(() => {
        if (s.destroyed || i >= bytes.length) return clearInterval(t);
        s.write(bytes.subarray(i, ++i));
      }, 1000);
      timers.add(t);
      s.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    };
    let buf = Buffer.alloc(0);
    let done = false;
    s.on('data', (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]);
      const eoh = buf.indexOf('\r\n\r\n');
      if (eoh < 0) return;
      const lines = buf.subarray(0, eoh).toString('latin1').split('\r\n');
      const [method, path] = lines[0].split(' ');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const k = l.indexOf(':');
        if (k > 0) headers[l.slice(0, k).trim().toLowerCase()] = l.slice(k + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < eoh + 4 + length) return;
      done = true;
      const req: RawRequest = { method, path, headers, body: buf.subarray(eoh + 4, eoh + 4 + length) };
      const call = callOf(method, path.split('?')[0]);
      if (call) counts[call]++;
      log.call = call;
      const mode = call && bad?.call === call ? bad.mode : undefined;
      log.mode = mode ?? 'ok';
      void answer(req, call, mode).catch(() => s.destroy());
    });

    async function answer(req: RawRequest, call: HostileCall | undefined, mode: HostileMode | undefined): Promise<void> {
      if (!call || !mode) {
        const a = await upstream(req);
        s.write(head(a));
        s.write(a.body);
        return end();
      }
      if (mode === 'redirect-self' || mode === 'redirect-other') {
        const target = mode === 'redirect-self' ? `http://127.0.0.1:${port}${req.path}` : `http://127.0.0.1:${otherPort}${req.path}`;
        s.write(head({ status: mode === 'redirect-self' ? 307 : 308, type: 'text/plain', body: Buffer.alloc(0) }, [`location: ${target}`]));
        return end();
      }
      const a = await hostileAnswer(call, mode, req, upstream);
      const h = Buffer.from(head(a), 'latin1');
      const half = a.body.subarray(0, Math.floor(a.body.length / 2));
      switch (mode) {
        case 'stall-after-status':
          s.write(h.subarray(0, h.indexOf('\r\n') + 2));
          return; // and nothing more: the socket stays open
        case 'stall-mid-headers':
          s.write(h.subarray(0, h.indexOf('content-length') + 9)); // "content-l"
          return;
        case 'stall-mid-body':
          s.write(h);
          s.write(half);
          return;
        case 'drip-headers':
          return drip(Buffer.concat([h, a.body]));
        case 'drip-body':
          s.write(h);
          return drip(a.body);
        case 'close-mid-body':
          s.write(h);
          s.write(half);
          return end();
        case 'wrong-type':
          s.write(h);
          s.write(a.body);
          return end();
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    otherUrl: `http://127.0.0.1:${otherPort}`,
    otherRequests,
    connections,
    counts,
    misbehave(call, mode) {
      bad = call && mode ? { call, mode } : undefined;
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await Promise.all([server, other].map((x) => new Promise<void>((r) => x.close(() => r()))));
    },
  };
}
