/**
 * `Table` on DynamoDB (AWS SDK v3, low-level client): conditional puts
 * (attribute_not_exists on the partition key, or an expired TTL), strongly consistent gets,
 * sort-key range queries, conditional updates and deletes, and a key-only scan for partitions. Throttling is
 * retried by the SDK's standard retry strategy (src/aws/config.ts); what is left is mapped by
 * mapAwsError (AWS_THROTTLED, …). Items: string → S, number → N, boolean → BOOL, bytes → B.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { InputError } from '../errors.js';
import type { AttrValue, Item, PutOptions, QueryOptions, Table, TableKeySchema } from '../ports.js';
import { awsCall } from './errors.js';

function marshal(v: AttrValue): AttributeValue {
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InputError('BAD_ITEM', 'a table item number must be finite');
    return { N: String(v) };
  }
  if (typeof v === 'boolean') return { BOOL: v };
  if (v instanceof Uint8Array) return { B: v };
  throw new InputError('BAD_ITEM', `a table item attribute has an unsupported type ${typeof v}`);
}

function unmarshal(a: AttributeValue): AttrValue {
  if (a.S !== undefined) return a.S;
  if (a.N !== undefined) return Number(a.N);
  if (a.BOOL !== undefined) return a.BOOL;
  if (a.B !== undefined) return new Uint8Array(a.B);
  throw new InputError('BAD_ITEM', 'a stored item has an attribute type ima-qs does not write');
}

export function toDynamo(item: Item): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, marshal(v)]));
}

export function fromDynamo(item: Record<string, AttributeValue>): Item {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, unmarshal(v)]));
}

/** Any DynamoDB attribute value as a plain JSON value (bytes as Uint8Array): for reading items
 * that ima-qs did not write (the rollout's checks), unlike `fromDynamo`. */
export function plainAttribute(v: AttributeValue): unknown {
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.B !== undefined) return v.B;
  if (v.BOOL !== undefined) return v.BOOL;
  if (v.NULL) return null;
  if (v.L) return v.L.map(plainAttribute);
  if (v.M) return Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, plainAttribute(x)]));
  if (v.SS) return v.SS;
  if (v.NS) return v.NS.map(Number);
  if (v.BS) return v.BS;
  return undefined;
}

export class DynamoTable implements Table {
  constructor(
    private readonly client: DynamoDBClient,
    readonly name: string,
    readonly key: TableKeySchema,
  ) {}

  private keyOf(item: Item): Record<string, AttributeValue> {
    const k: Record<string, AttributeValue> = { [this.key.partition]: marshal(item[this.key.partition]) };
    if (this.key.sort) k[this.key.sort] = marshal(item[this.key.sort]);
    return k;
  }

  async put(item: Item, opts: PutOptions = {}): Promise<boolean> {
    const input: ConstructorParameters<typeof PutItemCommand>[0] = { TableName: this.name, Item: toDynamo(item) };
    if (opts.ifAbsent) {
      input.ExpressionAttributeNames = { '#pk': this.key.partition };
      input.ConditionExpression = 'attribute_not_exists(#pk)';
      if (opts.ttl) {
        input.ConditionExpression += ' OR #ttl < :now';
        input.ExpressionAttributeNames['#ttl'] = opts.ttl.attribute;
        input.ExpressionAttributeValues = { ':now': { N: String(opts.ttl.now) } };
      }
    }
    try {
      await this.client.send(new PutItemCommand(input));
      return true;
    } catch (err) {
      if (opts.ifAbsent && isConditionFailed(err)) return false;
      return awsCall(`writing to table ${this.name}`, () => Promise.reject(err));
    }
  }

  async get(key: Item): Promise<Item | undefined> {
    const out = await awsCall(`reading from table ${this.name}`, () =>
      this.client.send(new GetItemCommand({ TableName: this.name, Key: this.keyOf(key), ConsistentRead: true })),
    );
    return out.Item ? fromDynamo(out.Item) : undefined;
  }

  async query(partition: AttrValue, opts: QueryOptions = {}): Promise<Item[]> {
    const sort = this.key.sort;
    if (!sort) throw new InputError('BAD_QUERY', `table ${this.name} has no sort key`);
    const names: Record<string, string> = { '#pk': this.key.partition };
    if (opts.from !== undefined || opts.to !== undefined) names['#sk'] = sort; // DynamoDB refuses unused names
    const values: Record<string, AttributeValue> = { ':pk': marshal(partition) };
    let cond = '#pk = :pk';
    if (opts.from !== undefined && opts.to !== undefined) {
      cond += ' AND #sk BETWEEN :from AND :to';
      values[':from'] = { N: String(opts.from) };
      values[':to'] = { N: String(opts.to) };
    } else if (opts.from !== undefined) {
      cond += ' AND #sk >= :from';
      values[':from'] = { N: String(opts.from) };
    } else if (opts.to !== undefined) {
      cond += ' AND #sk <= :to';
      values[':to'] = { N: String(opts.to) };
    }
    const items: Item[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await awsCall(`querying table ${this.name}`, () =>
        this.client.send(
          new QueryCommand({
            TableName: this.name,
            KeyConditionExpression: cond,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ScanIndexForward: !opts.descending,
            ConsistentRead: true,
            ExclusiveStartKey: start,
            ...(opts.limit !== undefined ? { Limit: opts.limit - items.length } : {}),
          }),
        ),
      );
      for (const it of out.Items ?? []) items.push(fromDynamo(it));
      start = out.LastEvaluatedKey;
    } while (start && (opts.limit === undefined || items.length < opts.limit));
    return items;
  }

  async update(key: Item, set: Item, opts: { ifAttrAbsent?: string } = {}): Promise<boolean> {
    const names: Record<string, string> = { '#pk': this.key.partition };
    const values: Record<string, AttributeValue> = {};
    const sets = Object.entries(set).map(([k, v], i) => {
      names[`#a${i}`] = k;
      values[`:v${i}`] = marshal(v);
      return `#a${i} = :v${i}`;
    });
    let cond = 'attribute_exists(#pk)';
    if (opts.ifAttrAbsent) {
      names['#absent'] = opts.ifAttrAbsent;
      cond += ' AND attribute_not_exists(#absent)';
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: this.keyOf(key),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: cond,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      return awsCall(`updating table ${this.name}`, () => Promise.reject(err));
    }
  }

  async deleteIf(key: Item, ifEquals: Item): Promise<boolean> {
    const names: Record<string, string> = { '#pk': this.key.partition };
    const values: Record<string, AttributeValue> = {};
    const conds = ['attribute_exists(#pk)'];
    for (const [i, [k, v]] of Object.entries(ifEquals).entries()) {
      names[`#c${i}`] = k;
      values[`:c${i}`] = marshal(v);
      conds.push(`#c${i} = :c${i}`);
    }
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.name,
          Key: this.keyOf(key),
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      return awsCall(`deleting from table ${this.name}`, () => Promise.reject(err));
    }
  }

  async partitions(): Promise<AttrValue[]> {
    const seen = new Map<string, AttrValue>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await awsCall(`scanning table ${this.name}`, () =>
        this.client.send(
          new ScanCommand({ TableName: this.name, ProjectionExpression: '#pk', ExpressionAttributeNames: { '#pk': this.key.partition }, ExclusiveStartKey: start }),
        ),
      );
      for (const it of out.Items ?? []) {
        const v = unmarshal(it[this.key.partition]);
        seen.set(JSON.stringify(v instanceof Uint8Array ? [...v] : v), v);
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return [...seen.values()];
  }
}

function isConditionFailed(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as { name?: string })?.name === 'ConditionalCheckFailedException';
}
