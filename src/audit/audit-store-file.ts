/**
 * A file-backed `AuditStore` (issue 7 §2) for the local stack: `STATE/audit/`, one folder per
 * chain, one file per entry and one per anchor, never rewritten:
 *
 *   STATE/audit/<encodeURIComponent(chain)>/<seq, 12 digits>.entry.json    {chain, seq, core, digest, signature}
 *   STATE/audit/<encodeURIComponent(chain)>/<seq, 12 digits>.anchor.json   a legacy AuditAnchor (SPEC §8.7)
 *   STATE/audit/<encodeURIComponent(chain)>/<first seq, 12 digits>.batch.json  {statement, signature} (SPEC §8.10.4)
 *
 * The conditional append is the file system's: the record is written to a temporary file, fsynced,
 * then published with link(2), which fails with EEXIST when (chain, seq) is taken — atomic across
 * processes, no lock file, and a reader never sees a half-written entry. A second writer at the same
 * position gets AUDIT_FORK, as with the DynamoDB store's conditional put (audit-store.ts).
 * A stored file that does not parse is returned with its raw text as `core`, so `audit verify`
 * reports it as altered instead of failing to read the chain.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteError } from '../errors.js';
import { fsError } from '../io/files.js';
import { type AuditAnchor, type AuditRecord, type BatchRecord, checkChainId } from './audit-entry.js';
import type { AuditStore, RangeOptions } from './audit-store.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export const AUDIT_DIR = 'audit';
const NAME_RE = /^(\d{12})\.(entry|anchor|batch)\.json$/;

function seqName(seq: number, kind: 'entry' | 'anchor' | 'batch'): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > 999_999_999_999) {
    throw new RemoteError('AUDIT_BAD_SEQ', `audit sequence number ${seq} is out of range (0 to 999999999999)`);
  }
  return `${String(seq).padStart(12, '0')}.${kind}.json`;
}

export class FileAuditStore implements AuditStore {
  /** @param root the audit folder (STATE/audit) */
  constructor(readonly root: string) {}

  static forState(stateDir: string): FileAuditStore {
    return new FileAuditStore(join(stateDir, AUDIT_DIR));
  }

  private chainDir(chain: string): string {
    return join(this.root, encodeURIComponent(checkChainId(chain)));
  }

  async append(rec: AuditRecord): Promise<void> {
    const dir = this.chainDir(rec.chain);
    const text = JSON.stringify({ chain: rec.chain, seq: rec.seq, core: rec.core, digest: rec.digest, signature: rec.signature, payload: rec.payload }) + '\n';
    if (!(await this.publish(dir, seqName(rec.seq, 'entry'), text))) {
      throw new RemoteError('AUDIT_FORK', `audit chain ${rec.chain} already has an entry ${rec.seq}: another writer appends to this chain`, {
        hint: 'each worker must append to its own chain (AUDIT_CHAIN_ID); restart the worker to reload the chain head',
      });
    }
  }

  async setAnchor(chain: string, seq: number, anchor: AuditAnchor): Promise<void> {
    const dir = this.chainDir(chain);
    if (!(await this.readText(join(dir, seqName(seq, 'entry'))))) {
      throw new RemoteError('AUDIT_ANCHOR_CONFLICT', `audit entry ${chain}/${seq} is missing`);
    }
    const text = JSON.stringify(anchor) + '\n';
    if (await this.publish(dir, seqName(seq, 'anchor'), text)) return;
    if ((await this.readText(join(dir, seqName(seq, 'anchor')))) === text) return; // a retried finalize
    throw new RemoteError('AUDIT_ANCHOR_CONFLICT', `audit entry ${chain}/${seq} is already anchored differently`);
  }

  async putBatch(b: BatchRecord): Promise<void> {
    const dir = this.chainDir(b.chain);
    const text = JSON.stringify({ statement: b.statement, signature: b.signature }) + '\n';
    if (await this.publish(dir, seqName(b.first_seq, 'batch'), text)) return;
    const now = await this.readText(join(dir, seqName(b.first_seq, 'batch')));
    if (now !== undefined && str(tryJson(now)?.statement) === b.statement) return; // a retried commit
    throw new RemoteError('AUDIT_BATCH_CONFLICT', `audit chain ${b.chain} already has another batch statement at ${b.first_seq}`);
  }

  async batches(chain: string, opts: RangeOptions = {}): Promise<BatchRecord[]> {
    const dir = this.chainDir(chain);
    const out: BatchRecord[] = [];
    for (const s of await this.seqs(dir, 'batch', opts)) {
      const text = await this.readText(join(dir, seqName(s, 'batch')));
      if (text === undefined) continue;
      const d = tryJson(text);
      out.push({ chain, first_seq: s, statement: d ? str(d.statement) : text, signature: d ? str(d.signature) : '' });
    }
    return out;
  }

  async get(chain: string, seq: number): Promise<AuditRecord | undefined> {
    return this.load(this.chainDir(chain), chain, seq);
  }

  private async seqs(dir: string, kind: 'entry' | 'batch', opts: RangeOptions): Promise<number[]> {
    let seqs = (await this.list(dir))
      .map((n) => NAME_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null && m[2] === kind)
      .map((m) => Number(m[1]))
      .filter((s) => (opts.from === undefined || s >= opts.from) && (opts.to === undefined || s <= opts.to))
      .sort((a, b) => a - b);
    if (opts.descending) seqs.reverse();
    if (opts.limit !== undefined) seqs = seqs.slice(0, opts.limit);
    return seqs;
  }

  async range(chain: string, opts: RangeOptions = {}): Promise<AuditRecord[]> {
    const dir = this.chainDir(chain);
    const seqs = await this.seqs(dir, 'entry', opts);
    const out: AuditRecord[] = [];
    for (const s of seqs) {
      const rec = await this.load(dir, chain, s);
      if (rec) out.push(rec);
    }
    return out;
  }

  async chains(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await this.list(this.root)) {
      let chain: string;
      try {
        chain = decodeURIComponent(name);
        checkChainId(chain);
      } catch {
        continue; // not a chain folder
      }
      if (encodeURIComponent(chain) === name) out.push(chain);
    }
    return out.sort();
  }

  private async load(dir: string, chain: string, seq: number): Promise<AuditRecord | undefined> {
    const text = await this.readText(join(dir, seqName(seq, 'entry')));
    if (text === undefined) return undefined;
    let rec: AuditRecord;
    try {
      const d = parseStrictJson(text) as Record<string, unknown>;
      rec = { chain, seq, core: str(d.core), digest: str(d.digest) };
      if (d.signature !== undefined) rec.signature = str(d.signature);
      if (d.payload !== undefined) rec.payload = str(d.payload);
    } catch {
      rec = { chain, seq, core: text, digest: '' };
    }
    const anchorText = await this.readText(join(dir, seqName(seq, 'anchor')));
    if (anchorText !== undefined) {
      try {
        rec.anchor = parseStrictJson(anchorText) as AuditAnchor;
      } catch {
        rec.anchor = { malformed: anchorText } as unknown as AuditAnchor; // reported by audit verify
      }
    }
    return rec;
  }

  private async list(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(err, dir, 'read');
    }
  }

  private async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, path, 'read');
    }
  }

  /** Writes `text` to `dir/name` only if that name is free: temp file + fsync + link(2). */
  private async publish(dir: string, name: string, text: string): Promise<boolean> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fsError(err, dir, 'create');
    }
    const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    let fh;
    try {
      fh = await open(tmp, 'wx', 0o600);
      await fh.writeFile(text);
      await fh.sync();
    } catch (err) {
      throw fsError(err, tmp, 'write');
    } finally {
      await fh?.close().catch(() => {});
    }
    try {
      await link(tmp, join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fsError(err, join(dir, name), 'write');
    } finally {
      await unlink(tmp).catch(() => {});
    }
    await syncDir(dir);
    return true;
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function tryJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = parseStrictJson(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** fsync of the folder makes the new name durable (POSIX: the link is in the directory). */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // some file systems refuse fsync on a directory; the entry file itself was synced
  } finally {
    await fh?.close().catch(() => {});
  }
}
