/**
 * Shape checks shared by the verifiers of src/protocol: every signed document has exactly the
 * members SPEC lists (an unsigned extra member must not ride along in a document that verifies),
 * with the types given. Pure; answers with the first problem, never throws.
 */
export const HEX64 = /^[0-9a-f]{64}$/;
const HEX = /^[0-9a-f]*$/;

export function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** True when `o` has exactly these members. */
export function hasExactly(o: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(o);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(o, k));
}

/** `o` is an object with exactly `keys`; the problem otherwise. */
export function exactProblem(o: unknown, keys: readonly string[], what: string): string | undefined {
  if (!isObj(o)) return `${what} is not an object`;
  if (!hasExactly(o, keys)) return `${what} is not exactly {${keys.join(', ')}}`;
  return undefined;
}

export function isHex(x: unknown, chars: number): x is string {
  return typeof x === 'string' && x.length === chars && HEX.test(x);
}

export function isNat(x: unknown, max = Number.MAX_SAFE_INTEGER): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= max;
}

/** RFC 3339 UTC with milliseconds, as Date#toISOString writes it, naming a real instant (SPEC §1). */
export function isIsoTime(x: unknown): x is string {
  if (typeof x !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(x)) return false;
  const t = Date.parse(x);
  return Number.isFinite(t) && new Date(t).toISOString() === x;
}

/** A digest over hostile JSON (a lone surrogate cannot be canonicalized) is no digest: a "no", not a throw. */
export function orUndefined<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
