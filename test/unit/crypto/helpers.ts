// Shared helpers for the crypto-core tests: repo paths, both providers, InputError code matching.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ImaError } from '../../../src/errors.js';
import { getProvider } from '../../../src/crypto/providers.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const providers = [getProvider('noble'), getProvider('node')] as const;

export const VECTOR_NAME = 'composite-mlkem768-p384.json';
export const repoVectorPath = resolve(repoRoot, 'test', 'vectors', 'standard', VECTOR_NAME);
/** CI lays shared/ beside the clone; the work tree has it at ../shared too. */
export const sharedVectorPath = resolve(repoRoot, '..', 'shared', 'vectors', VECTOR_NAME);

export interface CompositeVector {
  tcId: string;
  ek: string;
  dk: string;
  dk_pkcs8: string;
  c: string;
  k: string;
}

export function loadVector(path: string): CompositeVector {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { tests: CompositeVector[] };
  const t = doc.tests.find((x) => x.tcId === 'id-MLKEM768-ECDH-P384-SHA3-256');
  if (!t) throw new Error(`${path} has no id-MLKEM768-ECDH-P384-SHA3-256 test`);
  return t;
}

export const sharedVectorExists = existsSync(sharedVectorPath);

export function b64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** Runs `fn`, expecting an ImaError with `code` (asserting on code, not message text). */
export function expectCode(fn: () => unknown, code: string): ImaError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(ImaError);
  expect((caught as ImaError).code).toBe(code);
  return caught as ImaError;
}

export async function expectCodeAsync(fn: () => Promise<unknown>, code: string): Promise<ImaError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(ImaError);
  expect((caught as ImaError).code).toBe(code);
  return caught as ImaError;
}
