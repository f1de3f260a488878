/**
 * The Lambda proxy (issue 5 §1; SPEC §8.2): a handler for API Gateway HTTP API / function URL
 * events, built by `createProxyHandler` over ports so the same code runs in Lambda and behind
 * the loopback server of `local up`. It holds no private key.
 *
 *   GET  /api/keys              the public-keys document (SPEC §7.3), Cache-Control max-age=60 (a rotation
 *                               reaches clients within a minute)
 *   POST /api/analyze|patents   sealed request → size/format checks (no crypto) → replay guard
 *                               (conditional put of req#<handle> with a TTL; 409 on replay) →
 *                               SQS → 202 {handle}; a failed send undoes this request's guard
 *                               (503 = not queued: the same body may be sent again)
 *   GET  /api/decisions/{handle}  200 sealed response (octet-stream) · 202 pending · 404 unknown
 *                               · 422 when the worker refused the request (its code and its
 *                               signed refusal, SPEC §8.10.5)
 *        ?wait=S (0..20)        long poll: held while pending, until the decision is stored or S
 *                               seconds pass (a DecisionWaiter wakes it), then the same answers
 *
 *   GET  /, /index.html, /app.js, /app.css   the browser page (issue 16), when deps.page has it:
 *                               static files with their security headers (CSP, nosniff, no referrer)
 *
 * Every refusal is JSON {"error":{"code","message"}} with no stack trace or internal detail; a
 * malformed event, path or query string is a 4xx, a 500 only a bug.
 */
import { ImaError, InputError, toImaError } from '../../errors.js';
import { fromBase64, toBase64, toHex } from '../../crypto/bytes.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { silentLogger, type Logger } from '../log.js';
import type { Clock, Item, Queue, Random, Table } from '../../ports.js';
import { DEFAULT_TTL_SECONDS, encodeQueued, requestKey } from '../../protocol/records.js';
import { MAX_SEALED_BYTES, checkSealedFormat, isHandle, isRoute, requestHandle } from '../../protocol/request.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from './apigw.js';
import { abortableSleep, intervalWaiter, type DecisionWaiter, type Sleep } from './decision-waiter.js';
import type { ProxyMetrics, ProxyRoute } from '../metrics.js';

export interface PublishedKeys {
  /** the signed public-keys document, exactly as published (JSON text) */
  document: string;
  /** the fingerprint requests must be sealed to (envelope header), when known */
  recipientFingerprint?: Uint8Array;
  /**
   * every fingerprint requests may be sealed to (the document's current and accepted
   * generations, SPEC §7.3); when given, it replaces `recipientFingerprint`
   */
  recipientFingerprints?: Uint8Array[];
}

export interface ProxyDeps {
  p: Pick<CryptoProvider, 'sha3_256'>;
  requests: Table;
  decisions: Table;
  queue: Queue;
  clock: Clock;
  /** names each replay-guard write (default: the platform's CSPRNG) */
  random?: Random;
  keys: () => Promise<PublishedKeys>;
  log?: Logger;
  ttlSeconds?: number;
  /**
   * Wakes a held `?wait=S` poll when its decision is stored (the in-process one of `local up`).
   * Default: re-read the decisions table every `pollIntervalMs` until the deadline.
   */
  waiter?: DecisionWaiter;
  /** spacing of the default waiter's re-reads (default 250 ms) */
  pollIntervalMs?: number;
  /** how the default waiter sleeps (tests inject one that advances their clock) */
  sleep?: Sleep;
  /** EMF metrics (SPEC §8.8): Requests by route, ServerErrors, Refused by code */
  metrics?: ProxyMetrics;
  /**
   * The browser page's files by request path, each with its headers (src/web/site.ts builds it);
   * absent: no page (GET / is 404 like any unknown path).
   */
  page?: Readonly<Record<string, { body: string; headers: Record<string, string> }>>;
}

/** Per invocation: the Lambda context (its remaining time bounds a wait) or the local server's signal. */
export interface ProxyContext {
  /** aborted when the caller went away or the server is closing: a held poll answers at once */
  signal?: AbortSignal;
  getRemainingTimeInMillis?: () => number;
}

export type ProxyHandler = (event: APIGatewayProxyEventV2, ctx?: ProxyContext) => Promise<APIGatewayProxyStructuredResultV2>;

