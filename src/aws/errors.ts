/**
 * The one mapping from AWS SDK v3 errors to ImaErrors, used by every AWS adapter (STYLE.md §3):
 * a stable code, exit 4 (RemoteError), a hint that says what to do. The message names what we
 * were doing (`what`, e.g. "reading secret ima/quantum/ml-kem-768-private") and the AWS error
 * name, never a request or response body: secret values never reach an error.
 *
 * The SDK has already retried throttling and transient errors (standard retry strategy, see
 * config.ts) by the time an error reaches here, so a throttling error means "retries exhausted".
 */
import { ImaError, RemoteError } from '../errors.js';

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
  $retryable?: { throttling?: boolean };
  cause?: unknown;
}

const ACCESS_DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'AuthorizationError',
  'KMSAccessDeniedException',
]);
const BAD_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'IncompleteSignature',
]);
const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestThrottled',
  'SlowDown',
]);
const NOT_FOUND = new Set(['ResourceNotFoundException', 'NotFoundException', 'NoSuchEntity', 'QueueDoesNotExist']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

/** Maps any error thrown by an AWS SDK call (or by our config resolution) to an ImaError. */
export function mapAwsError(err: unknown, what: string): ImaError {
  if (err instanceof ImaError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : '';
  const meta = e.$metadata ?? {};
  const details: Record<string, unknown> = { awsError: name };
  if (meta.httpStatusCode) details.httpStatus = meta.httpStatusCode;
  if (meta.requestId) details.requestId = meta.requestId;
  if (meta.attempts) details.attempts = meta.attempts;
  const opts = (hint: string) => ({ hint, cause: err, details });

  if (/region is missing/i.test(message) || name === 'RegionMissingError') {
    return new RemoteError('AWS_NO_REGION', `${what}: no AWS region is configured`, opts('pass --region, or set AWS_REGION'));
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return new RemoteError(
      'AWS_NO_CREDENTIALS',
      `${what}: no AWS credentials were found`,
      opts('configure credentials (aws configure, aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or pass --profile NAME'),
    );
  }
  if (ACCESS_DENIED.has(name)) {
    return new RemoteError(
      'AWS_ACCESS_DENIED',
      `${what}: access denied (${name})`,
      opts('the caller lacks an IAM permission or a KMS key policy grant; check with aws sts get-caller-identity which role is used'),
    );
  }
  if (BAD_CREDENTIALS.has(name)) {
    return new RemoteError(
      'AWS_INVALID_CREDENTIALS',
      `${what}: the AWS credentials were rejected (${name})`,
      opts('the access key is wrong or the session expired; refresh the credentials (e.g. aws sso login)'),
    );
  }
  if (name === 'KMSInvalidStateException' && /pending ?(replica )?deletion/i.test(message)) {
    return new RemoteError(
      'KMS_KEY_PENDING_DELETION',
      `${what}: the KMS key is scheduled for deletion (${name})`,
      opts('cancel the deletion (aws kms cancel-key-deletion --key-id KEY) or choose another --kms-key'),
    );
  }
  if (name === 'DisabledException' || name === 'KMSInvalidStateException' || name === 'KMSDisabledException') {
    return new RemoteError(
      'KMS_KEY_DISABLED',
      `${what}: the KMS key is disabled or not in a usable state (${name})`,
      opts('enable the key (aws kms enable-key --key-id KEY) or choose another --kms-key'),
    );
  }
  if (NOT_FOUND.has(name)) {
    return new RemoteError('AWS_NOT_FOUND', `${what}: not found (${name})`, opts('check the name, the region and the account'));
  }
  if (THROTTLED.has(name) || e.$retryable?.throttling) {
    return new RemoteError(
      'AWS_THROTTLED',
      `${what}: AWS throttled the request and the retries ran out (${name})`,
      opts('wait a moment and run again, or raise AWS_MAX_ATTEMPTS'),
    );
  }
  const netCode = networkCode(e);
  if (netCode || name === 'TimeoutError' || name === 'RequestTimeout') {
    return new RemoteError(
      'AWS_UNREACHABLE',
      `${what}: the AWS endpoint is unreachable (${netCode ?? name})`,
      opts('check the network, --region and --endpoint-url / AWS_ENDPOINT_URL'),
    );
  }
  // Anything else: the service's own error name and a bounded message. AWS error messages do not
  // echo request bodies, and we never put one into `what`.
  const short = message.replace(/\s+/g, ' ').slice(0, 200).replace(/\.$/, '');
  return new RemoteError('AWS_ERROR', `${what}: ${name}${short ? `: ${short}` : ''}`, opts('see the AWS error above; run again with IMA_QS_DEBUG=1 for details'));
}

function networkCode(e: SdkErrorShape, depth = 0): string | undefined {
  if (depth > 3 || !e) return undefined;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  for (const inner of Array.isArray(e.errors) ? e.errors : []) {
    const c = networkCode(inner as SdkErrorShape, depth + 1);
    if (c) return c;
  }
  return e.cause ? networkCode(e.cause as SdkErrorShape, depth + 1) : undefined;
}

/** Runs one SDK call and maps its failure; `what` names the action for the message. */
export async function awsCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapAwsError(err, what);
  }
}

/** True when an SDK error (or its mapping) says the resource does not exist. */
export function isNotFound(err: unknown): boolean {
  if (err instanceof ImaError) return err.code === 'AWS_NOT_FOUND';
  const name = (err as SdkErrorShape)?.name;
  return typeof name === 'string' && NOT_FOUND.has(name);
}
