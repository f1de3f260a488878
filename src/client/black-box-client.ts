/**
 * `BlackBoxClient`: the request side of DESIGN.md "The data flow", as a library that runs in Node
 * and in a browser (pure JS: the noble provider, `fetch`, no `node:` import anywhere below it).
 *
 *   1. GET /api/keys, verify the signed keys document against the PINNED ML-DSA-87 fingerprint
 *      (SPEC §7.3) — on any "no" it stops here: nothing is sealed or sent
 *   2. make an ephemeral composite reply key, seal the request to the service key (SPEC §8.1)
 *   3. POST it; the 202 answer must name the handle the client computed itself
 *   4. long-poll GET /api/decisions/{handle}?wait=S (SPEC §8.2): the service holds the request
 *      until the decision is stored; a service that answers 202 at once (an older proxy that
 *      ignores `wait`) is polled with backoff instead (a progress callback sees each poll)
 *   5. open the sealed response with the reply key, verify every check of SPEC §8.5 against the
 *      pin and the request digest, and return the response document (what `-o response.json` keeps)
 *
 * The verifier is the same pure `verifyResponse` that `ima-qs verify response.json` runs offline.
 */
import { fromBase64 } from '../crypto/bytes.js';
import { openBytes } from '../crypto/envelope.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { nobleProvider } from '../crypto/provider-noble.js';
import { verifyPublicKeysDocument, type DocumentKeys } from '../protocol/keys-document.js';
import { InputError, RemoteError, UsageError, VerificationError } from '../errors.js';
import { verifyResponse, type ResponseCheck } from '../protocol/response-verify.js';
import type { DecisionResponse } from '../protocol/decision.js';
import { MAX_SEALED_BYTES, sealRequest, type RequestPayload, type Route } from '../protocol/request.js';

/** What `fetch` the client needs (the global one, or an instrumented one in tests). */
export type FetchLike = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: Uint8Array; signal?: AbortSignal }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** the body as a stream (WHATWG fetch, browsers and Node): lets the client stop reading at a cap */
  body?: ReadableStream<Uint8Array> | null;
}>;

type Answer = Awaited<ReturnType<FetchLike>>;

/** Caps on what a (possibly hostile) server can make the client read. */
const MAX_KEYS_DOC_BYTES = 64 * 1024;
const MAX_ERROR_BYTES = 16 * 1024;

/**
 * Reads at most `max` bytes of an answer: refused from Content-Length when it says more, and
 * while streaming when the body runs past it (a server may lie about or omit the length).
 */
