/**
 * `ima-qs loadtest --endpoint URL --pin FP --users N --duration S` (issue 6 §5): N concurrent
 * clients, each sending requests back to back (or --think ms apart) (a full BlackBoxClient round trip: seal, POST, poll,
 * open, verify) until S seconds have passed or --max-requests were started. Reports latency
 * percentiles (nearest rank), throughput and errors by code, with a progress bar on stderr.
 *
 * Latency is measured per request from the POST to the poll that returned the sealed decision
 * (`service`: what the seed's budget, p99 < 550 ms at 100 users, is about) and end to end
 * including sealing, opening and verifying on the client (`total`). Bounded: it never runs past
 * the duration by more than one request timeout.
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { BlackBoxClient } from '../client/black-box-client.js';
import { defaultProvider } from '../crypto/providers.js';
import { RemoteError, UsageError, toImaError } from '../errors.js';
import { facts, Progress, table, type CommandResult } from '../output.js';
import { isRoute, type RequestPayload, type Route } from '../service/request.js';
import { parseTimeout } from './request.js';

/** The seed's acceptance budget (Day 4: 100 users, p99 < 550 ms). */
export const SEED_BUDGET = { users: 100, p99Ms: 550 } as const;

export interface LoadtestFlags {
  endpoint?: string;
  pin?: string;
  users?: string;
  duration?: string;
  route?: string;
  maxRequests?: string;
  timeout?: string;
  think?: string;
}

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

function intFlag(name: string, v: string | undefined, min: number, max: number, dflt?: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new UsageError('MISSING_OPTION', `loadtest needs --${name}`);
    return dflt;
  }
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError('BAD_OPTION', `--${name} ${v.slice(0, 20)} is not a whole number from ${min} to ${max}`);
  return n;
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

