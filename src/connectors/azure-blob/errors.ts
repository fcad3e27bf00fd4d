import { InletError } from '../../core/errors.ts';

/** What a failed Azure Blob call was about, for the message: never credentials. */
export interface AzureErrorTarget {
  container: string;
  /** The store's location, naming the endpoint when it is not Azure's. */
  location: string;
  /** The blob's URI when the call was about one blob. */
  object?: string;
  /** The caller's signal: an abort it asked for is passed through as it is. */
  signal?: AbortSignal;
}

const AUTH_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
]);

interface RestErrorShape {
  name?: string;
  code?: string;
  message?: string;
  statusCode?: number;
  details?: { errorCode?: string };
}

/**
 * Turns whatever the Azure SDK threw into the InletError a caller can act on: missing blob,
 * rejected credentials, missing container, or a transient failure worth retrying. Aborts pass
 * through unchanged when the caller asked for them.
 */
export function azureError(error: unknown, target: AzureErrorTarget): Error {
  if (error instanceof InletError) return error;
  if (target.signal?.aborted) return error as Error;
  const shape = (error ?? {}) as RestErrorShape;
  const status = shape.statusCode;
  // HEAD answers carry the code only in the x-ms-error-code header, which the SDK puts in details.
  const code = shape.details?.errorCode ?? shape.code;
  const options = {
    cause: error,
    details: { container: target.container, object: target.object, status, code },
  };

  if (code === 'ContainerNotFound') {
    return new InletError(
      'INLET_E_REMOTE_REFUSED',
      `the Azure container ${target.container} does not exist`,
      options,
    );
  }
  if (AUTH_CODES.has(code ?? '') || status === 401 || status === 403) {
    return new InletError(
      'INLET_E_REMOTE_AUTH',
      `Azure Blob rejected the credentials for container ${target.container} (${code ?? status})`,
      options,
    );
  }
  if (target.object && (code === 'BlobNotFound' || status === 404)) {
    return new InletError('INLET_E_OBJECT_NOT_FOUND', `there is no blob ${target.object}`, options);
  }
  const what = target.object ?? target.location;
  // The SDK's download stream reports a connection closed mid-way as an AbortError.
  if (shape.name === 'AbortError') {
    return new InletError(
      'INLET_E_REMOTE',
      `the connection to Azure Blob dropped while reading ${what}`,
      options,
    );
  }
  const reason = `${code ?? status ?? 'error'}: ${firstLine(shape.message ?? String(error))}`;
  if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
    return new InletError(
      'INLET_E_REMOTE_REFUSED',
      `Azure Blob refused the request for ${what} (${reason})`,
      options,
    );
  }
  // 5xx, throttling, timeouts, dropped and refused connections, and anything else the SDK threw
  // without an HTTP answer: a later attempt may well succeed.
  return new InletError('INLET_E_REMOTE', `Azure Blob request for ${what} failed (${reason})`, options);
}

// Azure appends "RequestId:… Time:…" lines to its messages; the first line says what went wrong.
function firstLine(message: string): string {
  return message.split('\n')[0];
}
