/**
 * The one error type inlet raises. `code` is stable (documented in docs/errors.md and
 * checked by a test), `kind` tells callers what to do with it: retry only `transient`,
 * show `config` and `input` to the user as their mistake, treat `internal` as a bug.
 */
export type InletErrorKind = 'config' | 'input' | 'transient' | 'terminal' | 'auth' | 'internal';

/** Every error code inlet raises, with the kind it always has and what it means. */
export const ERROR_CODES = {
  INLET_E_USAGE: {
    kind: 'config',
    summary: 'The command line is wrong: unknown command, flag or missing argument.',
  },
  INLET_E_JOB_INVALID: {
    kind: 'config',
    summary: 'The job file does not match the job schema; every problem is named by its YAML path and line.',
  },
  INLET_E_JOB_YAML: { kind: 'config', summary: 'The job file is not valid YAML.' },
  INLET_E_ENV_MISSING: {
    kind: 'config',
    summary: 'The job file refers to an environment variable that is not set.',
  },
  INLET_E_EXPRESSION: {
    kind: 'config',
    summary: 'A SQL expression in a transform is not a single valid expression over the row.',
  },
  INLET_E_COLUMN: { kind: 'config', summary: 'A transform or sink names a column the data does not have.' },
  INLET_E_SCRIPT: { kind: 'config', summary: 'A script transform module could not be loaded or misbehaved.' },
  INLET_E_SOURCE_NOT_FOUND: { kind: 'config', summary: 'The source path does not exist.' },
  INLET_E_JOB_LOCKED: { kind: 'terminal', summary: 'Another run of the same job is still in progress.' },
  INLET_E_INTERRUPTED: {
    kind: 'transient',
    summary:
      'The process running this unit stopped (crash, kill -9, power loss); the next run ingests it again.',
  },
  INLET_E_RUN_NOT_FOUND: { kind: 'input', summary: 'No run has that id.' },
  INLET_E_PARSE: {
    kind: 'input',
    summary: 'A unit could not be decoded (corrupt, truncated or not of its declared format).',
  },
  INLET_E_XML_LIMIT: {
    kind: 'input',
    summary:
      'An XML document declares entities or exceeds the depth or size limits (entity-expansion bombs are refused).',
  },
  INLET_E_VALIDATION_FAILED: {
    kind: 'input',
    summary: 'Rows broke a validate rule whose on_fail is `fail`; the unit was not loaded.',
  },
  INLET_E_UNIT_CHANGED: {
    kind: 'transient',
    summary: 'A source file changed while it was being read; it is taken again next run.',
  },
  INLET_E_IO: { kind: 'transient', summary: 'A transient I/O error that survived every retry.' },
  INLET_E_SINK: { kind: 'terminal', summary: 'A sink could not write its output.' },
  INLET_E_AUTH: { kind: 'auth', summary: 'The request has no valid API key (401).' },
  INLET_E_FORBIDDEN: { kind: 'auth', summary: "The API key's role does not allow this (403)." },
  INLET_E_RATE_LIMITED: {
    kind: 'transient',
    summary: 'Too many requests a minute for this API key (429); retry after the time given.',
  },
  INLET_E_JOB_NOT_FOUND: { kind: 'input', summary: 'No job has that id (404).' },
  INLET_E_REQUEST: {
    kind: 'input',
    summary: 'The request is malformed: its body, parameters or headers (400).',
  },
  INLET_E_OBJECT_NOT_FOUND: {
    kind: 'input',
    summary: 'The object or remote file named does not exist in its store.',
  },
  INLET_E_REMOTE: {
    kind: 'transient',
    summary: 'A remote store (SFTP, S3, Azure Blob) failed or dropped the connection; retried.',
  },
  INLET_E_REMOTE_REFUSED: {
    kind: 'terminal',
    summary: 'A remote store refused the request: permission denied, bucket or container missing.',
  },
  INLET_E_REMOTE_AUTH: {
    kind: 'config',
    summary: "A remote store rejected the credentials, or the SFTP server's host key is not the pinned one.",
  },
  INLET_E_UNSAFE_NAME: {
    kind: 'input',
    summary: 'A remote object name would escape its target folder (../ or an absolute path); refused.',
  },
  INLET_E_ENCRYPTION: {
    kind: 'config',
    summary: 'An encrypted file could not be sealed or opened: missing or wrong key, or tampered data.',
  },
  INLET_E_INTERNAL: { kind: 'internal', summary: 'A bug in inlet; the message and cause say where.' },
} as const satisfies Record<string, { kind: InletErrorKind; summary: string }>;

export type InletErrorCode = keyof typeof ERROR_CODES;

export interface InletErrorOptions {
  cause?: unknown;
  /** Structured facts about the error (a YAML path, a unit URI, a line), shown beside the message. */
  details?: Record<string, unknown>;
}

export class InletError extends Error {
  readonly code: InletErrorCode;
  readonly kind: InletErrorKind;
  readonly details: Record<string, unknown>;

  constructor(code: InletErrorCode, message: string, options: InletErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InletError';
    this.code = code;
    this.kind = ERROR_CODES[code].kind;
    this.details = options.details ?? {};
  }
}

/** Wraps anything thrown into an InletError, keeping InletErrors as they are. */
export function toInletError(error: unknown, fallback: InletErrorCode = 'INLET_E_INTERNAL'): InletError {
  if (error instanceof InletError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InletError(fallback, message, { cause: error });
}

const TRANSIENT_ERRNO = new Set([
  'EAGAIN',
  'EBUSY',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EMFILE',
  'ENFILE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ESTALE',
]);

/** True for errors worth retrying: transient InletErrors and OS errors that clear by themselves. */
export function isTransient(error: unknown): boolean {
  if (error instanceof InletError) return error.kind === 'transient';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_ERRNO.has(code);
}
