/**
 * Rendering of command results: one JSON document on stdout with `--json`, tables and text for
 * people otherwise; progress and diagnostics always on stderr (STYLE.md §5).
 */
import Table from 'cli-table3';
import type { ImaError } from './errors.js';
import type { TextSink } from './context.js';

/** What a command hands back to the program: data for --json, a rendering for people. */
export interface CommandResult {
  /** merged into `{"ok":true, ...data}` (or `{"ok":false, error, ...data}`) */
  data: Record<string, unknown>;
  /** text for people, written to stdout when not --json */
  human?: string;
  /** set when the command completed but its answer is "no" (e.g. a failed verification) */
  failure?: ImaError;
}

export function table(head: string[], rows: (string | number | boolean)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => String(c)));
  return t.toString();
}

/** A two-column key/value table. */
export function facts(rows: [string, string | number | boolean][]): string {
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of rows) t.push({ [k]: String(v) });
  return t.toString();
}

export function writeJson(out: TextSink, doc: unknown): void {
  out.write(JSON.stringify(doc, jsonReplacer, 2) + '\n');
}

function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

export function writeError(err: TextSink, e: ImaError): void {
  err.write(`ima-qs: error: ${e.message}\n`);
  if (e.hint) err.write(`ima-qs: hint: ${e.hint}\n`);
}

/**
 * Progress on stderr for anything that may take more than a second. A bar on a terminal, nothing
 * (but the final summary the command prints) elsewhere, so logs and CI output stay clean.
 */
export class Progress {
  private last = 0;
  private drawn = false;
  constructor(
    private readonly sink: TextSink,
    private readonly label: string,
    private readonly total?: number,
  ) {}

  update(done: number, note = ''): void {
    if (!this.sink.isTTY) return;
    const now = Date.now();
    if (now - this.last < 80 && done !== this.total) return;
    this.last = now;
    this.drawn = true;
    let line = `${this.label} `;
    if (this.total && this.total > 0) {
      const width = 28;
      const frac = Math.min(1, done / this.total);
      const fill = Math.round(frac * width);
      line += `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total}`;
    } else {
      line += `${done}`;
    }
    if (note) line += ` ${note}`;
    this.sink.write(`\r\x1b[2K${line}`);
  }

  done(): void {
    if (this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }
}
