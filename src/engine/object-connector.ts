import { z } from 'zod';
import type { ConnectorContext, Sink, Source } from '../core/connector.ts';
import type { ObjectStore } from '../core/object-store.ts';
import { formatSchema } from '../formats/index.ts';
import { createObjectSink } from './object-sink.ts';
import { createObjectSource } from './object-source.ts';
import { type OutputFileConfig, outputFileOptions } from './output-files.ts';

/** Options every object-store source (sftp, s3, azure_blob) has besides its connection keys. */
export const objectSourceOptions = {
  pattern: z
    .string()
    .default('**/*')
    .describe('Glob of files to take inside the folder, e.g. "*.csv" or "**/*.csv.gz" for every level.'),
  format: formatSchema.describe('How the files are decoded.'),
  settle_seconds: z
    .number()
    .min(0)
    .max(3600)
    .default(10)
    .describe(
      'A file modified less than this long ago must keep its size and mtime this long before it is taken (still being uploaded otherwise).',
    ),
};

/** Options every object-store sink has besides its connection keys (and its folder key). */
export const objectSinkOptions = outputFileOptions;

/** Builds the source of an object-store connector from its store and folder. */
export function objectSource(
  store: ObjectStore,
  folder: string,
  config: { pattern: string; format: { type: string }; settle_seconds: number },
  context: ConnectorContext,
): Source {
  return createObjectSource({
    store,
    folder,
    pattern: config.pattern,
    format: config.format,
    settleMs: config.settle_seconds * 1000,
    logger: context.logger,
  });
}

/** Builds the sink of an object-store connector from its store and folder. */
export function objectSink(
  store: ObjectStore,
  folder: string,
  config: OutputFileConfig,
  context: ConnectorContext,
): Sink {
  return createObjectSink({ store, folder, output: config, logger: context.logger });
}
