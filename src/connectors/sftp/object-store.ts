import { addAbortSignal, type Readable } from 'node:stream';
import type SftpClient from 'ssh2-sftp-client';
import { InletError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { ObjectInfo, ObjectStore } from '../../core/object-store.ts';
import { createSftpConnection, type SftpConnectOptions, type SftpSession, serverName } from './connection.ts';
import { isConnectionFailure, isNoSuchFile, sftpError } from './errors.ts';
import { ensureFolder, type FolderListing, readFolder } from './folders.ts';
import { normalizeRoot, parentFolder, partPath, remotePath } from './paths.ts';
import { openReadStream, relay, upload } from './transfer.ts';

/** An SFTP server and the absolute remote folder all keys are relative to. */
export interface SftpStoreOptions extends SftpConnectOptions {
  root: string;
}

// Folders listed at once: enough to hide round trips, few enough for ssh2-sftp-client's per-request listeners.
const LIST_CONCURRENCY = 4;

/** Settles with `work`, or rejects as soon as the session is lost or the caller aborts. */
function untilLost<T>(work: Promise<T>, lost: AbortSignal, signal?: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  const signals = signal ? [lost, signal] : [lost];
  const stopped = signals.find((s) => s.aborted);
  if (stopped) return Promise.reject(stopped.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (event: Event) => reject((event.target as AbortSignal).reason);
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      for (const s of signals) s.removeEventListener('abort', onAbort);
    });
  });
}

