/**
 * The measuring core of a bounded load test (issue 6 §5, issue 8 §4): N concurrent users, each a
 * full `BlackBoxClient` round trip (keys pinned once, then seal, POST, poll, open, verify), until
 * the duration has passed or `maxRequests` were started. Returns plain data (`LoadReport`);
 * `ima-qs loadtest` renders it and `ima-qs rollout day 4` (d4.load-test) judges it.
 *
 * Latency per request: `service` is POST → the poll that returned the sealed decision (what the
 * seed's budget, p99 < 550 ms at 100 users, is about); `total` adds sealing, opening and verifying
 * on the client. Bounded: no request is started after the duration, and every request runs under
 * the client's one deadline (`timeoutMs`: keys, POST, each poll, headers and bodies), so a stalled
 * service costs a TIMEOUT error at that deadline and the run ends at most one request timeout past
 * the duration. No `node:` import: this module stays usable wherever the client is.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { toImaError } from '../errors.js';
import type { RequestPayload, Route } from '../protocol/request.js';
import { BlackBoxClient, type FetchLike } from './black-box-client.js';

/** The seed's acceptance budget (Day 4: 100 users, p99 < 550 ms). */
export const SEED_BUDGET = { users: 100, p99Ms: 550 } as const;

export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (ms, rounded to 0.1). */
export function latencyStats(samples: number[]): LatencyStats {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    count: s.length,
    p50: r(rank(0.5)),
    p95: r(rank(0.95)),
    p99: r(rank(0.99)),
    max: r(s.length ? s[s.length - 1] : 0),
    mean: r(s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0),
  };
}

/** A small, different text per request (different inputs, different decisions; SPEC §8.3). */
export function samplePayload(route: Route, user: number, n: number): RequestPayload {
  if (route === 'analyze') {
    return {
      name: `load_${user}_${n}.py`,
      content: `"""load test request ${user}/${n}"""\nimport json\n\n\ndef total(items):\n    """Sum the price of every item."""\n    return sum(i["price"] * i.get("qty", 1) for i in items)\n\n\nif __name__ == "__main__":\n    print(json.dumps({"total": total([{"price": ${n % 97}, "qty": ${user % 7}}])}))\n`,
    };
  }
  return {
    name: `claims_${user}_${n}.txt`,
    content: `1. A method of sealing a request ${user}-${n}, comprising: encapsulating a key with ML-KEM-768 and P-384; and signing each vote with ML-DSA-87.\n2. The method of claim 1, wherein the decision is anchored in a TPM PCR.\n`,
  };
}

export interface LoadOptions {
  endpoint: string;
  /** the pinned ML-DSA-87 fingerprint (64 hex): checked once, before any load is sent */
  pin: string;
  provider: CryptoProvider;
  users: number;
  durationS: number;
  /** each user's pause between requests (locust's wait_time); users start spread over one pause */
  thinkMs: number;
  /** no request is started after this many (Infinity: only the duration bounds the run) */
  maxRequests: number;
  route: Route;
  /** per request, keys to verified answer: the client's one deadline (the first keys fetch gets the same) */
  timeoutMs: number;
  /** the client's poll schedule: the first delay grows by half per poll up to maxPollMs */
  pollMs?: number;
  maxPollMs?: number;
  /** the client's long-poll wait (`?wait=`, SPEC §8.2; default the client's) */
  waitSeconds?: number;
  /** bearer token for an endpoint that authenticates callers (BlackBoxClientOptions.token) */
  token?: string;
  fetch?: FetchLike;
}

export interface LoadSnapshot {
  elapsedMs: number;
  ok: number;
  errors: number;
}

