/**
 * Structured logs: one JSON object per line (CloudWatch / pino-compatible field names: level,
 * time, msg), per-stage timings in milliseconds. No secret ever goes in: callers log digests,
 * ids, codes and counts only, and as a safety net any field whose name looks secret is redacted.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
}

const SECRET_NAME = /secret|private|seed|password|token|plaintext|content/i;

export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_NAME.test(k) ? '[redacted]' : v instanceof Uint8Array ? `[${v.length} bytes]` : v;
  return out;
}

export function jsonLogger(sink: { write(s: string): unknown }, base: Record<string, unknown> = {}, clock: () => number = Date.now): Logger {
  return {
    log(level, msg, fields = {}) {
      sink.write(JSON.stringify({ level, time: new Date(clock()).toISOString(), msg, ...base, ...redact(fields) }) + '\n');
    },
  };
}

export const silentLogger: Logger = { log() {} };

/** Stage timings for one request (SPEC §8: open, council, sign, audit, seal, store). */
export class StageTimer {
  private readonly start = performance.now();
  private last = this.start;
  readonly ms: Record<string, number> = {};

  lap(stage: string): void {
    const now = performance.now();
    this.ms[stage] = Math.round((now - this.last) * 100) / 100;
    this.last = now;
  }

  add(stage: string, ms: number): void {
    this.ms[stage] = Math.round(ms * 100) / 100;
    this.last = performance.now();
  }

  total(): number {
    return Math.round((performance.now() - this.start) * 100) / 100;
  }
}
