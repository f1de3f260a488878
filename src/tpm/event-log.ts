/**
 * The ima-qs TPM event log (SPEC §6.2): an append-only JSON Lines file, one record per line.
 * Each line carries `prev` = SHA-256 of the previous line's bytes (64 zeros on the first line), so
 * an edited or removed line breaks the chain at the next line; truncation at the end is caught by
 * replay against the PCR itself. Appends are one write(2) on an O_APPEND descriptor followed by
 * fsync: a batch's lines land together. One writer per log file (the worker, or one CLI at a time).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { fsError, readInputFile } from '../io/files.js';
import { type Bank, DIGEST_SIZE, PCR_COUNT, isBank } from './pcr-math.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export const LOG_VERSION = 1;
export const GENESIS_PREV = '0'.repeat(64);
/** Reading a log refuses files above this size (a worker should rotate logs per boot). */
export const MAX_LOG_BYTES = 512 * 1024 * 1024;

export type HexValues = Partial<Record<Bank, string>>;

interface LineBase {
  v: 1;
  seq: number;
  time: string;
  pcr: number;
}

/** The PCR value observed when a writer (re)started on this log (SPEC §6.2). */
export interface OpenRecord extends LineBase {
  kind: 'open';
  values: HexValues;
  simulated: boolean;
  prev: string;
}

/** One event: its digest per bank, its place in a batch, and the PCR value after the extend that covered it. */
export interface EventRecord extends LineBase {
  kind: 'event';
  type: string;
  digests: HexValues;
  batch: { id: number; index: number; size: number } | null;
  after: HexValues;
  prev: string;
}

export type LogRecord = OpenRecord | EventRecord;
export type NewRecord = Omit<OpenRecord, 'v' | 'seq' | 'prev'> | Omit<EventRecord, 'v' | 'seq' | 'prev'>;

export interface ParsedLine {
  record: LogRecord;
  /** the line's bytes as stored, without the newline */
  raw: string;
  /** 1-based line number in the file */
  line: number;
}

export interface LogTail {
  /** seq of the last record, -1 for an empty log */
  seq: number;
  /** SHA-256 of the last line (the next line's prev) */
  prevHash: string;
  last?: LogRecord;
}

export function lineHash(raw: string): string {
  return createHash('sha256').update(raw, 'utf8').digest('hex');
}

/** Event types are short printable identifiers, e.g. "ima-qs/decision", "audit-entry". */
export const EVENT_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

export class EventLog {
  constructor(readonly path: string) {}

  /** Reads and parses every line; a malformed line is an InputError naming its line number. */
  async readAll(): Promise<ParsedLine[]> {
    let buf: Buffer;
    try {
      buf = await readInputFile(this.path, MAX_LOG_BYTES, 'tpm event log', { tooLargeCode: 'BAD_EVENT_LOG' });
    } catch (err) {
      if (err instanceof InputError && err.code === 'FILE_NOT_FOUND') return [];
      throw err;
    }
    return parseLog(buf.toString('utf8'), this.path);
  }

  /** The state an appender continues from. */
  async tail(): Promise<LogTail> {
    const lines = await this.readAll();
    const last = lines[lines.length - 1];
    if (!last) return { seq: -1, prevHash: GENESIS_PREV };
    return { seq: last.record.seq, prevHash: lineHash(last.raw), last: last.record };
  }