export async function runLoadtest(app: Pick<App, 'deps'>, o: LoadtestFlags): Promise<CommandResult> {
  const deps = app.deps;
  if (!o.endpoint) throw new UsageError('MISSING_OPTION', 'loadtest needs --endpoint URL');
  if (!o.pin) throw new UsageError('MISSING_OPTION', 'loadtest needs --pin FINGERPRINT');
  const users = intFlag('users', o.users, 1, 1000);
  const durationS = intFlag('duration', o.duration, 1, 3600);
  const maxRequests = o.maxRequests === undefined ? Infinity : intFlag('max-requests', o.maxRequests, 1, 10_000_000);
  const route = o.route ?? 'analyze';
  if (!isRoute(route)) throw new UsageError('BAD_ROUTE', `--route ${route.slice(0, 20)} is not analyze or patents`);
  const timeoutMs = parseTimeout(o.timeout, 30_000);
  const thinkMs = o.think === undefined ? 0 : intFlag('think', o.think, 0, 600_000);

  const client = new BlackBoxClient({ endpoint: o.endpoint, pin: o.pin, provider: defaultProvider(), timeoutMs, pollMs: 20, maxPollMs: 500, keysCacheMs: 3600_000 });
  await client.keys(); // the pin is checked once, before any load is sent

  const service: number[] = [];
  const total: number[] = [];
  const errors: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + durationS * 1000;
  const progress = new Progress(deps.stderr, `loadtest ${users} users`, durationS);
  const tick = setInterval(() => progress.update(Math.min(durationS, Math.floor((performance.now() - t0) / 1000)), `s, ${service.length} ok, ${Object.values(errors).reduce((a, b) => a + b, 0)} errors`), 250);

  const user = async (u: number) => {
    // with think time, users start spread over one think interval (a ramp, like locust's spawn rate)
    if (thinkMs > 0) await new Promise((r) => setTimeout(r, Math.floor((u / users) * thinkMs)));
    for (let n = 0; performance.now() < deadline && started < maxRequests; n++) {
      started++;
      try {
        const r = await client.request(route, samplePayload(route, u, n));
        service.push(r.serviceMs);
        total.push(r.totalMs);
        outcomes[r.response.decision.outcome] = (outcomes[r.response.decision.outcome] ?? 0) + 1;
      } catch (err) {
        const e = toImaError(err);
        const code = e.code === 'SERVICE_REFUSED' ? `HTTP_${String(e.details?.serviceCode ?? 'ERROR')}` : e.code;
        errors[code] = (errors[code] ?? 0) + 1;
      }
      // a user's pause between requests (locust's wait_time); never past the deadline
      if (thinkMs > 0) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(thinkMs, deadline - performance.now()))));
    }
  };
  try {
    await Promise.all(Array.from({ length: users }, (_, u) => user(u)));
  } finally {
    clearInterval(tick);
    progress.done();
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const ok = service.length;
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  const s = latencyStats(service);
  const all = latencyStats(total);
  const throughput = Math.round((ok / elapsedS) * 100) / 100;
  const budgetMet = users >= SEED_BUDGET.users ? s.p99 < SEED_BUDGET.p99Ms : undefined;
  const data = {
    endpoint: o.endpoint,
    route,
    users,
    thinkMs,
    durationSeconds: durationS,
    elapsedSeconds: Math.round(elapsedS * 100) / 100,
    requests: { started, ok, errors: errorCount },
    errors,
    outcomes,
    throughputPerSecond: throughput,
    latencyMs: { service: s, total: all },
    budget: { ...SEED_BUDGET, met: budgetMet ?? null },
  };
  const human = [
    facts([
      ['endpoint', o.endpoint],
      ['load', `${users} users × ${durationS} s on /api/${route}${thinkMs ? `, ${thinkMs} ms think time` : ', back to back'}`],
      ['requests', `${ok} ok, ${errorCount} errors (${started} started)`],
      ['throughput', `${throughput} decisions/s`],
      ['seed budget', `${SEED_BUDGET.users} users, p99 < ${SEED_BUDGET.p99Ms} ms: ${budgetMet === undefined ? `n/a at ${users} users` : budgetMet ? 'met' : 'NOT met'}`],
    ]),
    table(
      ['latency (ms)', 'p50', 'p95', 'p99', 'max', 'mean'],
      [
        ['service (POST → decision)', s.p50, s.p95, s.p99, s.max, s.mean],
        ['total (incl. client crypto)', all.p50, all.p95, all.p99, all.max, all.mean],
      ],
    ),
    ...(errorCount ? [table(['error', 'count'], Object.entries(errors))] : []),
  ].join('\n');
  return {
    data,
    human,
    failure: errorCount > 0 ? new RemoteError('LOADTEST_ERRORS', `${errorCount} of ${started} requests failed`, { details: { errors } }) : undefined,
  };
}

export function registerLoadtest(program: Command, app: App): void {
  app
    .command(program, {
      name: 'loadtest',
      description: 'drive N concurrent clients against an endpoint for S seconds; latency percentiles, throughput, errors',
      examples: [
        'ima-qs loadtest --endpoint http://127.0.0.1:8787 --pin 3f1c…e9 --users 10 --duration 30',
        'ima-qs loadtest --endpoint https://abc.lambda-url.eu-central-1.on.aws --pin 3f1c…e9 --users 100 --duration 300 --json',
      ],
      notes: `Each user sends requests back to back (or --think ms apart) through the full client (keys pinned once, then seal,
POST, poll, open, verify). The seed's acceptance test is ${SEED_BUDGET.users} users with a p99 below ${SEED_BUDGET.p99Ms} ms.
Exit 4 when any request failed (the report still prints).`,
    })
    .option('--endpoint <url>', 'the service base URL')
    .option('--pin <fingerprint>', 'the ML-DSA-87 fingerprint of the service')
    .option('--users <n>', 'concurrent clients (1 to 1000)')
    .option('--duration <seconds>', 'how long to start new requests (1 to 3600)')
    .option('--route <route>', 'analyze or patents', 'analyze')
    .option('--max-requests <n>', 'stop starting requests after this many')
    .option('--timeout <seconds>', 'per-request timeout', '30')
    .option('--think <ms>', "each user's pause between requests, users starting spread over one pause (like locust's wait_time; default 0: back to back)")
    .action(app.action(async (o: LoadtestFlags) => runLoadtest(app, o)));
}
