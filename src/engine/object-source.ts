import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import picomatch from 'picomatch';
import type { FormatSpec, LandedUnit, Source, UnitCandidate, UnitOrigin } from '../core/connector.ts';
import { InletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ObjectInfo, ObjectStore } from '../core/object-store.ts';
import { baseName, folderPrefix, isSafeKey, safeKey } from './object-keys.ts';
import { withRetry } from './retry.ts';

export interface ObjectSourceOptions {
  store: ObjectStore;
  /** The folder (key prefix) in the store the files are taken from. */
  folder: string;
  /** Glob of keys relative to the folder. */
  pattern: string;
  format: FormatSpec;
  /** A file modified more recently than this must keep its size and mtime this long before it is taken. */
  settleMs: number;
  logger: Logger;
}

/** A source whose units are objects in a store. */
export interface ObjectSource extends Source {
  readonly origin: UnitOrigin;
}

/** The spool file name for a unit: its URI's hash and a sanitized base name, never a remote path. */
function spoolName(uri: string, key: string): string {
  const name =
    baseName(key)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(-120) || 'object';
  return `${createHash('sha256').update(uri).digest('hex').slice(0, 16)}-${name}`;
}

/**
 * A source over any ObjectStore: lists the folder with a glob, holds back files still being
 * written (settle interval), and lands each file in the spool, hashing it on the way and
 * resuming from the bytes already received when the connection drops.
 */
export function createObjectSource(options: ObjectSourceOptions): ObjectSource {
  const { store, logger } = options;
  const prefix = folderPrefix(options.folder);
  const matches = picomatch(options.pattern, { dot: false });
  const keys = new Map<string, string>();

  const uriOf = (key: string): string => {
    try {
      return store.uri(key);
    } catch {
      // An unsafe name still needs an identity, to be reported as a failed unit.
      return `${store.location}/${key}`;
    }
  };

  // Unsafe names are kept whatever the pattern, so that they fail visibly as refused units
  // instead of being passed over as dotfiles.
  const listMatching = async (signal: AbortSignal): Promise<ObjectInfo[]> =>
    (await store.list(prefix, signal)).filter(
      (object) => !isSafeKey(object.key) || matches(object.key.slice(prefix.length)),
    );

  /** Holds back recently modified files until they stop changing for the settle interval. */
  const settled = async (objects: ObjectInfo[], signal: AbortSignal): Promise<ObjectInfo[]> => {
    const recent = objects.filter((o) => Date.now() - o.mtimeMs < options.settleMs);
    if (!recent.length) return objects;
    await sleep(options.settleMs, undefined, { signal });
    const now = new Map((await listMatching(signal)).map((o) => [o.key, o]));
    return objects.filter((o) => {
      const later = now.get(o.key);
      const steady = later?.size === o.size && later.mtimeMs === o.mtimeMs;
      if (!steady && later) logger.info({ unit: uriOf(o.key), size: o.size }, 'unit.not_settled');
      return steady || !recent.includes(o);
    });
  };

  const origin: UnitOrigin = {
    store,
    keyOf: (unit) => {
      const key = keys.get(unit.uri);
      if (key === undefined) throw new InletError('INLET_E_INTERNAL', `${unit.uri} was not listed`);
      return key;
    },
    relativeKeyOf: (unit) => origin.keyOf(unit).slice(prefix.length),
    folderKey: (path) => folderPrefix(path),
  };

  return {
    format: options.format,
    readDirectories: [],
    origin,
    dedupeByContent: true,

    async list(signal): Promise<UnitCandidate[]> {
      const listed = await listMatching(signal);
      if (!listed.length && store.folderExists && !(await store.folderExists(prefix, signal))) {
        throw new InletError(
          'INLET_E_SOURCE_NOT_FOUND',
          `the source folder ${uriOf(prefix)} does not exist`,
          { details: { path: 'source.path' } },
        );
      }
      const objects = await settled(listed, signal);
      return objects.map((object) => {
        const uri = uriOf(object.key);
        keys.set(uri, object.key);
        return { uri, size: object.size, mtimeMs: object.mtimeMs, metadata: object.metadata };
      });
    },

    async land(unit, spoolDir, signal): Promise<LandedUnit> {
      const key = safeKey(origin.keyOf(unit));
      const folder = join(spoolDir, 'landed');
      await mkdir(folder, { recursive: true });
      const localPath = join(folder, spoolName(unit.uri, key));
      const hash = createHash('sha256');
      let received = 0;
      const file = await open(localPath, 'w');
      try {
        // Each attempt continues where the last one broke off; the hash spans all of them.
        await withRetry(
          async () => {
            if (received > 0) logger.warn({ unit: unit.uri, from_byte: received }, 'unit.transfer_resumed');
            const stream = await store.read(key, { start: received, signal });
            for await (const chunk of stream as AsyncIterable<Buffer>) {
              await file.write(chunk);
              hash.update(chunk);
              received += chunk.length;
            }
          },
          { what: `transfer ${unit.uri}`, logger, signal, retries: 8 },
        );
        await file.sync();
      } finally {
        await file.close();
      }
      if (received !== unit.size) {
        throw new InletError(
          'INLET_E_UNIT_CHANGED',
          `${unit.uri} changed while it was transferred (listed ${unit.size} bytes, received ${received}); it will be taken again next run`,
        );
      }
      return { ...unit, localPath, contentHash: Promise.resolve(hash.digest('hex')) };
    },

    close: () => store.close(),

    async verifyUnchanged(unit): Promise<void> {
      const now = await store.stat(origin.keyOf(unit));
      if (now && (now.size !== unit.size || now.mtimeMs !== unit.mtimeMs)) {
        throw new InletError(
          'INLET_E_UNIT_CHANGED',
          `${unit.uri} changed while it was read (size ${unit.size} → ${now.size}); it will be taken again next run`,
        );
      }
    },
  };
}
