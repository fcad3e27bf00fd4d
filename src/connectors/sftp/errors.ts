import { InletError } from '../../core/errors.ts';

/** What a failed SFTP request was doing, for the message: never credentials. */
export interface SftpErrorContext {
  /** e.g. "reading in/a.csv". */
  doing: string;
  /** The key or folder the request was about, named when it does not exist. */
  subject: string;
  /** The store's location. */
  location: string;
  /** The session was already known to be gone when the request failed. */
  lost: boolean;
}

// SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 puts them in `code`; ssh2-sftp-client
// passes them on, except that it renames some to errno-like strings.
const NO_SUCH_FILE = new Set<unknown>([2, 'ENOENT']);
const PERMISSION_DENIED = new Set<unknown>([3, 'EACCES']);
const REFUSED = new Set<unknown>([4, 5, 8, 'ERR_BAD_PATH']);
// What ssh2 and ssh2-sftp-client report when the session dies under a request.
const CONNECTION_CODES = new Set<unknown>([
  6,
  7,
  'ERR_NOT_CONNECTED',
  'ERR_GENERIC_CLIENT',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
]);
const CONNECTION_MESSAGES =
  /No response from server|Unexpected (end|close) event|No SFTP connection available/;

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when a request failed because the session went away, not because of what it asked. */
export function isConnectionFailure(error: unknown): boolean {
  const code = codeOf(error);
  // The server answered; messages also quote remote paths, which may contain anything.
  if (NO_SUCH_FILE.has(code) || PERMISSION_DENIED.has(code) || REFUSED.has(code)) return false;
  return CONNECTION_CODES.has(code) || CONNECTION_MESSAGES.test(messageOf(error));
}

/** True for "no such file or folder", before or after mapping. */
export function isNoSuchFile(error: unknown): boolean {
  if (error instanceof InletError) return error.code === 'INLET_E_OBJECT_NOT_FOUND';
  return NO_SUCH_FILE.has(codeOf(error));
}

/**
 * Turns what ssh2-sftp-client threw into the InletError a caller can act on. A dropped session
 * is transient whatever the request was, since the same request on a new session may work;
 * aborts pass through unchanged, since the caller asked for them.
 */
export function sftpError(error: unknown, context: SftpErrorContext): Error {
  if (error instanceof InletError) return error;
  if ((error as Error | null)?.name === 'AbortError') return error as Error;
  const code = codeOf(error);
  const reason = messageOf(error);
  const options = { cause: error, details: { location: context.location, subject: context.subject } };
  if (context.lost || isConnectionFailure(error)) {
    return new InletError(
      'INLET_E_REMOTE',
      `the SFTP connection to ${context.location} dropped while ${context.doing} (${reason})`,
      options,
    );
  }
  if (NO_SUCH_FILE.has(code)) {
    return new InletError(
      'INLET_E_OBJECT_NOT_FOUND',
      `${context.subject} does not exist in ${context.location}`,
      options,
    );
  }
  if (PERMISSION_DENIED.has(code)) {
    return new InletError(
      'INLET_E_REMOTE_REFUSED',
      `permission denied ${context.doing} in ${context.location}`,
      options,
    );
  }
  if (REFUSED.has(code)) {
    return new InletError(
      'INLET_E_REMOTE_REFUSED',
      `the SFTP server refused ${context.doing} in ${context.location}: ${reason}`,
      options,
    );
  }
  return new InletError(
    'INLET_E_REMOTE',
    `SFTP failed ${context.doing} in ${context.location}: ${reason}`,
    options,
  );
}
