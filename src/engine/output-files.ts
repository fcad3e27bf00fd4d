import { open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import type { SinkInput, SqlSession } from '../core/connector.ts';
import { duckDbError } from './duckdb-session.ts';
import { ident, literal } from './sql.ts';
import { checkExpression } from './transforms/expression.ts';

const partitionSchema = z.union([
  z.string().min(1),
  z
    .record(z.string(), z.string().min(1))
    .refine((o) => Object.keys(o).length === 1, 'one {name: expression} per entry'),
]);

/** The options every file-writing sink (local, SFTP, S3, Azure) shares, one schema for all. */
export const outputFileOptions = {
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
};

const outputFileSchema = z.object(outputFileOptions);
export type OutputFileConfig = z.output<typeof outputFileSchema>;

/** Folder under a sink's output where a run's files wait until they are committed. */
export const STAGING_FOLDER = '.inlet-tmp';

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

function extension(config: OutputFileConfig): string {
  const base = config.format === 'ndjson' ? 'json' : config.format;
  if (config.format === 'parquet') return base;
  if (config.compression === 'gzip') return `${base}.gz`;
  if (config.compression === 'zstd') return `${base}.zst`;
  return base;
}

function copyOptions(config: OutputFileConfig): string[] {
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

/** Every file under dir, at any depth. */
export async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Output files of a run are named part-<run id>-<unit>…, so a run can tell its own files from older ones. */
export function isRunOutput(fileName: string, runId: string): boolean {
  return fileName.startsWith(`part-${runId}-`);
}

/**
 * Writes one unit's rows as files (partitioned or one file) into an empty folder, fsynced,
 * and returns their paths relative to it with `/` separators, and the row count DuckDB wrote.
 */
export async function writeUnitFiles(
  session: SqlSession,
  input: SinkInput,
  config: OutputFileConfig,
  folder: string,
  where: { sinkPath: string; location: string },
): Promise<{ rows: number; files: string[] }> {
  const ext = extension(config);
  const partitions = config.partition_by.map(partitionColumn);
  const pattern = `part-${input.runId}-${input.unitKey}`;
  let relation = input.relation;
  if (partitions.some((p) => p.expression)) {
    const derived: string[] = [];
    for (const [i, p] of partitions.entries()) {
      if (p.expression)
        derived.push(
          `${await checkExpression(session, p.expression, `${where.sinkPath}.partition_by[${i}]`)} AS ${ident(p.name)}`,
        );
    }
    relation = `SELECT *, ${derived.join(', ')} FROM (${input.relation}) AS s`;
  }
  const options = copyOptions(config);
  const target = partitions.length ? folder : join(folder, `${pattern}.${ext}`);
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
    throw duckDbError(error, 'INLET_E_SINK', `${where.sinkPath} (${where.location})`);
  }
  const files: string[] = [];
  for await (const file of filesUnder(folder)) {
    await fsyncPath(file);
    files.push(relative(folder, file).split(sep).join('/'));
  }
  return { rows, files };
}
