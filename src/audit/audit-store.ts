/**
 * The `AuditStore` port (issue 7 §2) and its implementation over any `Table` with partition
 * `chain` (string) and numeric sort key `seq`: the `ima-tpm-audit-log` DynamoDB table
 * (src/aws/audit-store-dynamo.ts) or an in-memory / local table. An append is a conditional put
 * on (chain, seq): a second writer at the same position fails instead of forking the chain.
 */
import { RemoteError } from '../errors.js';
import type { Item, Table } from '../ports.js';
import type { AuditAnchor, AuditRecord, BatchRecord } from './audit-entry.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export interface RangeOptions {
  from?: number;
  to?: number;
  limit?: number;
  descending?: boolean;
}

export interface AuditStore {
  /** conditional append; AUDIT_FORK when (chain, seq) exists */
  append(rec: AuditRecord): Promise<void>;
  /**
   * Legacy (v1/v2 chains): sets a per-entry anchor once; an identical anchor already there is fine,
   * a different one is AUDIT_ANCHOR_CONFLICT. Writers of v3 entries never call it.
   */
  setAnchor(chain: string, seq: number, anchor: AuditAnchor): Promise<void>;
  /** conditional put of a signed batch statement at (chain, first_seq); an identical one is fine */
  putBatch(b: BatchRecord): Promise<void>;
  /** batch statements of a chain by first_seq (`from`/`to` bound first_seq) */
  batches(chain: string, opts?: RangeOptions): Promise<BatchRecord[]>;
  get(chain: string, seq: number): Promise<AuditRecord | undefined>;
  range(chain: string, opts?: RangeOptions): Promise<AuditRecord[]>;
  chains(): Promise<string[]>;
}

export const AUDIT_KEY = { partition: 'chain', sort: 'seq' } as const;

/**
 * SPEC §8.10.4: a chain's batch statements live in the partition `<chain>#batches` of the same
 * table (sort key = first_seq); `#` cannot occur in a chain id, so no chain collides with it.
 */
export const BATCH_PARTITION_SUFFIX = '#batches';

function toItem(rec: AuditRecord): Item {
  const it: Item = { chain: rec.chain, seq: rec.seq, core: rec.core, digest: rec.digest };
  if (rec.signature !== undefined) it.signature = rec.signature;
  if (rec.payload !== undefined) it.payload = rec.payload;
  if (rec.anchor) it.anchor = JSON.stringify(rec.anchor);
  return it;
}

function fromItem(it: Item): AuditRecord {
  const rec: AuditRecord = {
    chain: String(it.chain),
    seq: Number(it.seq),
    core: String(it.core),
    digest: String(it.digest),
  };
  if (it.signature !== undefined) rec.signature = String(it.signature);
  if (it.payload !== undefined) rec.payload = String(it.payload);
  if (typeof it.anchor === 'string') {
    try {
      rec.anchor = parseStrictJson(it.anchor) as AuditAnchor;
    } catch {
      // a stored anchor that is not JSON was tampered with: keep it for `audit verify` to report
      rec.anchor = { malformed: it.anchor } as unknown as AuditAnchor;
    }
  }
  return rec;
}

export class TableAuditStore implements AuditStore {
  constructor(private readonly table: Table) {}

  async append(rec: AuditRecord): Promise<void> {
    if (!(await this.table.put(toItem(rec), { ifAbsent: true }))) {
      throw new RemoteError('AUDIT_FORK', `audit chain ${rec.chain} already has an entry ${rec.seq}: another writer appends to this chain`, {
        hint: 'each worker must append to its own chain (AUDIT_CHAIN_ID); restart the worker to reload the chain head',
      });
    }
  }

  async setAnchor(chain: string, seq: number, anchor: AuditAnchor): Promise<void> {
    const text = JSON.stringify(anchor);
    if (await this.table.update({ chain, seq }, { anchor: text }, { ifAttrAbsent: 'anchor' })) return;
    const now = await this.table.get({ chain, seq });
    if (now && now.anchor === text) return; // a retried finalize
    throw new RemoteError('AUDIT_ANCHOR_CONFLICT', `audit entry ${chain}/${seq} is ${now ? 'already anchored differently' : 'missing'}`);
  }

  async putBatch(b: BatchRecord): Promise<void> {
    const item: Item = { chain: b.chain + BATCH_PARTITION_SUFFIX, seq: b.first_seq, statement: b.statement, signature: b.signature };
    if (await this.table.put(item, { ifAbsent: true })) return;
    const now = await this.table.get({ chain: item.chain, seq: item.seq });
    if (now && now.statement === b.statement) return; // a retried commit: the same statement (signatures are hedged: the first one stays)
    throw new RemoteError('AUDIT_BATCH_CONFLICT', `audit chain ${b.chain} already has another batch statement at ${b.first_seq}`);
  }

  async batches(chain: string, opts: RangeOptions = {}): Promise<BatchRecord[]> {
    return (await this.table.query(chain + BATCH_PARTITION_SUFFIX, opts)).map((it) => ({
      chain,
      first_seq: Number(it.seq),
      statement: String(it.statement ?? ''),
      signature: String(it.signature ?? ''),
    }));
  }

  async get(chain: string, seq: number): Promise<AuditRecord | undefined> {
    const it = await this.table.get({ chain, seq });
    return it && fromItem(it);
  }

  async range(chain: string, opts: RangeOptions = {}): Promise<AuditRecord[]> {
    return (await this.table.query(chain, opts)).map(fromItem);
  }

  async chains(): Promise<string[]> {
    return (await this.table.partitions())
      .map(String)
      .filter((c) => !c.includes('#'))
      .sort();
  }
}

/** Reads a chain's entries [from, to] a page at a time, in seq order. */
export async function* pages(store: AuditStore, chain: string, from: number, to: number | undefined, size = 256): AsyncGenerator<AuditRecord[]> {
  let next = from;
  for (;;) {
    const page = await store.range(chain, { from: next, ...(to !== undefined ? { to } : {}), limit: size });
    if (page.length) yield page;
    if (page.length < size) return;
    next = page[page.length - 1].seq + 1;
  }
}
