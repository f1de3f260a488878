/**
 * `BlackBoxClient`: the request side of DESIGN.md "The data flow", as a library that runs in Node
 * and in a browser (pure JS: the noble provider, `fetch`, no `node:` import anywhere below it).
 *
 *   1. GET /api/keys, verify the keys document against the PINNED ROOT fingerprint (SPEC §7.3):
 *      the root key, its signed key-set statements, the current one valid now and of a generation
 *      no lower than the highest this client has seen (a rollback is refused) — on any "no" it
 *      stops here: nothing is sealed or sent
 *   2. make an ephemeral composite reply key, seal the request to the service key (SPEC §8.1)
 *   3. POST it; the 202 answer must name the handle the client computed itself
 *   4. long-poll GET /api/decisions/{handle}?wait=S (SPEC §8.2): the service holds the request
 *      until the decision is stored; a service that answers 202 at once (an older proxy that
 *      ignores `wait`) is polled with backoff instead (a progress callback sees each poll)
 *   5. open the sealed response with the reply key, verify every check of SPEC §8.10 against the
 *      root pin (the response carries the statement that certifies its signer, of a generation
 *      no lower than the highest seen) and the request digest, and return the response document
 *      (what `-o response.json` keeps)
 *
 * The verifier is the same pure `verifyResponse` that `ima-qs verify response.json` runs offline.
 *
 * Every network step goes through one private `call()`: one overall deadline for the request
 * (`timeoutMs`) with per-step headers/body limits below it (src/client/deadline.ts), whose signal
 * reaches fetch and the body reader; redirects are never followed (`redirect: 'manual'`; a 3xx is
 * an error naming its location: a sealed request is never re-sent elsewhere); every answer is read
 * with a cap, and a success answer must carry the content type SPEC §8.2 gives it.
 */
import { fromBase64 } from '../crypto/bytes.js';
import { openBytes } from '../crypto/envelope.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { nobleProvider } from '../crypto/provider-noble.js';
import { verifyPublicKeysDocument, type DocumentKeys } from '../protocol/keys-document.js';
import { InputError, RemoteError, UsageError, VerificationError } from '../errors.js';
import { verifyResponse, type AnchorKind, type ResponseCheck } from '../protocol/response-verify.js';
import { payloadDigest } from '../protocol/decision-v2.js';
import type { AnyResponse } from '../protocol/response-view.js';
import { fingerprint } from '../crypto/key-codec.js';
import { MAX_SEALED_BYTES, sealRequest, type RequestPayload, type Route } from '../protocol/request.js';
import { parseStrictJsonBytes } from '../protocol/strict-json.js';
import { Deadline, type Step, type StepContext } from './deadline.js';
import { type Answer, type FetchLike, printable, readCapped, refuseRedirect, requireType } from './http-answer.js';
import { jsonObject, refusal, signedRefusal, type Reply } from './service-answer.js';

export { type FetchLike, printable, readCapped } from './http-answer.js';

/** Caps on what a (possibly hostile) server can make the client read. */
const MAX_KEYS_DOC_BYTES = 128 * 1024;
const MAX_ERROR_BYTES = 16 * 1024;

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
  /** the ROOT fingerprint given out of band (64 hex digits, as `ima-qs keys generate` and `local up` print it) */
  pin: string;
  /**
   * the highest key-set generation already seen for this root (kept by the caller across runs,
   * e.g. the CLI's state file): a keys document or a response certified by a lower one is refused
   */
  minGeneration?: number;
  /** the decisions signers (fingerprints) the generation `minGeneration` certifies (from the same record) */
  minGenerationSigners?: readonly string[];
  /** told whenever a verified keys document raises the highest generation seen (with its current signer) */
  onGeneration?: (generation: number, signers: string[]) => void;
  fetch?: FetchLike;
  /** defaults to the pure-JS noble provider (the only one that runs in a browser) */
  provider?: CryptoProvider;
  now?: () => number;
  /**
   * the one deadline of a whole request, every step included — keys, POST, each poll, their
   * headers and bodies (default 60 s); `keys()` alone gets the same. A request past it is TIMEOUT.
   */
  timeoutMs?: number;
  /** per step, below the deadline: connect, send, status line and headers (default 15 s; a poll adds its `wait`) */
  headersTimeoutMs?: number;
  /** per step, below the deadline: the longest silence between two chunks of an answer body (default 10 s) */
  bodyTimeoutMs?: number;
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
  /** refuse a response whose audit anchor is unauthenticated (a version 1 response) */
  requireAnchor?: boolean;
  /**
   * a bearer token for a service that authenticates its callers (the deployed proxy's JWT
   * authorizer, infra/api.tf): sent as `Authorization: Bearer <token>` with every call
   */
  token?: string;
}

