import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { glob } from 'tinyglobby';
import { z } from 'zod';
import type {
  ConnectorContext,
  LandedUnit,
  Source,
  SourceSpec,
  UnitCandidate,
} from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import { withRetry } from '../../engine/retry.ts';
import { formatSchema } from '../../formats/index.ts';
import { createLocalStore, localStore } from './object-store.ts';

const fileSourceSchema = z
  .object({
    type: z.literal('file'),
    path: z
      .string()
      .min(1)
      .describe('A file, or a folder to search with `pattern`; relative to the job file.'),
    pattern: z
      .string()
      .default('**/*')
      .describe(
        'Glob of files to take inside `path` (a folder), e.g. "*.csv" or "**/*.csv.gz" for every level.',
      ),
    format: formatSchema.describe('How the files are decoded.'),
  })
  .strict()
  .describe(
    'Files on local disk (or a mounted share). Each file is one unit, ingested once unless it changes.',
  );

type FileSourceConfig = z.output<typeof fileSourceSchema>;

/** sha256 of a file's bytes, streamed. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash, { signal });
  return hash.digest('hex');
}

function createFileSource(config: FileSourceConfig, context: ConnectorContext): Source {
  const root = resolve(context.baseDir, config.path);
  let rootIsFile: boolean | undefined;
  // Keys of a local store rooted at / are absolute paths without the leading slash.
  const keyOfPath = (path: string) => path.split(sep).join('/').replace(/^\/+/, '');
  return {
    format: config.format,
    origin: {
      store: createLocalStore('/'),
      keyOf: (unit) => keyOfPath(fileURLToPath(unit.uri)),
      relativeKeyOf: (unit) =>
        relative(rootIsFile ? dirname(root) : root, fileURLToPath(unit.uri))
          .split(sep)
          .join('/'),
      folderKey: (path) => localStore.folderKey(path, context),
    },
    get readDirectories() {
      return [rootIsFile ? dirname(root) : root];
    },
    async list(): Promise<UnitCandidate[]> {
      const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') {
          throw new InletError('INLET_E_SOURCE_NOT_FOUND', `source.path: ${root} does not exist`, {
            details: { path: 'source.path' },
          });
        }
        throw error;
      });
      rootIsFile = info.isFile();
      const files = rootIsFile
        ? [root]
        : (
            await glob(config.pattern, {
              cwd: root,
              absolute: true,
              onlyFiles: true,
              dot: false,
              followSymbolicLinks: false,
            })
          ).sort();
      const units: UnitCandidate[] = [];
      for (const file of files) {
        const fileInfo = await stat(file);
        units.push({
          uri: pathToFileURL(file).href,
          size: fileInfo.size,
          mtimeMs: Math.trunc(fileInfo.mtimeMs),
        });
      }
      return units;
    },
    async land(unit, _spoolDir, signal): Promise<LandedUnit> {
      // Local files are read in place: copying them into the spool would double the I/O.
      const localPath = fileURLToPath(unit.uri);
      const contentHash = withRetry(() => hashFile(localPath, signal), {
        what: `hash ${unit.uri}`,
        logger: context.logger,
        signal,
      });
      // Awaited by the engine later; until then a failure must not count as unhandled.
      contentHash.catch(() => undefined);
      return { ...unit, localPath, contentHash };
    },
    async verifyUnchanged(unit): Promise<void> {
      const now = await stat(unit.localPath);
      if (now.size !== unit.size || Math.trunc(now.mtimeMs) !== unit.mtimeMs) {
        throw new InletError(
          'INLET_E_UNIT_CHANGED',
          `${unit.uri} changed while it was read (size ${unit.size} → ${now.size}); it will be taken again next run`,
        );
      }
    },
  };
}

export const fileSource: SourceSpec<typeof fileSourceSchema> = {
  kind: 'source',
  type: 'file',
  summary: 'Files on local disk: CSV, NDJSON, JSON, XML, Parquet, Avro, Excel; gzip/zstd by extension.',
  config: fileSourceSchema,
  create: createFileSource,
};
