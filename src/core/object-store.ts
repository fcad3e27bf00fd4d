import type { Readable } from 'node:stream';

/**
 * One object (or file) in a store. Keys are relative to the store's root (an SFTP folder,
 * an S3 bucket + prefix, an Azure container + prefix, a local folder), with `/` separators
 * and no leading `/`.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Last modification, milliseconds since the epoch, as the server reports it. */
  mtimeMs: number;
  /** The server's entity tag, where it has one (S3, Azure). */
  etag?: string;
  /** User metadata or tags, lower-case keys (S3 metadata, Azure metadata; empty elsewhere). */
  metadata: Record<string, string>;
}

export interface ObjectReadOptions {
  /** Byte offset to start at, to resume a transfer that broke off. */
  start?: number;
  signal?: AbortSignal;
}

export interface ObjectWriteOptions {
  /** Stored with the object where the store supports it (S3/Azure metadata). */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * The one storage interface sources, sinks and archives are built on. Implementations:
 * local disk, SFTP, S3 and Azure Blob. Errors a retry can fix (dropped connections,
 * throttling, 5xx) are thrown as transient InletErrors; a missing object as
 * INLET_E_OBJECT_NOT_FOUND.
 */
export interface ObjectStore {
  /** The technology, as in a job's `type`: file, sftp, s3, azure_blob. */
  readonly type: string;
  /** Where the store's root is, without credentials, for messages and logs. */
  readonly location: string;
  /** A stable URI naming one object, used as the ledger identity of a unit (e.g. sftp://host:22/landing/a.csv). */
  uri(key: string): string;
  /** Every object whose key starts with `prefix` ('' for all), at any depth, in key order. */
  list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]>;
  /** The object's current info, or null when there is none. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | null>;
  /** Streams the object's bytes (from `start`). */
  read(key: string, options?: ObjectReadOptions): Promise<Readable>;
  /** Writes a whole object from a stream (multipart for large objects); it appears only once complete. */
  write(key: string, body: Readable, options?: ObjectWriteOptions): Promise<void>;
  /**
   * Moves an object, as atomically as the store allows: a rename on disk and SFTP, a
   * server-side copy then delete on S3 and Azure. Replaces an existing target.
   */
  move(from: string, to: string, signal?: AbortSignal): Promise<void>;
  /** Deletes an object; deleting one that is already gone is not an error. */
  delete(key: string, signal?: AbortSignal): Promise<void>;
  /**
   * Whether a folder exists, for stores that have folders (disk, SFTP): an empty listing of
   * a folder that is not there is a typo in the job, not "no files yet". Stores without real
   * folders (S3, Azure) leave it out.
   */
  folderExists?(prefix: string, signal?: AbortSignal): Promise<boolean>;
  /** Releases connections. */
  close(): Promise<void>;
}