/** A verified response: version 2 (SPEC §8.10) or, from an older service, version 1 (§8.5). */
export type { AnyResponse };

export interface ClientResult {
  handle: string;
  response: AnyResponse;
  checks: ResponseCheck[];
  /** what the audit anchor amounts to: label it in every output (a simulated one is no hardware anchor) */
  anchor: AnchorKind;
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

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 15_000;
const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** One HTTP exchange of a step, read whole (capped) under the step's signal. */
interface Exchange {
  step: Step;
  method: 'GET' | 'POST';
  path: string;
  body?: Uint8Array;
  /** the success status, and the content type and size cap of its body (SPEC §8.2) */
  ok: { status: number; type: string; maxBytes: number };
  /** seconds the service was asked to hold the request (`?wait=`): added to the headers limit */
  holdSeconds?: number;
}

export class BlackBoxClient {
  private readonly base: string;
  private readonly p: CryptoProvider;
  private readonly fetch: FetchLike;
  private readonly now: () => number;
  private cachedKeys?: { keys: DocumentKeys; at: number };
  /** the highest key-set generation this instance has seen in a verified keys document, and its signers */
  private highest: number;
  private highestSigners: readonly string[];

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
      throw new UsageError('BAD_PIN', 'the pinned fingerprint is not 64 hex digits', { hint: "it is the root fingerprint 'ima-qs keys generate' or 'ima-qs local up' prints" });
    }
    this.highest = Number.isSafeInteger(opts.minGeneration) && opts.minGeneration! > 0 ? opts.minGeneration! : 0;
    this.highestSigners = opts.minGenerationSigners ?? [];
    this.opts = { ...opts, pin };
    this.p = opts.provider ?? nobleProvider;
    const global = (globalThis as { fetch?: FetchLike }).fetch;
    // a browser's fetch must be called on its window, not as a method of this object
    const f = opts.fetch ?? (global && global.bind(globalThis));
    if (!f) throw new UsageError('NO_FETCH', 'this runtime has no fetch');
    this.fetch = f;
    this.now = opts.now ?? (() => Date.now());
    // a token is one header value: printable ASCII without spaces, bounded (a JWT is base64url.dots)
    if (opts.token !== undefined && !/^[\x21-\x7e]{1,8192}$/.test(opts.token)) {
      throw new UsageError('BAD_TOKEN', 'the token must be 1 to 8192 printable characters without spaces (a JWT)');
    }
  }

  private deadline(signal?: AbortSignal): Deadline {
    return new Deadline(this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, this.now, signal);
  }

  /**
   * Every HTTP request of the client goes through here (one place for the headers it sends):
   * under the deadline and the step's limits, never following a redirect, the answer read whole
   * with its cap (a non-success body: the first MAX_ERROR_BYTES), a success checked for its type.
   */
  private async call(d: Deadline, x: Exchange): Promise<Reply> {
    const what = `${x.method} ${x.path.replace(/\?.*$/, '').replace(/[0-9a-f]{64}$/, '{handle}')}`;
    const headers: Record<string, string> = {};
    if (x.body) headers['content-type'] = 'application/octet-stream';
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;
    const limits = {
      headersMs: (this.opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS) + (x.holdSeconds ?? 0) * 1000,
      bodyIdleMs: this.opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    };
    return d.step(x.step, what, limits, async (ctx: StepContext) => {
      let res: Answer;
      try {
        res = await this.fetch(`${this.base}${x.path}`, { method: x.method, headers, body: x.body, signal: ctx.signal, redirect: 'manual' });
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        const code = (err as { cause?: { code?: unknown } })?.cause?.code;
        throw new RemoteError('ENDPOINT_UNREACHABLE', `${what}: ${this.base} did not answer${typeof code === 'string' ? ` (${printable(code, 40)})` : ''}`, {
          hint: 'is the service running? (ima-qs local up)',
          cause: err,
        });
      }
      ctx.headersDone();
      refuseRedirect(res, what);
      const success = res.status === x.ok.status;
      if (success) requireType(res, x.ok.type, what);
      const body = await readCapped(res, success ? x.ok.maxBytes : MAX_ERROR_BYTES, what, { signal: ctx.signal, onChunk: ctx.chunk, truncate: !success });
      return { status: res.status, body };
    });
  }

  /** The highest key-set generation seen so far (0: none). */
  get generation(): number {
    return this.highest;
  }

  /** The decisions signers (fingerprints) that generation certifies. */
  get generationSigners(): readonly string[] {
    return this.highestSigners;
  }

  /** Step 1: the service keys, trusted only once the document verifies against the pin. */
  async keys(signal?: AbortSignal): Promise<DocumentKeys> {
    return this.keysWithin(this.deadline(signal));
  }

  private async keysWithin(d: Deadline): Promise<DocumentKeys> {
    const ttl = this.opts.keysCacheMs ?? 5 * 60_000;
    if (this.cachedKeys && this.now() - this.cachedKeys.at < ttl) return this.cachedKeys.keys;
    const res = await this.call(d, { step: 'keys', method: 'GET', path: '/api/keys', ok: { status: 200, type: 'application/json', maxBytes: MAX_KEYS_DOC_BYTES } });
    if (res.status !== 200) throw refusal(res, 'GET /api/keys');
    const text = new TextDecoder('utf-8').decode(res.body);
    const v = verifyPublicKeysDocument(this.p, text, { pin: this.opts.pin, now: new Date(this.now()), minGeneration: this.highest || undefined });
    // Precondition: nothing is sealed or sent to a service whose keys do not verify against the pin
    if (!v.valid) throw new VerificationError(v.code, `the service keys document is refused: ${v.reason}`, {
      hint:
        v.code === 'KEYS_DOC_PIN_MISMATCH'
          ? 'the endpoint is not the service you pinned (the pin is the root fingerprint): check it out of band'
          : v.code === 'KEYS_DOC_ROLLBACK'
            ? 'someone serves an old keys document (a rotated, possibly leaked key set): do not send anything'
            : undefined,
    });
    if (v.keys.generation >= this.highest) {
      const raised = v.keys.generation > this.highest;
      this.highest = v.keys.generation;
      this.highestSigners = [v.keys.fingerprints.decisions];
      if (raised) this.opts.onGeneration?.(v.keys.generation, [v.keys.fingerprints.decisions]);
    }
    this.cachedKeys = { keys: v.keys, at: this.now() };
    return v.keys;
  }

  /**
   * Sends one request and returns the verified response (throws on any failed check). The whole
   * of it runs under one deadline (`timeoutMs`): past it, TIMEOUT naming the step it was in.
   */
  async request(route: Route, payload: RequestPayload, signal?: AbortSignal): Promise<ClientResult> {
    const t0 = this.now();
    const d = this.deadline(signal);
    let polls = 0;
    let handle: string | undefined;
    const progress = (phase: ClientPhase) => this.opts.onProgress?.({ phase, elapsedMs: this.now() - t0, polls, handle });

    progress('keys');
    const keys = await this.keysWithin(d);
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
    const posted = `POST /api/${route}`;
    const res = await this.call(d, { step: 'post', method: 'POST', path: `/api/${route}`, body: sealed.sealed, ok: { status: 202, type: 'application/json', maxBytes: MAX_ERROR_BYTES } });
    if (res.status !== 202) throw refusal(res, posted);
    const accepted = jsonObject(res.body, posted);
    if (accepted.handle !== sealed.handle) {
      throw new VerificationError('HANDLE_MISMATCH', 'the service answered with a handle that is not the digest of the request sent');
    }

    let delay = this.opts.pollMs ?? 50;
    const maxDelay = this.opts.maxPollMs ?? 1000;
    const waitSeconds = Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(this.opts.waitSeconds ?? DEFAULT_WAIT_SECONDS)));
    const backoff = async () => {
      await d.sleep(delay);
      delay = Math.min(maxDelay, Math.ceil(delay * 1.5));
    };
    const polled = 'GET /api/decisions/{handle}';
    let body: Uint8Array | undefined;
    // without long polling, no poll right after the 202: the worker cannot have decided within
    // one round trip (a decision is ≥ 23 ML-DSA-87 signatures), so the first poll waits a delay
    if (waitSeconds === 0) await backoff();
    for (;;) {
      d.checkCaller();
      if (polls > 0 && d.leftMs() <= 0) throw d.expired('poll', polled, `the decision was still pending after ${polls} poll(s)`);
      polls++;
      progress('poll');
      const wait = Math.min(waitSeconds, Math.floor(d.leftMs() / 1000));
      const asked = this.now();
      const r = await this.call(d, {
        step: 'poll',
        method: 'GET',
        path: `/api/decisions/${sealed.handle}${wait > 0 ? `?wait=${wait}` : ''}`,
        holdSeconds: wait,
        ok: { status: 200, type: 'application/octet-stream', maxBytes: MAX_RESPONSE_BYTES },
      });
      if (r.status === 200) {
        body = r.body;
        break;
      }
      if (r.status === 422) throw signedRefusal(this.p, r, keys, sealed.handle);
      if (r.status !== 202) throw refusal(r, polled);
      // a 202 well before the wait asked for: the service did not hold the poll (an older proxy
      // ignoring `wait`, or one that clamps it): space the next poll with the backoff
      if (wait === 0 || this.now() - asked < wait * 500) await backoff();
    }
    const serviceMs = this.now() - tPost;

    progress('open');
    let response: unknown;
    try {
      response = parseStrictJsonBytes(openBytes(this.p, sealed.replyKey, body));
    } catch (err) {
      if (err instanceof VerificationError) throw new VerificationError('RESPONSE_UNOPENABLE', 'the sealed response does not open with this request\'s reply key', { cause: err });
      throw new InputError('RESPONSE_NOT_JSON', 'the opened response is not UTF-8 JSON', { cause: err });
    }
    progress('verify');
    // the client knows what it sent: the request digest and the payload digest are checked, not taken
    const v = verifyResponse(this.p, response, this.opts.pin, {
      requestDigest: sealed.handle,
      payloadDigest: payloadDigest(this.p, payload),
      requireAnchor: this.opts.requireAnchor,
      ...(this.highest ? { minGeneration: this.highest, stillCertified: this.highestSigners } : {}),
    });
    const doc = response as AnyResponse;
    if (v.ok && doc.decision.request_id !== sealed.inner.request_id) {
      v.ok = false;
      v.checks.push({ name: 'request id', ok: false, status: 'fail', detail: 'the decision names another request id' });
    }
    if (!v.ok) {
      const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
      throw new VerificationError('RESPONSE_INVALID', `the response fails: ${failed.join(', ')}`, { details: { checks: v.checks } });
    }
    progress('done');
    return { handle: sealed.handle, response: doc, checks: v.checks, anchor: v.anchor, serviceMs, totalMs: this.now() - t0, polls };
  }
}

/** Decodes a base64 field of a response (exported for callers that show the signer key). */
export function responseSignerKey(r: AnyResponse): Uint8Array {
  return fromBase64(r.signer.public_key, 'signer.public_key');
}