export type LoadReport = {
  endpoint: string;
  route: Route;
  users: number;
  thinkMs: number;
  durationSeconds: number;
  elapsedSeconds: number;
  requests: { started: number; ok: number; errors: number };
  /** errors by code (HTTP_<service code> for a refused request) */
  errors: Record<string, number>;
  /** of the TIMEOUT errors, how many timed out in each step (keys, post, poll) */
  timeoutsByStep: Record<string, number>;
  outcomes: Record<string, number>;
  throughputPerSecond: number;
  latencyMs: { service: LatencyStats; total: LatencyStats };
  /** met: service p99 < 550 ms, judged only at ≥ 100 users (null below) */
  budget: { users: number; p99Ms: number; met: boolean | null };
};

/**
 * Runs the load. Throws (before sending anything) when GET /api/keys fails (TIMEOUT included: it
 * gets the same deadline as a request) or its document does not verify under the pin; per-request
 * failures, timeouts among them, are counted, not thrown.
 */
export async function measureLoad(o: LoadOptions, hooks: { progress?: (s: LoadSnapshot) => void } = {}): Promise<LoadReport> {
  const client = new BlackBoxClient({
    endpoint: o.endpoint,
    pin: o.pin,
    provider: o.provider,
    fetch: o.fetch,
    timeoutMs: o.timeoutMs,
    pollMs: o.pollMs ?? 20,
    maxPollMs: o.maxPollMs ?? 500,
    waitSeconds: o.waitSeconds,
    keysCacheMs: 3600_000,
    token: o.token,
  });
  await client.keys(); // the pin is checked once, before any load is sent

  const service: number[] = [];
  const total: number[] = [];
  const errors: Record<string, number> = {};
  const timeoutsByStep: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  let started = 0;
  let errorCount = 0;
  const t0 = performance.now();
  const deadline = t0 + o.durationS * 1000;
  const snapshot = (): LoadSnapshot => ({ elapsedMs: performance.now() - t0, ok: service.length, errors: errorCount });
  const tick = hooks.progress ? setInterval(() => hooks.progress!(snapshot()), 250) : undefined;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const user = async (u: number) => {
    // with think time, users start spread over one think interval (a ramp, like locust's spawn rate)
    if (o.thinkMs > 0) await pause(Math.floor((u / o.users) * o.thinkMs));
    for (let n = 0; performance.now() < deadline && started < o.maxRequests; n++) {
      started++;
      try {
        const r = await client.request(o.route, samplePayload(o.route, u, n));
        service.push(r.serviceMs);
        total.push(r.totalMs);
        outcomes[r.response.decision.outcome] = (outcomes[r.response.decision.outcome] ?? 0) + 1;
      } catch (err) {
        const e = toImaError(err);
        const code = e.code === 'SERVICE_REFUSED' ? `HTTP_${String(e.details?.serviceCode ?? 'ERROR')}` : e.code;
        errors[code] = (errors[code] ?? 0) + 1;
        if (e.code === 'TIMEOUT') {
          const step = String(e.details?.step ?? 'unknown');
          timeoutsByStep[step] = (timeoutsByStep[step] ?? 0) + 1;
        }
        errorCount++;
      }
      // a user's pause between requests (locust's wait_time); never past the deadline
      if (o.thinkMs > 0) await pause(Math.max(0, Math.min(o.thinkMs, deadline - performance.now())));
    }
  };
  try {
    await Promise.all(Array.from({ length: o.users }, (_, u) => user(u)));
  } finally {
    if (tick) clearInterval(tick);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const s = latencyStats(service);
  return {
    endpoint: o.endpoint,
    route: o.route,
    users: o.users,
    thinkMs: o.thinkMs,
    durationSeconds: o.durationS,
    elapsedSeconds: Math.round(elapsedS * 100) / 100,
    requests: { started, ok: service.length, errors: errorCount },
    errors,
    timeoutsByStep,
    outcomes,
    throughputPerSecond: Math.round((service.length / elapsedS) * 100) / 100,
    latencyMs: { service: s, total: latencyStats(total) },
    budget: { ...SEED_BUDGET, met: o.users >= SEED_BUDGET.users ? s.p99 < SEED_BUDGET.p99Ms : null },
  };
}
