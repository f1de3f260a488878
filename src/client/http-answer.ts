/**
 * The HTTP answer side of the request client (browser-safe: no `node:` import): the `fetch` shape
 * it needs, and the rules every answer of a possibly hostile server is held to — a size cap while
 * streaming (with the step's signal cancelling the read), no redirect followed, the media type
 * SPEC §8.2 gives a success answer, and a server's words made safe for a terminal.
 */
import { RemoteError } from '../errors.js';

/** What `fetch` the client needs (the global one, or an instrumented one in tests). */
export type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: Uint8Array; signal?: AbortSignal; redirect?: 'manual' | 'error' | 'follow' },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  /** 'opaqueredirect' for a 3xx under redirect: 'manual' in a browser (status 0, no headers) */
  type?: string;
  /** true when the fetch followed a redirect (an injected fetch that ignored redirect: 'manual') */
  redirected?: boolean;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** the body as a stream (WHATWG fetch, browsers and Node): lets the client stop reading at a cap */
  body?: ReadableStream<Uint8Array> | null;
}>;

/** One answer of a FetchLike. */
export type Answer = Awaited<ReturnType<FetchLike>>;

export interface ReadOptions {
  /** aborting it cancels the reader (and with it the connection) */
  signal?: AbortSignal;
  /** called per chunk (the step's body limit restarts) */
  onChunk?: () => void;
  /** keep the first `max` bytes instead of refusing a longer answer (error bodies) */
  truncate?: boolean;
}

/**
 * Reads at most `max` bytes of an answer: refused from Content-Length when it says more, and
 * while streaming when the body runs past it (a server may lie about or omit the length). A
 * connection that closes before the body is complete is ANSWER_TRUNCATED.
 */
export async function readCapped(res: Answer, max: number, what: string, o: ReadOptions = {}): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const tooLarge = (n: number | string) => new RemoteError('ANSWER_TOO_LARGE', `${what}: the service answered ${n} bytes; at most ${max} are expected`);
  const truncated = (cause: unknown) => new RemoteError('ANSWER_TRUNCATED', `${what}: the connection ended before the answer was complete`, { hint: 'the service or a proxy in front of it dropped the connection', cause });
  if (Number.isFinite(declared) && declared > max && !o.truncate) throw tooLarge(declared);
  if (!res.body) {
    let buf: Uint8Array;
    try {
      buf = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      if (o.signal?.aborted) throw err;
      throw truncated(err);
    }
    if (buf.length > max && !o.truncate) throw tooLarge(buf.length);
    return buf.subarray(0, max);
  }
  const reader = res.body.getReader();
  const cancel = () => void reader.cancel(o.signal?.reason).catch(() => undefined);
  o.signal?.addEventListener('abort', cancel, { once: true });
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (o.signal?.aborted) throw err;
        throw truncated(err);
      }
      if (chunk.done) break;
      o.onChunk?.();
      const value = chunk.value;
      if (total + value.length > max) {
        cancel();
        if (!o.truncate) throw tooLarge(`more than ${max}`);
        parts.push(value.subarray(0, max - total));
        total = max;
        break;
      }
      total += value.length;
      parts.push(value);
    }
  } finally {
    o.signal?.removeEventListener('abort', cancel);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A server's words on a terminal: no control or bidirectional-override characters, bounded. */
export function printable(s: string, max = 300): string {
  return s.slice(0, max).replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

/**
 * No redirect is followed (issue 19): the client asks fetch for `redirect: 'manual'`, and a 3xx
 * (in a browser: an opaque redirect, status 0) is an error naming where it pointed.
 */
export function refuseRedirect(res: Answer, what: string): void {
  const opaque = res.type === 'opaqueredirect';
  if (!opaque && !res.redirected && (res.status < 300 || res.status > 399)) return;
  void res.body?.cancel().catch(() => undefined);
  const location = opaque ? '(a location the browser does not show)' : printable(res.headers.get('location') ?? '(no Location header)', 200);
  const said = res.redirected ? 'the answer came through a redirect the fetch followed' : `the service answered ${res.status || 'a redirect'}, a redirect to ${location}`;
  throw new RemoteError('REDIRECT_REFUSED', `${what}: ${said}; redirects are not followed (a sealed request is never re-sent elsewhere)`, {
    hint: 'give --endpoint the URL the service really answers on',
    details: { status: res.status, location },
  });
}

/** A success answer must carry the media type SPEC §8.2 gives it (parameters such as charset aside). */
export function requireType(res: Answer, expected: string, what: string): void {
  const got = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (got === expected) return;
  void res.body?.cancel().catch(() => undefined);
  throw new RemoteError('BAD_CONTENT_TYPE', `${what}: the service answered ${res.status} as ${got ? printable(got, 80) : 'no content type'}, not ${expected}`, {
    hint: 'the endpoint is not the black-box service (a login page, a proxy error page?)',
    details: { status: res.status, contentType: printable(got, 80) },
  });
}

