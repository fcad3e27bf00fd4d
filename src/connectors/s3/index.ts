import { z } from 'zod';
import type { SinkSpec, SourceSpec, StoreSpec } from '../../core/connector.ts';
import {
  objectSink,
  objectSinkOptions,
  objectSource,
  objectSourceOptions,
} from '../../engine/object-connector.ts';
import { folderPrefix } from '../../engine/object-keys.ts';
import { createS3Store } from './object-store.ts';

/** The connection keys of an S3 bucket; stable, also what a reusable connection holds. */
const connectionKeys = {
  bucket: z.string().min(1),
  region: z.string().min(1).default('us-east-1'),
  endpoint: z
    .string()
    .url()
    .optional()
    .describe('For S3-compatible stores (MinIO, Ceph, R2…): their URL, e.g. https://minio.internal:9000.'),
  force_path_style: z
    .boolean()
    .default(false)
    .describe(
      'Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> (most S3-compatible stores).',
    ),
  access_key_id: z
    .string()
    .optional()
    .describe("Without keys, the AWS SDK's default credential chain is used."),
  secret_access_key: z.string().optional().describe('(secret)'),
  session_token: z.string().optional().describe('For temporary credentials (secret).'),
};

// Not strict: a reused connection may carry a sink's folder key, which a store ignores.
const storeConfig = z.object({ type: z.literal('s3'), ...connectionKeys });
type S3ConnectionConfig = z.output<typeof storeConfig>;

const s3SourceSchema = z
  .object({
    type: z.literal('s3'),
    ...connectionKeys,
    prefix: z
      .string()
      .default('')
      .describe('The folder (key prefix) objects are taken from, e.g. landing/sales/.'),
    ...objectSourceOptions,
  })
  .strict()
  .describe(
    'Objects in an S3 bucket or S3-compatible store. Each object is one unit, streamed into the spool.',
  );

const s3SinkSchema = z
  .object({
    type: z.literal('s3'),
    ...connectionKeys,
    prefix: z.string().default('').describe('The output folder (key prefix).'),
    ...objectSinkOptions,
  })
  .strict()
  .describe(
    'Parquet, CSV or NDJSON objects in S3; multipart uploads under .inlet-tmp, moved into place at commit.',
  );

function storeOf(config: S3ConnectionConfig) {
  return createS3Store({
    bucket: config.bucket,
    prefix: '',
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.force_path_style,
    accessKeyId: config.access_key_id,
    secretAccessKey: config.secret_access_key,
    sessionToken: config.session_token,
  });
}

export const s3Source: SourceSpec<typeof s3SourceSchema> = {
  kind: 'source',
  type: 's3',
  summary: 'Objects in S3 or an S3-compatible store (custom endpoint, path style); resumed ranged reads.',
  config: s3SourceSchema,
  create: (config, context) => objectSource(storeOf(config), config.prefix, config, context),
};

export const s3Sink: SinkSpec<typeof s3SinkSchema> = {
  kind: 'sink',
  type: 's3',
  summary: 'Parquet, CSV or NDJSON objects in S3, optionally partitioned; atomic per unit.',
  config: s3SinkSchema,
  create: (config, context) => objectSink(storeOf(config), config.prefix, config, context),
};

export const s3Store: StoreSpec<typeof storeConfig> = {
  type: 's3',
  config: storeConfig,
  create: storeOf,
  folderKey: (path) => folderPrefix(path),
};
