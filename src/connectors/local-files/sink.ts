import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import type { ConnectorContext, Sink, SinkSpec, SqlSession, StagedOutput } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import { duckDbError } from '../../engine/duckdb-session.ts';
import { ident, literal } from '../../engine/sql.ts';
import { checkExpression } from '../../engine/transforms/expression.ts';

const partitionSchema = z.union([
  z.string().min(1),
  z
    .record(z.string(), z.string().min(1))
    .refine((o) => Object.keys(o).length === 1, 'one {name: expression} per entry'),
]);

const fileSinkSchema = z
  .object({
    type: z.literal('file'),
    path: z.string().min(1).describe('Output folder, relative to the job file.'),
    format: z.enum(['parquet', 'csv', 'ndjson']).default('parquet'),
    partition_by: z
      .array(partitionSchema)
      .default([])
      .describe(
        'Hive-style partitions: column names, expressions like "year(ts)" (folder year=…), or {name: expression}.',
      ),
    mode: z
      .enum(['append', 'overwrite'])
      .default('append')
      .describe(
        "append adds each new unit's rows; overwrite rebuilds the output from every matched unit on each run.",
      ),
    compression: z
      .enum(['snappy', 'zstd', 'gzip', 'lz4', 'uncompressed', 'none'])
      .optional()
      .describe(
        'parquet: snappy (default), zstd, gzip, lz4, uncompressed; csv/ndjson: gzip, zstd, none (default).',
      ),
  })
  .strict()
  .describe(
    'Files in a local folder. Outputs appear atomically: staged under .inlet-tmp, fsynced, then renamed.',
  );

type FileSinkConfig = z.output<typeof fileSinkSchema>;

const STAGING = '.inlet-tmp';

/** Names a partition entry: "region" → region; "year(ts)" → year; {month: "month(ts)"} → month. */
export function partitionColumn(entry: string | Record<string, string>): {
  name: string;
  expression: string | null;
} {
  if (typeof entry !== 'string') {
    const [[name, expression]] = Object.entries(entry);
    return { name, expression };
  }
  const call = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(entry);
  return call ? { name: call[1], expression: entry } : { name: entry, expression: null };
}

function extension(config: FileSinkConfig): string {
  const base = config.format === 'ndjson' ? 'json' : config.format;
  if (config.format === 'parquet') return base;
  if (config.compression === 'gzip') return `${base}.gz`;
  if (config.compression === 'zstd') return `${base}.zst`;
  return base;
}

function copyOptions(config: FileSinkConfig): string[] {
  if (config.format === 'parquet') {
    return [
      'FORMAT parquet',
      `COMPRESSION ${config.compression === 'none' ? 'uncompressed' : (config.compression ?? 'snappy')}`,
    ];
  }
  const compression =
    config.compression && config.compression !== 'none' ? config.compression : 'uncompressed';
  if (config.format === 'csv') return ['FORMAT csv', 'HEADER true', `COMPRESSION ${compression}`];
  return ['FORMAT json', `COMPRESSION ${compression}`];
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Removes empty folders under (not including) root, deepest first. */
async function pruneEmptyDirs(dir: string, root: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) await pruneEmptyDirs(join(dir, entry.name), root);
  }
  if (dir !== root) await rmdir(dir).catch(() => undefined);
}

function createFileSink(config: FileSinkConfig, context: ConnectorContext): Sink {
  const root = resolve(context.baseDir, config.path);
  const ext = extension(config);
  const partitions = config.partition_by.map(partitionColumn);
  const stagingDir = (runId: string) => join(root, STAGING, runId);
  const finalName = (file: string, runId: string) => file.startsWith(`part-${runId}-`);

  return {
    guarantee: 'atomic',
    writeDirectories: [root],
    rebuildsEachRun: config.mode === 'overwrite',

    async stage(session: SqlSession, input, sinkIndex): Promise<StagedOutput> {
      const staging = join(stagingDir(input.runId), input.unitKey);
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      const pattern = `part-${input.runId}-${input.unitKey}`;
      let relation = input.relation;
      if (partitions.some((p) => p.expression)) {
        const derived: string[] = [];
        for (const [i, p] of partitions.entries()) {
          if (p.expression)
            derived.push(
              `${await checkExpression(session, p.expression, `sinks[${sinkIndex}].partition_by[${i}]`)} AS ${ident(p.name)}`,
            );
        }
        relation = `SELECT *, ${derived.join(', ')} FROM (${input.relation}) AS s`;
      }
      const options = copyOptions(config);
      const target = partitions.length ? staging : join(staging, `${pattern}.${ext}`);
      if (partitions.length)
        options.push(
          `PARTITION_BY (${partitions.map((p) => ident(p.name)).join(', ')})`,
          `FILENAME_PATTERN ${literal(`${pattern}-{i}`)}`,
          `FILE_EXTENSION ${literal(ext)}`,
        );
      let rows = 0;
      try {
        if (input.rows > 0) {
          const [{ Count }] = await session.all<{ Count: string }>(
            `COPY (${relation}) TO ${literal(target)} (${options.join(', ')})`,
          );
          rows = Number(Count);
        }
      } catch (error) {
        throw duckDbError(error, 'INLET_E_SINK', `sinks[${sinkIndex}] (${root})`);
      }
      const moves: { from: string; to: string }[] = [];
      for await (const file of filesUnder(staging)) {
        await fsyncPath(file);
        moves.push({ from: file, to: join(root, relative(staging, file)) });
      }
      return { sink: sinkIndex, rows, moves };
    },

    async commit(staged: StagedOutput): Promise<void> {
      for (const { from, to } of staged.moves) {
        if (await exists(from)) {
          await mkdir(dirname(to), { recursive: true });
          await rename(from, to);
          await fsyncPath(dirname(to));
        } else if (!(await exists(to))) {
          throw new InletError('INLET_E_SINK', `staged file ${from} is gone and ${to} was never written`);
        }
      }
    },

    async finishRun(runId: string): Promise<void> {
      if (config.mode === 'overwrite') {
        for await (const file of filesUnder(root)) {
          const rel = relative(root, file);
          if (rel.startsWith(STAGING)) continue;
          if (!finalName(file.slice(dirname(file).length + 1), runId)) await rm(file);
        }
      }
      await rm(stagingDir(runId), { recursive: true, force: true });
      await pruneEmptyDirs(root, root);
    },

    async discardStaging(runId: string): Promise<void> {
      await rm(stagingDir(runId), { recursive: true, force: true });
      await rmdir(join(root, STAGING)).catch(() => undefined);
    },
  };
}

export const fileSink: SinkSpec<typeof fileSinkSchema> = {
  kind: 'sink',
  type: 'file',
  summary: 'Parquet, CSV or NDJSON files in a local folder, optionally Hive-partitioned; atomic per unit.',
  config: fileSinkSchema,
  create: createFileSink,
};
