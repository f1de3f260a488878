/**
 * The one error hierarchy of ima-qs (STYLE.md §3).
 *
 * Every error that may reach a user is an `ImaError`: a stable SCREAMING_SNAKE `code`, an exit
 * code chosen by its class, a lowercase message without secrets, an optional `hint`, and the
 * original `cause`. `src/cli.ts` is the only place that turns errors into exit codes; any other
 * thrown value reaching the top is a bug (exit 70).
 */

/** Exit codes by failure class. Pinned by test/unit/errors.test.ts. */
export const ExitCode = {
  OK: 0,
  /** a verification or decryption said no */
  VERIFY_FAILED: 1,
  /** the command line is wrong */
  USAGE: 2,
  /** an input (file, key, envelope, flag value) is malformed or of the wrong kind */
  BAD_INPUT: 3,
  /** a remote service or device failed (AWS, TPM, network) */
  REMOTE: 4,
  /** a rollout precondition is not met */
  PRECONDITION: 5,
  /** a bug in ima-qs */
  INTERNAL: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorClass = 'verify' | 'usage' | 'input' | 'remote' | 'precondition' | 'internal';

const exitByClass: Record<ErrorClass, ExitCode> = {
  verify: ExitCode.VERIFY_FAILED,
  usage: ExitCode.USAGE,
  input: ExitCode.BAD_INPUT,
  remote: ExitCode.REMOTE,
  precondition: ExitCode.PRECONDITION,
  internal: ExitCode.INTERNAL,
};

export interface ImaErrorOptions {
  hint?: string;
  cause?: unknown;
  /** extra machine-readable facts (never secrets), rendered under error.details in --json */
  details?: Record<string, unknown>;
}

export class ImaError extends Error {
  readonly code: string;
  readonly errorClass: ErrorClass;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(errorClass: ErrorClass, code: string, message: string, opts: ImaErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ImaError';
    this.code = code;
    this.errorClass = errorClass;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  get exitCode(): ExitCode {
    return exitByClass[this.errorClass];
  }

  toJSON(): { code: string; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** A verification or decryption said no (exit 1). */
export class VerificationError extends ImaError {
  constructor(code: string, message: string, opts?: ImaErrorOptions) {
    super('verify', code, message, opts);
    this.name = 'VerificationError';
  }
}

/** The command line is wrong (exit 2). */
export class UsageError extends ImaError {
  constructor(code: string, message: string, opts?: ImaErrorOptions) {
    super('usage', code, message, opts);
    this.name = 'UsageError';
  }
}

/** An input is malformed, of the wrong kind, missing or not writable (exit 3). */
export class InputError extends ImaError {
  constructor(code: string, message: string, opts?: ImaErrorOptions) {
    super('input', code, message, opts);
    this.name = 'InputError';
  }
}

/** A remote service or device failed: AWS, TPM, HTTP (exit 4). */
export class RemoteError extends ImaError {
  constructor(code: string, message: string, opts?: ImaErrorOptions) {
    super('remote', code, message, opts);
    this.name = 'RemoteError';
  }
}

/** A rollout precondition is not met (exit 5). */
export class PreconditionError extends ImaError {
  constructor(code: string, message: string, opts?: ImaErrorOptions) {
    super('precondition', code, message, opts);
    this.name = 'PreconditionError';
  }
}

/** Wrap anything that is not an ImaError: a library error reaching the top is a bug (exit 70). */
export function toImaError(err: unknown): ImaError {
  if (err instanceof ImaError) return err;
  return new ImaError('internal', 'INTERNAL', 'internal error (this is a bug in ima-qs)', {
    hint: 'run again with IMA_QS_DEBUG=1 to see the stack trace, and report it',
    cause: err,
  });
}