export async function readCapped(res: Answer, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const tooLarge = (n: number | string) => new RemoteError('ANSWER_TOO_LARGE', `${what}: the service answered ${n} bytes; at most ${max} are expected`);
  if (Number.isFinite(declared) && declared > max) throw tooLarge(declared);
  if (!res.body) {
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > max) throw tooLarge(buf.length);
    return buf;
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`more than ${max}`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function readCappedText(res: Answer, max: number, what: string): Promise<string> {
  return new TextDecoder('utf-8').decode(await readCapped(res, max, what));
}

/** A server's words on a terminal: no control or bidirectional-override characters, bounded. */
export function printable(s: string, max = 300): string {
  return s.slice(0, max).replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

export type ClientPhase = 'keys' | 'seal' | 'post' | 'poll' | 'open' | 'verify' | 'done';

export interface ClientProgress {
  phase: ClientPhase;
  /** ms since the request started */
  elapsedMs: number;
  /** polls made so far */
  polls: number;
  handle?: string;
}

export interface BlackBoxClientOptions {
  /** the service base URL, e.g. http://127.0.0.1:8787 or https://abc.lambda-url.eu-central-1.on.aws */
  endpoint: string;
  /** the ML-DSA-87 fingerprint given out of band (64 hex digits, as `ima-qs keys show` prints it) */
  pin: string;
  fetch?: FetchLike;
  /** defaults to the pure-JS noble provider (the only one that runs in a browser) */
  provider?: CryptoProvider;
  now?: () => number;
  /** the whole request, from keys to verified answer (default 60 s) */
  timeoutMs?: number;
  /** first poll delay; doubles by half each poll up to maxPollMs (defaults 50 ms / 1000 ms) */
  pollMs?: number;
  maxPollMs?: number;
  /**
   * seconds each poll asks the service to hold it while the decision is pending (`?wait=`,
   * 0..20, default 10; clamped by what is left of timeoutMs). 0 polls with backoff only.
   */
  waitSeconds?: number;
  onProgress?: (p: ClientProgress) => void;
  /** reuse a verified keys document for this long (default 5 min; 0 re-fetches per request) */
  keysCacheMs?: number;
  /**
   * a bearer token for a service that authenticates its callers (the deployed proxy's JWT
   * authorizer, infra/api.tf): sent as `Authorization: Bearer <token>` with every call
   */
  token?: string;
}

export interface ClientResult {
  handle: string;
  response: DecisionResponse;
  checks: ResponseCheck[];
  /** ms from POST to the 200 that carried the sealed decision (the service latency) */
  serviceMs: number;
  totalMs: number;
  polls: number;
}

/** The largest response the client will read: 21 votes with signatures are ~250 KiB as JSON. */
export const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;

/** SPEC §8.2: the longest `wait` a poll may ask for; the default asked. */
const MAX_WAIT_SECONDS = 20;
const DEFAULT_WAIT_SECONDS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BlackBoxClient {
  private readonly base: string;
  private readonly p: CryptoProvider;
  private readonly fetch: FetchLike;
  private readonly now: () => number;
  private cachedKeys?: { keys: DocumentKeys; at: number };

  constructor(private readonly opts: BlackBoxClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.endpoint);
    } catch {
      throw new UsageError('BAD_ENDPOINT', `endpoint "${String(opts.endpoint).slice(0, 100)}" is not a URL`, { hint: 'e.g. --endpoint http://127.0.0.1:8787' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('BAD_ENDPOINT', `endpoint must be http(s), not ${url.protocol}`);
    this.base = url.href.replace(/\/+$/, '');
    const pin = String(opts.pin ?? '').trim().toLowerCase().replace(/^sha3-256:/, '');
    if (!/^[0-9a-f]{64}$/.test(pin)) {
      throw new UsageError('BAD_PIN', 'the pinned fingerprint is not 64 hex digits', { hint: "it is the ML-DSA-87 fingerprint 'ima-qs keys show' or 'ima-qs local up' prints" });
    }
    this.opts = { ...opts, pin };
    this.p = opts.provider ?? nobleProvider;
    const f = opts.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!f) throw new UsageError('NO_FETCH', 'this runtime has no fetch');
    this.fetch = f;
    this.now = opts.now ?? (() => Date.now());
    // a token is one header value: printable ASCII without spaces, bounded (a JWT is base64url.dots)
    if (opts.token !== undefined && !/^[\x21-\x7e]{1,8192}$/.test(opts.token)) {
      throw new UsageError('BAD_TOKEN', 'the token must be 1 to 8192 printable characters without spaces (a JWT)');
    }
  }

  private async call(path: string, init: Parameters<FetchLike>[1], what: string) {
    if (this.opts.token !== undefined) init = { ...init, headers: { ...init?.headers, authorization: `Bearer ${this.opts.token}` } };
    try {
      return await this.fetch(`${this.base}${path}`, init);
    } catch (err) {
      throw new RemoteError('ENDPOINT_UNREACHABLE', `${what}: ${this.base} did not answer`, { hint: 'is the service running? (ima-qs local up)', cause: err });
    }
  }

  /** Steps 1: the service keys, trusted only once the document verifies against the pin. */
  async keys(): Promise<DocumentKeys> {
    const ttl = this.opts.keysCacheMs ?? 5 * 60_000;
    if (this.cachedKeys && this.now() - this.cachedKeys.at < ttl) return this.cachedKeys.keys;
    const res = await this.call('/api/keys', { method: 'GET' }, 'fetching the keys document');
    if (res.status !== 200) throw await refusal(res, 'GET /api/keys');
    const text = await readCappedText(res, MAX_KEYS_DOC_BYTES, 'GET /api/keys');
    const v = verifyPublicKeysDocument(this.p, text, { pin: this.opts.pin, now: new Date(this.now()) });
    // Precondition: nothing is sealed or sent to a service whose keys do not verify against the pin
    if (!v.valid) throw new VerificationError(v.code, `the service keys document is refused: ${v.reason}`, {
      hint: v.code === 'KEYS_DOC_PIN_MISMATCH' ? 'the endpoint is not the service you pinned, or its signing key changed: check the fingerprint out of band' : undefined,
    });
    this.cachedKeys = { keys: v.keys, at: this.now() };
    return v.keys;
  }

  /** Sends one request and returns the verified response (throws on any failed check). */
  async request(route: Route, payload: RequestPayload, signal?: AbortSignal): Promise<ClientResult> {
    const t0 = this.now();
    const timeout = this.opts.timeoutMs ?? 60_000;
    let polls = 0;
    let handle: string | undefined;
    const progress = (phase: ClientPhase) => this.opts.onProgress?.({ phase, elapsedMs: this.now() - t0, polls, handle });
    const checkTime = () => {
      if (signal?.aborted) throw new RemoteError('REQUEST_ABORTED', 'the request was stopped before its decision arrived');
      if (this.now() - t0 > timeout) {
        throw new RemoteError('DECISION_TIMEOUT', `no decision within ${Math.round(timeout / 1000)} s`, { hint: 'raise --timeout, or check the worker (ima-qs local up logs)' });
      }
    };

    progress('keys');
    const keys = await this.keys();
    progress('seal');
    const sealed = sealRequest(this.p, keys.composite, route, payload, { nowMs: this.now() });
    handle = sealed.handle;
    if (sealed.sealed.length > MAX_SEALED_BYTES) {
      throw new InputError('REQUEST_TOO_LARGE', `the sealed request is ${sealed.sealed.length} bytes; the service accepts at most ${MAX_SEALED_BYTES}`, {
        hint: 'send a smaller file (about 90 KiB of text fits)',
      });
    }

    progress('post');
    const tPost = this.now();
    const res = await this.call(`/api/${route}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: sealed.sealed, signal }, `POST /api/${route}`);
    if (res.status !== 202) throw await refusal(res, `POST /api/${route}`);
    const accepted = await readJson(res, `POST /api/${route}`);
    if (accepted.handle !== sealed.handle) {
      throw new VerificationError('HANDLE_MISMATCH', 'the service answered with a handle that is not the digest of the request sent');
    }

    let delay = this.opts.pollMs ?? 50;
    const maxDelay = this.opts.maxPollMs ?? 1000;
    const waitSeconds = Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(this.opts.waitSeconds ?? DEFAULT_WAIT_SECONDS)));
    const backoff = async () => {
      await sleep(Math.min(delay, Math.max(0, timeout - (this.now() - t0))));
      delay = Math.min(maxDelay, Math.ceil(delay * 1.5));
    };
    let body: Uint8Array | undefined;
    // without long polling, no poll right after the 202: the worker cannot have decided within
    // one round trip (a decision is ≥ 23 ML-DSA-87 signatures), so the first poll waits a delay
    if (waitSeconds === 0) await backoff();
    for (;;) {
      checkTime();
      polls++;
      progress('poll');
      const wait = Math.min(waitSeconds, Math.floor((timeout - (this.now() - t0)) / 1000));
      const asked = this.now();
      const r = await this.call(`/api/decisions/${sealed.handle}${wait > 0 ? `?wait=${wait}` : ''}`, { method: 'GET', signal }, 'polling for the decision');
      if (r.status === 200) {
        body = await readCapped(r, MAX_RESPONSE_BYTES, 'GET /api/decisions');
        break;
      }
      if (r.status !== 202) throw await refusal(r, 'GET /api/decisions');
      await readCapped(r, MAX_ERROR_BYTES, 'GET /api/decisions').catch(() => undefined);
      // a 202 well before the wait asked for: the service did not hold the poll (an older proxy
      // ignoring `wait`, or one that clamps it): space the next poll with the backoff
      if (wait === 0 || this.now() - asked < wait * 500) await backoff();
    }
    const serviceMs = this.now() - tPost;

    progress('open');
    let response: unknown;
    try {
      response = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(openBytes(this.p, sealed.replyKey, body)));
    } catch (err) {
      if (err instanceof VerificationError) throw new VerificationError('RESPONSE_UNOPENABLE', 'the sealed response does not open with this request\'s reply key', { cause: err });
      throw new InputError('RESPONSE_NOT_JSON', 'the opened response is not UTF-8 JSON', { cause: err });
    }
    progress('verify');
    const v = verifyResponse(this.p, response, this.opts.pin, { requestDigest: sealed.handle });
    const doc = response as DecisionResponse;
    if (v.ok && doc.decision.request_id !== sealed.inner.request_id) {
      v.ok = false;
      v.checks.push({ name: 'request id', ok: false, detail: 'the decision names another request id' });
    }
    if (!v.ok) {
      const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
      throw new VerificationError('RESPONSE_INVALID', `the response fails: ${failed.join(', ')}`, { details: { checks: v.checks } });
    }
    progress('done');
    return { handle: sealed.handle, response: doc, checks: v.checks, serviceMs, totalMs: this.now() - t0, polls };
  }
}

async function readJson(res: Answer, what: string): Promise<Record<string, unknown>> {
  const text = await readCappedText(res, MAX_ERROR_BYTES, what);
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new RemoteError('BAD_SERVICE_ANSWER', `${what}: the service answered with something that is not a JSON object`);
}

/** A non-success answer as an error carrying the service's own code (SPEC §8.2 errors). */
async function refusal(res: Answer, what: string): Promise<RemoteError> {
  let code = 'HTTP_' + res.status;
  let message = '';
  try {
    const e = (JSON.parse(await readCappedText(res, MAX_ERROR_BYTES, what)) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code)) code = e.code;
    if (typeof e?.message === 'string') message = printable(e.message);
  } catch {
    // not our JSON error shape: keep the status
  }
  return new RemoteError('SERVICE_REFUSED', `${what}: the service answered ${res.status} ${code}${message ? `: ${message}` : ''}`, {
    details: { status: res.status, serviceCode: code },
  });
}

/** Decodes a base64 field of a response (exported for callers that show the signer key). */
export function responseSignerKey(r: DecisionResponse): Uint8Array {
  return fromBase64(r.signer.public_key, 'signer.public_key');
}
