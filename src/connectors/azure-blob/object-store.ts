import { Readable } from 'node:stream';
import type {
  ObjectInfo,
  ObjectReadOptions,
  ObjectStore,
  ObjectWriteOptions,
} from '../../core/object-store.ts';
import { mapStreamErrors } from '../../engine/map-stream-errors.ts';
import { joinKey, safeKey } from '../../engine/object-keys.ts';
import { type AzureCredentialOptions, azureServiceClient } from './client.ts';
import { azureError } from './errors.ts';

/** Where an Azure Blob store lives and how to sign in (one of the combinations in AzureCredentialOptions). */
export interface AzureBlobStoreOptions extends AzureCredentialOptions {
  container: string;
  /** '' or 'a/b': keys are relative to it. */
  prefix: string;
}

const BLOCK_SIZE = 8 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 4;
// Reconnects from the broken point when a download drops; each one runs the SDK's retries.
const DOWNLOAD_RESUMES = 2;
// Same-container copies finish at once; the SDK would otherwise wait 15 s before checking.
const COPY_POLL_MS = 500;

/** An ObjectStore over one Azure Blob container and prefix. */
export function createAzureBlobStore(options: AzureBlobStoreOptions): ObjectStore {
  const { container } = options;
  const prefix = safeKey(joinKey(options.prefix));
  const root = prefix ? `${prefix}/` : '';
  const service = azureServiceClient(options);
  const containerClient = service.getContainerClient(container);
  const account = service.accountName;
  const location = `azure://${account}/${container}/${prefix}${customEndpoint(service.url, account)}`;
  const uri = (key: string) => `azure://${account}/${container}/${joinKey(prefix, safeKey(key))}`;
  const blob = (key: string) => containerClient.getBlockBlobClient(root + safeKey(key));
  const fail = (error: unknown, key?: string, signal?: AbortSignal) =>
    azureError(error, { container, location, object: key === undefined ? undefined : uri(key), signal });

  async function stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | null> {
    const client = blob(key);
    try {
      const properties = await client.getProperties({ abortSignal: signal });
      return info(key, properties, properties.metadata);
    } catch (error) {
      const mapped = fail(error, key, signal);
      if ((mapped as { code?: string }).code === 'INLET_E_OBJECT_NOT_FOUND') return null;
      throw mapped;
    }
  }

  async function list(keyPrefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    const listing = containerClient.listBlobsFlat({
      prefix: root + safeKey(keyPrefix),
      includeMetadata: true,
      abortSignal: signal,
    });
    try {
      for await (const item of listing) {
        // Keys ending in '/' are the empty "folder" markers tools create, not data.
        if (item.name.endsWith('/')) continue;
        found.push(info(item.name.slice(root.length), item.properties, item.metadata));
      }
    } catch (error) {
      throw fail(error, undefined, signal);
    }
    return found.sort(byKey);
  }

  async function read(key: string, readOptions: ObjectReadOptions = {}): Promise<Readable> {
    const client = blob(key);
    const start = readOptions.start ?? 0;
    try {
      const response = await client.download(start, undefined, {
        abortSignal: readOptions.signal,
        maxRetryRequests: DOWNLOAD_RESUMES,
      });
      return mapStreamErrors(response.readableStreamBody!, (error) => fail(error, key, readOptions.signal));
    } catch (error) {
      // Like a file read from its end: resuming a transfer that already has every byte reads nothing.
      if (start > 0 && (error as { statusCode?: number }).statusCode === 416) return Readable.from([]);
      throw fail(error, key, readOptions.signal);
    }
  }

  async function write(key: string, body: Readable, writeOptions: ObjectWriteOptions = {}): Promise<void> {
    const client = blob(key);
    const { signal } = writeOptions;
    signal?.throwIfAborted();
    let sourceError: unknown;
    const onSourceError = (error: unknown) => {
      sourceError = error;
    };
    // The SDK's abort stops its requests but keeps waiting for the next chunk of a quiet stream.
    const onAbort = () => body.destroy(signal?.reason);
    body.once('error', onSourceError);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Blocks are staged, then committed in one call: readers never see a partial blob.
      await client.uploadStream(body, BLOCK_SIZE, BLOCKS_IN_FLIGHT, {
        metadata: writeOptions.metadata,
        abortSignal: signal,
      });
    } catch (error) {
      // The data we were given failed, not Azure: report that error as it is.
      if (sourceError !== undefined) throw sourceError;
      throw fail(error, key, signal);
    } finally {
      body.off('error', onSourceError);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async function move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    const source = blob(from);
    const target = blob(to);
    // Copying onto itself then deleting the "source" would lose the blob.
    if (source.name === target.name) return;
    // Blob storage has no rename: a server-side copy then a delete. A crash in between leaves
    // the blob under both names (never under none), which a retried move cleans up. The
    // asynchronous Copy Blob is used because the synchronous Copy Blob From URL stops at 256 MB
    // and needs a source URL that carries its own authorization (a SAS).
    try {
      const poller = await target.beginCopyFromURL(source.url, {
        abortSignal: signal,
        intervalInMs: COPY_POLL_MS,
      });
      await poller.pollUntilDone();
    } catch (error) {
      throw fail(error, from, signal);
    }
    await remove(from, signal);
  }

  async function remove(key: string, signal?: AbortSignal): Promise<void> {
    const client = blob(key);
    try {
      await client.deleteIfExists({ deleteSnapshots: 'include', abortSignal: signal });
    } catch (error) {
      throw fail(error, key, signal);
    }
  }

  return {
    type: 'azure_blob',
    location,
    uri,
    list,
    stat,
    read,
    write,
    move,
    delete: remove,
    // The SDK shares one keep-alive agent between clients: a store holds nothing of its own.
    close: async () => {},
  };
}

function info(
  key: string,
  properties: { contentLength?: number; lastModified?: Date; etag?: string },
  metadata?: Record<string, string>,
): ObjectInfo {
  return {
    key,
    size: properties.contentLength ?? 0,
    mtimeMs: properties.lastModified?.getTime() ?? 0,
    etag: properties.etag?.replace(/^"(.*)"$/, '$1'),
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    ),
  };
}

// Code-unit order, as the listing returns it, rather than localeCompare's.
function byKey(a: ObjectInfo, b: ObjectInfo): number {
  if (a.key === b.key) return 0;
  return a.key < b.key ? -1 : 1;
}

// Names the endpoint in `location` when it is not the account's usual Azure address (Azurite,
// sovereign clouds); the query string is dropped because it may hold a SAS token.
function customEndpoint(serviceUrl: string, account: string): string {
  const url = new URL(serviceUrl);
  const endpoint = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  return endpoint === `https://${account}.blob.core.windows.net` ? '' : ` (${endpoint})`;
}