const byKey = (a: ObjectInfo, b: ObjectInfo) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** An ObjectStore over one folder of an SFTP server, on one lazily opened, self-healing session. */
export function createSftpStore(options: SftpStoreOptions, logger: Logger): ObjectStore {
  const root = normalizeRoot(options.root);
  const server = serverName(options);
  const location = `sftp://${options.username}@${server}${root}`;
  const connection = createSftpConnection(options, logger.child({ location }));
  const pathOf = (key: string) => remotePath(root, key);

  /** Runs one request on the current session, mapping what it throws. */
  async function call<T>(
    doing: string,
    subject: string,
    request: (session: SftpSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const session = await connection.session();
      try {
        return await untilLost(request(session), session.lost, signal);
      } catch (error) {
        // The server may have dropped the session before we heard of it: once more, on a new one.
        const dropped = session.lost.aborted || isConnectionFailure(error);
        if (dropped && attempt === 1 && !(error instanceof InletError)) continue;
        throw sftpError(error, { doing, subject, location, lost: session.lost.aborted });
      }
    }
  }

  async function listFolder(prefix: string, start: string, signal?: AbortSignal): Promise<FolderListing> {
    const folder = pathOf(prefix);
    try {
      return await call(
        `listing ${folder}`,
        folder,
        ({ client }) => readFolder(client, folder, prefix),
        signal,
      );
    } catch (error) {
      if (!isNoSuchFile(error)) throw error;
      // A missing root is a mistake to show (a typo in the path); a missing sub-folder only
      // means nothing has arrived there yet, or it went away while we walked.
      const rootMissing =
        prefix === '' ||
        (prefix === start &&
          !(await call(`checking ${root}`, root, ({ client }) => client.exists(root), signal)));
      if (rootMissing) {
        throw new InletError(
          'INLET_E_OBJECT_NOT_FOUND',
          `the folder ${root} does not exist on sftp://${server}`,
          {
            details: { location },
          },
        );
      }
      return { files: [], folders: [] };
    }
  }

  async function statKey(key: string, signal?: AbortSignal): Promise<ObjectInfo | null> {
    const path = pathOf(key);
    try {
      const stats = await call(`checking ${key}`, key, ({ client }) => client.stat(path), signal);
      return stats.isFile ? { key, size: stats.size, mtimeMs: stats.modifyTime, metadata: {} } : null;
    } catch (error) {
      if (isNoSuchFile(error)) return null;
      throw error;
    }
  }

  // Uploads cut off with their session leave a part file behind; the next write removes them.
  const leftovers = new Set<string>();

  async function removeLeftovers(client: SftpClient): Promise<void> {
    for (const part of leftovers) {
      await client.delete(part, true).then(
        () => leftovers.delete(part),
        () => undefined,
      );
    }
  }

  /** Uploads beside the target and renames over it, so readers never see half a file. */
  async function uploadInPlace(session: SftpSession, body: Readable, key: string, signal?: AbortSignal) {
    const path = pathOf(key);
    const part = partPath(path);
    try {
      await untilLost(upload(session.client, body, part, signal), session.lost, signal);
      // posix-rename replaces an existing target atomically; plain SFTP rename refuses to.
      await untilLost(session.client.posixRename(part, path), session.lost, signal);
    } catch (error) {
      if (session.lost.aborted) leftovers.add(part);
      else await session.client.delete(part, true).catch(() => leftovers.add(part));
      throw sftpError(error, { doing: `writing ${key}`, subject: key, location, lost: session.lost.aborted });
    }
  }

  return {
    type: 'sftp',
    location,
    uri: (key) => `sftp://${server}${pathOf(key)}`,

    async list(prefix, signal) {
      pathOf(prefix); // refuses a prefix that would leave the root
      const start = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const found: ObjectInfo[] = [];
      const pending = [start];
      while (pending.length > 0) {
        const batch = pending.splice(0, LIST_CONCURRENCY);
        for (const { files, folders } of await Promise.all(batch.map((p) => listFolder(p, start, signal)))) {
          // Loops, not push(...spread): a landing folder can hold more files than a call has arguments.
          for (const file of files) if (file.key.startsWith(prefix)) found.push(file);
          for (const folder of folders) {
            if (folder.startsWith(prefix) || prefix.startsWith(folder)) pending.push(folder);
          }
        }
      }
      return found.sort(byKey);
    },

    stat: statKey,

    async folderExists(prefix, signal) {
      const folder = pathOf(prefix.replace(/\/+$/, ''));
      return (
        (await call(`checking ${folder}`, folder, ({ client }) => client.exists(folder), signal)) === 'd'
      );
    },

    async read(key, readOptions = {}) {
      const path = pathOf(key);
      const stream = await call(
        `reading ${key}`,
        key,
        async (session) => {
          const source = await openReadStream(session.sftp, path, readOptions.start ?? 0);
          return relay(source, session.lost, (error) =>
            sftpError(error, { doing: `reading ${key}`, subject: key, location, lost: session.lost.aborted }),
          );
        },
        readOptions.signal,
      );
      return readOptions.signal ? addAbortSignal(readOptions.signal, stream) : stream;
    },

    async write(key, body: Readable, writeOptions = {}) {
      const { signal } = writeOptions;
      const path = pathOf(key);
      try {
        const session = await call(
          `creating the folder of ${key}`,
          key,
          async (session) => {
            await removeLeftovers(session.client);
            await ensureFolder(session.client, parentFolder(path));
            return session;
          },
          signal,
        );
        await uploadInPlace(session, body, key, signal);
      } catch (error) {
        body.destroy();
        throw error;
      }
    },

    async move(from, to, signal) {
      const source = pathOf(from);
      const target = pathOf(to);
      await call(
        `moving ${from} to ${to}`,
        from,
        async ({ client }) => {
          try {
            await client.posixRename(source, target);
          } catch (error) {
            // Either the source is gone or the target's folder is missing; only the second is ours to fix.
            if (!isNoSuchFile(error) || !(await client.exists(source))) throw error;
            await ensureFolder(client, parentFolder(target));
            await client.posixRename(source, target);
          }
        },
        signal,
      );
    },

    async delete(key, signal) {
      const path = pathOf(key);
      await call(`deleting ${key}`, key, ({ client }) => client.delete(path, true), signal);
    },

    close: () => connection.close(),
  };
}
