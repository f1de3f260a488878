/**
 * One overall deadline per client request, and the per-step limits below it (issue 19): a client
 * that hangs is a client operators kill by hand. Every network step of `BlackBoxClient` (keys,
 * post, each poll) runs under `Deadline.step`, whose AbortSignal is handed to `fetch` AND to the
 * body reader, and aborts at the first of:
 *
 *   - the request's overall deadline (`timeoutMs`, the CLI's `--timeout`),
 *   - the step's headers limit: connect, send and the answer's status line + headers (a long poll
 *     adds the `wait` it asked the service to hold it),
 *   - the step's body limit: the longest silence between two chunks of the answer body,
 *   - the caller's own AbortSignal.
 *
 * Aborting the signal makes WHATWG fetch (undici in Node, the browser's) reject and drop the
 * connection, headers or body; the step additionally races the work against the abort, so it
 * returns on time even if an injected fetch ignores its signal. Browser-safe: no `node:` import,
 * no AbortSignal.any (plain AbortController and timers, which every runtime has).
 */
import { RemoteError } from '../errors.js';

/** The network steps of a request, as errors and progress name them. */
export type Step = 'keys' | 'post' | 'poll';

export interface StepLimits {
  /** connect, send, status line and headers (ms) */
  headersMs: number;
  /** the longest silence between two chunks of the body (ms) */
  bodyIdleMs: number;
}

/** What the work of a step reports, so the limit that fires is the phase it is in. */
export interface StepContext {
  signal: AbortSignal;
  /** the headers arrived: the headers limit stops, the body limit starts */
  headersDone(): void;
  /** a body chunk arrived: the body limit starts again */
  chunk(): void;
}

type Why = 'deadline' | 'headers' | 'body' | 'caller';

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export class Deadline {
  readonly endsAt: number;

  /**
   * @param totalMs the whole request, every step included
   * @param now the clock the remaining time is computed on (timers are real)
   * @param caller the caller's signal: aborting it stops the request (REQUEST_ABORTED)
   */
  constructor(
    readonly totalMs: number,
    private readonly now: () => number,
    private readonly caller?: AbortSignal,
  ) {
    this.endsAt = now() + totalMs;
  }

  leftMs(): number {
    return Math.max(0, this.endsAt - this.now());
  }

  /** The error of a request that ran out of time in `step` (exit 4, TIMEOUT). */
  expired(step: Step, what: string, detail: string, limit: Why = 'deadline', limitMs = this.totalMs): RemoteError {
    const phrase =
      limit === 'deadline' ? `the request's ${seconds(limitMs)} deadline passed; ${detail}` : limit === 'headers' ? `no status line and headers within ${seconds(limitMs)}` : `the answer body stalled for ${seconds(limitMs)}`;
    return new RemoteError('TIMEOUT', `timed out in step ${step} (${what}): ${phrase}`, {
      hint: limit === 'deadline' ? 'the service is slow or stalled: check it, or raise --timeout' : 'the service stalled: check it (a healthy one answers at once)',
      details: { step, limit, limitMs },
    });
  }

  private aborted(): RemoteError {
    return new RemoteError('REQUEST_ABORTED', 'the request was stopped before its decision arrived', { details: { reason: String(this.caller?.reason ?? 'aborted').slice(0, 100) } });
  }

  /** Throws REQUEST_ABORTED when the caller has aborted. */
  checkCaller(): void {
    if (this.caller?.aborted) throw this.aborted();
  }

  /** Sleeps `ms`, never past the deadline; ends early (throwing) when the caller aborts. */
  async sleep(ms: number): Promise<void> {
    this.checkCaller();
    const wait = Math.min(ms, this.leftMs());
    if (wait <= 0) return;
    let onAbort = () => {};
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, wait);
        onAbort = () => {
          clearTimeout(t);
          reject(this.aborted());
        };
        this.caller?.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      this.caller?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Runs one network step under the deadline and the step limits (each capped by what is left of
   * the deadline). Whatever `work` throws after the signal fired becomes the TIMEOUT (or
   * REQUEST_ABORTED) error naming the step; any other error passes through unchanged.
   */
  async step<T>(step: Step, what: string, limits: StepLimits, work: (ctx: StepContext) => Promise<T>): Promise<T> {
    this.checkCaller();
    const left = this.leftMs();
    if (left <= 0) throw this.expired(step, what, 'nothing was sent');
    const ctl = new AbortController();
    let why: Why | undefined;
    let inBody = false;
    let fail: (e: unknown) => void = () => {};
    const stopped = new Promise<never>((_, reject) => (fail = reject));
    const abort = (w: Why) => {
      if (why) return;
      why = w;
      ctl.abort(w === 'caller' ? this.caller?.reason : new Error(`ima-qs: ${w} limit`));
      fail(this.errorFor(w, step, what, inBody, limits));
    };
    const deadline = setTimeout(() => abort('deadline'), left);
    // a step limit runs only while it is shorter than what is left: otherwise the deadline fires first
    let phase: ReturnType<typeof setTimeout> | undefined;
    const arm = (w: 'headers' | 'body', ms: number) => {
      clearTimeout(phase);
      phase = ms < this.leftMs() ? setTimeout(() => abort(w), ms) : undefined;
    };
    arm('headers', limits.headersMs);
    const onCaller = () => abort('caller');
    this.caller?.addEventListener('abort', onCaller, { once: true });
    const ctx: StepContext = {
      signal: ctl.signal,
      headersDone: () => {
        inBody = true;
        arm('body', limits.bodyIdleMs);
      },
      chunk: () => arm('body', limits.bodyIdleMs),
    };
    const running = work(ctx);
    running.catch(() => undefined); // when the abort wins the race, the work's late rejection is expected
    try {
      return await Promise.race([running, stopped]);
    } catch (err) {
      if (why) throw this.errorFor(why, step, what, inBody, limits);
      throw err;
    } finally {
      clearTimeout(deadline);
      clearTimeout(phase);
      this.caller?.removeEventListener('abort', onCaller);
    }
  }

  private errorFor(why: Why, step: Step, what: string, inBody: boolean, limits: StepLimits): RemoteError {
    if (why === 'caller') return this.aborted();
    const where = inBody ? 'the answer body was incomplete' : 'no complete status line and headers had arrived';
    if (why === 'deadline') return this.expired(step, what, where);
    return this.expired(step, what, where, why, why === 'headers' ? limits.headersMs : limits.bodyIdleMs);
  }
}