/** SPEC §8.2: the longest `wait` a poll may ask for, in seconds. */
export const MAX_WAIT_SECONDS = 20;
/** Time kept back from a Lambda's remaining time so a held poll answers before the timeout. */
const LAMBDA_MARGIN_MS = 1000;

/** `wait` from the query string: absent = 0; else one integer 0..MAX_WAIT_SECONDS (400 BAD_WAIT). */
export function parseWait(event: APIGatewayProxyEventV2): number {
  const values = event.rawQueryString
    ? new URLSearchParams(event.rawQueryString).getAll('wait')
    : event.queryStringParameters?.wait !== undefined
      ? [event.queryStringParameters.wait]
      : [];
  if (values.length === 0) return 0;
  const v = values[0]!;
  if (values.length > 1 || !/^[0-9]{1,2}$/.test(v) || Number(v) > MAX_WAIT_SECONDS) {
    throw new InputError('BAD_WAIT', `wait is "${String(v).slice(0, 20)}${values.length > 1 ? ', …' : ''}"; it is one whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  }
  return Number(v);
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

function json(statusCode: number, body: unknown, headers: Record<string, string> = JSON_HEADERS): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers, body: JSON.stringify(body) };
}

function refuse(statusCode: number, code: string, message: string): APIGatewayProxyStructuredResultV2 {
  return json(statusCode, { error: { code, message } });
}

const STATUS_BY_CODE: Record<string, number> = {
  BODY_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REPLAYED_REQUEST: 409,
};

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = typeof event.headers === 'object' && event.headers !== null ? event.headers : {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return typeof v === 'string' ? v : undefined;
  return undefined;
}

/** A stored JSON text as a value (the proxy forwards it; the client verifies it). */
function parseStored(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The longest request path or query string accepted (API Gateway's own limits are lower). */
const MAX_TARGET_CHARS = 4096;

/**
 * The method and the path of an event, checked before anything reads them: a malformed event,
 * path or query string is a 400 (414 when too long), never a 500 (SPEC §8.2). The path is matched
 * as sent (no %-decoding, trailing slashes ignored).
 */
function target(event: APIGatewayProxyEventV2): { method: string; path: string } {
  if (typeof event !== 'object' || event === null) throw new InputError('BAD_REQUEST', 'the request is not an HTTP request event');
  const method = event.requestContext?.http?.method ?? 'GET';
  const raw = event.rawPath ?? '/';
  const query = event.rawQueryString ?? '';
  if (typeof method !== 'string' || !/^[A-Z]{1,16}$/.test(method)) throw new InputError('BAD_METHOD', 'the request method is not an HTTP method');
  if (typeof raw !== 'string' || typeof query !== 'string') throw new InputError('BAD_PATH', 'the request path is not text');
  if (raw.length > MAX_TARGET_CHARS || query.length > MAX_TARGET_CHARS) throw new InputError('URI_TOO_LONG', `the request path and query are at most ${MAX_TARGET_CHARS} characters each`);
  // a path is "/" then visible ASCII (RFC 3986 characters, %-escapes kept as they are)
  if (!/^\/[\x21-\x7e]*$/.test(raw) || !/^[\x21-\x7e]*$/.test(query)) throw new InputError('BAD_PATH', 'the request path or query string is malformed');
  if (event.body !== undefined && event.body !== null && typeof event.body !== 'string') throw new InputError('BODY_NOT_BINARY', 'the request body is not text');
  return { method, path: raw.replace(/\/+$/, '') || '/' };
}

/** How many queued handles a proxy instance remembers (oldest forgotten first). */
const KNOWN_HANDLES_MAX = 10_000;

export function createProxyHandler(deps: ProxyDeps): ProxyHandler {
  const log = deps.log ?? silentLogger;
  const random = deps.random ?? { bytes: (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n)) };
  const ttlSeconds = deps.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const pollIntervalMs = deps.pollIntervalMs ?? 250;
  const waiter = deps.waiter ?? intervalWaiter(pollIntervalMs, deps.sleep ?? abortableSleep);
  // Handles this instance knows were queued → when their replay-guard item expires (epoch s).
  // A poll of a pending request then costs one table read instead of two: the req#<handle> item
  // it would read is the one this instance wrote (or read) itself, and it is trusted only until
  // its TTL, so the answer (202 vs 404) is the same as reading it again.
  const known = new Map<string, number>();
  const remember = (handle: string, ttl: number) => {
    known.delete(handle);
    known.set(handle, ttl);
    if (known.size > KNOWN_HANDLES_MAX) known.delete(known.keys().next().value!);
  };

  async function submit(event: APIGatewayProxyEventV2, route: 'analyze' | 'patents'): Promise<APIGatewayProxyStructuredResultV2> {
    const type = (header(event, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      throw new InputError('UNSUPPORTED_MEDIA_TYPE', `content-type is "${type.slice(0, 60)}"; a sealed request is application/octet-stream`);
    }
    const body = typeof event.body === 'string' ? event.body : '';
    // size first, on the encoded text, before decoding anything (base64: 4 chars per 3 bytes)
    const limit = event.isBase64Encoded ? Math.ceil(MAX_SEALED_BYTES / 3) * 4 : MAX_SEALED_BYTES;
    if (body.length > limit) {
      throw new InputError('BODY_TOO_LARGE', `the request body is larger than ${MAX_SEALED_BYTES} bytes`);
    }
    if (event.isBase64Encoded !== true) throw new InputError('BODY_NOT_BINARY', 'the request body must be sent as binary (application/octet-stream)');
    const sealed = fromBase64(body, 'request body');
    const keys = await deps.keys();
    checkSealedFormat(sealed, keys.recipientFingerprints ?? keys.recipientFingerprint);
    const handle = requestHandle(deps.p, sealed);
    // received_at is this proxy's clock, never a value from the request or the event (SPEC §8.1):
    // the worker's freshness check measures the request's timestamp against it
    const now = deps.clock.now();
    // `attempt` names this write, so a failed enqueue undoes exactly it and nothing newer
    const attempt = toHex(random.bytes(16));
    const fresh = await deps.requests.put(
      { id: requestKey(handle), route, received_at: now, ttl: Math.floor(now / 1000) + ttlSeconds, attempt },
      { ifAbsent: true, ttl: { attribute: 'ttl', now: Math.floor(now / 1000) } },
    );
    if (!fresh) throw new InputError('REPLAYED_REQUEST', 'this sealed request was already received');
    try {
      await deps.queue.send(encodeQueued(handle, route, now, sealed));
    } catch (err) {
      // SPEC §8.2: a 503 means "not queued", so the replay guard must not stay behind: the same
      // body sent again is then accepted (not 409 forever, with polls saying "pending")
      const undone = await deps.requests.deleteIf({ id: requestKey(handle) }, { attempt }).catch((e: unknown) => {
        log.log('error', 'undoing the replay guard failed', { handle, code: toImaError(e).code });
        return false;
      });
      log.log(undone ? 'warn' : 'error', undone ? 'enqueue failed; replay guard undone' : 'enqueue failed; replay guard left until its ttl', { handle, code: toImaError(err).code });
      throw err;
    }
    remember(handle, Math.floor(now / 1000) + ttlSeconds);
    waiter.expect?.(handle);
    log.log('info', 'request queued', { handle, route, bytes: sealed.length });
    return json(202, { handle, status: 'queued', poll: `/api/decisions/${handle}` });
  }

  /**
   * A long poll: today's answer, re-read after each wake while it is 202 and the deadline is
   * ahead. Reads are bounded (a spurious wake cannot spin): at most one per poll interval of the
   * wait, plus the first and the last.
   */
  async function decision(handle: string, waitMs: number, signal?: AbortSignal): Promise<APIGatewayProxyStructuredResultV2> {
    if (!isHandle(handle)) throw new InputError('BAD_HANDLE', 'a decision handle is 64 lowercase hex digits');
    const deadline = deps.clock.now() + waitMs;
    const maxReads = Math.ceil(waitMs / pollIntervalMs) + 2;
    let handed: Item | void = undefined;
    for (let reads = 1; ; reads++) {
      const answer = await lookup(handle, handed || undefined);
      const left = deadline - deps.clock.now();
      if (answer.statusCode !== 202 || left <= 0 || reads >= maxReads || signal?.aborted) return answer;
      handed = await waiter.wait(handle, left, signal);
    }
  }

  /** `stored`: the decision item the worker's store handed over (local up): no read then. */
  async function lookup(handle: string, stored?: Item): Promise<APIGatewayProxyStructuredResultV2> {
    // queued here and nothing stored yet (local up: every store notifies): pending without a read
    if (!stored && waiter.pendingHere?.(handle)) return json(202, { handle, status: 'pending' });
    const d = stored ?? (await deps.decisions.get({ id: handle }));
    if (d?.status === 'decided' && d.sealed instanceof Uint8Array) {
      known.delete(handle);
      return { statusCode: 200, headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' }, body: toBase64(d.sealed), isBase64Encoded: true };
    }
    if (d?.status === 'rejected') {
      known.delete(handle);
      // the worker's signed refusal (SPEC §8.10.5) rides along: the client verifies it
      const refusal = typeof d.refusal === 'string' ? parseStored(d.refusal) : undefined;
      return json(422, { error: { code: String(d.code), message: String(d.message) }, ...(refusal ? { refusal } : {}) });
    }
    const until = known.get(handle);
    if (until !== undefined && until > Math.floor(deps.clock.now() / 1000)) return json(202, { handle, status: 'pending' });
    const r = await deps.requests.get({ id: requestKey(handle) });
    if (r) {
      if (typeof r.ttl === 'number') remember(handle, r.ttl);
      return json(202, { handle, status: 'pending' });
    }
    known.delete(handle);
    return refuse(404, 'UNKNOWN_HANDLE', 'no request with this handle');
  }

  const handle: ProxyHandler = async (event, ctx) => {
    try {
      const { method, path } = target(event);
      if (path === '/api/keys') {
        if (method !== 'GET') return refuse(405, 'METHOD_NOT_ALLOWED', 'use GET');
        const keys = await deps.keys();
        return { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' }, body: keys.document };
      }
      const m = /^\/api\/(analyze|patents)$/.exec(path);
      if (m && isRoute(m[1])) {
        if (method !== 'POST') return refuse(405, 'METHOD_NOT_ALLOWED', 'use POST');
        return await submit(event, m[1] as 'analyze' | 'patents');
      }
      const dm = /^\/api\/decisions\/([^/]+)$/.exec(path);
      if (dm) {
        if (method !== 'GET') return refuse(405, 'METHOD_NOT_ALLOWED', 'use GET');
        let waitMs = parseWait(event) * 1000;
        const remaining = ctx?.getRemainingTimeInMillis?.();
        if (remaining !== undefined) waitMs = Math.max(0, Math.min(waitMs, remaining - LAMBDA_MARGIN_MS));
        return await decision(dm[1], waitMs, ctx?.signal);
      }
      const file = deps.page && Object.hasOwn(deps.page, path) ? deps.page[path] : undefined;
      if (file) {
        if (method !== 'GET') return refuse(405, 'METHOD_NOT_ALLOWED', 'use GET');
        return { statusCode: 200, headers: { ...file.headers }, body: file.body };
      }
      return refuse(404, 'NOT_FOUND', 'no such endpoint');
    } catch (err) {
      const e: ImaError = toImaError(err);
      if (e.errorClass === 'input' || e.errorClass === 'verify') return refuse(STATUS_BY_CODE[e.code] ?? 400, e.code, e.message);
      log.log('error', 'request failed', { code: e.code, error: e.errorClass === 'internal' ? String((err as Error)?.message ?? err).slice(0, 200) : e.message });
      if (e.errorClass === 'remote') return refuse(503, 'SERVICE_UNAVAILABLE', 'the service is temporarily unavailable; try again');
      return refuse(500, 'INTERNAL', 'internal error');
    }
  };
  const metrics = deps.metrics;
  if (!metrics) return handle;
  return async (event, ctx) => {
    const res = await handle(event, ctx);
    metrics.request(routeOf(event), res.statusCode ?? 200, res.statusCode !== undefined && res.statusCode >= 400 ? errorCode(res.body) : undefined);
    return res;
  };
}

/** The metric dimension of a request's path (SPEC §8.8 metrics). */
function routeOf(event: APIGatewayProxyEventV2): ProxyRoute {
  const raw = typeof event === 'object' && event !== null && typeof event.rawPath === 'string' ? event.rawPath.replace(/\/+$/, '') : '';
  if (raw === '/api/keys') return 'keys';
  if (raw === '/api/analyze') return 'analyze';
  if (raw === '/api/patents') return 'patents';
  if (raw.startsWith('/api/decisions/')) return 'decisions';
  if (raw === '' || raw === '/index.html' || raw === '/app.js' || raw === '/app.css') return 'page';
  return 'other';
}

function errorCode(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  const m = /^\{"error":\{"code":"([A-Z][A-Z0-9_]{0,63})"/.exec(body);
  return m?.[1];
}