  /**
   * Appends records continuing `tail` (seq and prev filled in here), with one write and an fsync.
   * Returns the new tail. On failure nothing is assumed written (the caller reports it).
   */
  async append(tail: LogTail, records: NewRecord[]): Promise<LogTail> {
    let seq = tail.seq;
    let prev = tail.prevHash;
    let text = '';
    let last: LogRecord | undefined;
    for (const r of records) {
      seq += 1;
      const full = { v: LOG_VERSION, seq, ...r, prev } as LogRecord;
      const raw = JSON.stringify(full);
      text += raw + '\n';
      prev = lineHash(raw);
      last = full;
    }
    let fh;
    try {
      fh = await open(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
      await fh.write(text);
      await fh.sync();
    } catch (err) {
      throw fsError(err, this.path, 'write');
    } finally {
      await fh?.close().catch(() => {});
    }
    return { seq, prevHash: prev, last };
  }
}

/** Parses a whole log text (pure; exported for tests). */
export function parseLog(text: string, name = 'event log'): ParsedLine[] {
  if (text.length === 0) return [];
  if (!text.endsWith('\n')) {
    throw new InputError('EVENT_LOG_TORN', `${name}: the last line is incomplete (no newline): a torn write or a truncated file`, {
      hint: 'replay cannot trust a torn log; keep it for inspection and start a new event log',
    });
  }
  const rows = text.slice(0, -1).split('\n');
  return rows.map((raw, i) => ({ record: parseRecord(raw, i + 1, name), raw, line: i + 1 }));
}

function parseRecord(raw: string, line: number, name: string): LogRecord {
  let o: Record<string, unknown>;
  try {
    o = parseStrictJson(raw) as Record<string, unknown>;
  } catch {
    throw bad(name, line, 'not JSON');
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw bad(name, line, 'not a JSON object');
  if (o.v !== LOG_VERSION) throw bad(name, line, `unsupported version ${String(o.v)} (expected ${LOG_VERSION})`);
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0) throw bad(name, line, 'seq is not a non-negative integer');
  if (typeof o.time !== 'string') throw bad(name, line, 'time is missing');
  if (!Number.isInteger(o.pcr) || (o.pcr as number) < 0 || (o.pcr as number) >= PCR_COUNT) throw bad(name, line, 'pcr out of range');
  if (typeof o.prev !== 'string' || !/^[0-9a-f]{64}$/.test(o.prev)) throw bad(name, line, 'prev is not 64 hex digits');
  if (o.kind === 'open') {
    checkValues(o.values, name, line, 'values');
    if (typeof o.simulated !== 'boolean') throw bad(name, line, 'simulated is not a boolean');
  } else if (o.kind === 'event') {
    if (typeof o.type !== 'string' || !EVENT_TYPE_RE.test(o.type)) throw bad(name, line, 'type is not an event type');
    checkValues(o.digests, name, line, 'digests');
    checkValues(o.after, name, line, 'after');
    const b = o.batch as { id?: unknown; index?: unknown; size?: unknown } | null;
    if (b !== null) {
      if (!b || typeof b !== 'object') throw bad(name, line, 'batch is not an object or null');
      const ok =
        Number.isSafeInteger(b.id) &&
        Number.isSafeInteger(b.size) &&
        Number.isSafeInteger(b.index) &&
        (b.size as number) >= 1 &&
        (b.index as number) >= 0 &&
        (b.index as number) < (b.size as number);
      if (!ok) throw bad(name, line, 'batch needs integer id, index < size, size >= 1');
    }
  } else {
    throw bad(name, line, `unknown kind ${String(o.kind)}`);
  }
  return o as unknown as LogRecord;
}

function checkValues(v: unknown, name: string, line: number, field: string): void {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(name, line, `${field} is not an object`);
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) throw bad(name, line, `${field} names no bank`);
  for (const [b, hex] of entries) {
    if (!isBank(b)) throw bad(name, line, `${field} has unknown bank ${b}`);
    if (typeof hex !== 'string' || hex.length !== DIGEST_SIZE[b] * 2 || !/^[0-9a-f]+$/.test(hex)) {
      throw bad(name, line, `${field}.${b} is not ${DIGEST_SIZE[b] * 2} lowercase hex digits`);
    }
  }
}

function bad(name: string, line: number, what: string): InputError {
  return new InputError('BAD_EVENT_LOG', `${name} line ${line}: ${what}`, { details: { line } });
}
