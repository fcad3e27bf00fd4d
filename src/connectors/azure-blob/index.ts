import { z } from 'zod';
import type { SinkSpec, SourceSpec, StoreSpec } from '../../core/connector.ts';
import {
  objectSink,
  objectSinkOptions,
  objectSource,
  objectSourceOptions,
} from '../../engine/object-connector.ts';
import { folderPrefix } from '../../engine/object-keys.ts';
import { createAzureBlobStore } from './object-store.ts';

/** The connection keys of an Azure Blob container; stable, also what a reusable connection holds. */
const connectionKeys = {
  container: z.string().min(1),
  connection_string: z.string().optional().describe('The storage account connection string (secret).'),
  account_url: z
    .string()
    .url()
    .optional()
    .describe(
      'Or the account URL, e.g. https://<account>.blob.core.windows.net, with sas_token or account_name + account_key.',
    ),
  sas_token: z.string().optional().describe('A shared access signature (secret).'),
  account_name: z.string().optional(),
  account_key: z.string().optional().describe('The shared key (secret).'),
};

// Not strict: a reused connection may carry a sink's folder key, which a store ignores.
const storeConfig = z.object({ type: z.literal('azure_blob'), ...connectionKeys });
type AzureConnectionConfig = z.output<typeof storeConfig>;

const azureSourceSchema = z
  .object({
    type: z.literal('azure_blob'),
    ...connectionKeys,
    prefix: z.string().default('').describe('The folder (blob name prefix) blobs are taken from.'),
    ...objectSourceOptions,
  })
  .strict()
  .describe('Blobs in an Azure Blob Storage container. Each blob is one unit, streamed into the spool.');

const azureSinkSchema = z
  .object({
    type: z.literal('azure_blob'),
    ...connectionKeys,
    prefix: z.string().default('').describe('The output folder (blob name prefix).'),
    ...objectSinkOptions,
  })
  .strict()
  .describe(
    'Parquet, CSV or NDJSON blobs in Azure Blob Storage; staged under .inlet-tmp, moved into place at commit.',
  );

function storeOf(config: AzureConnectionConfig) {
  return createAzureBlobStore({
    container: config.container,
    prefix: '',
    connectionString: config.connection_string,
    accountUrl: config.account_url,
    sasToken: config.sas_token,
    accountName: config.account_name,
    accountKey: config.account_key,
  });
}

export const azureBlobSource: SourceSpec<typeof azureSourceSchema> = {
  kind: 'source',
  type: 'azure_blob',
  summary: 'Blobs in Azure Blob Storage: connection string, SAS or shared key; resumed ranged reads.',
  config: azureSourceSchema,
  create: (config, context) => objectSource(storeOf(config), config.prefix, config, context),
};

export const azureBlobSink: SinkSpec<typeof azureSinkSchema> = {
  kind: 'sink',
  type: 'azure_blob',
  summary: 'Parquet, CSV or NDJSON blobs in Azure Blob Storage, optionally partitioned; atomic per unit.',
  config: azureSinkSchema,
  create: (config, context) => objectSink(storeOf(config), config.prefix, config, context),
};

export const azureBlobStore: StoreSpec<typeof storeConfig> = {
  type: 'azure_blob',
  config: storeConfig,
  create: storeOf,
  folderKey: (path) => folderPrefix(path),
};
