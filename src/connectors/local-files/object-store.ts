import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { StoreSpec } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import type { ObjectInfo, ObjectStore } from '../../core/object-store.ts';
import { safeKey } from '../../engine/object-keys.ts';

function notFound(key: string, root: string): InletError {
  return new InletError('INLET_E_OBJECT_NOT_FOUND', `${key} does not exist in ${root}`);
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/** A local folder as an ObjectStore: archives and moves on disk use the same code as remote stores. */
export function createLocalStore(rootPath: string): ObjectStore {
  const root = resolve(rootPath);
  const pathOf = (key: string) => join(root, ...safeKey(key).split('/'));
  const infoOf = async (path: string): Promise<ObjectInfo | null> => {
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) return null;
    return {
      key: relative(root, path).split(sep).join('/'),
      size: info.size,
      mtimeMs: Math.trunc(info.mtimeMs),
      metadata: {},
    };
  };
  return {
    type: 'file',
    location: root,
    uri: (key) => pathToFileURL(pathOf(key)).href,
    async list(prefix) {
      // Only the folder the prefix names is walked: the root may be / itself.
      const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const files: string[] = [];
      await walk(folder ? pathOf(folder.slice(0, -1)) : root, files);
      const infos: ObjectInfo[] = [];
      for (const file of files) {
        const info = await infoOf(file);
        if (info?.key.startsWith(prefix)) infos.push(info);
      }
      return infos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    stat: (key) => infoOf(pathOf(key)),
    async folderExists(prefix) {
      const folder = prefix.replace(/\/+$/, '');
      const info = await stat(folder ? pathOf(folder) : root).catch(() => null);
      return info?.isDirectory() ?? false;
    },
    async read(key, options = {}) {
      const path = pathOf(key);
      if (!(await infoOf(path))) throw notFound(key, root);
      return createReadStream(path, { start: options.start ?? 0, signal: options.signal });
    },
    async write(key, body: Readable, options = {}) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Written beside the target and renamed, so readers never see half a file.
      const partial = `${path}.inlet-part-${randomBytes(4).toString('hex')}`;
      try {
        await pipeline(body, createWriteStream(partial, { flush: true }), { signal: options.signal });
        await rename(partial, path);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
    },
    async move(from, to) {
      const source = pathOf(from);
      const target = pathOf(to);
      if (!(await infoOf(source))) throw notFound(from, root);
      await mkdir(dirname(target), { recursive: true });
      try {
        await rename(source, target);
      } catch (error) {
        // Another file system (an archive on a different mount): copy, then remove.
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await copyFile(source, target);
        await rm(source);
      }
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    async close() {},
  };
}

const localStoreConfig = z.object({ type: z.literal('file') }).strict();

/** Archives on local disk: `path` resolves against the job file's folder. */
export const localStore: StoreSpec<typeof localStoreConfig> = {
  type: 'file',
  config: localStoreConfig,
  create: () => createLocalStore('/'),
  folderKey: (path, context) => `${resolve(context.baseDir, path).split(sep).join('/').replace(/^\/+/, '')}/`,
};
