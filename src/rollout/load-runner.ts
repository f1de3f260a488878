/**
 * d4.load-test's runner and its defaults: the measuring core of `ima-qs loadtest`
 * (src/client/load-measure.ts) on the /api/analyze route, locust-like: 100 users (the seed's), each
 * pausing 1000 ms between requests, for 60 s, never more than 10,000 requests, each under a 30 s
 * deadline (so the check ends at most 30 s after its duration, however the service stalls). Every
 * request is a real sealed request the deployed service decides and stores (cost: Lambda, SQS,
 * DynamoDB, worker).
 */
import { type LoadSnapshot, measureLoad } from '../client/load-measure.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { LOAD_BUDGET_P99_MS, type LoadBounds, type LoadRunner } from './checks.js';

/** Per request, keys to verified answer: its one deadline (a stalled request is a TIMEOUT error then). */
export const LOAD_REQUEST_TIMEOUT_MS = 30_000;

export const DEFAULT_LOAD_BOUNDS: LoadBounds = { users: 100, durationS: 60, thinkMs: 1000, maxRequests: 10_000, p99Ms: LOAD_BUDGET_P99_MS, requestTimeoutMs: LOAD_REQUEST_TIMEOUT_MS };

/** The client polls at most 100 ms apart, so the measured p99 is within 100 ms of the service's. */
export const LOAD_MAX_POLL_MS = 100;

export function loadRunner(provider: CryptoProvider, progress?: (s: LoadSnapshot, b: LoadBounds) => void): LoadRunner {
  return (endpoint, pin, b, token) =>
    measureLoad(
      { endpoint, pin, token, provider, ...b, route: 'analyze', timeoutMs: b.requestTimeoutMs, maxPollMs: LOAD_MAX_POLL_MS },
      { progress: progress && ((s) => progress(s, b)) },
    );
}
