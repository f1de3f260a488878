/**
 * An in-memory `Table` (src/ports.ts) with DynamoDB's semantics for the calls we make:
 * conditional puts, strongly consistent reads, sort-key ranges, conditional updates. Items are
 * copied in and out so a caller can never alias stored state. For unit tests and the local stack.
 */
import { InputError } from '../../errors.js';
import type { AttrValue, Item, PutOptions, QueryOptions, Table, TableKeySchema } from '../../ports.js';

function copyItem(item: Item): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) out[k] = v instanceof Uint8Array ? v.slice() : v;
  return out;
}

function keyPart(v: AttrValue | undefined, what: string): string {
  if (v === undefined) throw new InputError('BAD_KEY', `item is missing its key attribute ${what}`);
  if (v instanceof Uint8Array) return `b:${Buffer.from(v).toString('hex')}`;
  return `${typeof v}:${String(v)}`;
}

function sameValue(a: AttrValue | undefined, b: AttrValue): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

export class MemoryTable implements Table {
  private readonly items = new Map<string, Item>();

  constructor(
    readonly name: string,
    readonly key: TableKeySchema,
  ) {}

  private id(item: Item): string {
    const p = keyPart(item[this.key.partition], this.key.partition);
    return this.key.sort ? `${p}\u0000${keyPart(item[this.key.sort], this.key.sort)}` : p;
  }

  async put(item: Item, opts: PutOptions = {}): Promise<boolean> {
    const id = this.id(item);
    if (opts.ifAbsent) {
      const old = this.items.get(id);
      const expired = old && opts.ttl && typeof old[opts.ttl.attribute] === 'number' && (old[opts.ttl.attribute] as number) < opts.ttl.now;
      if (old && !expired) return false;
    }
    this.items.set(id, copyItem(item));
    return true;
  }

  async get(key: Item): Promise<Item | undefined> {
    const it = this.items.get(this.id(key));
    return it && copyItem(it);
  }

  async query(partition: AttrValue, opts: QueryOptions = {}): Promise<Item[]> {
    const sort = this.key.sort;
    if (!sort) throw new InputError('BAD_QUERY', `table ${this.name} has no sort key`);
    const p = keyPart(partition, this.key.partition);
    let rows = [...this.items.values()].filter((it) => keyPart(it[this.key.partition], '') === p);
    rows = rows.filter((it) => {
      const s = it[sort] as number;
      return (opts.from === undefined || s >= opts.from) && (opts.to === undefined || s <= opts.to);
    });
    rows.sort((a, b) => (a[sort] as number) - (b[sort] as number));
    if (opts.descending) rows.reverse();
    if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
    return rows.map(copyItem);
  }

  async update(key: Item, set: Item, opts: { ifAttrAbsent?: string } = {}): Promise<boolean> {
    const id = this.id(key);
    const old = this.items.get(id);
    if (!old) return false;
    if (opts.ifAttrAbsent && old[opts.ifAttrAbsent] !== undefined) return false;
    this.items.set(id, { ...old, ...copyItem(set) });
    return true;
  }

  async deleteIf(key: Item, ifEquals: Item): Promise<boolean> {
    const id = this.id(key);
    const old = this.items.get(id);
    if (!old) return false;
    for (const [k, v] of Object.entries(ifEquals)) if (!sameValue(old[k], v)) return false;
    this.items.delete(id);
    return true;
  }

  async partitions(): Promise<AttrValue[]> {
    const seen = new Map<string, AttrValue>();
    for (const it of this.items.values()) seen.set(keyPart(it[this.key.partition], ''), it[this.key.partition]);
    return [...seen.values()];
  }

  /** test helper: how many items are stored */
  get size(): number {
    return this.items.size;
  }
}
