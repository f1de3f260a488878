/**
 * CloudWatch metrics of the proxy and the worker in Embedded Metric Format, made by Powertools for
 * AWS Lambda (TypeScript) Metrics — no format of our own. The contract the alarms in infra/ are
 * written against (SPEC §8.8 "Metrics"):
 *
 *   namespace ima-qs, dimension service = proxy | worker
 *   worker  Decisions (Count) · Refusals (Count; and by `code`) · StageLatency (Milliseconds, by
 *           `stage` = open|council|sign|audit|seal|store|total) · QueueAgeAtPickup (Milliseconds:
 *           pickup − received_at) · UnanchoredEntries (Count, after each commit) · Retries (Count)
 *   proxy   Requests (Count, by `route`) · ServerErrors (Count, 5xx) · Refused (Count, 4xx, by `code`)
 *
 * One Powertools instance per dimension set (EMF shares dimensions across a document's metrics);
 * values accumulate and are flushed as arrays (EMF allows up to 100 values per metric), before
 * Powertools would flush on its own. Where they go: stdout (the worker's task and the Lambda, where
 * CloudWatch Logs extracts them), a sink (local up: STATE/service.log), or nowhere.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from './log.js';
import type { Outcome } from './worker/pipeline.js';
import type { ConsumerMetrics } from './worker/consumer.js';

export const METRICS_NAMESPACE = 'ima-qs';
export const STAGES = ['open', 'council', 'sign', 'audit', 'seal', 'store', 'total'] as const;
export const PROXY_ROUTES = ['keys', 'analyze', 'patents', 'decisions', 'page', 'other'] as const;
export type ProxyRoute = (typeof PROXY_ROUTES)[number];

/** stdout (EMF for CloudWatch), a line sink, or off */
export type MetricsSink = 'stdout' | 'off' | { write(line: string): unknown };

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Powertools flushes by itself at 100 values of one metric: we flush first */
const MAX_VALUES = 90;
/** dimension sets kept (codes are bounded, but never trust that) */
const MAX_SETS = 64;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export class EmfMetrics {
  private readonly sets = new Map<string, { m: Metrics; values: number }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly service: 'proxy' | 'worker',
    private readonly sink: MetricsSink,
    private readonly log?: Logger,
    opts: { flushEveryMs?: number } = {},
  ) {
    if (opts.flushEveryMs && sink !== 'off') {
      this.timer = setInterval(() => this.flush(), opts.flushEveryMs);
      this.timer.unref();
    }
  }

  add(name: string, unit: Unit, value: number, dims: Record<string, string> = {}): void {
    if (this.sink === 'off' || !Number.isFinite(value)) return;
    const key = JSON.stringify(dims);
    let set = this.sets.get(key);
    if (!set) {
      if (this.sets.size >= MAX_SETS) return;
      const logger = {
        debug: () => {},
        info: () => {},
        warn: (...a: unknown[]) => this.log?.log('warn', 'metrics', { detail: String(a[0]).slice(0, 200) }),
        error: (...a: unknown[]) => this.log?.log('error', 'metrics', { detail: String(a[0]).slice(0, 200) }),
      };
      set = { m: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: this.service, defaultDimensions: dims, logger }), values: 0 };
      this.sets.set(key, set);
    }
    set.m.addMetric(name, unit, value);
    if (++set.values >= MAX_VALUES) this.flushSet(set);
  }

  /** Writes every stored metric (one EMF document per dimension set). */
  flush(): void {
    for (const set of this.sets.values()) this.flushSet(set);
  }

  private flushSet(set: { m: Metrics; values: number }): void {
    set.values = 0;
    if (!set.m.hasStoredMetrics()) return;
    if (this.sink === 'stdout') {
      set.m.publishStoredMetrics();
      return;
    }
    try {
      if (this.sink !== 'off') this.sink.write(JSON.stringify(set.m.serializeMetrics()) + '\n');
    } finally {
      set.m.clearMetrics();
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** The worker's metrics, from what its consumer settles. */
export class WorkerMetrics implements ConsumerMetrics {
  constructor(readonly emf: EmfMetrics) {}

  outcome(o: Outcome, pickedAt: number): void {
    const e = this.emf;
    if (o.receivedAt !== undefined) e.add('QueueAgeAtPickup', MetricUnit.Milliseconds, Math.max(0, pickedAt - o.receivedAt));
    if (o.status === 'decided') {
      e.add('Decisions', MetricUnit.Count, 1);
      for (const stage of STAGES) if (o.ms?.[stage] !== undefined) e.add('StageLatency', MetricUnit.Milliseconds, o.ms[stage], { stage });
    } else if (o.status === 'rejected') {
      e.add('Refusals', MetricUnit.Count, 1);
      e.add('Refusals', MetricUnit.Count, 1, { code: CODE.test(o.code) ? o.code : 'OTHER' });
    } else if (o.status === 'retry') {
      e.add('Retries', MetricUnit.Count, 1);
    }
  }

  batch(outcomes: readonly Outcome[]): void {
    const u = outcomes.find((o) => o.unanchored !== undefined)?.unanchored;
    if (u !== undefined) this.emf.add('UnanchoredEntries', MetricUnit.Count, u);
  }
}

/** The proxy's metrics: one call per answered request. */
export interface ProxyMetrics {
  request(route: ProxyRoute, status: number, code?: string): void;
  /** after each invocation on Lambda (the function may freeze right after it) */
  flush(): void;
}

export function proxyMetrics(emf: EmfMetrics): ProxyMetrics {
  return {
    request(route, status, code) {
      emf.add('Requests', MetricUnit.Count, 1, { route });
      if (status >= 500) emf.add('ServerErrors', MetricUnit.Count, 1);
      else if (status >= 400) emf.add('Refused', MetricUnit.Count, 1, { code: code && CODE.test(code) ? code : 'OTHER' });
    },
    flush: () => emf.flush(),
  };
}
