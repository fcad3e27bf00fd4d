import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectInfo, ObjectStore, ObjectWriteOptions } from '../../core/object-store.ts';
import { mapStreamErrors } from '../../engine/map-stream-errors.ts';
import { joinKey, safeKey } from '../../engine/object-keys.ts';
import { missingBucket, s3Error } from './errors.ts';

/** Where an S3 store lives and how to sign in; without keys the SDK's default credential chain is used. */
export interface S3StoreOptions {
  bucket: string;
  /** '' or 'a/b': keys are relative to it. */
  prefix: string;
  /** Default us-east-1. */
  region?: string;
  /** A non-AWS server (MinIO, s3rver, R2...). */
  endpoint?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

const PART_SIZE = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

/** An ObjectStore over one S3 bucket and prefix. */
export function createS3Store(options: S3StoreOptions): ObjectStore {
  const { bucket } = options;
  const prefix = safeKey(joinKey(options.prefix));
  const root = prefix ? `${prefix}/` : '';
  const location = `s3://${bucket}/${prefix}${options.endpoint ? ` (${options.endpoint})` : ''}`;
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.accessKeyId
      ? {
          accessKeyId: options.accessKeyId,
          secretAccessKey: options.secretAccessKey ?? '',
          sessionToken: options.sessionToken,
        }
      : undefined,
    // A server that stops answering must fail the call (and let the run retry), not hang it.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
  });
  const uri = (key: string) => `s3://${bucket}/${joinKey(prefix, safeKey(key))}`;
  const fail = (error: unknown, key?: string, signal?: AbortSignal) =>
    s3Error(error, { bucket, location, object: key === undefined ? undefined : uri(key), signal });
  let bucketSeen = false;

  // HeadObject answers a bare 404 for a missing bucket too; ask once whether the bucket is
  // there, so a typo in the bucket name is not reported as "no such object" forever.
  async function checkBucket(signal?: AbortSignal): Promise<void> {
    if (bucketSeen) return;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw status === 404 ? missingBucket(bucket, error) : fail(error, undefined, signal);
    }
    bucketSeen = true;
  }

  async function stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | null> {
    const target = root + safeKey(key);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: target }), {
        abortSignal: signal,
      });
      bucketSeen = true;
      return {
        key,
        size: head.ContentLength ?? 0,
        mtimeMs: head.LastModified?.getTime() ?? 0,
        etag: unquote(head.ETag),
        metadata: lowerCaseKeys(head.Metadata),
      };
    } catch (error) {
      const mapped = fail(error, key, signal);
      if ((mapped as { code?: string }).code !== 'INLET_E_OBJECT_NOT_FOUND') throw mapped;
      await checkBucket(signal);
      return null;
    }
  }

  async function list(keyPrefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: root + safeKey(keyPrefix),
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        );
        for (const entry of page.Contents ?? []) {
          // Keys ending in '/' are the empty "folder" markers consoles create, not data.
          if (!entry.Key || entry.Key.endsWith('/')) continue;
          found.push({
            key: entry.Key.slice(root.length),
            size: entry.Size ?? 0,
            mtimeMs: entry.LastModified?.getTime() ?? 0,
            etag: unquote(entry.ETag),
            metadata: {},
          });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw fail(error, undefined, signal);
    }
    return found.sort(byKey);
  }

  async function read(
    key: string,
    readOptions: { start?: number; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const start = readOptions.start ?? 0;
    try {
      const object = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: root + safeKey(key),
          Range: start > 0 ? `bytes=${start}-` : undefined,
        }),
        { abortSignal: readOptions.signal },
      );
      return mapStreamErrors(object.Body as Readable, (error) => fail(error, key, readOptions.signal));
    } catch (error) {
      // Like a file read from its end: resuming a transfer that already has every byte reads nothing.
      if (
        start > 0 &&
        (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416
      ) {
        return Readable.from([]);
      }
      throw fail(error, key, readOptions.signal);
    }
  }

  async function write(key: string, body: Readable, writeOptions: ObjectWriteOptions = {}): Promise<void> {
    const { signal } = writeOptions;
    signal?.throwIfAborted();
    let sourceError: unknown;
    const onSourceError = (error: unknown) => {
      sourceError = error;
    };
    body.once('error', onSourceError);
    const upload = new Upload({
      client,
      params: {
        Bucket: bucket,
        Key: root + safeKey(key),
        Body: body,
        Metadata: writeOptions.metadata,
      },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
    });
    const abort = () => void upload.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      // The data we were given failed, not S3: report that error as it is.
      if (sourceError !== undefined) throw sourceError;
      throw fail(error, key, signal);
    } finally {
      signal?.removeEventListener('abort', abort);
      body.off('error', onSourceError);
    }
  }

  async function move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    const source = root + safeKey(from);
    const target = root + safeKey(to);
    // Copying onto itself then deleting the "source" would lose the object.
    if (source === target) return;
    // S3 has no rename: a server-side copy then a delete. A crash in between leaves the object
    // under both keys (never under none), which a retried move cleans up. CopyObject takes
    // objects up to 5 GB.
    try {
      await client.send(
        new CopyObjectCommand({ Bucket: bucket, Key: target, CopySource: `${bucket}/${encodeKey(source)}` }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw fail(error, from, signal);
    }
    await remove(from, signal);
  }

  async function remove(key: string, signal?: AbortSignal): Promise<void> {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: root + safeKey(key) }), {
        abortSignal: signal,
      });
    } catch (error) {
      throw fail(error, key, signal);
    }
  }

  return {
    type: 's3',
    location,
    uri,
    list,
    stat,
    read,
    write,
    move,
    delete: remove,
    close: async () => client.destroy(),
  };
}

// Code-unit order, as S3 and Azure list, rather than localeCompare's.
function byKey(a: ObjectInfo, b: ObjectInfo): number {
  if (a.key === b.key) return 0;
  return a.key < b.key ? -1 : 1;
}

// CopySource is a URL path: each segment is percent-encoded, the slashes between them kept.
// `=` stays as it is: it is legal in a path, Hive partition folders (region=EU) are full of
// it, and servers that decode with decodeURI (s3rver, some gateways) would not turn %3D back.
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replaceAll('%3D', '='))
    .join('/');
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^(W\/)?"(.*)"$/, '$2');
}

function lowerCaseKeys(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
}
