/**
 * The local stack's tables (dynalite: the DynamoDB API over LevelDB under STATE/db, on loopback)
 * and the lock that keeps one `local up` per state directory.
 */
import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { open, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AUDIT_KEY } from '../audit/audit-store.js';
import { PreconditionError, RemoteError, toImaError } from '../errors.js';
import { readInputFile } from '../io/files.js';
import { DECISIONS_KEY, DEFAULT_TABLES, REQUESTS_KEY } from '../protocol/records.js';

const DYNAMO_TABLES = [
  { name: DEFAULT_TABLES.requests, key: REQUESTS_KEY },
  { name: DEFAULT_TABLES.decisions, key: DECISIONS_KEY },
  { name: DEFAULT_TABLES.audit, key: AUDIT_KEY },
] as const;

export async function createTables(client: DynamoDBClient): Promise<void> {
  for (const t of DYNAMO_TABLES) {
    const sort = 'sort' in t.key ? t.key.sort : undefined;
    try {
      await client.send(
        new CreateTableCommand({
          TableName: t.name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: t.key.partition, AttributeType: 'S' }, ...(sort ? [{ AttributeName: sort, AttributeType: 'N' as const }] : [])],
          KeySchema: [{ AttributeName: t.key.partition, KeyType: 'HASH' }, ...(sort ? [{ AttributeName: sort, KeyType: 'RANGE' as const }] : [])],
        }),
      );
    } catch (err) {
      if (err instanceof ResourceInUseException || (err as { name?: string }).name === 'ResourceInUseException') continue; // a restart: the table is there
      throw new RemoteError('LOCAL_TABLES_FAILED', `creating the local table ${t.name} failed`, { cause: err });
    }
  }
}

/** One `local up` per state directory: a lock file with the owner's pid (a stale one is taken over). */
export async function takeLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw toImaError(err);
      const pid = Number((await readInputFile(path, 64, 'lock file').catch(() => '')).toString().trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) {
        throw new PreconditionError('STATE_IN_USE', `the state directory is in use by another local stack (pid ${pid})`, {
          hint: 'stop that one first, or pass another --state directory',
        });
      }
      await rm(path, { force: true });
    }
  }
  throw new PreconditionError('STATE_IN_USE', 'could not lock the state directory');
}

export async function startDynalite(dbPath: string): Promise<{ url: string; close(): Promise<void> }> {
  let dynalite: (opts: Record<string, unknown>) => Server;
  try {
    dynalite = (await import('dynalite')).default as unknown as typeof dynalite;
  } catch (err) {
    throw new PreconditionError('DYNALITE_MISSING', 'the local tables need the dynalite package, which is not installed', {
      hint: 'npm install dynalite (it is a development dependency of ima-qs)',
      cause: err,
    });
  }
  const server = dynalite({ path: dbPath, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}
