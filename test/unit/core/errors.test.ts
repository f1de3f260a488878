import { describe, expect, it } from 'vitest';
import {
  ExitCode, ImaError, InputError, PreconditionError, RemoteError, UsageError, VerificationError, toImaError,
} from '../../../src/errors.js';

describe('exit codes by failure class (STYLE.md §3)', () => {
  it('pins the mapping', () => {
    expect(ExitCode).toEqual({
      OK: 0, VERIFY_FAILED: 1, USAGE: 2, BAD_INPUT: 3, REMOTE: 4, PRECONDITION: 5, INTERNAL: 70,
    });
    expect(new VerificationError('X', 'x').exitCode).toBe(1);
    expect(new UsageError('X', 'x').exitCode).toBe(2);
    expect(new InputError('X', 'x').exitCode).toBe(3);
    expect(new RemoteError('X', 'x').exitCode).toBe(4);
    expect(new PreconditionError('X', 'x').exitCode).toBe(5);
    expect(toImaError(new TypeError('boom')).exitCode).toBe(70);
  });

  it('keeps the cause but never puts it in the JSON form', () => {
    const cause = new Error('secret detail 0xdeadbeef');
    const e = new InputError('KEY_MALFORMED', 'key.pem is not a PEM file', { hint: 'check the file', cause });
    expect(e.cause).toBe(cause);
    expect(JSON.stringify(e.toJSON())).not.toContain('deadbeef');
    expect(e.toJSON()).toEqual({ code: 'KEY_MALFORMED', message: 'key.pem is not a PEM file', hint: 'check the file' });
  });

  it('passes ImaErrors through and wraps everything else as INTERNAL', () => {
    const e = new RemoteError('TPM_TIMEOUT', 'tpm did not answer');
    expect(toImaError(e)).toBe(e);
    const w = toImaError('a string');
    expect(w).toBeInstanceOf(ImaError);
    expect(w.code).toBe('INTERNAL');
  });
});
