import { InletError } from '../../core/errors.ts';

/** What a failed S3 call was about, for the message: never credentials. */
export interface S3ErrorTarget {
  bucket: string;
  /** The store's location, naming the endpoint when it is not AWS. */
  location: string;
  /** The object's URI when the call was about one object. */
  object?: string;
  /** The caller's signal: an abort it asked for is passed through as it is. */
  signal?: AbortSignal;
}

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  // The default credential chain found nothing to sign with.
  'CredentialsProviderError',
]);
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound']);
const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'TimeoutError',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  errors?: { code?: string }[];
  $metadata?: { httpStatusCode?: number };
}

/**
 * Turns whatever the S3 client threw into the InletError a caller can act on: missing object,
 * rejected credentials, missing bucket, or a transient failure worth retrying. Aborts pass
 * through unchanged when the caller asked for them.
 */
export function s3Error(error: unknown, target: S3ErrorTarget): Error {
  if (error instanceof InletError) return error;
  if (target.signal?.aborted) return error as Error;
  const shape = (error ?? {}) as SdkErrorShape;
  const status = shape.$metadata?.httpStatusCode;
  const code = shape.name && shape.name !== 'Error' ? shape.name : (shape.code ?? shape.errors?.[0]?.code);
  const details = { bucket: target.bucket, object: target.object, status, code };
  const options = { cause: error, details };

  if (code === 'NoSuchBucket') return missingBucket(target.bucket, error);
  if (AUTH_CODES.has(code ?? '') || status === 401 || status === 403) {
    return new InletError(
      'INLET_E_REMOTE_AUTH',
      `S3 rejected the credentials for bucket ${target.bucket} (${code ?? status})`,
      options,
    );
  }
  if (target.object && (NOT_FOUND_CODES.has(code ?? '') || status === 404)) {
    return new InletError('INLET_E_OBJECT_NOT_FOUND', `there is no object ${target.object}`, options);
  }
  const what = target.object ?? target.location;
  const reason = `${code ?? status ?? 'error'}: ${shape.message ?? String(error)}`;
  if (
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    status !== 429 &&
    !THROTTLING_CODES.has(code ?? '')
  ) {
    return new InletError(
      'INLET_E_REMOTE_REFUSED',
      `S3 refused the request for ${what} (${reason})`,
      options,
    );
  }
  // 5xx, throttling, timeouts, dropped and refused connections, and anything else the SDK threw
  // without an HTTP answer: a later attempt may well succeed.
  return new InletError('INLET_E_REMOTE', `S3 request for ${what} failed (${reason})`, options);
}

/** The bucket named in the store's options is not there. */
export function missingBucket(bucket: string, cause: unknown): InletError {
  return new InletError('INLET_E_REMOTE_REFUSED', `the S3 bucket ${bucket} does not exist`, {
    cause,
    details: { bucket },
  });
}
