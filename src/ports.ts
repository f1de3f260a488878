/**
 * The ports of the service (DESIGN.md "Architecture"): interfaces listing only the calls the proxy,
 * the worker and the audit chain make. Adapters: DynamoDB / SQS on the AWS SDK v3
 * (src/aws/dynamo-table.ts, src/aws/sqs-queue.ts), in-memory ones for unit tests and the local
 * stack (src/service/memory/). Every adapter passes the same contract tests.
 */

/** What an item attribute may hold: strings, numbers (finite), booleans and bytes. */
export type AttrValue = string | number | boolean | Uint8Array;
export type Item = Record<string, AttrValue>;

/** Key attribute names of a table: a partition key, and a numeric sort key for ranged tables. */
export interface TableKeySchema {
  readonly partition: string;
  readonly sort?: string;
}

export interface PutOptions {
  /**
   * Conditional write: succeeds only when no item with this key exists (a fork-free append, a
   * replay check). With `ttl`, an item whose `ttl.attribute` (epoch seconds) is below `ttl.now`
   * counts as absent: DynamoDB deletes expired items lazily (up to days later).
   */
  ifAbsent?: boolean;
  ttl?: { attribute: string; now: number };
}

export interface QueryOptions {
  /** inclusive bounds on the numeric sort key */
  from?: number;
  to?: number;
  limit?: number;
  descending?: boolean;
}

export interface Table {
  readonly name: string;
  readonly key: TableKeySchema;
  /** Writes `item`; with `ifAbsent`, returns false (nothing written) when the key already exists. */
  put(item: Item, opts?: PutOptions): Promise<boolean>;
  /** Strongly consistent read of one item, undefined when absent. */
  get(key: Item): Promise<Item | undefined>;
  /** Items of one partition in sort-key order (ranged tables only). */
  query(partition: AttrValue, opts?: QueryOptions): Promise<Item[]>;
  /**
   * Sets attributes on an existing item. With `ifAttrAbsent`, only when that attribute is not set
   * yet. Returns false (nothing written) when the item is missing or the condition fails.
   */
  update(key: Item, set: Item, opts?: { ifAttrAbsent?: string }): Promise<boolean>;
  /**
   * Deletes the item with this key only when every attribute of `ifEquals` has exactly that value
   * (a writer undoing its own write, never someone else's). Returns false (nothing deleted) when
   * the item is missing or the condition fails.
   */
  deleteIf(key: Item, ifEquals: Item): Promise<boolean>;
  /** Distinct partition-key values (a scan; for audit tools, never on the request path). */
  partitions(): Promise<AttrValue[]>;
}

export interface QueueMessage {
  readonly id: string;
  /** the handle for delete / changeVisibility of this delivery */
  readonly receipt: string;
  readonly body: string;
  /** ApproximateReceiveCount: 1 on the first delivery */
  readonly receiveCount: number;
}

export interface ReceiveOptions {
  /** 1..10 */
  max: number;
  /** long polling, 0..20 s */
  waitSeconds: number;
  /** visibility timeout for these deliveries (the queue's default when omitted) */
  visibilitySeconds?: number;
  signal?: AbortSignal;
}

export interface Queue {
  send(body: string): Promise<string>;
  receive(opts: ReceiveOptions): Promise<QueueMessage[]>;
  delete(receipt: string): Promise<void>;
  /** 0 releases the message now (it is delivered again, its receive count grows). */
  changeVisibility(receipt: string, seconds: number): Promise<void>;
}

export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
}

export interface Random {
  bytes(n: number): Uint8Array;
}

export const systemClock: Clock = { now: () => Date.now() };
