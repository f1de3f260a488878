/**
 * `ima-qs loadtest --endpoint URL --pin FP --users N --duration S` (issue 6 §5): N concurrent
 * clients, each sending requests back to back (or --think ms apart) (a full BlackBoxClient round trip: seal, POST, poll,
 * open, verify) until S seconds have passed or --max-requests were started. Reports latency
 * percentiles (nearest rank), throughput and errors by code, with a progress bar on stderr.
 *
 * The measuring itself (latency definitions, bounds) is src/client/load-measure.ts, shared with
 * the rollout's d4.load-test; this file parses flags and renders the report.
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { measureLoad, SEED_BUDGET, type LoadReport } from '../client/load-measure.js';
import { defaultProvider } from '../crypto/providers.js';
import { RemoteError, UsageError } from '../errors.js';
import { facts, Progress, table, type CommandResult } from '../output.js';
import { isRoute } from '../protocol/request.js';
import { parseTimeout, resolveToken, TOKEN_HELP } from './request.js';

export { SEED_BUDGET, latencyStats, samplePayload, type LatencyStats } from '../client/load-measure.js';

export interface LoadtestFlags {
  endpoint?: string;
  pin?: string;
  token?: string;
  users?: string;
  duration?: string;
  route?: string;
  maxRequests?: string;
  timeout?: string;
  think?: string;
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

/** "post ×3, poll ×1": where the timed-out requests were stalled. */
function timeoutSteps(r: LoadReport): string {
  return Object.entries(r.timeoutsByStep).map(([step, n]) => `${step} ×${n}`).join(', ');
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

  const progress = new Progress(deps.stderr, `loadtest ${users} users`, durationS);
  let data: LoadReport;
  try {
    data = await measureLoad(
      { endpoint: o.endpoint, pin: o.pin, token: resolveToken(o.token, deps.env), provider: defaultProvider(), users, durationS, thinkMs, maxRequests, route, timeoutMs },
      { progress: (p) => progress.update(Math.min(durationS, Math.floor(p.elapsedMs / 1000)), `s, ${p.ok} ok, ${p.errors} errors`) },
    );
  } finally {
    progress.done();
  }
  const { throughputPerSecond: throughput, errors } = data;
  const { started, ok, errors: errorCount } = data.requests;
  const { service: s, total: all } = data.latencyMs;
  const budgetMet = data.budget.met;
  const human = [
    facts([
      ['endpoint', o.endpoint],
      ['load', `${users} users × ${durationS} s on /api/${route}${thinkMs ? `, ${thinkMs} ms think time` : ', back to back'}`],
      ['requests', `${ok} ok, ${errorCount} errors (${started} started)`],
      ['throughput', `${throughput} decisions/s`],
      ['seed budget', `${SEED_BUDGET.users} users, p99 < ${SEED_BUDGET.p99Ms} ms: ${budgetMet === null ? `n/a at ${users} users` : budgetMet ? 'met' : 'NOT met'}`],
    ]),
    table(
      ['latency (ms)', 'p50', 'p95', 'p99', 'max', 'mean'],
      [
        ['service (POST → decision)', s.p50, s.p95, s.p99, s.max, s.mean],
        ['total (incl. client crypto)', all.p50, all.p95, all.p99, all.max, all.mean],
      ],
    ),
    ...(errorCount ? [table(['error', 'count'], Object.entries(errors).map(([code, n]) => [code === 'TIMEOUT' ? `TIMEOUT (${timeoutSteps(data)})` : code, n]))] : []),
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
        'IMA_QS_TOKEN=$(cat token.jwt) ima-qs loadtest --endpoint https://abc123.execute-api.eu-central-1.amazonaws.com --pin 3f1c…e9 --users 100 --duration 300 --json',
      ],
      notes: `Each user sends requests back to back (or --think ms apart) through the full client (keys pinned once, then seal,
POST, poll, open, verify). The seed's acceptance test is ${SEED_BUDGET.users} users with a p99 below ${SEED_BUDGET.p99Ms} ms.
Every request runs under one deadline (--timeout): a stalled service costs a TIMEOUT error per
request at that deadline, and the run ends at most one --timeout after --duration. Redirects are
not followed. Exit 4 when any request failed (the report still prints).`,
    })
    .option('--endpoint <url>', 'the service base URL')
    .option('--pin <fingerprint>', 'the ML-DSA-87 fingerprint of the service')
    .option('--token <jwt>', TOKEN_HELP)
    .option('--users <n>', 'concurrent clients (1 to 1000)')
    .option('--duration <seconds>', 'how long to start new requests (1 to 3600)')
    .option('--route <route>', 'analyze or patents', 'analyze')
    .option('--max-requests <n>', 'stop starting requests after this many')
    .option('--timeout <seconds>', "each request's one deadline: keys, POST, every poll, headers and bodies (a stalled request is a TIMEOUT error then)", '30')
    .option('--think <ms>', "each user's pause between requests, users starting spread over one pause (like locust's wait_time; default 0: back to back)")
    .action(app.action(async (o: LoadtestFlags) => runLoadtest(app, o)));
}
