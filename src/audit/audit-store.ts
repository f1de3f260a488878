/**
 * The `AuditStore` port (issue 7 §2) and its implementation over any `Table` with partition
 * `chain` (string) and numeric sort key `seq`: the `ima-tpm-audit-log` DynamoDB table
 * (src/aws/audit-store-dynamo.ts) or an in-memory / local table. An append is a conditional put
 * on (chain, seq): a second writer at the same position fails instead of forking the chain.
 */
import { RemoteError } from '../errors.js';
import type { Item, Table } from '../ports.js';
import type { AuditAnchor, AuditRecord } from './audit-entry.js';

export interface AuditStore {
  /** conditional append; AUDIT_FORK when (chain, seq) exists */
  append(rec: AuditRecord): Promise<void>;
  /** sets the anchor once; an identical anchor already there is fine, a different one is AUDIT_ANCHOR_CONFLICT */
  setAnchor(chain: string, seq: number, anchor: AuditAnchor): Promise<void>;
  get(chain: string, seq: number): Promise<AuditRecord | undefined>;
  range(chain: string, opts?: { from?: number; to?: number; limit?: number; descending?: boolean }): Promise<AuditRecord[]>;
  chains(): Promise<string[]>;
}

export const AUDIT_KEY = { partition: 'chain', sort: 'seq' } as const;

function toItem(rec: AuditRecord): Item {
  const it: Item = { chain: rec.chain, seq: rec.seq, core: rec.core, digest: rec.digest, signature: rec.signature };
  if (rec.anchor) it.anchor = JSON.stringify(rec.anchor);
  return it;
}

function fromItem(it: Item): AuditRecord {
  const rec: AuditRecord = {
    chain: String(it.chain),
    seq: Number(it.seq),
    core: String(it.core),
    digest: String(it.digest),
    signature: String(it.signature),
  };
  if (typeof it.anchor === 'string') {
    try {
      rec.anchor = JSON.parse(it.anchor) as AuditAnchor;
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

  async get(chain: string, seq: number): Promise<AuditRecord | undefined> {
    const it = await this.table.get({ chain, seq });
    return it && fromItem(it);
  }

  async range(chain: string, opts: { from?: number; to?: number; limit?: number; descending?: boolean } = {}): Promise<AuditRecord[]> {
    return (await this.table.query(chain, opts)).map(fromItem);
  }

  async chains(): Promise<string[]> {
    return (await this.table.partitions()).map(String).sort();
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
