/**
 * What the proxy and the worker exchange and store (SPEC §8.2):
 *
 *   SQS message body   {"v":1,"handle":"<64 hex>","route":"analyze","received_at":<ms>,"body":"<base64 sealed>"}
 *   ima-quantum-requests   partition key `id` (S), TTL attribute `ttl` (epoch s)
 *       id = "req#<handle>"      the replay guard and "pending" marker, written by the proxy
 *       id = "rid#<request_id>"  the inner request id claim {handle}, written by the worker
 *       id = "aud#<handle>"      the audit-slot claim {chain, seq, claimed_at, decision?}, written by the worker
 *   ima-quantum-decisions  partition key `id` (S) = handle, TTL attribute `ttl`
 *       {status:"decided", sealed:<bytes>, decided_at}  the response sealed to the reply key
 *       {status:"rejected", code, message, decided_at}  a refusal the client can read
 */
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import { InputError } from '../errors.js';
import type { TableKeySchema } from '../ports.js';
import { isHandle, isRoute, type Route } from './request.js';
import { parseStrictJson } from './strict-json.js';

export const REQUESTS_KEY: TableKeySchema = { partition: 'id' };
export const DECISIONS_KEY: TableKeySchema = { partition: 'id' };
export const DEFAULT_TABLES = {
  requests: 'ima-quantum-requests',
  decisions: 'ima-quantum-decisions',
  audit: 'ima-tpm-audit-log',
} as const;
/** how long the replay guard, the request-id claim and a decision are kept */
export const DEFAULT_TTL_SECONDS = 24 * 3600;

export const requestKey = (handle: string) => `req#${handle}`;
export const requestIdKey = (requestId: string) => `rid#${requestId}`;
/** the worker's audit-slot claim of a request (SPEC §8.7 "once per request") */
export const auditClaimKey = (handle: string) => `aud#${handle}`;

export interface QueuedRequest {
  v: 1;
  handle: string;
  route: Route;
  received_at: number;
  body: string;
}

export function encodeQueued(handle: string, route: Route, receivedAt: number, sealed: Uint8Array): string {
  const m: QueuedRequest = { v: 1, handle, route, received_at: receivedAt, body: toBase64(sealed) };
  return JSON.stringify(m);
}

/** Parses a queue message; anything else is POISON_MESSAGE (it goes to the dead-letter queue). */
export function decodeQueued(text: string): { msg: QueuedRequest; sealed: Uint8Array } {
  const poison = (why: string) => new InputError('POISON_MESSAGE', `queue message is not a queued request: ${why}`);
  let m: Record<string, unknown>;
  try {
    m = parseStrictJson(text) as Record<string, unknown>;
  } catch {
    throw poison('not JSON');
  }
  if (typeof m !== 'object' || m === null || m.v !== 1) throw poison('not version 1');
  if (typeof m.handle !== 'string' || !isHandle(m.handle)) throw poison('bad handle');
  if (typeof m.route !== 'string' || !isRoute(m.route)) throw poison('bad route');
  // received_at: the proxy's clock at entry (ms), the reference of the freshness check (SPEC §8.1)
  if (typeof m.received_at !== 'number' || !Number.isSafeInteger(m.received_at) || m.received_at < 0 || typeof m.body !== 'string') throw poison('bad fields');
  let sealed: Uint8Array;
  try {
    sealed = fromBase64(m.body, 'body');
  } catch {
    throw poison('body is not base64');
  }
  return { msg: m as unknown as QueuedRequest, sealed };
}
