/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the bytes every JSON document is signed over
 * (SPEC §3.2). Serialization is ECMAScript's (RFC 8785 §3.2.2): literals as-is, strings escaped as
 * JSON.stringify does, numbers by Number.prototype.toString (§3.2.2.3), object members sorted by
 * their names as UTF-16 code-unit sequences (§3.2.3), no whitespace. Anything JSON cannot carry
 * faithfully is rejected instead of silently changed: non-finite numbers, undefined, functions,
 * symbols, bigints, non-plain objects (Date, Map, Uint8Array…), lone surrogates (§3.2.2.2), cycles.
 */
import { InputError } from '../errors.js';
import { utf8 } from './bytes.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_DEPTH = 256;

function reject(path: string, why: string): InputError {
  return new InputError('JSON_NOT_CANONICALIZABLE', `cannot canonicalize ${path}: ${why}`);
}

function serializeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw reject(path, 'string contains a lone surrogate');
  return JSON.stringify(s); // ES escaping == RFC 8785 §3.2.2.2
}

function serialize(value: unknown, path: string, depth: number, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw reject(path, `${value} is not a JSON number`);
      return JSON.stringify(value); // Number.prototype.toString; -0 becomes 0 (§3.2.2.3)
    case 'string':
      return serializeString(value, path);
    case 'object':
      break;
    default:
      throw reject(path, `${typeof value} has no JSON form`);
  }
  const obj = value as object;
  if (depth > MAX_DEPTH) throw reject(path, `nested deeper than ${MAX_DEPTH}`);
  if (seen.has(obj)) throw reject(path, 'it contains a cycle');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items: string[] = [];
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) throw reject(`${path}[${i}]`, 'sparse array hole');
        items.push(serialize(obj[i], `${path}[${i}]`, depth + 1, seen));
      }
      return `[${items.join(',')}]`;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw reject(path, `${obj.constructor?.name ?? 'object'} is not a plain JSON object`);
    }
    if (Object.getOwnPropertySymbols(obj).length > 0) throw reject(path, 'symbol keys have no JSON form');
    const keys = Object.keys(obj).sort(); // default sort = UTF-16 code units (§3.2.3)
    const members: string[] = [];
    for (const k of keys) {
      const sub = `${path}.${k}`;
      members.push(`${serializeString(k, sub)}:${serialize((obj as Record<string, unknown>)[k], sub, depth + 1, seen)}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}

/** The RFC 8785 canonical text of a JSON value. */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$', 0, new Set());
}

/** UTF-8 bytes of the canonical text: what gets signed and hashed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
