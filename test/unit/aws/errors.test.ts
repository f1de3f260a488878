import { DisabledException, KMSInvalidStateException, NotFoundException } from '@aws-sdk/client-kms';
import { ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import { awsCall, isNotFound, mapAwsError } from '../../../src/aws/errors.js';

const meta = { $metadata: { httpStatusCode: 400, requestId: 'req-1', attempts: 1 } };
const sdk = (name: string, message: string, extra: object = {}) => Object.assign(new Error(message), { name, ...meta, ...extra });

describe('mapAwsError', () => {
  const cases: [string, unknown, string][] = [
    ['region missing', new Error('Region is missing'), 'AWS_NO_REGION'],
    ['no credentials', sdk('CredentialsProviderError', 'Could not load credentials from any providers'), 'AWS_NO_CREDENTIALS'],
    ['access denied', sdk('AccessDenied', 'not allowed'), 'AWS_ACCESS_DENIED'],
    ['access denied (KMS in SM)', sdk('AccessDeniedException', 'Access to KMS is not allowed'), 'AWS_ACCESS_DENIED'],
    ['rejected token', sdk('UnrecognizedClientException', 'The security token included in the request is invalid'), 'AWS_INVALID_CREDENTIALS'],
    ['expired token', sdk('ExpiredTokenException', 'expired'), 'AWS_INVALID_CREDENTIALS'],
    ['KMS disabled', new DisabledException({ message: 'key is disabled', $metadata: {} }), 'KMS_KEY_DISABLED'],
    ['KMS invalid state', new KMSInvalidStateException({ message: 'key is in state Disabled', $metadata: {} }), 'KMS_KEY_DISABLED'],
    ['KMS pending deletion', new KMSInvalidStateException({ message: 'arn:... is pending deletion.', $metadata: {} }), 'KMS_KEY_PENDING_DELETION'],
    ['KMS not found', new NotFoundException({ message: 'Alias x is not found.', $metadata: {} }), 'AWS_NOT_FOUND'],
    ['SM not found', new ResourceNotFoundException({ message: "can't find the specified secret", $metadata: {} }), 'AWS_NOT_FOUND'],
    ['throttled', sdk('ThrottlingException', 'Rate exceeded'), 'AWS_THROTTLED'],
    ['throttled (flag)', sdk('SomethingElse', 'slow down', { $retryable: { throttling: true } }), 'AWS_THROTTLED'],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'AWS_UNREACHABLE'],
    ['dns failure', Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }), 'AWS_UNREACHABLE'],
    ['happy eyeballs', Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ETIMEDOUT' })]), {}), 'AWS_UNREACHABLE'],
    ['wrapped cause', Object.assign(new Error('socket'), { cause: { code: 'ECONNRESET' } }), 'AWS_UNREACHABLE'],
    ['timeout', sdk('TimeoutError', 'Connection timed out after 5000 ms'), 'AWS_UNREACHABLE'],
    ['anything else', sdk('ResourceExistsException', 'the secret already exists.'), 'AWS_ERROR'],
    ['not even an error', 'boom', 'AWS_ERROR'],
  ];
  for (const [name, err, code] of cases) {
    it(`${name} → ${code}, exit 4, with a hint`, () => {
      const e = mapAwsError(err, 'doing a thing');
      expect(e).toBeInstanceOf(RemoteError);
      expect(e.code).toBe(code);
      expect(e.exitCode).toBe(4);
      expect(e.hint).toBeTruthy();
      expect(e.message.startsWith('doing a thing: ')).toBe(true);
      expect(e.message).not.toMatch(/\.$/);
    });
  }

  it('keeps facts (never bodies) in details and passes ImaErrors through', () => {
    const e = mapAwsError(sdk('ThrottlingException', 'Rate exceeded'), 'x');
    expect(e.details).toEqual({ awsError: 'ThrottlingException', httpStatus: 400, requestId: 'req-1', attempts: 1 });
    const own = new RemoteError('AWS_NO_REGION', 'no region');
    expect(mapAwsError(own, 'x')).toBe(own);
  });

  it('bounds the service message', () => {
    const e = mapAwsError(sdk('Weird', 'y'.repeat(5000)), 'x');
    expect(e.message.length).toBeLessThan(300);
  });

  it('awsCall maps failures; isNotFound recognises both shapes', async () => {
    await expect(awsCall('reading', () => Promise.reject(sdk('ResourceNotFoundException', 'gone')))).rejects.toMatchObject({ code: 'AWS_NOT_FOUND' });
    expect(await awsCall('reading', async () => 7)).toBe(7);
    expect(isNotFound(sdk('ResourceNotFoundException', 'gone'))).toBe(true);
    expect(isNotFound(mapAwsError(sdk('NotFoundException', 'gone'), 'x'))).toBe(true);
    expect(isNotFound(sdk('AccessDeniedException', 'no'))).toBe(false);
  });
});
